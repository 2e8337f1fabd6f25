"""Walking bouts, initial contacts, sides and stride length from the real Mobilise-D lower-back recordings.

References: the optical system (Stereophoto, inside its capture volume) and INDIP; scorer and
data in ``validation/mobilised.py``. The bounds below are the measured figures of
``docs/validation.md`` with a small margin; the side-by-side comparison with mobgap's own
detectors is ``python -m bench gait``.
"""

from __future__ import annotations

import numpy as np
import pytest

from kinematics.errors import InputError
from kinematics.fusion import (
    MOBILISED_LOWER_BACK,
    AxisMapping,
    ImuRecording,
    InitialContactDetector,
    InvertedPendulum,
    match_events,
    read_imu,
)
from kinematics.fusion.synth import daily_motion, pelvis_imu
from tests.fusion.data import MOBILISED_CSV
from validation import mobilised as M

# (participant, test, trial): F1 at least, median |error| at most (ms), sides correct at least
BOUNDS = {
    ("HA001", "Test5", "Trial1"): (1.0, 15, 1.0),  # measured 1.00, 10 ms, 10/10
    ("HA001", "Test5", "Trial2"): (1.0, 20, 1.0),  # 1.00, 16 ms, 9/9
    ("HA001", "Test11", "Trial1"): (0.93, 40, 0.9),  # 0.95, 34 ms, 51/55: daily life, turns
    ("HA002", "Test5", "Trial2"): (1.0, 15, 1.0),  # 1.00, 10 ms, 6/6
    ("MS001", "Test5", "Trial1"): (1.0, 30, 1.0),  # 1.00, 23 ms, 9/9: multiple sclerosis
    ("MS001", "Test5", "Trial2"): (1.0, 30, 1.0),  # 1.00, 21 ms, 9/9
    ("MS001", "Test11", "Trial1"): (0.8, 35, 0.9),  # 0.83, 28 ms, 76/82
}


def _contacts(rec: ImuRecording):
    gait = InitialContactDetector().detect(rec, axes=MOBILISED_LOWER_BACK)
    return gait, np.array([e.t_s for e in gait.initial_contacts]), [e.side for e in gait.initial_contacts]


@pytest.mark.parametrize("key", sorted(BOUNDS), ids=lambda k: "-".join(k))
def test_contacts_match_the_optical_reference(key):
    pid, test, trial = key
    f1, error_ms, sides = BOUNDS[key]
    _, t, s = _contacts(M.recording(pid, test, trial))
    got = M.score_contacts(t, s, M.reference_bouts(pid, test, trial, "Stereophoto"))
    assert got.f1 >= f1
    assert got.median_abs_error_ms <= error_ms
    assert got.side_share >= sides


def test_the_csv_as_published_no_systematic_lag_and_the_reference_cadence():
    """HA001 Test5 Trial1 as the CSV (the file the CLI example reads): contacts on time, cadence right."""
    gait, t, s = _contacts(read_imu(MOBILISED_CSV, sampling_rate_hz=100.0))
    bouts = M.reference_bouts("HA001", "Test5", "Trial1")
    got = M.score_contacts(t, s, bouts)
    assert got.f1 == 1.0 and got.side_share == 1.0
    assert abs(got.median_error_ms) <= 10.0  # measured +5 ms (the McCamley detector was +35 ms late)
    assert got.median_abs_error_ms <= 15.0
    assert gait.cadence_steps_per_min == pytest.approx(bouts[0].cadence_steps_per_min, rel=0.05)


def test_no_systematic_lag_on_any_participant():
    """The signed median error stays within 25 ms on every trial (the old detector: +30 to +80 ms)."""
    for key in BOUNDS:
        _, t, s = _contacts(M.recording(*key))
        assert abs(M.score_contacts(t, s, M.reference_bouts(*key)).median_error_ms) <= 25.0, key


# Against INDIP (foot-worn pressure insoles and IMUs) inside its bouts, where its contacts agree with
# the optical ones (median |INDIP - optical| 10 ms on HA001's straight walks): F1 at least, median
# |error| at most (ms). MS001 Test5 is left out: there INDIP is itself 30 and 100 ms from the optical
# contacts (one side's insole late), so it is not a reference for timing.
INDIP_BOUNDS = {
    ("HA001", "Test5", "Trial1"): (1.0, 12),  # measured 1.00, 8 ms
    ("HA001", "Test5", "Trial2"): (1.0, 12),  # 1.00, 9 ms
    ("HA001", "Test11", "Trial1"): (0.9, 20),  # 0.92, 17 ms
}


