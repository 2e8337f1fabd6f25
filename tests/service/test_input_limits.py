"""Issue 14, break 4 and the minor list: bad input is a specific 4xx before the database, never a 500."""

from __future__ import annotations

import pytest

from tests.service.test_api import post_landmarks


@pytest.mark.parametrize("patient_id", ["p-nl\n", "p-0042\r\n", "\np-0042"])
def test_a_patient_id_with_a_newline_is_refused(client, auth, patient_id):
    r = post_landmarks(client, auth, patient_id=patient_id)  # "$" matched before a final newline
    assert r.status_code == 422 and r.json()["detail"].startswith("patient_id:")


# -- break 4: NUL and control characters are 422 before the database (500 on PostgreSQL before) ----------------------


def _cursor(created: object, rid: object) -> str:
    import base64
    import json

    return base64.urlsafe_b64encode(json.dumps([created, rid]).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "url",
    [
        "/v1/assessments?patient_id=%00",
        "/v1/assessments?patient_id=p-0042%00",  # its DataError used to log the code
        "/v1/assessments?exercise=a%00",
        "/v1/assessments?patient_id=p%01x",
        "/v1/assessments?patient_id=p%7F",
        "/v1/assessments?a%00=1",
        "/v1/assessments/%00",
        "/v1/assessments/abc%0A/series.csv",
        "/v1/patients?code=%00",
    ],
)
def test_control_characters_in_paths_and_queries_are_422(client, auth, url):
    r = client.get(url, headers=auth)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json" and "control character" in r.json()["detail"]


@pytest.mark.parametrize("rid", ["\u0000", "a\u0000b", "x" * 300, 5, None])
def test_a_cursor_holding_a_nul_or_no_id_is_422(client, auth, rid):
    r = client.get("/v1/assessments", params={"cursor": _cursor("2026-01-01T00:00:00+00:00", rid)}, headers=auth)
    assert r.status_code == 422 and r.json()["detail"].startswith("cursor:")


@pytest.mark.parametrize(
    "field,value",
    [
        ("callback_url", "http://127.0.0.1/\u0000"),
        ("patient_id", "p\u0000"),
        ("exercise", "squat\u0000"),
        ("patient_id", "p\u001b[31m"),
        ("frames_note", "\u0000"),  # anywhere in the body, not only in the fields the service reads
    ],
)
def test_control_characters_in_json_bodies_are_422(client, auth, field, value):
    r = post_landmarks(client, auth, **{field: value})
    assert r.status_code == 422, r.text
    assert "control character" in r.json()["detail"]


def test_escaped_backslashes_are_text_not_control_characters(client, auth):
    # "\\u0000" in JSON is a backslash followed by "u0000": harmless text, which patient_id refuses on its own terms
    r = post_landmarks(client, auth, patient_id="\\u0000")
    assert r.status_code == 422 and r.json()["detail"].startswith("patient_id:")
    assert post_landmarks(client, auth, frames_note="line one\nline two\ttab").status_code == 202


@pytest.mark.parametrize("field", ["patient_id", "exercise", "callback_url", "imu_side"])
def test_control_characters_in_form_fields_are_422(client, auth, field):
    from tests.conftest import POSE2SIM

    r = client.post(
        "/v1/assessments",
        headers=auth,
        files={"video": ("clip.mp4", POSE2SIM.read_bytes()[:1000], "video/mp4")},
        data={field: "x\x00y"},
    )
    assert r.status_code == 422, r.text
    assert field in r.json()["detail"] and "control character" in r.json()["detail"]


def test_a_nul_in_a_websocket_query_is_refused_before_the_database(client, settings):
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/v1/live?token=ms_%00_x") as ws:
        ws.receive_json()


# -- break 5: deep and large JSON bodies are 413/422, not RecursionError ---------------------------------------------


@pytest.mark.parametrize("path", ["/v1/assessments", "/v1/patients"])
def test_deeply_nested_json_is_422_not_a_500(client, auth, path):
    body = b"[" * 200_000 + b"]" * 200_000
    r = client.post(path, content=body, headers={**auth, "Content-Type": "application/json"})
    assert r.status_code == 422, r.text[:300]
    assert r.headers["content-type"] == "application/problem+json" and "nests 200000 levels" in r.json()["detail"]


