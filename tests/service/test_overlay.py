"""``GET /v1/assessments/{id}/overlay.mp4`` on a real recording through the real pose model and job runner."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest
from sqlalchemy.orm import Session

from service.store.db import make_engine
from service.store.models import AssessmentLandmarks
from tests.conftest import FIXTURES
from tests.service.conftest import make_key, run_worker_once
from tests.service.test_api import post_landmarks
from tests.vision.test_overlay import HIPS, hip_marker_centres
from vision.decode import VideoReader
from vision.overlay import hip_marker_radius, unpack_landmarks

WALKER = FIXTURES / "video" / "sports2d_walker.mp4"  # side-on walk: sagittal angles and gait events


def stored_landmarks(settings, assessment_id: str):
    engine = make_engine(settings.sqlalchemy_url)
    try:
        with Session(engine) as s:
            row = s.get(AssessmentLandmarks, assessment_id)
            return None if row is None else (row.frames, unpack_landmarks(row.data))
    finally:
        engine.dispose()


@pytest.mark.slow
def test_overlay_has_the_input_frames_and_times_and_the_hips_where_the_assessment_has_them(client, auth, settings):
    with open(WALKER, "rb") as f:
        r = client.post(
            "/v1/assessments", headers=auth, files={"video": ("walk.mp4", f, "video/mp4")}, data={"exercise": "gait"}
        )
    assert r.status_code == 202, r.text
    aid = r.json()["id"]
    assert client.get(f"/v1/assessments/{aid}/overlay.mp4", headers=auth).json()["type"].endswith("/not-done")
    run_worker_once(settings)
    done = client.get(f"/v1/assessments/{aid}", headers=auth).json()
    assert done["status"] == "done", done.get("reason")

    frames, lm = stored_landmarks(settings, aid)
    assert frames == len(lm) == done["input"]["frames_read"] == 155
    np.testing.assert_allclose(lm.t_s, done["series"]["t_s"], atol=1e-6)
    # The stored landmark is the assessment's own: its hip series is these points, low-pass filtered.
    hip_x = np.array(done["series"]["hip_centre_left_x_px"], dtype=float)
    assert np.nanmedian(np.abs(hip_x - lm.xy_px[:, HIPS[0], 0])) < 3.0

    r = client.get(f"/v1/assessments/{aid}/overlay.mp4", headers=auth)
    assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"
    with av.open(io.BytesIO(r.content)) as c:
        stream = c.streams.video[0]
        assert stream.codec_context.name == "h264"
        out = [(float(f.time * 1), f.to_ndarray(format="rgb24")) for f in c.decode(stream)]
    with VideoReader(WALKER) as v:
        t_in = [f.t_s for f in v]
    t_out = np.array([t for t, _ in out]) - out[0][0]
    assert len(out) == len(t_in) == 155
    np.testing.assert_allclose(t_out, t_in, atol=1e-6)
    assert out[0][1].shape == (526, 1768, 3)

    # Side-on, one hip often hides the other: where the two discs touch, their blobs merge and
    # neither centre can be found again, so only frames with the discs apart are judged.
    apart = 2 * hip_marker_radius((1768, 526)) + 2
    checked = 0
    for k in range(0, 155, 5):
        centres = hip_marker_centres(out[k][1])
        if not np.hypot(*(lm.xy_px[k, HIPS[0]] - lm.xy_px[k, HIPS[1]])) > apart:
            continue
        for j in HIPS:
            if not (np.all(np.isfinite(lm.xy_px[k, j])) and lm.visibility[k, j] >= 0.3):
                continue
            distance = float(np.min(np.hypot(*(centres - lm.xy_px[k, j]).T))) if len(centres) else np.inf
            assert distance <= 3.0, (k, j, distance)
            checked += 1
    assert checked >= 16, checked


def test_overlay_needs_a_video_and_a_role_that_may_see_it(client, auth, settings):
    r = post_landmarks(client, auth)
    aid = r.json()["id"]
    run_worker_once(settings)
    r = client.get(f"/v1/assessments/{aid}/overlay.mp4", headers=auth)
    assert r.status_code == 409 and r.json()["type"].endswith("/no-recording") and "landmarks" in r.json()["detail"]
    assert stored_landmarks(settings, aid) is None  # a landmark document is not drawn on anything
    app = {"Authorization": f"Bearer {make_key(settings, role='app')}"}
    assert client.get(f"/v1/assessments/{aid}/overlay.mp4", headers=app).status_code == 403
    other = {"Authorization": f"Bearer {make_key(settings, clinic='Clinic B')}"}
    assert client.get(f"/v1/assessments/{aid}/overlay.mp4", headers=other).status_code == 404
