"""Patients, sessions, questionnaires and progress through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from kinematics.outcomes import ODI_SECTIONS
from tests.service.conftest import make_key
from tests.service.test_api import post_landmarks


def odi(value: int | None = 1, **overrides) -> dict:
    answers = dict.fromkeys(ODI_SECTIONS, value)
    answers.update(overrides)
    return {"instrument": "odi", "answers": answers}


def new_patient(client, auth, code: str = "P-001", **fields) -> dict:
    r = client.post("/v1/patients", json={"code": code, **fields}, headers=auth)
    assert r.status_code == 201, r.text
    return r.json()


def done_assessment(
    settings,
    metrics: list[dict],
    *,
    clinic: str = "Clinic A",
    exercise: str = "single_leg_stance",
    created_at: datetime,
    patient_code: str | None = None,
) -> str:
    """Store a finished assessment whose result carries ``metrics`` (what the worker would have written)."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from service.store.db import make_engine
    from service.store.models import AssessmentRow, Clinic

    engine = make_engine(settings.sqlalchemy_url)
    with Session(engine) as s:
        clinic_id = s.scalar(select(Clinic.id).where(Clinic.name == clinic))
        aid = str(uuid.uuid4())
        s.add(
            AssessmentRow(
                id=aid,
                clinic_id=clinic_id,
                patient_id=patient_code,
                exercise=exercise,
                input_kind="landmarks",
                status="done",
                attempts=1,
                created_at=created_at,
                result={"exercise": exercise, "metrics": metrics},
            )
        )
        s.commit()
    engine.dispose()
    return aid


def drop(value, side="left", ci95=None, **extra) -> dict:
    return {
        "name": "pelvic_drop_deg",
        "value": value,
        "unit": "deg",
        "side": side,
        "ci95": ci95,
        "measurable": value is not None,
        "source": "protocol",
        **extra,
    }


def test_patient_round_trip_and_listing(client, auth):
    p = new_patient(client, auth, birth_year=1971, sex="female")
    assert p["code"] == "P-001" and p["birth_year"] == 1971 and p["sex"] == "female"
    got = client.get(f"/v1/patients/{p['id']}", headers=auth).json()
    assert got["code"] == "P-001" and got["sessions"] == [] and got["outcomes"] == []
    for i in range(3):
        new_patient(client, auth, code=f"P-10{i}")
    page1 = client.get("/v1/patients", params={"limit": 3}, headers=auth).json()
    page2 = client.get("/v1/patients", params={"limit": 3, "cursor": page1["next_cursor"]}, headers=auth).json()
    assert len(page1["items"]) == 3 and len(page2["items"]) == 1 and page2["next_cursor"] is None
    assert [i["code"] for i in client.get("/v1/patients", params={"code": "P-101"}, headers=auth).json()["items"]] == [
        "P-101"
    ]


def test_code_is_unique_per_clinic_only(client, auth, settings):
    new_patient(client, auth)
    r = client.post("/v1/patients", json={"code": "P-001"}, headers=auth)
    assert r.status_code == 409 and "already exists" in r.json()["detail"]
    other = {"Authorization": f"Bearer {make_key(settings, 'Clinic B')}"}
    assert client.post("/v1/patients", json={"code": "P-001"}, headers=other).status_code == 201


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"code": "Jane Doe"}, "code:"),  # a space: looks like a name, not a code
        ({"code": "P-1", "birth_year": 1800}, "birth_year:"),
        ({"code": "P-1", "sex": "f"}, "sex:"),
        ({"code": "P-1", "name": "Jane"}, "name:"),  # nothing else personal
    ],
)
def test_patient_fields_are_strict(client, auth, body, text):
    r = client.post("/v1/patients", json=body, headers=auth)
    assert r.status_code == 422 and r.json()["detail"].startswith(text), r.text


