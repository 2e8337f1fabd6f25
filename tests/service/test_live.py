"""``/v1/live``: the One Euro filter, incremental repetitions, and the WebSocket with the real pose model."""

from __future__ import annotations

import itertools
import json
import math

import cv2
import numpy as np
import pytest
from starlette.websockets import WebSocketDisconnect

from service.api import live
from service.api.live import CLOSE_POLICY, OneEuroFilter, RepCounter
from tests.conftest import POSE2SIM
from tests.service.conftest import make_key

# -- One Euro filter (Casiez et al. 2012) ----------------------------------------------------------------------------


def run_filter(f: OneEuroFilter, t_s: np.ndarray, x: np.ndarray) -> np.ndarray:
    state, out = None, []
    for t, v in zip(t_s, x, strict=True):
        y, state = f.step(state, float(t), float(v))
        out.append(y)
    return np.array(out)


def test_one_euro_with_beta_zero_is_the_analytic_first_order_low_pass():
    fc, dt = 2.0, 1 / 30
    t = np.arange(60) * dt
    x = np.ones(60)
    x[0] = 0.0  # a unit step after the first sample
    got = run_filter(OneEuroFilter(min_cutoff_hz=fc, beta=0.0), t, x)
    alpha = 1 / (1 + 1 / (2 * math.pi * fc) / dt)
    np.testing.assert_allclose(got, 1 - (1 - alpha) ** np.arange(60), rtol=1e-12)


def test_one_euro_removes_jitter_at_rest_and_follows_fast_moves(rng):
    t = np.arange(300) / 30
    still = 10 + rng.normal(0, 1.0, 300)  # ~1 deg jitter, BlazePose-like
    f = OneEuroFilter()
    assert np.std(run_filter(f, t, still)[30:]) < 0.5 * np.std(still[30:])  # EMA at 1 Hz alone: 0.31
    ramp = 90 * np.clip(t - 2, 0, 1)  # 90 deg in one second
    lag_euro = np.abs(run_filter(f, t, ramp) - ramp)[60:91].max()
    lag_plain = np.abs(run_filter(OneEuroFilter(beta=0.0), t, ramp) - ramp)[60:91].max()
    assert lag_euro < 0.5 * lag_plain


def test_one_euro_holds_on_repeated_timestamps():
    f = OneEuroFilter()
    y1, s1 = f.step(None, 0.0, 5.0)
    y2, s2 = f.step(s1, 0.0, 50.0)
    assert y1 == y2 == 5.0 and s1 == s2


# -- incremental repetitions -----------------------------------------------------------------------------------------


def test_rep_counter_counts_known_repetitions_sample_by_sample(rng):
    t = np.arange(0, 20, 1 / 30)
    angle = 5 + 40 * np.clip(np.sin(2 * np.pi * 0.25 * (t - 2)), 0, None) * (t > 2) * (t < 18)  # 4 reps of 40 deg
    angle += rng.normal(0, 0.8, t.size)
    c = RepCounter(min_amplitude=20.0)
    counts = []
    for ti, v in zip(t, angle, strict=True):
        c.update(float(ti), float(v))
        counts.append(c.count)
    assert c.count == 4
    assert (
        counts[int(3.5 * 30)] == 0 and counts[int(4.5 * 30)] == 1
    )  # counted when the first rep ends (4 s), not before


def test_rep_counter_ignores_small_excursions_and_gaps(rng):
    t = np.arange(0, 10, 1 / 30)
    angle = 5 + 8 * np.sin(2 * np.pi * 0.5 * t) ** 2 + rng.normal(0, 0.5, t.size)
    c = RepCounter(min_amplitude=20.0)
    for ti, v in zip(t, angle, strict=True):
        c.update(float(ti), None if ti % 1 < 0.1 else float(v))
    assert c.count == 0


def test_hold_timer_measures_a_plateau():
    c = RepCounter(min_amplitude=10.0)
    t = np.arange(0, 6, 1 / 30)
    angle = np.interp(t, [0, 1, 1.5, 3.5, 4, 6], [0, 0, 30, 30, 0, 0])
    holds = []
    for ti, v in zip(t, angle, strict=True):
        c.update(float(ti), float(v))
        holds.append(c.hold_s)
    assert max(holds) == pytest.approx(2.0, abs=0.1) and c.count == 1 and c.hold_s == 0.0


