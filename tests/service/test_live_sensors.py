"""Wearables on a live session: replayed recordings give the offline analysis's numbers.

Each recording is streamed through :class:`service.live.LiveSession` as a client would send it
(JSON or binary blocks, each sensor on its own clock) and compared with the offline analysis of
the same files (:func:`service.wearables.analyze_wearables`).
"""

from __future__ import annotations

import numpy as np
import pytest

from kinematics.errors import InputError
from kinematics.fusion import MOBILISED_LOWER_BACK, ClockSync, pelvis_orientation, read_emg, read_imu
from kinematics.fusion.synth import pelvis_imu, rehab_motion, video_angle
from service.live import LiveSession
from service.live_sensors import decode_sensor_block
from service.wearables import WearablesRequest, analyze_wearables
from tests.fusion.data import MOBILISED_CSV, UCI_5N
from tests.service import live_sensor_data as D


def _replay(session: LiveSession, messages: list) -> list[dict]:
    out = []
    for m in messages:
        out.append(session.sensor_bytes(m) if isinstance(m, bytes) else session.sensor_message(m))
    return out


def _rmse(a, b) -> float:
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


def test_the_real_lower_back_imu_live_gives_the_offline_obliquity():
    """Mobilise-D HA001 (12 s, 100 Hz) in 50 ms JSON blocks; offline: the same file through the wearables path."""
    rec = read_imu(MOBILISED_CSV, placement="lower_back", sampling_rate_hz=100.0)
    offline = analyze_wearables(
        WearablesRequest(imu_axes="mobilised", imu_sampling_rate_hz=100.0, imu_placement="lower_back"),
        imu_path=MOBILISED_CSV,
    )
    series = offline.imu.pelvic_obliquity_deg
    session = LiveSession(None)
    ready = session.sensor_message(D.imu_start(rec))
    assert ready["latency_s"]["pelvis"] == 0.0
    answers = _replay(session, D.blocks(rec))
    got = [(a["t_s"], a["obliquity_deg"]) for a in answers if a.get("obliquity_deg") is not None]
    assert len(got) >= 40  # from the stand's search (10 s) to the end
    t, live = np.array(got).T
    want = np.interp(t, series.t_s, series.values)
    assert _rmse(live, want) < 1.0  # measured 0 (to the 0.01 deg the offline series is rounded to)


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_the_real_gait_emg_live_gives_the_offline_onsets(binary):
    """UCI 5N (4 thigh channels, 1 kHz): the same quiet window in both."""
    rec = read_emg(UCI_5N)
    window = (2.3, 2.55)
    offline = analyze_wearables(WearablesRequest(emg_baseline_s=window), emg_path=UCI_5N).emg
    session = LiveSession(None)
    session.sensor_message(D.emg_start(rec, baseline_s=list(window)))
    answers = _replay(session, D.blocks(emg=rec, binary=binary))
    for ch in rec.channels:
        want = [b.onset_s for b in offline.bursts if b.channel == ch.name and b.onset_s >= window[1]]
        live = [o["t_s"] for a in answers for o in a["onsets"] if o["channel"] == ch.name]
        last = answers[-1]["t_s"] - 0.2  # onsets later than this are not decided by the end of the stream
        live_decided = [x for x in live if x < last]
        assert len(live_decided) == len([x for x in want if x < last]), ch.name
        assert np.max(np.abs(np.subtract(live_decided, [x for x in want if x < last])), initial=0.0) <= 0.020