@pytest.mark.parametrize("key", sorted(INDIP_BOUNDS), ids=lambda k: "-".join(k))
def test_contacts_match_the_insole_reference(key):
    f1, error_ms = INDIP_BOUNDS[key]
    _, t, s = _contacts(M.recording(*key))
    got = M.score_contacts(t, s, M.reference_bouts(*key, "INDIP"))
    assert got.f1 >= f1
    assert got.median_abs_error_ms <= error_ms


def test_in_daily_life_the_two_references_disagree_by_more_than_the_detector_and_the_insoles():
    """HA001 Test11: the optical contacts are 30 ms (median) from INDIP's, which this detector meets within 17 ms.

    So its 34 ms against the optical reference there is the references' disagreement, not a lag of the
    detector: on the straight lab walks of the same person both references agree within 10 ms, and so
    does the detector with either.
    """
    key = ("HA001", "Test11", "Trial1")
    between = M.reference_agreement(*key)
    assert between is not None and between.tp >= 45
    assert between.median_abs_error_ms >= 25.0  # measured 30 ms (signed -20: INDIP earlier)
    _, t, s = _contacts(M.recording(*key))
    assert M.score_contacts(t, s, M.reference_bouts(*key, "INDIP")).median_abs_error_ms < between.median_abs_error_ms
    for straight in (("HA001", "Test5", "Trial1"), ("HA001", "Test5", "Trial2")):
        agreement = M.reference_agreement(*straight)
        assert agreement is not None and agreement.median_abs_error_ms <= 10.0 + 1e-9


def test_the_optical_clock_does_not_drift_against_the_imu_in_daily_life():
    """HA001 Test11 (6-134 s): the signed errors of INDIP and of this detector against the optical contacts
    have no slope over the trial (measured -7 +- 15 and -10 +- 13 ms/min; MS001 +5 +- 6, +2 +- 6)."""
    for key in (("HA001", "Test11", "Trial1"), ("MS001", "Test11", "Trial1")):
        _, t, _ = _contacts(M.recording(*key))
        contacts = M.contact_timing(*key, t)
        at = np.array([c.t_s for c in contacts])
        for errors in ([c.indip_error_s for c in contacts], [c.detector_error_s for c in contacts]):
            slope, se = M.error_drift(at, np.array(errors))
            assert abs(slope) < 2.0 * se and se < 20.0, (key, slope, se)


def _straight_steady(key: tuple[str, str, str], t: np.ndarray) -> list[M.ContactTiming]:
    """Contacts of the optical bouts walked at 0.9 m/s or faster with none of their contacts in a turn."""
    contacts = M.contact_timing(*key, t)
    bouts = {c.bout for c in contacts if c.speed_mps >= 0.9} - {c.bout for c in contacts if c.in_turn}
    return [c for c in contacts if c.bout in bouts]


def test_on_the_same_steps_only_the_optical_initial_contacts_move_between_lab_walk_and_daily_life():
    """HA001, straight bouts at ~1 m/s: Test5 (0.97 / 1.04 m/s) and Test11's two (1.00 / 1.01 m/s).

    This detector and INDIP agree in both (median +1 / -6 ms and -4 ms), and both are 30-35 ms before
    the optical initial contacts in daily life only (Test5: 0..+10 ms). INDIP's final contacts move by
    10 ms against the optical ones (+70 -> +60 ms): a clock offset of the trial would move both alike,
    so at most ~10 ms of it is one; the rest is how that trial's optical initial contacts are timed.
    """
    indip_ic, indip_fc, between = {}, {}, {}
    for key in (("HA001", "Test5", "Trial1"), ("HA001", "Test5", "Trial2"), ("HA001", "Test11", "Trial1")):
        _, t, _ = _contacts(M.recording(*key))
        contacts = _straight_steady(key, t)
        bouts = sorted({c.bout for c in contacts})
        assert len(bouts) == (2 if key[1] == "Test11" else 1)
        d = np.array([c.detector_error_s for c in contacts])
        i = np.array([c.indip_error_s for c in contacts])
        ok = np.isfinite(d) & np.isfinite(i)
        assert ok.sum() >= 9
        between[key] = 1000 * np.median(d[ok] - i[ok])
        indip_ic[key] = 1000 * np.median(i[ok])
        indip_fc[key] = 1000 * np.median(np.concatenate([M.final_contact_errors(*key)[k] for k in bouts]))
        if key[1] == "Test11":
            assert 1000 * np.median(d[np.isfinite(d)]) <= -25.0  # measured -35 ms (Test5: +5, -6)
    lab, daily = [k for k in between if k[1] == "Test5"], ("HA001", "Test11", "Trial1")
    assert all(abs(between[k]) <= 10.0 for k in between)  # measured +1, -6, -4 ms
    assert all(indip_ic[k] >= -5.0 for k in lab) and indip_ic[daily] <= -20.0  # 0, +10; -30 ms
    assert all(abs(indip_fc[k] - indip_fc[daily]) <= 15.0 for k in lab)  # +70, +70; +60 ms


