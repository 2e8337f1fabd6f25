"""A recording live connection spools its frames to disk: memory flat in the recording's length,
nothing left behind when the connection ends (saved or not), and an orphaned spool swept."""

from __future__ import annotations

import hashlib
import os
import time
import tracemalloc

import cv2
import numpy as np
import pytest

from service.live_record import LiveRecording, _csv, _video, _video_file
from service.live_spool import FrameSpool
from service.store.crypto import Keyring, new_key_entry
from service.store.uploads import UploadStore


def _jpeg(rng: np.random.Generator, i: int) -> bytes:
    img = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)  # noise: ~60 KB a frame, not compressible
    cv2.putText(img, str(i), (10, 100), cv2.FONT_HERSHEY_SIMPLEX, 2, (255, 255, 255), 3)
    return cv2.imencode(".jpg", img)[1].tobytes()


def _frames(rng, n: int) -> list[tuple[float, bytes]]:
    t = 5.0 + np.cumsum(rng.uniform(0.030, 0.040, n))  # irregular capture times, as a phone sends them
    return [(float(ti), _jpeg(rng, i)) for i, ti in enumerate(t)]


def _packets(video: bytes) -> list[tuple[int, bytes]]:
    import io

    import av

    with av.open(io.BytesIO(video)) as c:
        return [(int(p.pts), bytes(p)) for p in c.demux(c.streams.video[0]) if p.size]


def test_the_spooled_video_is_the_matroska_of_the_same_jpegs_at_the_same_times(tmp_path, rng):
    frames = _frames(rng, 30)
    frames.insert(5, (frames[4][0] + 1e-5, frames[4][1]))  # the same millisecond: kept, not muxed, as before
    assert round((frames[5][0] - frames[0][0]) * 1000) == round((frames[4][0] - frames[0][0]) * 1000)
    rec = LiveRecording(1 << 30, tmp_path / "tmp")
    for t, jpeg in frames:
        rec.frame(t, jpeg)
    rec.frame(frames[3][0], frames[3][1])  # time going back: not kept
    assert rec.n_frames == 31 and rec.first_t == frames[0][0]
    spooled = b"".join(_video_file(rec.spool, tmp_path / "scratch"))
    in_memory = _video(frames)  # the recorder's former path, all frames in a list
    assert len(spooled) == len(in_memory)
    # the files differ only in what the muxer draws at random per file (the segment UID)
    assert sum(a != b for a, b in zip(spooled, in_memory, strict=True)) <= 64
    got, want = _packets(spooled), _packets(in_memory)
    assert got == want and len(got) == 30
    assert [p for p, _ in got] == [round((t - frames[0][0]) * 1000) for i, (t, _) in enumerate(frames) if i != 5]
    assert not list((tmp_path / "scratch").iterdir())  # the muxed plaintext file is gone
    # the spool on disk is sealed: no JPEG in the clear
    on_disk = rec.spool.path.read_bytes()
    assert not any(jpeg[:32] in on_disk or jpeg[-32:] in on_disk for _, jpeg in frames)
    rec.close()
    assert not list((tmp_path / "tmp").iterdir())


def test_the_sensor_csv_in_blocks_is_the_text_of_one_savetxt(rng):
    import io

    t = np.arange(20_000) / 1000.0
    values = rng.normal(size=(20_000, 4))
    one = io.StringIO()
    np.savetxt(one, np.column_stack([t, values]), delimiter=",", fmt="%.9g")
    want = ("# sampling_rate_hz: 1000\nt_s,a,b,c,d\n" + one.getvalue()).encode()
    assert b"".join(_csv(list("abcd"), {"sampling_rate_hz": "1000"}, t, values)) == want