def test_an_unclosed_deep_json_is_refused_too(client, auth):
    r = client.post("/v1/assessments", content=b'{"a":' * 5000, headers={**auth, "Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["type"].endswith("/too-deep")


def test_json_larger_than_the_cap_is_413(client, auth, settings):
    from fastapi.testclient import TestClient

    from service.app import create_app
    from tests.service.conftest import make_key

    s = settings.model_copy(update={"max_json_mb": 1, "max_upload_mb": 100})
    with TestClient(create_app(s, start_workers=False)) as c:
        key = make_key(s)
        big = b'{"frames": [' + b"[0.1, 0.2, 0.3, 0.9]," * 60_000 + b"[0]]}"
        r = c.post(
            "/v1/assessments",
            content=big,
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        assert r.status_code == 413 and "1 MB" in r.json()["detail"]


def test_json_depth_counts_only_brackets_outside_strings():
    from service.input_limits import json_depth

    assert json_depth(b'{"a": [{"b": "[[[[{{{{"}]}') == 3
    assert json_depth(b'["\\"[[[[", [1]]') == 2  # an escaped quote does not end the string
    assert json_depth(b'["\\\\", [[1]]]') == 3  # an escaped backslash does not escape the quote
    assert json_depth(b"[" * 70 + b"]" * 70) == 70


def test_landmark_documents_stay_well_within_the_depth_cap(client, auth, settings):
    assert settings.max_json_depth >= 16
    assert post_landmarks(client, auth).status_code == 202


# -- logs: no SQL parameters, no oversized or odd request ids ---------------------------------------------------------


def test_database_errors_never_log_sql_parameters(settings, caplog):
    """A failing statement's message (which the error handler logs) names no parameter values."""
    import logging

    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError, StatementError

    from service.store.db import make_engine

    engine = make_engine(settings.sqlalchemy_url)
    secret = "patient-p-SECRET-0042"
    try:
        with engine.connect() as conn, pytest.raises((DBAPIError, StatementError)) as exc:
            conn.execute(text("SELECT * FROM no_such_table WHERE code = :code"), {"code": secret})
    finally:
        engine.dispose()
    logging.getLogger("motionscript.api").error("unhandled error", exc_info=exc.value)
    assert secret not in str(exc.value)
    assert secret not in caplog.text


@pytest.mark.parametrize("rid,kept", [("abc-123", True), ("x" * 129, False), ("a b", False), ("é", False)])
def test_request_ids_are_echoed_only_when_short_and_plain(client, rid, kept):
    r = client.get("/healthz", headers={"X-Request-ID": rid.encode("utf-8")})
    assert (r.headers["x-request-id"] == rid) is kept
    assert len(r.headers["x-request-id"]) <= 128


# -- break 7: pixel caps before decoding, numeric ranges ---------------------------------------------------------------


def _png_bomb(width: int, height: int) -> bytes:
    """A grey PNG of ``width`` x ``height`` zeros, compressed as it is written (a few hundred KB, no big buffer)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    z = zlib.compressobj(9)
    row = b"\x00" * (width + 1)  # filter byte + one grey byte per pixel
    idat = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _rss_bytes() -> int:
    import os

    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_a_decompression_bomb_is_refused_from_its_header_and_memory_stays_flat(client, auth):
    import threading

    bomb = _png_bomb(16000, 16000)
    assert len(bomb) < 1_000_000  # ~250 KB that would decode to 768 MB of RGB
    peak, stop = [0], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _rss_bytes())
            stop.wait(0.005)

    before = _rss_bytes()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        r = client.post("/v1/frames", headers=auth, files={"image": ("bomb.png", bomb, "image/png")})
    finally:
        stop.set()
        sampler.join()
    assert r.status_code == 413, r.text[:300]
    body = r.json()
    assert r.headers["content-type"] == "application/problem+json" and body["type"].endswith("/too-many-pixels")
    assert "bomb.png: 16000x16000 pixels" in body["detail"] and "50 megapixels" in body["detail"]
    assert peak[0] - before < 100 * 1024 * 1024  # decoding would have taken 768 MB


def test_a_bomb_is_refused_by_live_sessions_too(client, auth):
    key = auth["Authorization"].split()[1]
    with client.websocket_connect(f"/v1/live?token={key}") as ws:
        ws.receive_json()
        ws.send_bytes(_png_bomb(16000, 16000))
        err = ws.receive_json()
        assert err["type"] == "error" and "16000x16000" in err["detail"]


@pytest.mark.parametrize("fmt", [".jpg", ".png", ".webp", ".bmp"])
def test_image_dimensions_are_read_from_the_header(fmt):
    import cv2
    import numpy as np

    from vision._imagesize import image_dimensions

    for w, h in ((640, 480), (17, 1001)):
        ok, enc = cv2.imencode(fmt, np.zeros((h, w, 3), np.uint8))
        assert ok and image_dimensions(enc.tobytes()) == (w, h)
    ok, lossless = cv2.imencode(".webp", np.zeros((9, 33, 3), np.uint8), [cv2.IMWRITE_WEBP_QUALITY, 101])
    assert image_dimensions(lossless.tobytes()) == (33, 9)  # VP8L
    assert image_dimensions(b"\xff\xd8\xff\xe0") is None and image_dimensions(b"not an image") is None


def test_video_frames_above_the_cap_are_refused_before_decoding(client, auth, monkeypatch):
    """The bundled 1080x1920 clip against a cap of 1 MP: refused from the stream header at submission."""
    from tests.conftest import POSE2SIM
    from vision import decode

    decoded: list[int] = []
    real = decode.VideoReader._decoded_frames

    def counting(self):
        for frame in real(self):
            decoded.append(1)
            yield frame

    monkeypatch.setattr(decode, "MAX_VIDEO_PIXELS", 1_000_000)
    monkeypatch.setattr(decode.VideoReader, "_decoded_frames", counting)
    r = client.post("/v1/assessments", headers=auth, files={"video": ("squat.mp4", POSE2SIM.read_bytes(), "video/mp4")})
    assert r.status_code == 413, r.text[:300]
    assert "squat.mp4: video frames of 1080x1920 pixels exceed" in r.json()["detail"]
    assert decoded == []  # refused before a single frame was decoded


@pytest.mark.parametrize("size", [[10**400, 480], [640, 10**6], [0, 480], [640.0, 480], [True, 480]])
def test_image_size_out_of_range_is_422(client, auth, size):
    from tests.service.test_api import document

    r = post_landmarks(client, auth, doc={**document(n=10), "image_size": size})
    assert r.status_code == 422 and "image_size" in r.json()["detail"], r.text[:300]


def test_integers_too_long_to_parse_are_422(client, auth):
    body = b'{"schema": "blazepose33", "space": "image", "image_size": [1' + b"0" * 5000 + b', 480], "frames": []}'
    r = client.post("/v1/assessments", content=body, headers={**auth, "Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["type"].endswith("/malformed-json")


# -- the minor list ----------------------------------------------------------------------------------------------------


def test_corrupt_media_names_the_uploaded_file_not_the_stored_one(client, auth, settings):
    from tests.conftest import POSE2SIM

    r = client.post(
        "/v1/assessments",
        headers=auth,
        files={"video": ("knee bend, left.mp4", POSE2SIM.read_bytes()[:120_000], "video/mp4")},
    )
    assert r.status_code == 422 and r.json()["type"].endswith("/corrupt-media")
    detail = r.json()["detail"]
    assert detail.startswith("knee bend, left.mp4: ")
    import re

    assert not re.search(r"[0-9a-f]{64}", detail)  # the stored file is named by its sha256


@pytest.mark.parametrize(
    "method,url,allowed",
    [
        ("PUT", "/v1/assessments/abc", {"GET", "DELETE"}),
        ("PATCH", "/v1/assessments", {"GET", "POST"}),
        ("POST", "/healthz", {"GET"}),
    ],
)
def test_405_names_every_allowed_method(client, auth, method, url, allowed):
    r = client.request(method, url, headers=auth)
    assert r.status_code == 405 and r.headers["content-type"] == "application/problem+json"
    assert allowed <= set(r.headers["allow"].split(", "))
    assert method not in r.headers["allow"].split(", ")


def test_openapi_documents_problem_answers(client):
    doc = client.get("/openapi.json").json()
    assert "Problem" in doc["components"]["schemas"] and "HTTPValidationError" not in str(doc)
    create = doc["paths"]["/v1/assessments"]["post"]["responses"]
    for code in ("400", "413", "415", "422", "429"):
        assert create[code]["content"] == {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        }
    assert "Retry-After" in create["429"]["headers"]
    for path in doc["paths"].values():
        for op in path.values():
            assert "application/problem+json" in op["responses"]["422"]["content"]
