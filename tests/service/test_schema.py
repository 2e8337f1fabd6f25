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