def test_synthetic_sensors_give_the_offline_onsets_timing_and_the_timing_cue(tmp_path, rng):
    """IMU (four 10 deg tilts) and EMG (abdominals 60 ms before each, gluteus medius 150 ms after), one clock."""
    imu_path, emg_path, truth = D.synthetic_session(tmp_path, rng)
    imu, emg = read_imu(imu_path), read_emg(emg_path)
    baseline = (0.5, 1.5)
    offline = analyze_wearables(
        WearablesRequest(imu_axes="mobilised", emg_baseline_s=baseline, emg_hardware_delay_s=0.0),
        imu_path=imu_path,
        emg_path=emg_path,
    )
    session = LiveSession("standing_hip_flexion")
    session.sensor_message(D.imu_start(imu))
    ready = session.sensor_message(D.emg_start(emg, baseline_s=list(baseline), clock="sacrum", hardware_delay_s=0.0))
    assert ready["timing_channels"] == ["lower_abdominal_left_mV"]  # the trunk channel
    answers = _replay(session, D.blocks(imu, emg, binary=True))
    # onsets: as offline, and as the truth
    for name, key in (("lower_abdominal_left_mV", "abdominal_onsets_s"), ("gluteus_medius_left_mV", "gmed_onsets_s")):
        live = [o["t_s"] for a in answers if a["kind"] == "emg" for o in a["onsets"] if o["channel"] == name]
        want = [b.onset_s for b in offline.emg.bursts if b.channel == name]
        assert len(live) == len(want) == 4
        assert np.max(np.abs(np.subtract(live, want))) <= 0.020  # measured 0-1 ms
        assert np.max(np.abs(np.subtract(live, truth[key]))) <= 0.020
    # per repetition: the abdominals' onset against the movement's, as offline says
    rows = [r for a in answers for r in a["timing"]]
    want_rows = [r for r in offline.emg.timing if r.channel == "lower_abdominal_left_mV"]
    assert len(rows) == len(want_rows) == 8  # each tilt and each return is a movement
    for got, want in zip(rows, want_rows, strict=True):
        assert got["movement_onset_s"] == pytest.approx(want.movement_onset_s, abs=0.020)  # measured 0
        if want.delta_ms is None:  # the return: the abdominals have been on since the tilt
            assert got["delta_ms"] is None and got["already_on"]
        else:
            assert got["delta_ms"] == pytest.approx(want.delta_ms, abs=20.0)  # measured 0
            assert got["delta_ms"] < -60  # 60 ms lead, and the speed threshold fires 30-40 ms into the movement
    cues = [c for a in answers for c in a["cues"] if "abdominals" in c]
    assert len(cues) == 8
    assert sum(c.startswith("abdominals on ") and c.endswith(" ms before the movement") for c in cues) == 4
    assert sum(c == "abdominals already on when the movement started" for c in cues) == 4
    assert session.sensors.cues_given  # kept for the recording


def test_obliquity_cue_and_the_imu_hold_when_the_camera_cannot_see(tmp_path, rng):
    """Single-leg stance: the pelvis drops 8 deg and holds; the IMU cues it and times the hold."""
    imu_path, _, _ = D.synthetic_session(tmp_path, rng, obliquity_deg=8.0)
    imu = read_imu(imu_path)
    session = LiveSession("single_leg_stance")
    session.sensor_message(D.imu_start(imu))
    answers = _replay(session, D.blocks(imu))
    held = [a for a in answers if a["t_s"] is not None and 5.0 < a["t_s"] < 5.6]  # 1 s into the first hold
    assert held and all(a["hold_s"] > 0.3 for a in held)
    assert any("keep your right hip level with the other" in a["cues"] for a in held)  # > 0: the left is higher
    quiet = [a for a in answers if a["t_s"] is not None and 2.0 < a["t_s"] < 3.5]
    assert quiet and all(a["hold_s"] == 0.0 and not a["cues"] for a in quiet)
    # a frame in which nobody is seen: the hold comes from the IMU
    answer = session.update(20.0, [], (640, 480))
    assert answer["person_found"] is False and answer["hold_source"] == "imu"


def test_the_imu_clock_is_put_on_the_video_clock_by_the_offline_estimator(rng):
    """The camera's obliquity arrives with the frames; the IMU's clock is 2.5 s ahead of the video's."""
    t = np.arange(0.0, 40.0, 0.01)
    motion = rehab_motion(t, rng=rng)
    imu = pelvis_imu(motion, axes=MOBILISED_LOWER_BACK, rng=rng, clock_offset_s=-2.5)
    video, _ = video_angle(t, motion.obliquity_deg, noise_deg=0.5, rng=rng)
    offline = ClockSync().estimate(pelvis_orientation(imu, axes=MOBILISED_LOWER_BACK).obliquity, video)
    session = LiveSession(None)
    session.sensor_message(D.imu_start(imu))
    answers = []
    frames = iter(zip(video.t_s.tolist(), video.values.tolist(), strict=True))
    pending = next(frames, None)
    for msg in D.blocks(imu, block_s=0.1):
        now = msg["t0_s"] - 2.5  # type: ignore[index]
        while pending is not None and pending[0] <= now:  # the camera's angles published so far
            session.sensors.video_obliquity(np.array([pending[0]]), np.array([pending[1]]))
            pending = next(frames, None)
        answers.append(session.sensor_message(msg))
    synced = [a for a in answers if a["clock"] == "video"]
    assert synced, "no offset was estimated"
    assert synced[-1]["sync"]["method"] == "cross_correlation"
    assert synced[-1]["sync"]["offset_s"] == pytest.approx(offline.offset_s, abs=0.02)
    assert synced[-1]["sync"]["offset_s"] == pytest.approx(-2.5, abs=0.05)  # t_video = t_imu + offset_s
    assert synced[-1]["t_s"] == pytest.approx(float(imu.t_s[-1]) - 2.5, abs=0.05)