def test_outcomes_are_scored_and_returned(client, auth):
    pid = new_patient(client, auth)["id"]
    sid = client.post(
        f"/v1/patients/{pid}/sessions", json={"date": "2026-11-02", "notes": "first visit"}, headers=auth
    ).json()["id"]
    r = client.post(
        f"/v1/patients/{pid}/outcomes", headers=auth, json={**odi(2, sex_life=None, walking=0), "session_id": sid}
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["score"] == 35.6 and body["band"] == "moderate" and body["missing_sections"] == ["sex_life"]
    assert body["answers"]["sex_life"] is None and body["session_id"] == sid
    nrs = client.post(
        f"/v1/patients/{pid}/outcomes", json={"instrument": "nrs", "value": 0, "site": "leg"}, headers=auth
    )
    assert nrs.status_code == 201 and nrs.json()["recovered"] is True and nrs.json()["unit"] == "points"
    detail = client.get(f"/v1/patients/{pid}", headers=auth).json()
    assert [o["instrument"] for o in detail["outcomes"]] == ["odi", "nrs"]
    assert detail["sessions"][0]["date"] == "2026-11-02" and detail["sessions"][0]["notes"] == "first visit"


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (odi(1, walking=6), "answers.walking: Input should be less than or equal to 5"),
        (odi(1, walking=2.5), "answers.walking:"),
        (odi(1, walking="3"), "answers.walking:"),
        (odi(1, walking=True), "answers.walking:"),
        (odi(1, walkin=2), "answers.walkin:"),
        (
            {"instrument": "odi", "answers": {s: 1 for s in ODI_SECTIONS if s != "travelling"}},
            "answers.travelling: Field required",
        ),
        (odi(1, sex_life=None, lifting=None, travelling=None), "3 sections unanswered (lifting, sex_life, travelling)"),
        ({"instrument": "nrs", "value": 11}, "value: Input should be less than or equal to 10"),
        ({"instrument": "nrs", "value": 4.5}, "value:"),
        ({"instrument": "nrs", "value": 4, "site": "neck"}, "site:"),
        ({"instrument": "sf36", "value": 4}, "instrument"),
    ],
)
def test_bad_questionnaires_get_a_422_naming_the_answer(client, auth, body, text):
    pid = new_patient(client, auth)["id"]
    r = client.post(f"/v1/patients/{pid}/outcomes", json=body, headers=auth)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text
    assert text in r.json()["detail"], r.json()["detail"]
    assert client.get(f"/v1/patients/{pid}", headers=auth).json()["outcomes"] == []


def test_another_clinic_gets_404_everywhere(client, auth, settings):
    pid = new_patient(client, auth)["id"]
    sid = client.post(f"/v1/patients/{pid}/sessions", json={}, headers=auth).json()["id"]
    aid = post_landmarks(client, auth).json()["id"]
    other = {"Authorization": f"Bearer {make_key(settings, 'Clinic B')}"}
    calls = [
        ("get", f"/v1/patients/{pid}", None),
        ("get", f"/v1/patients/{pid}/progress", None),
        ("post", f"/v1/patients/{pid}/sessions", {}),
        ("post", f"/v1/patients/{pid}/sessions/{sid}/assessments", {"assessment_ids": [aid]}),
        ("post", f"/v1/patients/{pid}/outcomes", {"instrument": "nrs", "value": 3}),
    ]
    for method, url, body in calls:
        r = client.request(method.upper(), url, headers=other, json=body)
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json", (url, r.text)
    assert client.get("/v1/patients", headers=other).json()["items"] == []
    # Clinic B's own patient cannot take Clinic A's assessment or session either.
    own = new_patient(client, other, code="B-1")["id"]
    r = client.post(f"/v1/patients/{own}/sessions", json={"assessment_ids": [aid]}, headers=other)
    assert r.status_code == 404 and aid in r.json()["detail"]
    r = client.post(
        f"/v1/patients/{own}/outcomes", json={"instrument": "nrs", "value": 3, "session_id": sid}, headers=other
    )
    assert r.status_code == 404 and sid in r.json()["detail"]


def test_sessions_link_assessments_once(client, auth):
    pid = new_patient(client, auth)["id"]
    a1, a2 = (post_landmarks(client, auth).json()["id"] for _ in range(2))
    s1 = client.post(f"/v1/patients/{pid}/sessions", json={"assessment_ids": [a1, a1]}, headers=auth)
    assert s1.status_code == 201 and s1.json()["assessment_ids"] == [a1]
    linked = client.post(
        f"/v1/patients/{pid}/sessions/{s1.json()['id']}/assessments", json={"assessment_ids": [a1, a2]}, headers=auth
    )
    assert linked.status_code == 200 and sorted(linked.json()["assessment_ids"]) == sorted([a1, a2])
    s2 = client.post(f"/v1/patients/{pid}/sessions", json={"assessment_ids": [a2]}, headers=auth)
    assert s2.status_code == 409 and "already belongs" in s2.json()["detail"]
    wrong = post_landmarks(client, auth, patient_id="someone-else").json()["id"]
    r = client.post(f"/v1/patients/{pid}/sessions", json={"assessment_ids": [wrong]}, headers=auth)
    assert r.status_code == 409 and "someone-else" in r.json()["detail"]
    assert len(client.get(f"/v1/patients/{pid}", headers=auth).json()["sessions"]) == 1  # refused ones left nothing