# -- the WebSocket ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def jpegs() -> list[bytes]:
    cap = cv2.VideoCapture(str(POSE2SIM))
    out = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        out.append(cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes())
    cap.release()
    assert len(out) == 100
    return out


@pytest.fixture(scope="module")
def live_app(tmp_path_factory):
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.settings import Settings

    tmp = tmp_path_factory.mktemp("live")
    settings = Settings(data_dir=tmp / "var", database_url=f"sqlite:///{tmp / 'db.sqlite'}", workers=0)
    app = create_app(settings, start_workers=False)
    if not any(getattr(r, "path", None) == "/v1/live" for r in app.routes):
        app.include_router(live.router)  # until service/app.py includes it
    with TestClient(app) as client:
        yield client, make_key(settings), make_key(settings, role="clinician", clinic="Clinic A")


def frames_until(ws, n_sent: int) -> list[dict]:
    """Answers until every sent frame is accounted for (processed or dropped)."""
    got, accounted = [], 0
    while accounted < n_sent:
        msg = ws.receive_json()
        assert msg["type"] == "frame", msg
        got.append(msg)
        accounted += 1 + msg["dropped"]
    return got


# Each live frame is analysed alone: the fused yaw of one frame is ~25 deg uncertain (no temporal
# model), so most frames of this front-oblique clip read "unknown" and carry no angle. Issue 15
# gives live sessions the causal (forward) form of the offline yaw model; strict, so this goes then.
@pytest.mark.xfail(strict=True, reason="single-frame view is unknown until live sessions get the causal yaw model")
def test_live_frames_give_landmarks_angles_and_smoothing(live_app, jpegs):
    client, key, _ = live_app
    with client.websocket_connect("/v1/live?exercise=squat", headers={"Authorization": f"Bearer {key}"}) as ws:
        ready = ws.receive_json()
        assert ready["type"] == "ready" and ready["rep_series"] == "mean_hip_flexion"
        answers = []
        for i in range(0, 100, 10):  # one at a time: nothing is dropped
            ws.send_text(json.dumps({"t_s": i / 30}))
            ws.send_bytes(jpegs[i])
            answers.append(ws.receive_json())
    assert [a["seq"] for a in answers] == list(range(1, 11)) and all(a["dropped"] == 0 for a in answers)
    assert [a["t_s"] for a in answers] == pytest.approx([i / 30 for i in range(0, 100, 10)])
    last = answers[-1]
    assert last["person_found"] and len(last["landmarks"]) == 33 and len(last["landmarks"][0]) == 4
    assert last["view"] in ("sagittal", "oblique")  # the Pose2Sim clip is filmed side-on; one frame is less sure
    flexion = [a["angles"]["hip_flexion_left_deg"] for a in answers]
    measured = [i for i, v in enumerate(flexion) if v is not None]
    assert len(measured) >= 8  # a single frame's view is sometimes judged oblique: no sagittal angle then
    first = measured[0]
    assert answers[first]["smoothed"]["hip_flexion_left_deg"] == pytest.approx(flexion[first], abs=0.01)
    assert all(abs(a["smoothed"]["hip_flexion_left_deg"]) < 90 for a in answers[first:])
    assert last["reps"] == 0 and isinstance(last["hold_s"], float) and isinstance(last["cues"], list)


def test_frames_sent_faster_than_processed_are_dropped_not_queued(live_app, jpegs):
    client, key, _ = live_app
    with client.websocket_connect(f"/v1/live?token={key}") as ws:
        assert ws.receive_json()["type"] == "ready"
        for i, jpg in enumerate(jpegs):  # 100 frames at once; each takes tens of ms to analyse
            ws.send_text(json.dumps({"t_s": i / 30}))
            ws.send_bytes(jpg)
        answers = frames_until(ws, len(jpegs))
    dropped = sum(a["dropped"] for a in answers)
    assert dropped > 0 and len(answers) + dropped == len(jpegs)
    assert len(answers) < len(jpegs) / 2  # a queue would have answered every frame
    assert answers[-1]["t_s"] == pytest.approx((len(jpegs) - 1) / 30)  # the newest frame is the one kept
    # Only one frame ever waits: no answer is for a frame older than the one before it.
    assert all(b["t_s"] > a["t_s"] for a, b in itertools.pairwise(answers))