def test_a_manual_offset_puts_sensor_times_on_the_video_clock():
    rec = read_imu(MOBILISED_CSV, placement="lower_back", sampling_rate_hz=100.0)
    session = LiveSession(None)
    session.sensor_message(D.imu_start(rec, offset_s=100.0))
    first = session.sensor_message(D.blocks(rec)[0])  # type: ignore[arg-type]
    assert first["clock"] == "video" and first["t_s"] == pytest.approx(float(rec.t_s[4]) + 100.0)
    assert session.sensor_message({"type": "sync", "sensor": "sacrum", "offset_s": -1.0})["method"] == "manual"


@pytest.mark.parametrize(
    ("message", "words"),
    [
        ({"type": "imu", "sensor": "nobody", "t0_s": 0, "samples": [[0, 0, 9.8, 0, 0, 0]]}, "not started"),
        ({"type": "sensor_start", "sensor": "s", "kind": "ecg", "sampling_rate_hz": 100}, "kind must be"),
        ({"type": "sensor_start", "sensor": "s", "kind": "imu", "sampling_rate_hz": 100, "axes": "up=+x"}, "imu_axes"),
        (
            {"type": "sensor_start", "sensor": "e", "kind": "emg", "sampling_rate_hz": 1000, "channels": ["knee"]},
            "site",
        ),
        ({"type": "sensor_start", "sensor": "s", "kind": "imu", "sampling_rate_hz": 1e6}, "10-10000"),
    ],
)
def test_bad_sensor_messages_name_the_problem(message, words):
    with pytest.raises(InputError, match=words):
        LiveSession(None).sensor_message(message)


def test_blocks_must_fit_the_declared_sensor():
    session = LiveSession(None)
    session.sensor_message(
        {"type": "sensor_start", "sensor": "s", "kind": "imu", "sampling_rate_hz": 100, "axes": "mobilised"}
    )
    with pytest.raises(InputError, match=r"\(m, 6\)"):
        session.sensor_message({"type": "imu", "sensor": "s", "t0_s": 0, "samples": [[0, 0, 9.8]]})
    session.sensor_message({"type": "imu", "sensor": "s", "t0_s": 0, "samples": [[9.8, 0, 0, 0, 0, 0]]})
    with pytest.raises(InputError, match="increase"):
        session.sensor_message({"type": "imu", "sensor": "s", "t0_s": 0, "samples": [[9.8, 0, 0, 0, 0, 0]]})
    with pytest.raises(InputError, match="bytes"):
        session.sensor_bytes(D.encode_sensor_block("imu", "s", 1.0, np.zeros((2, 6)))[:-3])


# -- the WebSocket -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live_client(tmp_path_factory):
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.settings import Settings
    from tests.service.conftest import make_key

    tmp = tmp_path_factory.mktemp("live_sensors")
    settings = Settings(data_dir=tmp / "var", database_url=f"sqlite:///{tmp / 'db.sqlite'}", workers=0)
    with TestClient(create_app(settings, start_workers=False)) as client:
        yield client, make_key(settings)


def test_sensors_stream_over_the_websocket_and_the_timing_cue_comes_back(live_client, tmp_path, rng):
    client, key = live_client
    imu_path, emg_path, _ = D.synthetic_session(tmp_path, rng)
    imu, emg = read_imu(imu_path), read_emg(emg_path)
    messages = D.blocks(imu, emg, binary=True)
    with client.websocket_connect(
        "/v1/live?exercise=standing_hip_flexion", headers={"Authorization": f"Bearer {key}"}
    ) as ws:
        ready = ws.receive_json()
        assert ready["type"] == "ready" and ready["max_sensor_lag_s"] == 1.0
        ws.send_json(D.imu_start(imu))
        ws.send_json(D.emg_start(emg, baseline_s=[0.5, 1.5], clock="sacrum", hardware_delay_s=0.0))
        assert [ws.receive_json()["type"] for _ in range(2)] == ["sensor_ready", "sensor_ready"]
        answers = []
        for i, m in enumerate(messages):  # 18 s of data as fast as it is answered (all at once would
            if i % 2:  # exceed the lag bound); the JSON form, beside the binary one
                kind, name, t0, values = decode_sensor_block(m)
                ws.send_json({"type": kind, "sensor": name, "t0_s": t0, "samples": values.tolist()})
            else:
                ws.send_bytes(m)
            answers.append(ws.receive_json())
    assert all(a["type"] == "sensor" for a in answers), [a for a in answers if a["type"] != "sensor"][:1]
    assert all(a["waited_ms"] <= 1000.0 for a in answers)
    cues = [c for a in answers for c in a["cues"]]
    assert sum(c.startswith("abdominals on ") and c.endswith(" ms before the movement") for c in cues) == 4