def test_app_role_may_only_submit_questionnaires(client, auth, settings):
    pid = new_patient(client, auth)["id"]
    app_key = {"Authorization": f"Bearer {make_key(settings, role='app')}"}
    assert (
        client.post(f"/v1/patients/{pid}/outcomes", json={"instrument": "nrs", "value": 5}, headers=app_key).status_code
        == 201
    )
    assert client.get(f"/v1/patients/{pid}", headers=app_key).status_code == 403
    assert client.get(f"/v1/patients/{pid}/progress", headers=app_key).status_code == 403
    assert client.post("/v1/patients", json={"code": "X"}, headers=app_key).status_code == 403


def test_progress_judges_changes_from_baseline(client, auth, settings):
    pid = new_patient(client, auth)["id"]
    t0 = datetime(2026, 10, 1, 9, tzinfo=UTC)
    days = [t0 + timedelta(days=14 * i) for i in range(3)]
    sessions = [
        client.post(f"/v1/patients/{pid}/sessions", json={"date": d.date().isoformat()}, headers=auth).json()["id"]
        for d in days
    ]

    def outcome(body, i):
        r = client.post(
            f"/v1/patients/{pid}/outcomes",
            headers=auth,
            json={**body, "session_id": sessions[i], "recorded_at": days[i].isoformat()},
        )
        assert r.status_code == 201, r.text

    # ODI 50 % -> 42 % (8 points, 16 %: unchanged) -> 30 % (20 points: improved)
    outcome(odi(None, **dict(zip(ODI_SECTIONS, [3, 3, 3, 3, 3, 2, 2, 2, 2, 2], strict=True))), 0)
    outcome(odi(None, **dict(zip(ODI_SECTIONS, [3, 3, 2, 2, 2, 2, 2, 2, 2, 1], strict=True))), 1)
    outcome(odi(None, **dict(zip(ODI_SECTIONS, [2, 2, 2, 2, 1, 1, 1, 1, 1, 2], strict=True))), 2)
    # leg pain 7 -> 8 (unchanged) -> 4 (improved)
    for i, v in enumerate((7, 8, 4)):
        outcome({"instrument": "nrs", "value": v, "site": "leg"}, i)
    # pelvic drop on the left: 10 -> 5 with wide intervals (inconclusive) -> 4 with tight ones (improved);
    # on the right 3 -> 8 without intervals (worse); stance time has no MDC (not judged).
    wide, tight = 1.96, 0.1
    rows = [
        [
            drop(10.0, ci95=[10 - tight, 10 + tight]),
            drop(3.0, "right"),
            {
                "name": "stance_duration_s",
                "value": 12.0,
                "unit": "s",
                "side": "left",
                "measurable": True,
                "source": "protocol",
            },
            {"name": "pelvic_obliquity_mean_deg", "value": 1.0, "unit": "deg", "measurable": True, "source": "series"},
        ],
        [drop(5.0, ci95=[5 - wide, 5 + wide]), drop(None, "right", reason="hold too short")],
        [
            drop(4.0, ci95=[4 - tight, 4 + tight]),
            drop(8.0, "right"),
            {
                "name": "stance_duration_s",
                "value": 20.0,
                "unit": "s",
                "side": "left",
                "measurable": True,
                "source": "protocol",
            },
        ],
    ]
    for i, metrics in enumerate(rows):
        aid = done_assessment(settings, metrics, created_at=days[i] + timedelta(hours=1))
        assert (
            client.post(
                f"/v1/patients/{pid}/sessions/{sessions[i]}/assessments", json={"assessment_ids": [aid]}, headers=auth
            ).status_code
            == 200
        )
    # a finished assessment not linked to the patient does not count
    done_assessment(settings, [drop(30.0)], created_at=days[2])

    r = client.get(f"/v1/patients/{pid}/progress", headers=auth)
    assert r.status_code == 200, r.text
    body = r.json()
    series = {s["measure"]: s for s in body["series"]}
    assert set(series) == {
        "odi",
        "nrs_leg",
        "single_leg_stance/pelvic_drop_deg/left",
        "single_leg_stance/pelvic_drop_deg/right",
        "single_leg_stance/stance_duration_s/left",
    }

    def judged(measure):
        return [None if p["change"] is None else p["change"]["judgement"] for p in series[measure]["points"]]

    assert [p["value"] for p in series["odi"]["points"]] == [50.0, 42.0, 30.0]
    assert [p["band"] for p in series["odi"]["points"]] == ["severe", "severe", "moderate"]
    assert judged("odi") == [None, "unchanged", "improved"]
    assert series["odi"]["threshold"]["points"] == 10 and "Ostelo" in series["odi"]["threshold"]["source"]
    assert judged("nrs_leg") == [None, "unchanged", "improved"]
    left = series["single_leg_stance/pelvic_drop_deg/left"]
    assert judged("single_leg_stance/pelvic_drop_deg/left") == [None, "inconclusive", "improved"]
    assert left["threshold"]["kind"] == "mdc" and left["threshold"]["points"] == 4.0
    assert left["points"][1]["change"]["ci95"] is not None and left["points"][1]["session_id"] == sessions[1]
    assert judged("single_leg_stance/pelvic_drop_deg/right") == [None, "worse"]  # the unmeasurable one is skipped
    stance = series["single_leg_stance/stance_duration_s/left"]
    assert stance["threshold"] is None and judged("single_leg_stance/stance_duration_s/left") == [None, None]
    assert stance["points"][1]["change"]["delta"] == 8.0
    assert any("Ostelo" in s for s in body["sources"]) and any("16(4):326" in s for s in body["sources"])
    assert any("Kamper" in s for s in body["sources"]) and any("Fairbank" in s for s in body["sources"])


