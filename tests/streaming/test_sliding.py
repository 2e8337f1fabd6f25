"""Live measurement is the offline code over a sliding window: the same angles and the same counts.

Synthetic recordings of every protocol (tests/protocols/synthetic.py, with BlazePose's measured
noise) are streamed one sample at a time through :class:`kinematics.streaming.SlidingAssessment`
and compared with the offline pipeline and protocol over the whole recording.
"""

from __future__ import annotations

import numpy as np
import pytest

from kinematics.protocols.base import ProtocolEvent
from kinematics.streaming import COUNTED_EVENT, EventTally, SlidingAssessment
from tests.protocols import synthetic as S
from tests.protocols.conftest import observed


def stream(lm, exercise: str | None, **kw) -> tuple[SlidingAssessment, list]:
    s = SlidingAssessment(exercise=exercise, schema=lm.schema, space=lm.space, image_size_wh=lm.image_size_wh, **kw)
    updates = [u for i in range(len(lm)) if (u := s.push(lm.t_s[i], lm.xyz[i], lm.visibility[i])) is not None]
    if (u := s.flush()) is not None:
        updates.append(u)
    return s, updates


def offline_count(obs) -> float | None:
    return next(m.value for m in obs.result.metrics if m.name == "rep_count" and m.side is None)


@pytest.mark.parametrize("name", sorted(S.SCENARIOS))
def test_streamed_angles_and_counts_are_the_offline_ones(name):
    scenario = S.SCENARIOS[name]
    obs = observed(name, scenario.yaws[0], "image")
    _, updates = stream(obs.landmarks, scenario.protocol)
    t = np.concatenate([u.t_s for u in updates])
    np.testing.assert_array_equal(t, obs.landmarks.t_s)  # every sample published once, in order
    compared = 0
    for spec_name, offline in obs.kinematics.series.items():
        live = np.concatenate([u.angles[spec_name] for u in updates])
        both = ~np.isnan(live) & ~np.isnan(offline.values)
        if not both.any():
            continue
        assert both.sum() >= 0.95 * (~np.isnan(offline.values)).sum(), spec_name  # live withholds no more
        rmse = float(np.sqrt(np.mean((live[both] - offline.values[both]) ** 2)))
        assert rmse < 2.0, (spec_name, rmse)
        print(f"{name} {spec_name}: {both.sum()} of {(~np.isnan(offline.values)).sum()} samples, RMSE {rmse:.2f} deg")
        compared += 1
    assert compared >= 2
    assert updates[-1].count == offline_count(obs), (updates[-1].count, offline_count(obs))


def test_a_stream_longer_than_the_window_counts_each_repetition_once():
    """Sit-to-stand: four repetitions over 20 s, streamed through an 8 s window (each run sees about one)."""
    obs = observed("sit_to_stand", S.SCENARIOS["sit_to_stand"].yaws[0], "image")
    assert offline_count(obs) == S.SCENARIOS["sit_to_stand"].truth.reps[None] == 4
    _, updates = stream(obs.landmarks, "sit_to_stand", window_s=8.0)
    counts = [u.count for u in updates if u.count is not None]
    assert counts[-1] == 4
    assert all(b >= a for a, b in zip(counts, counts[1:], strict=False)), counts  # never counted twice, then undone


def test_the_tally_settles_an_event_once_and_keeps_it_after_it_leaves_the_window():
    tally = EventTally()
    rep = lambda a, b: ProtocolEvent("rep", a, b)  # noqa: E731
    assert tally.update([rep(1, 2), rep(5, 6)], horizon_s=0.0) == 2  # nothing settled yet: the window's own count
    assert tally.update([rep(1.1, 2.1), rep(5, 6)], horizon_s=3.0) == 2  # the first settles (seen a little shifted)
    assert tally.settled == 1 and tally.settled_until_s == 2.1
    assert tally.update([rep(5, 6), rep(9, 10)], horizon_s=7.0) == 3  # the first has left the window: still counted
    assert tally.update([rep(9, 10)], horizon_s=12.0) == 3


def test_nothing_counted_while_the_protocol_cannot_measure():
    """A side-on squat filmed from the front: the offline protocol says wrong view, so live has no count either."""
    scenario = S.SCENARIOS["squat"]
    obs = observed("squat", scenario.wrong_yaw, "image")
    assert offline_count(obs) is None
    _, updates = stream(obs.landmarks, "squat")
    assert all(u.count is None for u in updates)


def test_every_protocol_has_a_counted_event_and_kinematics_alone_counts_nothing():
    from kinematics.protocols import PROTOCOLS

    assert set(COUNTED_EVENT) == set(PROTOCOLS)
    obs = observed("squat", S.SCENARIOS["squat"].yaws[0], "image")
    _, updates = stream(obs.landmarks, None)
    assert all(u.count is None and u.protocol is None for u in updates)


def test_old_and_repeated_times_are_ignored_and_a_window_without_anyone_has_no_angles():
    s = SlidingAssessment(exercise="squat", image_size_wh=(640, 480))
    u = s.push(0.0, None, None)
    assert u is not None and u.result is None and all(v is None for v in u.latest.values())
    assert s.push(0.0, None, None) is None and s.push(-1.0, None, None) is None
    with pytest.raises(ValueError, match="interval_s"):
        SlidingAssessment(window_s=1.0, interval_s=2.0)


def test_a_window_without_anybody_says_so_for_every_angle_in_the_offline_words():
    from kinematics.errors import NoPersonError
    from kinematics.pipeline import KinematicsPipeline
    from kinematics.series import BLAZEPOSE33, LandmarkSeries
    from kinematics.streaming import SlidingAssessment

    stream = SlidingAssessment(image_size_wh=(640, 480), window_s=5.0, interval_s=1.0)
    for i in range(31):
        update = stream.push(i / 30.0, None, None)
    assert update is not None and update.result is None
    k = len(BLAZEPOSE33)
    empty = LandmarkSeries(
        np.arange(31) / 30.0, np.full((31, k, 3), np.nan), np.zeros((31, k)), BLAZEPOSE33, "image_norm", (640, 480)
    )
    with pytest.raises(NoPersonError) as nobody:  # what the offline analysis of the same frames says
        KinematicsPipeline().run(empty)
    offline = str(nobody.value)
    assert [(q.code, q.message) for q in update.quality] == [("frames_without_pose", offline)]
    assert update.latest_not_measured == dict.fromkeys(update.angles, ("frames_without_pose", offline))
    assert all(codes == ["frames_without_pose"] * len(update.t_s) for codes in update.not_measured.values())
