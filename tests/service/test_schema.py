"""The published JSON Schema is the one the code produces."""

import json
from pathlib import Path

from service.schemas import SCHEMA_VERSION, Assessment

PUBLISHED = Path(__file__).resolve().parents[2] / "service" / "schema" / "assessment.schema.json"


def test_published_schema_is_current():
    published = json.loads(PUBLISHED.read_text())
    assert published == Assessment.model_json_schema(), "run `make schema` and commit the result"


def test_schema_states_its_version():
    assert Assessment.model_json_schema()["properties"]["schema_version"]["const"] == SCHEMA_VERSION


LANDMARKS = PUBLISHED.parent / "landmarks"


def test_published_landmark_schemas_are_current_one_per_skeleton():
    from kinematics.schemas import SCHEMAS
    from vision.landmark_json import json_schema

    assert sorted(p.name for p in LANDMARKS.glob("*.schema.json")) == sorted(f"{n}.schema.json" for n in SCHEMAS)
    for name in SCHEMAS:
        published = json.loads((LANDMARKS / f"{name}.schema.json").read_text())
        assert published == json_schema(name), "run `make schema` and commit the result"


def test_landmark_schemas_state_the_joints_and_what_cannot_be_measured():
    from kinematics.schemas import SCHEMAS

    coco = json.loads((LANDMARKS / "coco17.schema.json").read_text())
    assert [j["name"] for j in coco["x-joints"]] == list(SCHEMAS["coco17"].joints)
    rows = coco["properties"]["frames"]["items"]["properties"]["landmarks"]["oneOf"][2]
    assert rows["minItems"] == rows["maxItems"] == 17
    assert any("coco17 has no heel or toe" in m["reason"] for m in coco["x-not-measurable"])
    kinect = json.loads((LANDMARKS / "kinect_v2_25.schema.json").read_text())
    assert kinect["properties"]["space"]["enum"] == ["camera"]
    assert any(m["what"] == "facing from the head" for m in kinect["x-not-measurable"])
    assert json.loads((LANDMARKS / "blazepose33.schema.json").read_text())["x-not-measurable"] == []