def test_progress_of_a_new_patient_is_empty(client, auth):
    pid = new_patient(client, auth)["id"]
    body = client.get(f"/v1/patients/{pid}/progress", headers=auth).json()
    assert body == {"patient_id": pid, "series": [], "sources": []}


def test_openapi_names_the_patient_operations(client):
    ops = {op["operationId"] for path in client.get("/openapi.json").json()["paths"].values() for op in path.values()}
    assert {
        "create_patient",
        "list_patients",
        "get_patient",
        "create_session",
        "link_assessments",
        "create_outcome",
        "get_progress",
    } <= ops


def test_impossible_ids_and_text_are_client_errors_on_every_database(client, auth):
    # PostgreSQL refuses NUL bytes in text with an error: these must be 422 (refused before the
    # database, service/input_limits.py) or 404, never 500.
    pid = new_patient(client, auth)["id"]
    assert client.get("/v1/patients/a%00b", headers=auth).status_code == 422
    assert client.get("/v1/patients/a%00b/progress", headers=auth).status_code == 422
    assert client.get("/v1/patients", params={"code": "a\x00"}, headers=auth).status_code == 422
    r = client.post(f"/v1/patients/{pid}/sessions", json={"assessment_ids": ["a\x00b"]}, headers=auth)
    assert r.status_code == 422 and "control character" in r.json()["detail"]
    assert (
        client.post(f"/v1/patients/{pid}/sessions", json={"assessment_ids": ["nope"]}, headers=auth).status_code == 404
    )
    assert client.post(f"/v1/patients/{pid}/sessions", json={"notes": "a\x00b"}, headers=auth).status_code == 422
    nrs = {"instrument": "nrs", "value": 1}
    assert (
        client.post(f"/v1/patients/{pid}/outcomes", json={**nrs, "session_id": "a\x00"}, headers=auth).status_code
        == 422
    )


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+05:00", "1850-06-01T00:00:00Z", "2999-01-01T00:00:00Z"])
def test_implausible_recorded_at_is_refused(client, auth, when):
    pid = new_patient(client, auth)["id"]
    r = client.post(
        f"/v1/patients/{pid}/outcomes", json={"instrument": "nrs", "value": 1, "recorded_at": when}, headers=auth
    )
    assert r.status_code == 422 and r.json()["detail"].startswith("recorded_at:"), r.text


def test_naive_recorded_at_is_taken_as_utc(client, auth):
    pid = new_patient(client, auth)["id"]
    r = client.post(
        f"/v1/patients/{pid}/outcomes",
        headers=auth,
        json={"instrument": "nrs", "value": 1, "recorded_at": "2026-01-02T03:04:05"},
    )
    assert r.status_code == 201 and r.json()["recorded_at"] in ("2026-01-02T03:04:05Z", "2026-01-02T03:04:05+00:00")


def test_cli_scores_questionnaires_locally(capsys):
    import json

    from service.cli import EXIT_INPUT, main

    assert main(["outcomes", "odi", "2", "2", "2", "0", "2", "2", "2", "-", "2", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["percent"] == 35.6 and out["missing"] == ["sex_life"] and out["band"] == "moderate"
    assert main(["outcomes", "odi", "2", "2", "2", "7", "2", "2", "2", "-", "2", "2"]) == EXIT_INPUT
    assert "answers.walking: 7" in capsys.readouterr().err
    assert main(["outcomes", "odi", "2", "2"]) == EXIT_INPUT
    assert "expected 10 section scores" in capsys.readouterr().err
    assert main(["outcomes", "nrs", "0"]) == 0 and json.loads(capsys.readouterr().out)["recovered"] is True
    assert main(["outcomes", "nrs", "11"]) == EXIT_INPUT and "integer 0-10" in capsys.readouterr().err