def test_a_corrupt_frame_is_reported_and_the_session_goes_on(live_app, jpegs):
    client, key, _ = live_app
    with client.websocket_connect(f"/v1/live?token={key}") as ws:
        ws.receive_json()
        ws.send_bytes(jpegs[0][:200])
        err = ws.receive_json()
        assert err["type"] == "error" and "image" in err["detail"]
        ws.send_text("not json")
        assert ws.receive_json()["type"] == "error"
        ws.send_bytes(jpegs[1])
        assert ws.receive_json()["type"] == "frame"


@pytest.mark.parametrize(
    "url,headers",
    [
        ("/v1/live", {}),
        ("/v1/live?token=ms_nope_wrong", {}),
        ("/v1/live", {"Authorization": "Bearer ms_nope_wrong"}),
        ("/v1/live?exercise=cartwheel&token={key}", {}),
    ],
)
def test_refused_connections_close_with_policy_violation(live_app, url, headers):
    client, key, _ = live_app
    with (
        client.websocket_connect(url.format(key=key), headers=headers) as ws,
        pytest.raises(WebSocketDisconnect) as exc,
    ):
        ws.receive_json()
    assert exc.value.code == CLOSE_POLICY and exc.value.reason


def test_connections_beyond_the_limit_are_told_to_try_again(tmp_path, jpegs):
    """Each connection holds its own tracking model, so their number is capped (live_max_connections)."""
    from fastapi.testclient import TestClient

    from service.api.live import CLOSE_TRY_AGAIN
    from service.app import create_app
    from service.settings import Settings

    settings = Settings(
        data_dir=tmp_path / "var", database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", workers=0, live_max_connections=1
    )
    with TestClient(create_app(settings, start_workers=False)) as client:
        key = make_key(settings)
        with client.websocket_connect(f"/v1/live?token={key}") as first:
            assert first.receive_json()["type"] == "ready"
            with client.websocket_connect(f"/v1/live?token={key}") as second, pytest.raises(WebSocketDisconnect) as exc:
                second.receive_json()
            assert exc.value.code == CLOSE_TRY_AGAIN and "1 live connections" in exc.value.reason
            first.send_bytes(jpegs[0])  # the first connection is unaffected
            assert first.receive_json()["type"] == "frame"
        with client.websocket_connect(f"/v1/live?token={key}") as again:  # its slot is free once it closed
            assert again.receive_json()["type"] == "ready"


# -- issue 14, break 6: no frame ends a session, close reasons fit a close frame, caps per clinic, idle timeout ------


@pytest.mark.parametrize(
    "bad", [b"hello", b"", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40], ids=["text-bytes", "empty", "png-head"]
)
def test_any_undecodable_frame_is_an_error_message_and_the_session_goes_on(live_app, jpegs, bad):
    client, key, _ = live_app
    with client.websocket_connect(f"/v1/live?token={key}") as ws:
        assert ws.receive_json()["type"] == "ready"
        ws.send_bytes(bad)
        err = ws.receive_json()
        assert err["type"] == "error" and err["detail"]
        ws.send_bytes(jpegs[0])
        assert ws.receive_json()["type"] == "frame"


def test_an_unexpected_fault_in_the_analysis_is_an_error_message_not_a_1011(live_app, jpegs, monkeypatch):
    from service.frame_analysis import FrameAnalyzer

    real = FrameAnalyzer.analyze_bytes

    def faulty(self, data, name="image", t_s=0.0):
        if data == b"\xff\xd8\xff boom":
            raise ZeroDivisionError("a fault deep in the decoder")
        return real(self, data, name, t_s)

    monkeypatch.setattr(FrameAnalyzer, "analyze_bytes", faulty)
    client, key, _ = live_app
    with client.websocket_connect(f"/v1/live?token={key}") as ws:
        ws.receive_json()
        ws.send_bytes(b"\xff\xd8\xff boom")
        err = ws.receive_json()
        assert err["type"] == "error" and "could not be analysed" in err["detail"]
        assert "ZeroDivision" not in err["detail"]  # the fault is logged, not shown
        ws.send_bytes(jpegs[0])
        assert ws.receive_json()["type"] == "frame"