def test_the_documented_optical_timing_tables_are_current():
    """docs/validation.md's gait:timing-* blocks are what the detector and the references give now."""
    from validation.docblocks import DOC_PATH

    detected = {(pid, *tt): _contacts(M.recording(pid, *tt))[1] for pid in M.PARTICIPANTS for tt in M.TRIALS}
    problems = M.BLOCKS.stale(DOC_PATH.read_text(encoding="utf-8"), M.timing_blocks(detected))
    assert not problems, "run: python -m bench gait --write\n" + "\n".join(problems[:20])


# Stretches of the real recordings at least 2 s from any bout of either reference system
# (sitting, standing, household tasks; HA002 79-140 s sits with the pelvis tilted ~40 deg back).
NOT_WALKING = [
    ("HA001", "Test11", "Trial1", 11.9, 26.6),
    ("HA001", "Test11", "Trial1", 52.9, 74.4),
    ("HA002", "Test11", "Trial1", 37.5, 58.8),
    ("HA002", "Test11", "Trial1", 79.1, 139.8),
    ("MS001", "Test5", "Trial1", 0.0, 4.7),
    ("MS001", "Test11", "Trial1", 0.0, 8.1),
    ("MS001", "Test11", "Trial1", 19.7, 43.2),
    ("MS001", "Test11", "Trial1", 57.5, 93.7),
    ("MS001", "Test11", "Trial1", 148.3, 198.6),
]


def _cut(rec: ImuRecording, start_s: float, end_s: float) -> ImuRecording:
    keep = (rec.t_s >= start_s) & (rec.t_s < end_s)
    return ImuRecording(
        t_s=rec.t_s[keep] - start_s,
        acc_mps2=rec.acc_mps2[keep],
        gyr_rads=rec.gyr_rads[keep],
        placement=rec.placement,
        sampling_rate_hz=rec.sampling_rate_hz,
        source=f"{rec.source}[{start_s:g}-{end_s:g} s]",
        format=rec.format,
    )


@pytest.mark.parametrize("segment", NOT_WALKING, ids=lambda s: f"{s[0]}-{s[1]}-{s[3]:g}s")
def test_real_sitting_standing_and_tasks_yield_no_steps(segment):
    pid, test, trial, a, b = segment
    gait = InitialContactDetector().detect(_cut(M.recording(pid, test, trial), a, b), axes=MOBILISED_LOWER_BACK)
    assert gait.initial_contacts == [] and gait.sequences == [] and gait.cadence_steps_per_min is None


@pytest.mark.parametrize("activity", ["stand", "sit_to_stand", "arms"])
def test_synthetic_standing_sitting_and_arm_movement_yield_no_steps(activity, rng):
    t = np.arange(0.0, 40.0, 0.01)
    rec = pelvis_imu(
        daily_motion(t, activity, rng=rng), axes=MOBILISED_LOWER_BACK, mounting_error_deg=(4, 2, -3), rng=rng
    )
    gait = InitialContactDetector().detect(rec, axes=MOBILISED_LOWER_BACK)
    assert gait.initial_contacts == [] and gait.sequences == []