def _peak_recording(n: int, jpeg: bytes, store: UploadStore) -> tuple[int, str]:
    """Peak Python memory while recording ``n`` frames (each a new bytes object, as each message is)
    and storing their video."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        rec = LiveRecording(1 << 30, store.partial_folder("c1"))
        for i in range(n):
            rec.frame(i / 30, bytes(bytearray(jpeg)))
        stored = store.save_chunks("c1", _video_file(rec.spool, store.scratch))
        rec.close()
        return tracemalloc.get_traced_memory()[1] - base, stored.sha256
    finally:
        tracemalloc.stop()


def test_memory_while_recording_does_not_grow_with_the_number_of_frames(tmp_path, rng):
    store = UploadStore(tmp_path / "uploads", Keyring.parse(new_key_entry()), tmp_path / "scratch")
    one = _jpeg(rng, 0)
    _peak_recording(2, one, store)  # imports and first-use allocations
    peak_few, _ = _peak_recording(20, one, store)
    peak_many, sha = _peak_recording(400, one, store)  # 400 x 91 KB = 36 MB of frames
    frames_bytes = len(one) * 400
    # measured: 0.7 MB for either; the former list of frames and video bytes held 2 x 36 MB
    assert peak_many < peak_few + 1_000_000, (peak_few, peak_many, frames_bytes)
    assert peak_many < frames_bytes / 10
    print(f"peak {peak_few / 1e6:.2f} MB for 20 frames, {peak_many / 1e6:.2f} MB for 400 ({frames_bytes / 1e6:.1f} MB)")
    with store.open(f"c1/{sha[:2]}/{sha}") as f:
        stored = f.read()
    assert hashlib.sha256(stored).hexdigest() == sha and len(_packets(stored)) == 400
    assert not list(store.partial_folder("c1").iterdir()) and not list(store.scratch.iterdir())


def test_a_failed_mux_leaves_no_file(tmp_path, rng):
    store = UploadStore(tmp_path / "uploads", Keyring.parse(new_key_entry()), tmp_path / "scratch")
    rec = LiveRecording(1 << 30, store.partial_folder("c1"))
    rec.frame(0.0, b"\xff\xd8 not a jpeg")
    from kinematics.errors import InputError

    with pytest.raises(InputError, match="first recorded frame"):
        store.save_chunks("c1", _video_file(rec.spool, store.scratch))
    rec.close()
    assert not list(store.partial_folder("c1").iterdir()) and not list(store.scratch.iterdir())


def test_the_sweep_removes_a_stale_spool_and_keeps_a_live_one(tmp_path, rng):
    from service.retention import live_spool_max_age_s, sweep_partial
    from service.settings import Settings

    settings = Settings(data_dir=tmp_path / "var", database_url=f"sqlite:///{tmp_path / 'db.sqlite'}")
    store = UploadStore(settings.uploads_path, Keyring.parse(new_key_entry()), settings.scratch_path)
    crashed = LiveRecording(1 << 30, store.partial_folder("c1"))
    crashed.frame(0.0, _jpeg(rng, 0))
    connected = LiveRecording(1 << 30, store.partial_folder("c1"))
    connected.frame(0.0, _jpeg(rng, 1))
    stale = time.time() - live_spool_max_age_s(settings) - 60
    os.utime(crashed.spool.path, (stale, stale))  # a process killed that long ago
    report = sweep_partial(store, settings)
    assert report.partial == 1 and not crashed.spool.path.exists() and connected.spool.path.exists()
    crashed.close()  # (its process is "gone": only its open file is closed here)
    # a connection that only sends sensor blocks for a while still touches its spool
    os.utime(connected.spool.path, (stale, stale))
    connected.spool._touched -= 60
    connected.touch()
    assert sweep_partial(store, settings).partial == 0 and connected.spool.path.exists()
    connected.close()


@pytest.fixture(scope="module")
def live_client(tmp_path_factory):
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.settings import Settings
    from tests.service.conftest import make_key

    tmp = tmp_path_factory.mktemp("live_record")
    settings = Settings(data_dir=tmp / "var", database_url=f"sqlite:///{tmp / 'db.sqlite'}", workers=0)
    with TestClient(create_app(settings, start_workers=False)) as client:
        yield client, make_key(settings)


def test_a_recording_connection_leaves_no_spool_when_it_ends_saved_or_not(live_client, rng):
    client, key = live_client
    state = client.app.state
    frames = _frames(rng, 5)

    def spools():
        return list(state.uploads.root.glob("*/tmp/live-*"))

    auth = {"Authorization": f"Bearer {key}"}
    for save in (False, True):
        with client.websocket_connect("/v1/live?record=1", headers=auth) as ws:
            assert ws.receive_json()["recording"] is True
            for t, jpeg in frames:
                ws.send_json({"t_s": t})
                ws.send_bytes(jpeg)
                ws.receive_json()
            assert len(spools()) == 1  # the frames are on disk, not in memory
            if save:
                ws.send_json({"type": "save"})
                saved = ws.receive_json()
                assert saved["type"] == "saved" and saved["frames"] == 5, saved
        deadline = time.monotonic() + 5
        while spools() and time.monotonic() < deadline:  # the server ends its side after the client
            time.sleep(0.02)
        assert spools() == []
    assert not list(state.uploads.scratch.glob("plain-*"))


def test_a_full_disk_stops_the_recording_and_keeps_what_was_written(tmp_path, rng):
    frames = _frames(rng, 6)
    rec = LiveRecording(1 << 30, tmp_path / "tmp")
    for t, jpeg in frames[:3]:
        rec.frame(t, jpeg)
    real_write = rec.spool._f.write

    def full(data):
        real_write(data[:10])  # a partial record, then the disk is full
        raise OSError(28, "No space left on device")

    rec.spool._f.write = full
    for t, jpeg in frames[3:]:
        rec.frame(t, jpeg)  # no exception reaches the connection
    assert rec.full and rec.n_frames == 3
    rec.spool._f.write = real_write
    video = b"".join(_video_file(rec.spool, tmp_path / "scratch"))
    assert [p for p, _ in _packets(video)] == [round((t - frames[0][0]) * 1000) for t, _ in frames[:3]]
    rec.close()
    assert not list((tmp_path / "tmp").iterdir())


def test_a_connection_that_asks_to_record_when_the_budget_is_full_is_told_at_connect_and_still_analysed(tmp_path, rng):
    """One connection fills a 1 MB budget (``live_record_budget_mb``) until it is told its recording stopped;
    a second ``?record=1`` connection, while the first holds the budget, is told in its very first message
    (``ready``) that the server's recording space is full, with the limit, and that live feedback goes on
    without recording: its frames of a real person are analysed (33 landmarks), it spools nothing, and a
    save says why. Once the first connection has ended, recording is offered again."""
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.settings import Settings
    from tests.conftest import POSE2SIM
    from tests.service.conftest import make_key

    settings = Settings(
        data_dir=tmp_path / "var",
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        workers=0,
        live_record_budget_mb=1,
    )
    cap = cv2.VideoCapture(str(POSE2SIM))
    person = []
    for _ in range(5):
        ok, bgr = cap.read()
        assert ok
        person.append(cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes())
    cap.release()
    noise = _frames(rng, 14)  # ~90 KB each: 11 fit in 1 MB
    with TestClient(create_app(settings, start_workers=False)) as client:
        budget = client.app.state.live_spool_budget
        auth = {"Authorization": f"Bearer {make_key(settings)}"}
        spools = lambda: list(client.app.state.uploads.root.glob("*/tmp/live-*"))  # noqa: E731
        with client.websocket_connect("/v1/live?record=1", headers=auth) as filler:
            ready = filler.receive_json()
            assert ready["recording"] is True and ready["recording_refused"] is None, ready
            assert not budget.full
            stopped = None
            for t, jpeg in noise:
                filler.send_json({"t_s": t})
                filler.send_bytes(jpeg)
                msg = filler.receive_json()
                if msg["type"] == "recording_stopped":
                    stopped = msg
                    filler.receive_json()  # the frame's answer
                    break
            assert stopped is not None and 0 < stopped["frames"] < len(noise), stopped
            refused_bytes = FrameSpool.record_bytes(len(noise[stopped["frames"]][1]))  # the frame that did not fit
            assert budget.full and budget.max_bytes - budget.used < refused_bytes

            with client.websocket_connect("/v1/live?record=1&exercise=squat", headers=auth) as late:
                first = late.receive_json()  # before any frame
                assert first["type"] == "ready" and first["recording"] is False, first
                why = first["recording_refused"]
                assert why.startswith(
                    "recording is off for this connection: the server's space for live recordings is full"
                )
                assert "1 MB" in why and "live_record_budget_mb" in why
                assert "Live feedback works as usual, without recording" in why
                answers = []
                for i, jpeg in enumerate(person):
                    late.send_json({"t_s": i / 25})
                    late.send_bytes(jpeg)
                    answers.append(late.receive_json())
                assert [a["type"] for a in answers] == ["frame"] * len(person), answers  # no recording_stopped
                assert all(a["person_found"] and len(a["landmarks"]) == 33 for a in answers), answers[-1]
                assert len(spools()) == 1  # the filler's only: the late connection keeps no frame
                late.send_json({"type": "save", "patient_id": "P-late"})
                refused = late.receive_json()
                assert refused == {"type": "error", "detail": f"not saved: {why}"}, refused
        deadline = time.monotonic() + 5
        while budget.used and time.monotonic() < deadline:  # the server ends its side after the client
            time.sleep(0.02)
        assert budget.used == 0 and not budget.full  # the filler gave its share back
        with client.websocket_connect("/v1/live?record=1", headers=auth) as again:
            ready = again.receive_json()
            assert ready["recording"] is True and ready["recording_refused"] is None, ready


def test_the_budget_is_full_when_less_is_left_than_the_smallest_frame_it_refused():
    from service.live_spool import SpoolBudget

    assert SpoolBudget(0).full  # no budget: never a frame
    b = SpoolBudget(1000)
    assert not b.full and b.take(700)
    assert not b.full  # nothing refused yet: 300 bytes may hold a small frame
    assert not b.take(400) and b.full  # 400 did not fit in 300
    assert not b.take(350) and b.full and b.take(300)  # the smallest refused is now 350; 300 still fitted
    assert b.full and b.used == 1000
    b.give_back(349)
    assert b.full  # 349 left: less than the 350 refused
    b.give_back(1)
    assert not b.full  # 350 left


def test_the_server_wide_disk_budget_stops_recordings_beyond_it_and_keeps_what_they_wrote(tmp_path, rng, procs):
    """Three recording connections at once on a real server, with a 1 MB budget for all their spools
    (``live_record_budget_mb``): together they send ~3 MB of frames. The spools never hold more than
    the budget; each connection the budget stops is told so once, goes on being answered, and saves
    the frames it recorded; once they have closed, the budget is free for the next connection."""
    import json
    import threading

    from websockets.sync.client import connect

    from motionscript_client import LiveRecordingStopped
    from service.live_spool import FrameSpool
    from service.settings import Settings
    from service.store.db import migrate
    from tests.service._servers import free_port, service_env, wait_ready
    from tests.service.conftest import make_key

    budget = 1024 * 1024
    database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    env = service_env(
        data_dir=tmp_path / "var", database_url=database_url, live_record_budget_mb=1, live_max_connections_per_clinic=3
    )
    migrate(database_url)
    key = make_key(Settings(database_url=database_url))
    port = free_port()
    server = procs.serve("serve", port, "--workers", "0", env=env, cwd=tmp_path)
    wait_ready(f"http://127.0.0.1:{port}", server)
    frames = _frames(rng, 12)  # ~90 KB each: 11 fit in the budget, three connections' 36 do not
    spools = lambda: list((tmp_path / "var").rglob("tmp/live-*"))  # noqa: E731

    def record(n_conn: int, frames: list[tuple[float, bytes]]) -> list[dict]:
        barrier = threading.Barrier(n_conn)
        out: list[dict] = [{} for _ in range(n_conn)]
        on_disk: list[int] = []

        def one(i: int) -> None:
            with connect(
                f"ws://127.0.0.1:{port}/v1/live?record=1",
                max_size=None,
                additional_headers={"Authorization": f"Bearer {key}"},
            ) as ws:
                assert json.loads(ws.recv(timeout=120))["recording"] is True
                barrier.wait(timeout=120)
                notices, answered = [], 0
                for t, jpeg in frames:
                    ws.send(json.dumps({"t_s": t}))
                    ws.send(jpeg)
                    while True:  # one frame in flight: every frame is answered, none dropped
                        msg = json.loads(ws.recv(timeout=120))
                        if msg["type"] != "frame":
                            notices.append(msg)
                            continue
                        answered += 1
                        break
                barrier.wait(timeout=120)  # every connection's frames sent and answered, none closed yet
                if i == 0:
                    on_disk.append(sum(p.stat().st_size for p in spools()))
                barrier.wait(timeout=120)
                ws.send(json.dumps({"type": "save", "patient_id": f"P-{i}"}))
                saved = json.loads(ws.recv(timeout=120))
                out[i] = {"notices": notices, "answered": answered, "saved": saved}

        threads = [threading.Thread(target=one, args=(i,)) for i in range(n_conn)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=300)
        assert all(o for o in out), out
        out.append({"on_disk": on_disk[0]})
        return out

    *conns, disk = record(3, frames)
    assert all(c["answered"] == len(frames) for c in conns)  # the live sessions went on
    stopped = [c for c in conns if c["notices"]]
    assert stopped, "3 MB of frames fitted in a 1 MB budget"
    recorded = [c["saved"]["frames"] for c in conns]
    sizes = [len(j) for _, j in frames]
    used = sum(FrameSpool.record_bytes(s) for n in recorded for s in sizes[:n])
    assert disk["on_disk"] == used <= budget  # what the spools held is exactly what was counted
    assert budget - used < FrameSpool.record_bytes(max(sizes))  # stopped only when the next frame did not fit
    for c in stopped:
        [notice] = c["notices"]  # told once, as the SDK types it
        assert set(notice) == set(LiveRecordingStopped.model_fields), notice
        assert notice["type"] == "recording_stopped" and "live_record_budget_mb" in notice["detail"], notice
        assert "1 MB" in notice["detail"] and "live feedback goes on" in notice["detail"]
        saved = c["saved"]  # nothing it recorded is lost: the frames before the budget ran out are saved
        assert saved["type"] == "saved" and saved["frames"] == notice["frames"] and saved["recording_full"] is True
    for c in conns:
        if not c["notices"]:
            assert c["saved"]["frames"] == len(frames) and c["saved"]["recording_full"] is False
    deadline = time.monotonic() + 10
    while spools() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert spools() == []
    # the closed connections gave their bytes back: one connection alone records 8 frames (~0.7 MB) again
    [alone, _] = record(1, frames[:8])
    assert alone["notices"] == [] and alone["saved"]["frames"] == 8