def test_a_sensor_that_falls_behind_the_lag_bound_is_stopped_not_queued(live_client, monkeypatch):
    import time

    client, key = live_client
    rec = read_imu(MOBILISED_CSV, placement="lower_back", sampling_rate_hz=100.0)
    messages = D.blocks(rec, binary=True)[:4]
    slow = LiveSession.sensor_bytes

    def stalled(self, data):
        if not getattr(self, "_stalled", False):
            self._stalled = True
            time.sleep(1.3)  # one block takes longer than the bound
        return slow(self, data)

    monkeypatch.setattr(LiveSession, "sensor_bytes", stalled)
    with client.websocket_connect("/v1/live", headers={"Authorization": f"Bearer {key}"}) as ws:
        ws.receive_json()
        ws.send_json(D.imu_start(rec))
        assert ws.receive_json()["type"] == "sensor_ready"
        for m in messages:
            ws.send_bytes(m)
        answers = [ws.receive_json() for _ in messages]
        assert answers[0]["type"] == "sensor"
        assert answers[1]["type"] == "error" and "fell" in answers[1]["detail"] and "stopped" in answers[1]["detail"]
        assert all(a["type"] == "error" for a in answers[2:])
        ws.send_json(D.imu_start(rec))  # the client restarts it
        assert ws.receive_json()["type"] == "sensor_ready"
        ws.send_bytes(messages[0])
        assert ws.receive_json()["type"] == "sensor"


def test_a_bad_sensor_message_is_an_error_answer_and_the_session_goes_on(live_client):
    client, key = live_client
    with client.websocket_connect("/v1/live", headers={"Authorization": f"Bearer {key}"}) as ws:
        ws.receive_json()
        ws.send_json({"type": "imu", "sensor": "nobody", "t0_s": 0, "samples": [[0, 0, 9.8, 0, 0, 0]]})
        error = ws.receive_json()
        assert error["type"] == "error" and "not started" in error["detail"]
        ws.send_bytes(b"MSS1\x07")
        assert ws.receive_json()["type"] == "error"
        ws.send_json({"t_s": "soon"})
        assert "sensor message" in ws.receive_json()["detail"]


# -- the recorder ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def walker_frames() -> list[tuple[float, bytes]]:
    import cv2

    from tests.conftest import FIXTURES
    from vision.decode import VideoReader

    out = []
    with VideoReader(FIXTURES / "video" / "sports2d_walker.mp4") as video:
        for frame in video:
            out.append((frame.t_s + 3.0, cv2.imencode(".jpg", cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR))[1].tobytes()))
            if len(out) == 40:
                break
    return out