def test_synthetic_walking_with_a_half_turn_keeps_its_sides(rng):
    """108 steps/min with a 180 deg turn in 2 s: every step found, every side right; the raw sign alone errs."""
    t = np.arange(0.0, 40.0, 0.01)
    rec = pelvis_imu(
        daily_motion(t, "walk", step_hz=1.8, turn_s=(20.0, 22.0), rng=rng),
        axes=MOBILISED_LOWER_BACK,
        mounting_error_deg=(4, 2, -3),
        rng=rng,
    )
    gait = InitialContactDetector().detect(rec, axes=MOBILISED_LOWER_BACK)
    step = np.round(np.array([e.t_s for e in gait.initial_contacts]) * 1.8).astype(int)
    assert len(step) >= 69 and len(set(step)) == len(step)  # 71 of the 72 steps (none at the recording's edges)
    assert gait.cadence_steps_per_min == pytest.approx(108.0, abs=1.0)
    assert [e.side for e in gait.initial_contacts] == ["left" if k % 2 else "right" for k in step]
    raw = InitialContactDetector(laterality_window_steps=1).detect(rec)
    assert sum(e.side != ("left" if k % 2 else "right") for e, k in zip(raw.initial_contacts, step, strict=True)) >= 1


@pytest.mark.parametrize("pid", M.PARTICIPANTS)
def test_stride_length_and_speed_against_the_optical_reference(pid):
    """Straight walks: mean stride length within 0.10 m, speed within 0.10 m/s (measured 0.01-0.07 m)."""
    leg = M.participant(pid).sensor_height_m
    for test, trial in (("Test5", "Trial1"), ("Test5", "Trial2")):
        bouts = M.reference_bouts(pid, test, trial)
        if not bouts:
            continue
        rec = M.recording(pid, test, trial)
        sl = InvertedPendulum().estimate(rec, InitialContactDetector().detect(rec), sensor_height_m=leg)
        length_err, speed_err = [], []
        for b in bouts:
            for (a, e), length, speed in zip(b.stride_contacts_s, b.stride_length_m, b.stride_speed_mps, strict=True):
                k = int(np.argmin(np.abs(sl.start_s - a)))
                if abs(sl.start_s[k] - a) <= 0.25 and abs(sl.end_s[k] - e) <= 0.25 and np.isfinite(length):
                    length_err.append(sl.length_m[k] - length)
                    speed_err.append(sl.speed_mps[k] - speed)
        assert len(length_err) >= 3
        assert abs(np.mean(length_err)) <= 0.10 and abs(np.mean(speed_err)) <= 0.10, (test, trial)


def test_an_implausible_sensor_height_is_refused():
    rec = M.recording("HA001", "Test5", "Trial1")
    with pytest.raises(InputError, match="sensor height"):
        InvertedPendulum().estimate(rec, InitialContactDetector().detect(rec), sensor_height_m=96.4)


def test_event_matching_is_one_to_one_within_the_tolerance():
    m = match_events(np.array([0.98, 1.01, 2.3, 4.0]), np.array([1.0, 2.0, np.nan, 4.2]), tolerance_s=0.25)
    assert m.pairs == [(1.01, 1.0), (4.0, 4.2)]
    assert (m.false_positives, m.false_negatives) == (2, 1)
    assert m.f1 == pytest.approx(4 / 7)


def test_a_wrong_axis_mapping_is_reported_not_used():
    rec = read_imu(MOBILISED_CSV, sampling_rate_hz=100.0)
    with pytest.raises(InputError, match="from the measured gravity"):
        InitialContactDetector().detect(rec, axes=AxisMapping(up="+z", anterior="+x", left="+y"))


def test_a_thigh_sensor_is_refused():
    rec = read_imu(MOBILISED_CSV, sampling_rate_hz=100.0)
    with pytest.raises(InputError, match="thigh"):
        InitialContactDetector().detect(type(rec)(**{**rec.__dict__, "placement": "thigh"}))


def test_a_contact_stays_inside_its_search_window_when_the_rise_began_before_it():
    """Steepest rise at the window's first sample on a nearly straight slope: no parabola vertex far outside.

    (Before, the vertex of the almost flat parabola through the edge samples put such contacts up to
    half a second away: 18 of 389 candidates in the Mobilise-D recordings.)
    """
    from kinematics.fusion.gait import _steepest_rise

    i = np.arange(60, dtype=float)
    jerk = 3.0 - 0.1 * i - 1e-4 * i**2  # falling, slightly concave: the maximum is the window's start
    at = _steepest_rise(jerk, peak=30, window=10)
    assert 20.0 <= at <= 30.0
    # an interior maximum is still interpolated between samples
    bump = -((i - 25.3) ** 2)
    assert _steepest_rise(bump, peak=30, window=10) == pytest.approx(25.3)
