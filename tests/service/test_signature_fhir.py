"""Motion signature and FHIR R4 export through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import pytest

from kinematics.signature import FEATURES
from tests.service.conftest import make_key
from tests.service.test_patients import done_assessment, new_patient, odi

SCALE = {f.name: f.noise_scale for f in FEATURES}


def m(name, value, side=None, unit="deg", **extra) -> dict:
    return {
        "name": name,
        "value": value,
        "unit": unit,
        "side": side,
        "measurable": value is not None,
        "source": "protocol",
        **extra,
    }


def sls(drop_left, drop_right, hold_left, hold_right) -> list[dict]:
    return [
        m("rep_count", 2, unit="1"),
        m("pelvic_drop_deg", drop_left, "left", ci95=[drop_left - 1, drop_left + 1]),
        m("pelvic_drop_deg", drop_right, "right"),
        m("stance_duration_s", hold_left, "left", "s"),
        m("stance_duration_s", hold_right, "right", "s"),
    ]


def abd(left, right) -> list[dict]:
    return [m("hip_abduction_range_deg", left, "left"), m("hip_abduction_range_deg", right, "right")]


def session_with(client, auth, settings, pid, day: str, assessments: list[tuple[str, list[dict]]]) -> str:
    at = datetime.fromisoformat(day).replace(hour=10, tzinfo=UTC)
    ids = [
        done_assessment(settings, metrics, exercise=exercise, created_at=at, patient_code="P-001")
        for exercise, metrics in assessments
    ]
    r = client.post(f"/v1/patients/{pid}/sessions", json={"date": day, "assessment_ids": ids}, headers=auth)
    assert r.status_code == 201, r.text
    return r.json()["id"]


@pytest.fixture
def patient(client, auth, settings) -> dict:
    """Three visits with known metrics, one empty visit before them, and questionnaires."""
    pid = new_patient(client, auth, birth_year=1971, sex="female")["id"]
    empty = session_with(client, auth, settings, pid, "2026-10-01", [])
    s1 = session_with(
        client,
        auth,
        settings,
        pid,
        "2026-11-02",
        [("single_leg_stance", sls(8.0, 2.0, 12.0, 20.0)), ("standing_hip_abduction", abd(24.0, 36.0))],
    )
    s2 = session_with(
        client,
        auth,
        settings,
        pid,
        "2026-11-16",
        [
            ("single_leg_stance", sls(3.0, 2.5, 12.5, 20.0)),
            ("standing_hip_abduction", abd(30.0, 36.0)),
            ("single_leg_stance", sls(5.0, 2.5, 13.5, 20.0)),
        ],
    )  # two recordings: means 4.0 and 13.0
    s3 = session_with(
        client,
        auth,
        settings,
        pid,
        "2026-11-30",
        [
            (
                "sit_to_stand",
                [m("time_per_rep_s", 2.0, unit="s"), m("hip_flexion_range_deg", None, reason="side view needed")],
            )
        ],
    )
    r = client.post(
        f"/v1/patients/{pid}/outcomes",
        headers=auth,
        json={**odi(2, sex_life=None, walking=0), "session_id": s1, "recorded_at": "2026-11-02T09:30:00Z"},
    )
    assert r.status_code == 201, r.text
    r = client.post(
        f"/v1/patients/{pid}/outcomes",
        headers=auth,
        json={"instrument": "nrs", "value": 6, "site": "leg", "recorded_at": "2026-11-02T09:31:00Z"},
    )
    assert r.status_code == 201, r.text
    return {"id": pid, "sessions": [empty, s1, s2, s3]}


def test_signature_per_session_with_known_distances(client, auth, patient):
    r = client.get(f"/v1/patients/{patient['id']}/signature", headers=auth)
    assert r.status_code == 200, r.text
    body = r.json()
    empty, s1, s2, s3 = body["sessions"]
    assert [s["session_id"] for s in body["sessions"]] == patient["sessions"]  # date order
    assert body["baseline_session_id"] == patient["sessions"][1] and s1["is_baseline"]
    assert empty["n_features"] == 0 and empty["distance_to_baseline"] is None and not empty["is_baseline"]
    assert s1["distance_to_baseline"] is None and s1["verdicts"] == []
    f2 = {f["name"]: f for f in s2["features"]}
    assert f2["sls_pelvic_drop_left"]["value"] == 4.0 and f2["sls_pelvic_drop_left"]["n_sources"] == 2
    assert f2["sls_hold_time_left"]["value"] == 13.0 and f2["sls_hold_time_left"]["unit"] == "s"
    # Known changes from the baseline over the 8 judged features both sessions have.
    diffs = {
        "sls_pelvic_drop_left": -4.0,
        "sls_pelvic_drop_right": 0.5,
        "sls_pelvic_drop_asymmetry": -4.5,
        "sls_hold_time_left": 1.0,
        "sls_hold_time_right": 0.0,
        "abd_range_left": 6.0,
        "abd_range_right": 0.0,
        "abd_range_asymmetry": 6.0,
    }
    z = {k: v / SCALE[k] for k, v in diffs.items()}
    d = s2["distance_to_baseline"]
    assert d["comparable"] and d["n_used"] == 8
    assert d["value"] == pytest.approx(math.sqrt(sum(v * v for v in z.values()) / 8), abs=1e-3)
    assert {c["name"]: c["z"] for c in d["contributions"]} == pytest.approx(z, abs=1e-3)
    v = {x["name"]: x["verdict"] for x in s2["verdicts"]}
    assert v["sls_pelvic_drop_left"] == "changed" and v["abd_range_left"] == "changed"  # -4 = MDC; 6 = 6
    assert v["sls_pelvic_drop_right"] == "within noise" and v["abd_range_asymmetry"] == "within noise"  # 6 < 8.49
    assert v["flex_range_left"] == "not comparable" and v["abd_range_symmetry_index"] == "not judged"
    # Reference: abduction 24 deg is 6 below the 30-50 deg range; pelvic drop above the level pelvis.
    ref = {c["name"]: c["difference"] for c in s1["distance_to_reference"]["contributions"]}
    assert ref["abd_range_left"] == -6.0 and ref["abd_range_right"] == 0.0 and ref["sls_pelvic_drop_left"] == 8.0
    # The last visit shares no feature with the baseline (its hip range was not measurable): not comparable.
    assert s3["n_features"] == 1 and s3["distance_to_baseline"]["value"] is None
    assert not s3["distance_to_baseline"]["comparable"] and "0 shared" in s3["distance_to_baseline"]["reason"]
    defs = {f["name"]: f for f in body["feature_definitions"]}
    assert defs["sls_pelvic_drop_left"]["noise_scale"] == 4.0 and defs["sls_pelvic_drop_left"]["noise_kind"] == "mdc"


def _parse_r4(text: str):
    """Parse with both libraries: fhir.resources (R4B models) and fhirclient (models generated from FHIR 4.0.1)."""
    from fhir.resources.R4B.bundle import Bundle
    from fhirclient.models.bundle import Bundle as R4Bundle

    return Bundle.model_validate_json(text), R4Bundle(json.loads(text), strict=True)


def test_fhir_bundle_parses_as_r4_and_carries_the_data(client, auth, patient):
    r = client.get(f"/v1/patients/{patient['id']}/fhir", headers=auth)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/fhir+json")
    bundle, r4 = _parse_r4(r.text)
    assert bundle.type == "collection" and r4.type == "collection"
    doc = r.json()
    by_type: dict[str, list[dict]] = {}
    for e in doc["entry"]:
        assert e["fullUrl"] == f"urn:uuid:{e['resource']['id']}"
        by_type.setdefault(e["resource"]["resourceType"], []).append(e["resource"])
    (pat,) = by_type["Patient"]
    assert pat["identifier"] == [
        {"system": "http://motionscript.invalid/fhir/CodeSystem/patient-code", "value": "P-001"}
    ]
    assert pat["gender"] == "female" and pat["birthDate"] == "1971" and "name" not in pat
    (qr,) = by_type["QuestionnaireResponse"]
    items = {i["linkId"]: i for i in qr["item"]}
    assert len(items) == 10 and "answer" not in items["sex_life"]
    assert items["walking"]["answer"] == [{"valueInteger": 0}] and items["lifting"]["answer"] == [{"valueInteger": 2}]
    assert qr["authored"] == "2026-11-02T09:30:00Z" and qr["status"] == "completed"
    obs = by_type["Observation"]
    (score,) = [o for o in obs if o["code"]["coding"][0]["code"] == "97909-6"]
    assert score["code"]["coding"][0]["system"] == "http://loinc.org"
    assert score["valueQuantity"] == {"value": 35.6, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"}
    assert score["derivedFrom"] == [{"reference": f"urn:uuid:{qr['id']}"}]
    (nrs,) = [o for o in obs if o["code"]["coding"][0]["code"] == "72514-3"]
    assert nrs["valueInteger"] == 6 and "leg" in nrs["bodySite"]["text"]
    metrics = [o for o in obs if o["category"][0]["coding"][0]["code"] == "exam"]
    assert len(metrics) == 5 + 2 + 5 + 2 + 5 + 2  # every stored metric of the 6 linked assessments
    units = {(o["code"]["coding"][0]["code"], o["valueQuantity"]["code"]) for o in metrics if "valueQuantity" in o}
    assert units == {
        ("rep_count", "1"),
        ("pelvic_drop_deg", "deg"),
        ("stance_duration_s", "s"),
        ("hip_abduction_range_deg", "deg"),
        ("time_per_rep_s", "s"),
    }
    drops = [o for o in metrics if o["code"]["coding"][0]["code"] == "pelvic_drop_deg"]
    left8 = next(o for o in drops if o["valueQuantity"]["value"] == 8.0)
    assert left8["component"][0]["valueCodeableConcept"]["coding"][0] == {
        "system": "http://snomed.info/sct",
        "code": "7771000",
        "display": "Left",
    }
    assert (
        left8["effectiveDateTime"] == "2026-11-02T10:00:00Z" and "95 % interval 7 to 9 deg" in left8["note"][0]["text"]
    )
    assert "markerless video" in left8["method"]["text"]
    (absent,) = [o for o in metrics if "valueQuantity" not in o]
    assert absent["dataAbsentReason"]["text"] == "not measurable: side view needed"


def test_an_unmapped_unit_is_refused_loudly(client, auth, settings):
    pid = new_patient(client, auth)["id"]
    session_with(client, auth, settings, pid, "2026-11-02", [("squat", [m("depth", 3.0, unit="furlong")])])
    r = client.get(f"/v1/patients/{pid}/fhir", headers=auth)
    assert r.status_code == 500 and r.headers["content-type"] == "application/problem+json"
    assert "unit 'furlong' has no UCUM mapping" in r.json()["detail"] and "'deg'" in r.json()["detail"]


def test_a_new_patient_has_an_empty_signature_and_a_patient_only_bundle(client, auth):
    pid = new_patient(client, auth)["id"]
    body = client.get(f"/v1/patients/{pid}/signature", headers=auth).json()
    assert body["sessions"] == [] and body["baseline_session_id"] is None
    r = client.get(f"/v1/patients/{pid}/fhir", headers=auth)
    _parse_r4(r.text)
    assert [e["resource"]["resourceType"] for e in r.json()["entry"]] == ["Patient"]


def test_another_clinic_gets_404(client, auth, settings, patient):
    other = {"Authorization": f"Bearer {make_key(settings, 'Clinic B')}"}
    for path in ("signature", "fhir"):
        r = client.get(f"/v1/patients/{patient['id']}/{path}", headers=other)
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json", r.text
    app_key = {"Authorization": f"Bearer {make_key(settings, 'Clinic A', 'app')}"}
    assert client.get(f"/v1/patients/{patient['id']}/fhir", headers=app_key).status_code == 403


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("patient", "Patient"),
        ("observation", "Observation"),
        ("observation", "ObservationComponent"),
        ("bundle", "Bundle"),
        ("bundle", "BundleEntry"),
        ("questionnaireresponse", "QuestionnaireResponse"),
        ("questionnaireresponse", "QuestionnaireResponseItem"),
        ("questionnaireresponse", "QuestionnaireResponseItemAnswer"),
    ],
)
def test_the_r4b_models_used_have_exactly_the_r4_elements(module, name):
    """Why R4B models may validate an R4 export: these resources did not change between 4.0.1 and 4.3.0."""
    import importlib

    r4b = getattr(importlib.import_module(f"fhir.resources.R4B.{module}"), name)
    r4 = getattr(importlib.import_module(f"fhirclient.models.{module}"), name)
    r4b_elements = {
        n for n in r4b.model_fields if not n.endswith("__ext") and n not in ("fhir_comments", "resource_type")
    }
    r4_elements = {p[0] for p in r4().elementProperties()}
    assert r4b_elements == r4_elements and len(r4_elements) > 3


def test_cli_writes_the_same_bundle(client, auth, settings, patient, tmp_path, monkeypatch, capsys):
    from service.cli import main

    monkeypatch.setenv("MOTIONSCRIPT_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("MOTIONSCRIPT_DATA_DIR", str(settings.data_dir))
    out = tmp_path / "p.json"
    assert main(["fhir", "--clinic", "Clinic A", "--patient", "P-001", "--out", str(out)]) == 0
    _parse_r4(out.read_text())
    api = client.get(f"/v1/patients/{patient['id']}/fhir", headers=auth).json()
    cli = json.loads(out.read_text())
    assert [e["fullUrl"] for e in cli["entry"]] == [e["fullUrl"] for e in api["entry"]]  # stable ids
    assert main(["fhir", "--clinic", "Clinic A", "--patient", "P-404"]) == 2
    assert "--patient: no patient with code 'P-404'" in capsys.readouterr().err


def test_units_that_differ_from_ucum_are_translated():
    from service.fhir import FhirExportError, ucum

    assert ucum("1/min", what="cadence") == ("/min", "/min")  # UCUM writes a rate without the leading 1
    assert ucum("px", what="x")[0] == "{pixel}"  # no pixel unit in UCUM: an annotation of 1
    with pytest.raises(FhirExportError, match="cadence: unit 'steps/min' has no UCUM mapping"):
        ucum("steps/min", what="cadence")