@pytest.mark.parametrize("exercise", ["cartwheel", "é" * 200, "x" * 5000])
def test_close_reasons_fit_the_123_bytes_of_a_close_frame(live_app, exercise):
    client, key, _ = live_app
    with (
        client.websocket_connect(f"/v1/live?token={key}&exercise={exercise}") as ws,
        pytest.raises(WebSocketDisconnect) as exc,
    ):
        ws.receive_json()
    assert exc.value.code == CLOSE_POLICY
    assert exc.value.reason.startswith("exercise: unknown exercise")
    assert len(exc.value.reason.encode("utf-8")) <= 123


def test_close_reason_cuts_between_characters():
    from service.api.live import close_reason

    assert close_reason("short") == "short"
    for text in ("a" * 200, "é" * 200, "a" + "€" * 100, "😀" * 60):
        cut = close_reason(text)
        assert len(cut.encode("utf-8")) <= 123 and cut.endswith("…") and text.startswith(cut[:-1])


def _live_client(tmp_path, **overrides):
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.settings import Settings

    settings = Settings(
        data_dir=tmp_path / "var", database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", workers=0, **overrides
    )
    return settings, TestClient(create_app(settings, start_workers=False))


def test_one_clinic_cannot_take_every_live_connection(tmp_path, jpegs):
    from service.api.live import CLOSE_TRY_AGAIN

    settings, tc = _live_client(tmp_path, live_max_connections=4, live_max_connections_per_clinic=2)
    with tc as client:
        a, b = make_key(settings, clinic="Clinic A"), make_key(settings, clinic="Clinic B")
        with (
            client.websocket_connect(f"/v1/live?token={a}") as a1,
            client.websocket_connect(f"/v1/live?token={a}") as a2,
        ):
            assert a1.receive_json()["type"] == a2.receive_json()["type"] == "ready"
            with client.websocket_connect(f"/v1/live?token={a}") as a3, pytest.raises(WebSocketDisconnect) as exc:
                a3.receive_json()
            assert exc.value.code == CLOSE_TRY_AGAIN and "this clinic already has 2" in exc.value.reason
            with client.websocket_connect(f"/v1/live?token={b}") as b1:  # another clinic is not locked out
                assert b1.receive_json()["type"] == "ready"
                b1.send_bytes(jpegs[0])
                assert b1.receive_json()["type"] == "frame"
        with client.websocket_connect(f"/v1/live?token={a}") as again:  # the clinic's slots free up on close
            assert again.receive_json()["type"] == "ready"


def test_an_idle_live_connection_is_closed_and_frees_its_slot(tmp_path, jpegs):
    import threading

    CLOSE_IDLE = 4408  # service.api.live.CLOSE_IDLE: an application close code, after HTTP 408

    settings, tc = _live_client(tmp_path, live_max_connections_per_clinic=1, live_idle_timeout_s=0.5)
    with tc as client:
        key = make_key(settings)
        with client.websocket_connect(f"/v1/live?token={key}") as ws:
            assert ws.receive_json()["type"] == "ready"
            ws.send_bytes(jpegs[0])  # a working client is not idle
            assert ws.receive_json()["type"] == "frame"
            got: list[BaseException] = []

            def wait() -> None:
                try:
                    ws.receive_json()
                except BaseException as e:  # the close is what we wait for
                    got.append(e)

            waiter = threading.Thread(target=wait, daemon=True)
            waiter.start()
            waiter.join(timeout=20)  # today's code would wait forever: fail, don't hang
            assert got and isinstance(got[0], WebSocketDisconnect), "the idle connection was not closed"
            assert got[0].code == CLOSE_IDLE and "idle" in got[0].reason
        with client.websocket_connect(f"/v1/live?token={key}") as again:  # the clinic's one slot is free again
            assert again.receive_json()["type"] == "ready"
