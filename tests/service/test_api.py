"""The REST API against a real database (SQLite and PostgreSQL) and the real job runner."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import ASTRONAUT, POSE2SIM
from tests.service.conftest import decrypted, make_key, run_worker_once, stored_files
from tests.vision.test_landmark_json import document


def post_landmarks(client, auth, doc=None, headers=None, **fields):
    body = dict(doc or document(n=60))
    body.update(fields)
    return client.post(
        "/v1/assessments",
        content=json.dumps(body),
        headers={**auth, "Content-Type": "application/json", **(headers or {})},
    )


def test_landmark_submission_round_trip(client, auth, settings):
    r = post_landmarks(client, auth, exercise="single_leg_stance", patient_id="p-0042")
    assert r.status_code == 202, r.text
    aid = r.json()["id"]
    assert r.headers["location"] == f"/v1/assessments/{aid}"
    assert client.get(f"/v1/assessments/{aid}", headers=auth).json()["status"] == "queued"
    run_worker_once(settings)
    done = client.get(f"/v1/assessments/{aid}", headers=auth).json()
    assert done["status"] == "done" and done["attempts"] == 1
    assert done["exercise"] == "single_leg_stance" and done["patient_id"] == "p-0042"
    assert done["created_at"].endswith("+00:00") or done["created_at"].endswith("Z")
    np.testing.assert_allclose(np.array(done["series"]["pelvic_obliquity_deg"], dtype=float), 4.0, atol=0.05)
    assert done["input"]["filename"] is None  # uploaded names may carry a patient's name


def test_video_upload_is_streamed_stored_and_analysed(client, auth, settings):
    with open(POSE2SIM, "rb") as f:
        r = client.post(
            "/v1/assessments", headers=auth, files={"video": ("clip.mp4", f, "video/mp4")}, data={"exercise": "squat"}
        )
    assert r.status_code == 202, r.text
    files = stored_files(settings)
    assert len(files) == 1 and files[0].read_bytes()[:6] == b"MSENC1"  # sealed at rest
    assert decrypted(settings, files[0]) == POSE2SIM.read_bytes()
    run_worker_once(settings)
    done = client.get(r.headers["location"], headers=auth).json()
    assert done["status"] == "done", done.get("reason")
    # filmed 30 deg from his front (the four-camera reference, docs/validation.md): oblique, not side-on
    assert done["input"]["frames_read"] == 100 and done["view"]["view"] == "oblique"


def test_idempotency_key_returns_the_same_assessment(client, auth, settings):
    first = post_landmarks(client, auth, headers={"Idempotency-Key": "retry-123"})
    again = post_landmarks(client, auth, headers={"Idempotency-Key": "retry-123"})
    other = post_landmarks(client, auth, headers={"Idempotency-Key": "retry-456"})
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"] != other.json()["id"]
    listing = client.get("/v1/assessments", headers=auth).json()
    assert len(listing["items"]) == 2


def test_idempotency_key_is_bound_to_the_request_it_was_first_used_with(client, auth, settings):
    key = {"Idempotency-Key": "visit-42-squat"}
    first = post_landmarks(client, auth, headers=key, exercise="squat")
    assert first.status_code == 202
    for changed in ({"exercise": "bridge"}, {"exercise": "squat", "patient_id": "p-1"}, {"doc": document(n=61)}):
        doc = changed.pop("doc", None)
        r = post_landmarks(client, auth, doc=doc, headers=key, **{"exercise": "squat", **changed})
        assert r.status_code == 422, (changed, r.text)
        body = r.json()
        assert body["type"].endswith("/idempotency-key-reused") and "visit-42-squat" in body["detail"]
        assert body["idempotency_key"] == "visit-42-squat" and first.json()["id"] in body["detail"]
    again = post_landmarks(client, auth, headers=key, exercise="squat")
    assert again.status_code == 202 and again.json()["id"] == first.json()["id"]
    # The refused bodies left nothing behind: one stored input, one assessment.
    assert len(stored_files(settings)) == 1
    assert [a["id"] for a in client.get("/v1/assessments", headers=auth).json()["items"]] == [first.json()["id"]]


def test_a_retried_video_upload_with_its_key_is_the_same_assessment(client, auth, settings):
    key = {**auth, "Idempotency-Key": "upload-7"}
    send = [("video", ("a.mp4", POSE2SIM.read_bytes(), "video/mp4"))]
    first = client.post("/v1/assessments", headers=key, files=send, data={"exercise": "squat"})
    again = client.post("/v1/assessments", headers=key, files=send, data={"exercise": "squat"})
    assert first.status_code == again.status_code == 202 and first.json()["id"] == again.json()["id"]
    other = client.post("/v1/assessments", headers=key, files=send, data={"exercise": "gait"})
    assert other.status_code == 422 and "upload-7" in other.json()["detail"]
    assert len(stored_files(settings)) == 1
    assert [a["id"] for a in client.get("/v1/assessments", headers=auth).json()["items"]] == [first.json()["id"]]


def test_another_clinic_cannot_see_or_delete(client, auth, settings):
    aid = post_landmarks(client, auth).json()["id"]
    other = {"Authorization": f"Bearer {make_key(settings, 'Clinic B')}"}
    for method in ("get", "delete"):
        r = getattr(client, method)(f"/v1/assessments/{aid}", headers=other)
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert client.get("/v1/assessments", headers=other).json()["items"] == []
    assert client.get(f"/v1/assessments/{aid}", headers=auth).status_code == 200


def test_delete_removes_assessment_and_its_input(client, auth, settings):
    aid = post_landmarks(client, auth).json()["id"]
    assert len(stored_files(settings)) == 1
    assert client.delete(f"/v1/assessments/{aid}", headers=auth).status_code == 204
    assert client.get(f"/v1/assessments/{aid}", headers=auth).status_code == 404
    assert stored_files(settings) == []


def test_shared_content_survives_deleting_one_of_two(client, auth, settings):
    a = post_landmarks(client, auth).json()["id"]
    b = post_landmarks(client, auth).json()["id"]
    client.delete(f"/v1/assessments/{a}", headers=auth)
    assert len(stored_files(settings)) == 1
    client.delete(f"/v1/assessments/{b}", headers=auth)
    assert stored_files(settings) == []


def test_listing_filters_and_paginates(client, auth):
    ids = [post_landmarks(client, auth, patient_id=f"p{i % 2}").json()["id"] for i in range(5)]
    page1 = client.get("/v1/assessments", params={"limit": 2}, headers=auth).json()
    page2 = client.get("/v1/assessments", params={"limit": 2, "cursor": page1["next_cursor"]}, headers=auth).json()
    page3 = client.get("/v1/assessments", params={"limit": 2, "cursor": page2["next_cursor"]}, headers=auth).json()
    seen = [i["id"] for p in (page1, page2, page3) for i in p["items"]]
    assert sorted(seen) == sorted(ids) and page3["next_cursor"] is None
    p0 = client.get("/v1/assessments", params={"patient_id": "p0"}, headers=auth).json()["items"]
    assert {i["patient_id"] for i in p0} == {"p0"} and len(p0) == 3


def _nothing_left_behind(client, auth, settings) -> None:
    assert stored_files(settings) == []
    assert client.get("/v1/assessments", headers=auth).json()["items"] == []


@pytest.mark.parametrize(
    ("kwargs", "status", "kind", "text"),
    [
        ({"files": {"video": ("big.mp4", b"\x00" * (3 * 1024 * 1024), "video/mp4")}}, 413, "too-large", "limit"),
        (
            {"files": {"video": ("clip.mp4", b"just some text, not a video\n" * 10, "video/mp4")}},
            415,
            "unsupported-media",
            "looks like text",
        ),
        ({"files": {"video": ("cut.mp4", POSE2SIM.read_bytes()[:120_000], "video/mp4")}}, 422, "corrupt-media", "moov"),
        (
            {
                "files": {"video": ("clip.mp4", POSE2SIM.read_bytes(), "video/mp4")},
                "data": {"exercise": "jumping_jacks"},
            },
            422,
            "validation",
            "single_leg_stance",
        ),
        (
            {"content": b'{"schema": "blazepose33", "frames": [', "headers": {"Content-Type": "application/json"}},
            422,
            "malformed-json",
            "not valid JSON",
        ),
        (
            {
                "content": json.dumps(
                    {
                        "schema": "blazepose33",
                        "space": "image",
                        "image_size": [640, 480],
                        "frames": [{"t_s": 0, "landmarks": [[0, 0, 0, 1]]}],
                    }
                ),
                "headers": {"Content-Type": "application/json"},
            },
            422,
            "malformed-landmarks",
            "expected 33 rows",
        ),
        (
            {"content": b"hello", "headers": {"Content-Type": "text/plain"}},
            415,
            "unsupported-media",
            "multipart/form-data",
        ),
        ({"files": {"other": ("clip.mp4", b"abc", "video/mp4")}}, 422, "validation", "video"),
    ],
    ids=[
        "too-large",
        "not-a-video",
        "truncated",
        "unknown-exercise",
        "malformed-json",
        "bad-landmarks",
        "wrong-type",
        "wrong-field",
    ],
)
def test_bad_submissions_get_specific_answers_and_leave_nothing(client, auth, settings, kwargs, status, kind, text):
    kwargs = dict(kwargs)  # the parameter dict is shared by the sqlite and postgresql runs
    headers = {**auth, **kwargs.pop("headers", {})}
    r = client.post("/v1/assessments", headers=headers, **kwargs)
    assert r.status_code == status, r.text
    body = r.json()
    assert r.headers["content-type"] == "application/problem+json"
    assert body["type"].endswith(kind) and text in body["detail"], body
    _nothing_left_behind(client, auth, settings)


@pytest.mark.parametrize("header", [None, "Bearer ms_000000000000_wrong", "Basic abc", "Bearer "])
def test_missing_or_wrong_key_is_401(client, header):
    headers = {"Authorization": header} if header else {}
    r = client.get("/v1/assessments", headers=headers)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"


def test_app_role_submits_but_cannot_browse_or_delete(client, settings):
    app_key = {"Authorization": f"Bearer {make_key(settings, role='app')}"}
    aid = post_landmarks(client, app_key).json()["id"]
    assert client.get(f"/v1/assessments/{aid}", headers=app_key).status_code == 200
    assert client.get("/v1/assessments", headers=app_key).status_code == 403
    assert client.delete(f"/v1/assessments/{aid}", headers=app_key).status_code == 403


def test_frames_returns_landmarks_and_instant_angles(client, auth):
    r = client.post("/v1/frames", headers=auth, files={"image": ("a.png", ASTRONAUT.read_bytes(), "image/png")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["person_found"] and len(body["landmarks"]) == 33
    assert body["angles"]["pelvic_obliquity_deg"] is None  # hips out of view
    assert "hips_not_visible" in {q["code"] for q in body["quality"]}


def test_frames_refuses_video(client, auth):
    r = client.post("/v1/frames", headers=auth, files={"image": ("a.mp4", POSE2SIM.read_bytes()[:5000], "video/mp4")})
    assert r.status_code == 422 and "expected a JPEG" in r.json()["detail"]


def test_health_and_metrics(client, auth):
    from service.version import __version__

    assert client.get("/healthz").json() == {"status": "ok", "version": __version__}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ok" and set(ready["checks"]) == {"database", "queue", "uploads", "model"}
    post_landmarks(client, auth)
    text = client.get("/metrics").text
    assert 'motionscript_jobs{status="queued"} 1.0' in text
    assert "motionscript_http_request_duration_seconds_bucket" in text


def test_openapi_operation_ids_are_stable(client):
    ops = {op["operationId"] for path in client.get("/openapi.json").json()["paths"].values() for op in path.values()}
    assert {"create_assessment", "get_assessment", "list_assessments", "delete_assessment", "analyze_frame"} <= ops


@pytest.mark.parametrize("ident,status", [("a%00b", 422), ("x" * 300, 404)])
def test_impossible_ids_are_not_found_not_errors(client, auth, ident, status):
    """PostgreSQL refuses NUL bytes in text; such an id is refused before the database (422), a long one is 404."""
    assert client.get(f"/v1/assessments/{ident}", headers=auth).status_code == status
    assert client.delete(f"/v1/assessments/{ident}", headers=auth).status_code == status
