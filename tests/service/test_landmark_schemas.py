"""A landmark file in every skeleton, analysed end to end through the CLI and the API.

The same frontal recording (pelvis tilted 4 deg) is written in each schema of
kinematics/schemas.py; every one must come back with that obliquity, name its
skeleton, and list what the skeleton cannot support with the schema named.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from kinematics.schemas import SCHEMAS
from service.cli import main
from service.schemas import Assessment
from tests.service.conftest import run_worker_once
from tests.service.test_api import post_landmarks
from tests.vision.test_landmark_json import schema_document

SAGITTAL = ("hip_flexion_left_deg", "hip_flexion_right_deg", "trunk_lean_forward_deg")


def _check(a: dict, name: str) -> None:
    assert a["input"]["kind"] == "landmarks" and a["input"]["landmark_schema"] == name
    assert a["input"]["landmark_space"] == SCHEMAS[name].spaces[0]
    assert a["view"]["view"] == "frontal"
    obliquity = np.array(a["series"]["pelvic_obliquity_deg"], dtype=float)
    np.testing.assert_allclose(obliquity, 4.0, atol=0.05)
    limits = [q["message"] for q in a["quality"] if q["code"] == "skeleton_limit"]
    assert limits == [lim.reason for lim in SCHEMAS[name].limits()]
    assert all(m.startswith(f"{name} has no") for m in limits)
    # a frontal recording: side-on angles are withheld for the view, for every skeleton
    for series in SAGITTAL:
        assert "plane angle not measurable from a frontal view" in a["unavailable"][series]


@pytest.mark.parametrize("name", list(SCHEMAS))
def test_cli_analyses_a_file_in_every_schema(tmp_path, name):
    src = tmp_path / f"{name}.json"
    src.write_text(json.dumps(schema_document(name)))
    out = tmp_path / "a.json"
    assert main(["analyze", str(src), "--out", str(out), "-q"]) == 0
    a = json.loads(out.read_text())
    Assessment.model_validate(a)
    _check(a, name)


@pytest.mark.parametrize("name", list(SCHEMAS))
def test_api_analyses_a_document_in_every_schema(client, auth, settings, name):
    r = post_landmarks(client, auth, doc=schema_document(name))
    assert r.status_code == 202, r.text
    run_worker_once(settings)
    done = client.get(f"/v1/assessments/{r.json()['id']}", headers=auth).json()
    assert done["status"] == "done", done
    _check(done, name)


@pytest.mark.parametrize(
    ("mutate", "detail"),
    [
        (lambda d: d.update(schema="coco18"), "schema: expected one of ['blazepose33', 'coco17'"),
        (lambda d: d["frames"][3].update(landmarks=d["frames"][3]["landmarks"][:16]), "expected 17 rows in coco17"),
        (lambda d: d["frames"][2]["landmarks"][5].__setitem__(0, float("nan")), "expected a finite number, got NaN"),
        (
            lambda d: [
                row.__setitem__(slice(0, 2), [row[0] * 1080, row[1] * 1920]) for row in d["frames"][4]["landmarks"]
            ],
            "frames[4].landmarks: x, y must be normalised",
        ),
        (lambda d: d.update(space="camera"), "space: expected 'image' for coco17"),
    ],
)
def test_api_refuses_a_bad_coco17_document_with_a_clear_422(client, auth, mutate, detail):
    doc = schema_document("coco17")
    mutate(doc)
    r = post_landmarks(client, auth, doc=doc)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert detail in r.json()["detail"]


def test_api_refuses_millimetres_from_an_azure_kinect(client, auth):
    doc = schema_document("azure_kinect_32")
    for fr in doc["frames"]:
        fr["landmarks"] = [[v * 1000 for v in row[:3]] + row[3:] for row in fr["landmarks"]]
    r = post_landmarks(client, auth, doc=doc)
    assert r.status_code == 422 and "millimetres? divide by 1000" in r.json()["detail"]
