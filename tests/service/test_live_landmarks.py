"""``/v1/live`` with landmarks instead of pixels: an app that runs pose on the device, in any skeleton.

The KERAAL trials as OpenPose (BODY_18) and Kinect v2 (3D) skeletons are streamed one text
message per frame; what the session publishes must be what the offline pipeline measures on the
same document, and a bad message is an error answer that does not end the session.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from kinematics.pipeline import KinematicsPipeline
from tests.service.test_live import live_app  # noqa: F401  (the fixture)
from validation import keraal_sources as S
from vision.landmark_json import parse_landmarks


def _stream(ws, doc: dict) -> list[dict]:
    answers = []
    for i, fr in enumerate(doc["frames"]):
        msg = {"t_s": fr["t_s"], "landmarks": fr["landmarks"]}
        if i == 0:
            msg.update({k: doc[k] for k in ("schema", "space", "image_size") if k in doc})
        ws.send_text(json.dumps(msg))
        answers.append(ws.receive_json())  # one at a time: nothing is dropped
    return answers


@pytest.mark.parametrize(("source", "exercise"), [("OP", "ELK"), ("Kinect", "ELK"), ("AP", "ELK")])
def test_landmark_frames_give_the_offline_measurement(live_app, source, exercise):  # noqa: F811
    client, key, _ = live_app
    doc = S.document(source, exercise)
    with client.websocket_connect(f"/v1/live?token={key}") as ws:
        assert ws.receive_json()["type"] == "ready"
        answers = _stream(ws, doc)
    assert all(a["type"] == "frame" and a["dropped"] == 0 for a in answers), answers[0]
    assert all(a["landmarks"] is None for a in answers)  # the app has them; nothing is echoed
    assert sum(a["person_found"] for a in answers) >= 0.95 * len(answers)
    assert answers[-1]["view"] == "frontal"
    published = {"t_s": [], "pelvic_obliquity_deg": [], "trunk_lean_lateral_deg": []}
    for a in answers:
        if a["series"] is not None:
            for k in published:
                published[k] += a["series"][k]
    offline = KinematicsPipeline().run(parse_landmarks(doc).landmarks)
    t = np.array(published["t_s"])
    idx = np.searchsorted(offline.t_s, t - 1e-5)  # the published times are rounded to 6 decimals
    np.testing.assert_allclose(offline.t_s[idx], t, atol=1e-6)
    for name in ("pelvic_obliquity_deg", "trunk_lean_lateral_deg"):
        live = np.array(published[name], dtype=float)
        ref = offline.series[name].values[idx]
        both = np.isfinite(live) & np.isfinite(ref)
        assert both.mean() > 0.95, name  # the first sample is published before any filtering context
        rmse = float(np.sqrt(np.mean((live[both] - ref[both]) ** 2)))
        assert rmse < RMSE_LIVE_VS_OFFLINE_DEG, (name, rmse)


RMSE_LIVE_VS_OFFLINE_DEG = 1.0  # measured 0.04-0.58 deg (the runs before the whole trial is in the window)


def test_a_bad_landmark_message_is_an_error_and_the_session_goes_on(live_app):  # noqa: F811
    client, key, _ = live_app
    doc = S.document("OP", "ELK")
    with client.websocket_connect(f"/v1/live?token={key}") as ws:
        assert ws.receive_json()["type"] == "ready"
        first = {"t_s": 0.0, "landmarks": doc["frames"][0]["landmarks"][:17], "schema": "openpose18"}
        first.update(space="image", image_size=doc["image_size"])
        ws.send_text(json.dumps(first))
        err = ws.receive_json()
        assert err["type"] == "error" and "expected 18 rows in openpose18 order, got 17" in err["detail"]
        ws.send_text(json.dumps({"t_s": 0.1, "landmarks": doc["frames"][0]["landmarks"], "schema": "coco18"}))
        assert "schema: expected one of" in ws.receive_json()["detail"]
        ws.send_text('{"landmarks": "no t_s"}')
        assert ws.receive_json()["type"] == "error"
        ws.send_text(json.dumps({"t_s": 0.2, "landmarks": doc["frames"][1]["landmarks"], "schema": "openpose18"}))
        ok = ws.receive_json()  # the header of the refused message was not kept: this one names it again
        assert ok["type"] == "error" and "space" in ok["detail"]
        header = {"schema": "openpose18", "space": "image", "image_size": doc["image_size"]}
        ws.send_text(json.dumps({"t_s": 0.3, "landmarks": doc["frames"][1]["landmarks"], **header}))
        ok = ws.receive_json()
        assert ok["type"] == "frame" and ok["person_found"] and ok["seq"] == 1
        ws.send_text(json.dumps({"t_s": 0.4, "landmarks": doc["frames"][2]["landmarks"]}))  # header kept
        assert ws.receive_json()["seq"] == 2


@pytest.mark.parametrize("text", ["[" * 200_000, '{"t_s": 0.5, "landmarks": ' + "[" * 200_000])
def test_a_deeply_nested_text_message_is_an_error_not_the_end_of_the_session(live_app, text):  # noqa: F811
    client, key, _ = live_app
    doc = S.document("OP", "ELK")
    with client.websocket_connect(f"/v1/live?token={key}") as ws:
        assert ws.receive_json()["type"] == "ready"
        ws.send_text(text)
        assert ws.receive_json()["type"] == "error"
        header = {"schema": "openpose18", "space": "image", "image_size": doc["image_size"]}
        ws.send_text(json.dumps({"t_s": 0.0, "landmarks": doc["frames"][0]["landmarks"], **header}))
        assert ws.receive_json()["type"] == "frame"
