"""The pages' routes, ``GET /v1/exercises`` and ``GET /v1/assessments/{id}/input`` (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import POSE2SIM
from tests.service.conftest import make_key
from tests.vision.test_landmark_json import document

PAGES = ("/app/patient", "/app/clinician")


@pytest.mark.parametrize("path", PAGES)
def test_pages_are_served_with_a_strict_policy_and_no_inline_code(client, path):
    r = client.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = dict(part.strip().split(" ", 1) for part in r.headers["content-security-policy"].split(";"))
    assert csp["default-src"] == "'none'" and csp["script-src"] == "'self'" and csp["style-src"] == "'self'"
    assert csp["connect-src"] == "'self' ws://testserver wss://testserver" and csp["frame-ancestors"] == "'none'"
    assert "unsafe" not in r.headers["content-security-policy"]
    html = r.text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline script"
    assert " style=" not in html and "<style" not in html and " on" not in re.sub(r"<noscript>.*?</noscript>", "", html)
    refs = re.findall(r'(?:src|href)="(/app/static/[^"]+)"', html)
    assert refs
    for ref in refs:  # every file the page names is served, with its type and the same policy
        f = client.get(ref)
        assert f.status_code == 200, ref
        assert f.headers["content-type"].split(";")[0] in ("text/javascript", "text/css")
        assert f.headers["content-security-policy"] == r.headers["content-security-policy"]


def test_a_strange_host_header_is_not_copied_into_the_policy(client):
    r = client.get("/app/patient", headers={"Host": "evil.example; script-src *"})
    assert "evil" not in r.headers["content-security-policy"]
    assert "connect-src 'self';" in r.headers["content-security-policy"]


def test_module_imports_resolve_to_served_files(client):
    seen, todo = set(), ["/app/static/patient.js", "/app/static/clinician.js"]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        r = client.get(path)
        assert r.status_code == 200, path
        todo += ["/app/static/" + m for m in re.findall(r'from "\./([^"]+)"', r.text)]
    assert {"/app/static/common.js", "/app/static/plot.js", "/app/static/video.js"} <= seen


@pytest.mark.parametrize(
    "path",
    [
        "/app/static/../__init__.py",
        "/app/static/%2e%2e/__init__.py",
        "/app/static/nothing.js",
        "/app/static/",
        "/app/static/..%2f..%2fapp.py",
    ],
)
def test_static_files_outside_the_pages_are_not_found(client, path):
    r = client.get(path)
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert "__future__" not in r.text  # no source file leaks


def test_exercises_list_every_exercise_with_placement_and_live_feedback(client, settings):
    from kinematics.protocols import PROTOCOL_NAMES

    assert client.get("/v1/exercises").status_code == 401
    r = client.get("/v1/exercises", headers={"Authorization": f"Bearer {make_key(settings, role='app')}"})
    assert r.status_code == 200
    items = {x["name"]: x for x in r.json()["items"]}
    assert tuple(items) == PROTOCOL_NAMES
    for name, x in items.items():
        assert len(x["placement"]) >= 3 and x["title"]
        # live counts what the protocol's rep_count counts (kinematics.streaming, the offline code)
        assert x["live_counted"] == {"gait": "initial_contact", "single_leg_stance": "single_leg_stance"}.get(
            name, "rep"
        )
    assert items["single_leg_stance"]["view"] == "front" and items["standing_hip_flexion"]["view"] == "side"
    assert (
        items["single_leg_stance"]["live_hold"] and not items["gait"]["live_hold"] and not items["squat"]["live_hold"]
    )
    assert items["standing_hip_abduction"]["live_hold"] and items["bridge"]["live_hold"]


def _upload(client, key: str) -> str:
    with open(POSE2SIM, "rb") as f:
        r = client.post(
            "/v1/assessments", headers={"Authorization": f"Bearer {key}"}, files={"video": ("clip.mp4", f, "video/mp4")}
        )
    assert r.status_code == 202, r.text
    return r.json()["id"]


def test_input_streams_the_stored_video_with_ranges_to_clinicians_of_its_clinic(client, settings):
    clinician = make_key(settings, role="clinician")
    aid = _upload(client, clinician)
    h = {"Authorization": f"Bearer {clinician}"}
    original = POSE2SIM.read_bytes()
    r = client.get(f"/v1/assessments/{aid}/input", headers=h)
    assert r.status_code == 200 and r.content == original
    assert r.headers["content-type"] == "video/mp4" and r.headers["accept-ranges"] == "bytes"
    part = client.get(f"/v1/assessments/{aid}/input", headers={**h, "Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.content == original[1000:2000]
    assert part.headers["content-range"] == f"bytes 1000-1999/{len(original)}"

    app = client.get(
        f"/v1/assessments/{aid}/input", headers={"Authorization": f"Bearer {make_key(settings, role='app')}"}
    )
    assert app.status_code == 403 and "assessments:input" in app.json()["detail"]
    other = client.get(
        f"/v1/assessments/{aid}/input",
        headers={"Authorization": f"Bearer {make_key(settings, clinic='Clinic B', role='admin')}"},
    )
    assert other.status_code == 404 and other.headers["content-type"] == "application/problem+json"
    assert client.get(f"/v1/assessments/{aid}/input").status_code == 401


def test_input_of_landmarks_is_a_conflict_that_says_why(client, settings):
    key = make_key(settings, role="admin")
    r = client.post(
        "/v1/assessments",
        content=json.dumps(document(n=30)),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    aid = r.json()["id"]
    got = client.get(f"/v1/assessments/{aid}/input", headers={"Authorization": f"Bearer {key}"})
    assert got.status_code == 409 and got.headers["content-type"] == "application/problem+json"
    assert "landmarks" in got.json()["detail"] and "videos and images" in got.json()["detail"]


def test_catalogue_gives_the_pages_the_reports_words(client, settings):
    from service import catalogue

    key = make_key(settings, role="clinician")
    r = client.get("/v1/catalogue", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["metrics"]["pelvic_drop_deg"] == {"label": "Pelvic drop", "unit": "deg", "side": None, "digits": 1}
    assert body["series"]["hip_flexion_left_deg"]["side"] == "left" and body["units"]["1"] == ""
    assert body["metrics"].keys() == catalogue.METRICS.keys()
    # the quality issues' titles and the intro the report prints above them, word for word
    assert body["quality"] == catalogue.QUALITY and body["quality"]["pose_settling"].startswith("First frames")
    assert body["quality_intro"] == catalogue.QUALITY_INTRO
    # the patient's live page words for the same codes (what to change while filming)
    assert body["patient_advice"] == catalogue.PATIENT_ADVICE and body["patient_advice"]["hips_not_visible"].startswith(
        "Your hips are not in the picture. Step back"
    )
    assert client.get("/v1/catalogue").status_code == 401