def test_a_recorded_session_is_saved_as_one_assessment_that_reanalyses_to_the_live_numbers(
    live_client, walker_frames, tmp_path, rng
):
    """Frames, an IMU and an EMG (each on its own clock) and the cues given: one assessment."""
    from service.live_record import recorded_files  # noqa: F401  (the layout the test reads back)
    from service.store.models import AssessmentRow
    from vision.decode import VideoReader

    client, key = live_client
    imu_path, emg_path, _ = D.synthetic_session(tmp_path, rng)
    imu, emg = read_imu(imu_path), read_emg(emg_path)
    sensor_clock_to_video = -96.0  # the sensors' clock reads 96 s more than the frames' t_s
    imu = imu.shifted(96.0)
    emg_shifted = type(emg)(
        t_s=emg.t_s + 96.0,
        emg_mv=emg.emg_mv,
        channels=emg.channels,
        sampling_rate_hz=emg.sampling_rate_hz,
        source=emg.source,
        format=emg.format,
    )
    auth = {"Authorization": f"Bearer {key}"}
    with client.websocket_connect("/v1/live?exercise=standing_hip_flexion&record=1", headers=auth) as ws:
        assert ws.receive_json()["recording"] is True
        ws.send_json(D.imu_start(imu, offset_s=sensor_clock_to_video))
        ws.send_json(D.emg_start(emg_shifted, baseline_s=[96.5, 97.5], clock="sacrum", hardware_delay_s=0.0))
        assert [ws.receive_json()["type"] for _ in range(2)] == ["sensor_ready", "sensor_ready"]
        for t, jpeg in walker_frames:  # the frames first, answered one by one
            ws.send_json({"t_s": t})
            ws.send_bytes(jpeg)
            assert ws.receive_json()["type"] == "frame"
        answers = []
        for m in D.blocks(imu, emg_shifted, binary=True):
            ws.send_bytes(m)  # type: ignore[arg-type]
            answers.append(ws.receive_json())
        ws.send_json({"type": "save", "patient_id": "P-0042"})
        saved = ws.receive_json()
    assert saved["type"] == "saved" and saved["frames"] == 40, saved
    live_onsets = [o["t_s"] for a in answers if a["kind"] == "emg" for o in a["onsets"]]
    cues = [c for a in answers for c in a["cues"]]
    assert len(live_onsets) == 8 and sum("ms before the movement" in c for c in cues) == 4

    state = client.app.state
    with state.session_factory() as s:
        row = s.get(AssessmentRow, saved["assessment_id"])
    assert row.input_kind == "video" and row.patient_id == "P-0042" and row.status == "queued"
    request = row.wearables["request"]
    t0 = walker_frames[0][0]
    assert request["imu_offset_s"] == pytest.approx(sensor_clock_to_video - t0)
    assert request["emg_offset_s"] == pytest.approx(sensor_clock_to_video - t0)
    assert request["imu_axes"] == "mobilised"
    assert request["emg_baseline_s"] == [96.5, 97.5]  # as given live: the EMG clock, the saved file's own times
    # the video: every frame, at its own time from the first
    with state.uploads.plaintext(row.input_path) as video_path, VideoReader(video_path) as video:
        times = [f.t_s for f in video]
    np.testing.assert_allclose(times, [t - t0 for t, _ in walker_frames], atol=1e-3)
    # the sensors, re-analysed offline with the saved request: the onsets the patient was given
    with state.uploads.plaintext(row.wearables["imu"]["path"]) as p_imu:
        with state.uploads.plaintext(row.wearables["emg"]["path"]) as p_emg:
            offline = analyze_wearables(WearablesRequest.model_validate(request), imu_path=p_imu, emg_path=p_emg)
    want = sorted(b.onset_s for b in offline.emg.bursts)
    np.testing.assert_allclose(sorted(live_onsets), np.add(want, t0), atol=0.020)  # measured <= 1 ms
    timing = [r.delta_ms for r in offline.emg.timing if r.channel == "lower_abdominal_left_mV" and r.delta_ms]
    assert len(timing) == 4
    # what the patient was told, for the clinician
    told = client.get(f"/v1/assessments/{row.id}/live", headers=auth).json()
    assert told["frames_recorded"] == 40 and told["clock"].startswith("video")
    said = [c for entry in told["cues"] for c in entry["cues"]]
    assert sum("ms before the movement" in c for c in said) == 4
    np.testing.assert_allclose(
        sorted(r["delta_ms"] for r in told["timing"] if r["delta_ms"] is not None), sorted(timing), atol=20.0
    )
    assert set(told["latency_s"]) == {"sacrum", "emg"}
    # and the job runs it like any upload: video, IMU and EMG in one assessment
    from service.jobs.runner import claim, run_job

    job = claim(state.session_factory, row.id, state.settings, "test:1")
    assert job is not None and run_job(state.session_factory, state.settings, job) == "done"
    done = client.get(f"/v1/assessments/{row.id}", headers=auth).json()
    assert done["status"] == "done", done.get("reason")
    assert done["input"]["frames_read"] == 40 and done["input"]["container"].startswith("matroska")
    assert sorted(b["onset_s"] for b in done["wearables"]["emg"]["bursts"]) == pytest.approx(want, abs=1e-3)


def test_saving_needs_a_recording_connection(live_client):
    client, key = live_client
    with client.websocket_connect("/v1/live", headers={"Authorization": f"Bearer {key}"}) as ws:
        assert ws.receive_json()["recording"] is False
        ws.send_json({"type": "save"})
        assert "record=1" in ws.receive_json()["detail"]
    with client.websocket_connect("/v1/live?record=1", headers={"Authorization": f"Bearer {key}"}) as ws:
        ws.receive_json()
        ws.send_json({"type": "save"})
        assert "nothing was recorded" in ws.receive_json()["detail"]
