"""Clinician review, exercise suggestions, the audit log, the feedback policy and patient edits,
on SQLite and PostgreSQL, with findings produced by the real analysis path."""

from __future__ import annotations

import json
from functools import cache

import pytest

from tests.service.conftest import make_key, run_worker_once
from tests.service.test_patients import new_patient


@cache
def _stance_document() -> str:
    """Single-leg stance of known truth (tests/protocols/synthetic.py): 6.8 s on the right leg, 5.8 s on the left,
    both shorter than the 30 s target, so ``hold_short_left``/``_right`` must be findings with severity attention."""
    from tests.protocols.synthetic import SCENARIOS, observe

    lm = observe(SCENARIOS["single_leg_stance"], 0.0, "image").landmarks
    frames = [
        {
            "t_s": float(t),
            "landmarks": [[*map(float, p), float(v)] for p, v in zip(lm.xyz[i], lm.visibility[i], strict=True)],
        }
        for i, t in enumerate(lm.t_s)
    ]
    return json.dumps(
        {
            "schema": "blazepose33",
            "space": "image",
            "image_size": [1080, 1920],
            "frames": frames,
            "exercise": "single_leg_stance",
        }
    )


def analysed(client, auth, settings, **fields) -> str:
    """Submit the stance recording through the API and run the real worker on it."""
    body = json.loads(_stance_document())
    body.update(fields)
    r = client.post("/v1/assessments", content=json.dumps(body), headers={**auth, "Content-Type": "application/json"})
    assert r.status_code == 202, r.text
    run_worker_once(settings)
    done = client.get(f"/v1/assessments/{r.json()['id']}", headers=auth).json()
    assert done["status"] == "done", done.get("reason")
    return done["id"]


def key_id(settings, key: str) -> str:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from service.store.db import make_engine
    from service.store.models import ApiKey

    engine = make_engine(settings.sqlalchemy_url)
    with Session(engine) as s:
        kid = s.scalar(select(ApiKey.id).where(ApiKey.prefix == key.split("_")[1]))
    engine.dispose()
    return kid


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def admin(client, settings) -> str:
    return make_key(settings)


def audit_of(client, headers, **params) -> list[dict]:
    r = client.get("/v1/audit", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]


# -- schema ----------------------------------------------------------------------------------------


def test_migrations_match_the_models(client, settings):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from service.store.db import make_engine
    from service.store.models import Base

    engine = make_engine(settings.sqlalchemy_url)  # the client's lifespan ran the migrations
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_migration_0004_downgrades_and_upgrades_again(client, settings, admin):
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect

    from service.store.db import MIGRATIONS, make_engine

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", settings.sqlalchemy_url.replace("%", "%%"))
    mine = {"finding_reviews", "exercise_suggestion_decisions", "audit_events"}

    def tables() -> tuple[set[str], set[str]]:
        engine = make_engine(settings.sqlalchemy_url)
        try:
            insp = inspect(engine)
            return set(insp.get_table_names()) & mine, {c["name"] for c in insp.get_columns("clinics")}
        finally:
            engine.dispose()

    command.downgrade(cfg, "0003")
    found, columns = tables()
    assert found == set() and "patient_feedback" not in columns
    command.upgrade(cfg, "head")
    found, columns = tables()
    assert found == mine and "patient_feedback" in columns
    # the clinic existed before 0004 added the setting: it keeps "all" through 0006's new default
    assert client.get("/v1/clinic", headers=bearer(admin)).json()["patient_feedback"] == "all"


# -- findings and reviews --------------------------------------------------------------------------


def test_findings_come_from_the_stored_result_in_order(client, settings, admin):
    aid = analysed(client, bearer(admin), settings)
    stored = client.get(f"/v1/assessments/{aid}", headers=bearer(admin)).json()["findings"]
    items = client.get(f"/v1/assessments/{aid}/findings", headers=bearer(admin)).json()["items"]
    assert [i["index"] for i in items] == list(range(len(stored)))
    assert [{k: i[k] for k in stored[0]} for i in items] == stored
    assert all(i["review"] is None for i in items)
    # truth by construction: both stance holds were shorter than 30 s
    short = {i["code"]: i["severity"] for i in items if i["code"].startswith("hold_short_")}
    assert short == {"hold_short_left": "attention", "hold_short_right": "attention"}


def test_reviews_supersede_each_other_and_every_one_is_audited(client, settings, admin):
    auth = bearer(admin)
    clinician = make_key(settings, role="clinician")
    aid = analysed(client, auth, settings)
    url = f"/v1/assessments/{aid}/findings/0/review"
    code = client.get(f"/v1/assessments/{aid}/findings", headers=auth).json()["items"][0]["code"]

    first = client.post(url, json={"action": "sign_off"}, headers=auth)
    second = client.post(
        url,
        json={"action": "correct", "note": "pain during the test", "correction": {"severity": "inconclusive"}},
        headers=bearer(clinician),
    )
    third = client.post(url, json={"action": "reject", "note": "patient stepped off the mark"}, headers=auth)
    assert [r.status_code for r in (first, second, third)] == [201, 201, 201], third.text
    r1, r2, r3 = (r.json() for r in (first, second, third))
    assert (r1["status"], r2["status"], r3["status"]) == ("signed_off", "corrected", "rejected")
    assert r2["correction"] == {"severity": "inconclusive"} and r2["finding_code"] == code
    assert r1["reviewer_key_id"] == key_id(settings, admin) and r2["reviewer_key_id"] == key_id(settings, clinician)
    assert r1["reviewed_at"] < r2["reviewed_at"] < r3["reviewed_at"]

    latest = client.get(f"/v1/assessments/{aid}/findings", headers=auth).json()["items"][0]["review"]
    assert latest == r3

    events = audit_of(client, auth, entity_type="assessment", entity_id=aid)
    assert [e["action"] for e in events] == ["finding.reject", "finding.correct", "finding.sign_off"]  # newest first
    assert [e["actor_key_id"] for e in events] == [
        key_id(settings, admin),
        key_id(settings, clinician),
        key_id(settings, admin),
    ]
    assert [e["actor_role"] for e in events] == ["admin", "clinician", "admin"]
    assert events[2]["before"] == {"finding_index": 0, "status": None}
    assert events[1]["before"] == events[2]["after"] and events[0]["before"] == events[1]["after"]
    assert events[0]["after"]["status"] == "rejected" and events[0]["after"]["note"] == "patient stepped off the mark"
    assert events[1]["after"]["correction"] == {"severity": "inconclusive"}
    # paging walks the same events
    page = client.get("/v1/audit", params={"limit": 2}, headers=auth).json()
    rest = client.get("/v1/audit", params={"limit": 2, "cursor": page["next_cursor"]}, headers=auth).json()
    assert [e["id"] for e in page["items"] + rest["items"]] == [e["id"] for e in events]
    assert rest["next_cursor"] is None


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"action": "approve"}, "sign_off"),
        ({"action": "correct", "correction": {"severity": "normal"}}, "note: required to correct"),
        ({"action": "reject"}, "note: required to reject"),
        ({"action": "correct", "note": "x"}, "correction: required"),
        ({"action": "correct", "note": "x", "correction": {}}, "correction: required"),
        ({"action": "correct", "note": "x", "correction": {"severity": "severe"}}, "attention"),
        ({"action": "sign_off", "correction": {"message": "x"}}, "only accepted with action 'correct'"),
    ],
    ids=[
        "bad-action",
        "correct-no-note",
        "reject-no-note",
        "correct-no-correction",
        "empty-correction",
        "bad-severity",
        "sign-off-with-correction",
    ],
)
def test_bad_reviews_get_a_422_naming_the_field(client, settings, admin, body, text):
    aid = analysed(client, bearer(admin), settings)
    r = client.post(f"/v1/assessments/{aid}/findings/0/review", json=body, headers=bearer(admin))
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text
    assert text in r.json()["detail"]
    assert audit_of(client, bearer(admin)) == []  # nothing changed, nothing logged


def test_index_out_of_range_names_the_valid_range(client, settings, admin):
    aid = analysed(client, bearer(admin), settings)
    n = len(client.get(f"/v1/assessments/{aid}/findings", headers=bearer(admin)).json()["items"])
    for index in (n, -1):
        r = client.post(
            f"/v1/assessments/{aid}/findings/{index}/review", json={"action": "sign_off"}, headers=bearer(admin)
        )
        assert r.status_code == 422, r.text
        assert r.json()["detail"] == f"index: {index} is out of range; this assessment's findings are 0 to {n - 1}"


def test_an_assessment_not_done_has_no_findings_yet(client, settings, admin):
    r = client.post(
        "/v1/assessments", content=_stance_document(), headers={**bearer(admin), "Content-Type": "application/json"}
    )
    aid = r.json()["id"]
    for method, url, body in (
        ("get", "findings", None),
        ("post", "findings/0/review", {"action": "sign_off"}),
        ("get", "suggestions", None),
    ):
        got = client.request(method, f"/v1/assessments/{aid}/{url}", json=body, headers=bearer(admin))
        assert got.status_code == 409 and "queued" in got.json()["detail"], got.text


def test_another_clinic_gets_404_for_findings_reviews_suggestions_and_audit(client, settings, admin):
    aid = analysed(client, bearer(admin), settings)
    assert (
        client.post(
            f"/v1/assessments/{aid}/findings/0/review", json={"action": "sign_off"}, headers=bearer(admin)
        ).status_code
        == 201
    )
    other = bearer(make_key(settings, "Clinic B"))
    for method, url, body in (
        ("get", f"/v1/assessments/{aid}/findings", None),
        ("post", f"/v1/assessments/{aid}/findings/0/review", {"action": "sign_off"}),
        ("get", f"/v1/assessments/{aid}/suggestions", None),
        ("post", f"/v1/assessments/{aid}/suggestions/0/decision", {"action": "approve"}),
        ("get", f"/v1/audit?entity_type=assessment&entity_id={aid}", None),
    ):
        r = client.request(method, url, json=body, headers=other)
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json", (url, r.text)
    assert audit_of(client, other) == []
    assert len(audit_of(client, bearer(admin))) == 1  # clinic A's own event is untouched


def test_app_sees_only_signed_off_findings_when_the_clinic_asks(client, settings, admin):
    auth = bearer(admin)
    app = bearer(make_key(settings, role="app"))
    aid = analysed(client, auth, settings)
    stored = client.get(f"/v1/assessments/{aid}", headers=auth).json()["findings"]
    assert len(stored) >= 4
    assert (
        client.post(f"/v1/assessments/{aid}/findings/0/review", json={"action": "sign_off"}, headers=app).status_code
        == 403
    )
    assert client.get(f"/v1/assessments/{aid}/findings", headers=app).status_code == 403

    review = f"/v1/assessments/{aid}/findings/{{}}/review"
    client.post(review.format(0), json={"action": "sign_off"}, headers=auth)
    client.post(
        review.format(1),
        json={
            "action": "correct",
            "note": "pain in the test",
            "correction": {"severity": "info", "message": "Held 5 s; pain stopped it."},
        },
        headers=auth,
    )
    client.post(review.format(2), json={"action": "reject", "note": "stepped off"}, headers=auth)
    # finding 3 and later: unreviewed

    # a new clinic shows patients' apps signed-off findings only (migration 0006; older clinics keep theirs)
    assert client.get("/v1/clinic", headers=auth).json()["patient_feedback"] == "signed_off_only"
    by_default = client.get(f"/v1/assessments/{aid}", headers=app).json()
    assert by_default["findings_filter"] == "signed_off_only" and len(by_default["findings"]) == 2

    assert client.patch("/v1/clinic", json={"patient_feedback": "all"}, headers=app).status_code == 403
    r = client.patch("/v1/clinic", json={"patient_feedback": "all"}, headers=auth)
    assert r.status_code == 200 and r.json()["patient_feedback"] == "all"
    everything = client.get(f"/v1/assessments/{aid}", headers=app).json()
    assert everything["findings"] == stored and everything["findings_filter"] is None
    assert client.patch("/v1/clinic", json={"patient_feedback": "signed_off_only"}, headers=app).status_code == 403
    r = client.patch("/v1/clinic", json={"patient_feedback": "signed_off_only"}, headers=auth)
    assert r.status_code == 200 and r.json()["patient_feedback"] == "signed_off_only"

    filtered = client.get(f"/v1/assessments/{aid}", headers=app).json()
    assert filtered["findings_filter"] == "signed_off_only"
    corrected = {**stored[1], "severity": "info", "message": "Held 5 s; pain stopped it."}
    assert filtered["findings"] == [stored[0], corrected]
    clinician = client.get(f"/v1/assessments/{aid}", headers=bearer(make_key(settings, role="clinician"))).json()
    assert clinician["findings"] == stored and clinician["findings_filter"] is None  # clinicians see everything

    event = audit_of(client, auth, entity_type="clinic")[0]
    assert (event["action"], event["before"], event["after"]) == (
        "clinic.update",
        {"patient_feedback": "all"},
        {"patient_feedback": "signed_off_only"},
    )
    assert client.patch("/v1/clinic", json={"patient_feedback": "some"}, headers=auth).status_code == 422


# -- exercise suggestions --------------------------------------------------------------------------


def test_suggestions_are_tied_to_real_findings_and_decisions_round_trip(client, settings, admin):
    auth = bearer(admin)
    app = bearer(make_key(settings, role="app"))
    # an approved suggestion reaches the app even for an unreviewed finding when the clinic shows all
    # findings (new clinics show signed-off ones only: then the finding's sign-off is needed too)
    assert client.patch("/v1/clinic", json={"patient_feedback": "all"}, headers=auth).status_code == 200
    aid = analysed(client, auth, settings)
    findings = client.get(f"/v1/assessments/{aid}/findings", headers=auth).json()["items"]
    got = client.get(f"/v1/assessments/{aid}/suggestions", headers=auth).json()
    items = got["items"]
    assert [s["n"] for s in items] == list(range(len(items))) and not got["filtered"]
    for s in items:  # every suggestion names the finding that motivated it
        assert findings[s["finding_index"]]["code"] == s["finding_code"]
        assert findings[s["finding_index"]]["severity"] == "attention" and s["status"] == "proposed"
    attention = {f["index"] for f in findings if f["severity"] == "attention"}
    assert {s["finding_index"] for s in items} == attention
    balance = {s["side"]: s for s in items if s["exercise"]["key"] == "single_leg_balance"}
    assert set(balance) == {"left", "right"}  # one per short hold, on that leg
    assert {findings[s["finding_index"]]["code"] for s in balance.values()} == {"hold_short_left", "hold_short_right"}
    inconclusive = {f["index"] for f in findings if f["severity"] == "inconclusive"}
    assert {x["finding_index"] for x in got["notes"]} == inconclusive and inconclusive
    assert client.get(f"/v1/assessments/{aid}/suggestions", headers=app).json() == {
        "items": [],
        "notes": [],
        "filtered": True,
    }

    n = balance["left"]["n"]
    url = f"/v1/assessments/{aid}/suggestions/{{}}/decision"
    r = client.post(url.format(n), json={"action": "approve", "overrides": {"hold_s": 25, "sets": 4}}, headers=auth)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "approved" and r.json()["overrides"] == {"hold_s": 25, "sets": 4}
    m = balance["right"]["n"]
    assert (
        client.post(
            url.format(m), json={"action": "reject", "note": "balance fine in clinic"}, headers=auth
        ).status_code
        == 201
    )

    after = {s["n"]: s for s in client.get(f"/v1/assessments/{aid}/suggestions", headers=auth).json()["items"]}
    assert after[n]["status"] == "approved" and after[m]["status"] == "rejected"
    assert after[n]["exercise"]["hold_s"] == 25 and after[n]["exercise"]["sets"] == 4
    assert after[n]["exercise"]["tempo"].split("-")[1] == "25"  # the tempo's hold follows hold_s
    assert after[n]["proposed"] == balance["left"]["proposed"]  # the catalogue's dose is kept for reference
    assert all(s["status"] == "proposed" for k, s in after.items() if k not in (n, m))
    seen_by_app = client.get(f"/v1/assessments/{aid}/suggestions", headers=app).json()
    assert [s["n"] for s in seen_by_app["items"]] == [n] and seen_by_app["filtered"]

    events = audit_of(client, auth, entity_type="assessment", entity_id=aid)
    assert [e["action"] for e in events] == ["suggestion.reject", "suggestion.approve"]
    assert events[1]["before"]["status"] == "proposed" and events[1]["after"]["overrides"] == {"hold_s": 25, "sets": 4}
    assert events[0]["after"]["note"] == "balance fine in clinic"

    # a rejected finding's exercises cannot be approved, and its approved ones leave the app
    left = balance["left"]["finding_index"]
    client.post(
        f"/v1/assessments/{aid}/findings/{left}/review", json={"action": "reject", "note": "pain"}, headers=auth
    )
    r = client.post(url.format(n), json={"action": "approve"}, headers=auth)
    assert r.status_code == 409 and "rejected" in r.json()["detail"]
    assert client.get(f"/v1/assessments/{aid}/suggestions", headers=app).json()["items"] == []


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"action": "reject"}, "note: required to reject"),
        ({"action": "approve", "overrides": {"sets": 0}}, "sets"),
        ({"action": "approve", "overrides": {"hold_s": 10, "tempo": "2-5-2"}}, "must equal hold_s"),
        ({"action": "approve", "overrides": {"tempo": "slow"}}, "tempo"),
        ({"action": "reject", "note": "x", "overrides": {"sets": 2}}, "only accepted with action 'approve'"),
        ({"action": "sign_off"}, "approve"),
    ],
    ids=["reject-no-note", "zero-sets", "tempo-hold-mismatch", "bad-tempo", "reject-with-overrides", "bad-action"],
)
def test_bad_decisions_get_a_422_naming_the_field(client, settings, admin, body, text):
    aid = analysed(client, bearer(admin), settings)
    r = client.post(f"/v1/assessments/{aid}/suggestions/0/decision", json=body, headers=bearer(admin))
    assert r.status_code == 422, r.text
    assert text in r.json()["detail"]


def test_suggestion_out_of_range_and_app_cannot_decide(client, settings, admin):
    aid = analysed(client, bearer(admin), settings)
    n = len(client.get(f"/v1/assessments/{aid}/suggestions", headers=bearer(admin)).json()["items"])
    r = client.post(
        f"/v1/assessments/{aid}/suggestions/{n}/decision", json={"action": "approve"}, headers=bearer(admin)
    )
    assert r.status_code == 422 and r.json()["detail"].endswith(f"0 to {n - 1}")
    app = bearer(make_key(settings, role="app"))
    assert (
        client.post(
            f"/v1/assessments/{aid}/suggestions/0/decision", json={"action": "approve"}, headers=app
        ).status_code
        == 403
    )
    assert client.get("/v1/audit", headers=app).status_code == 403


# -- patients and sessions -------------------------------------------------------------------------


def test_patient_edits_are_audited_and_codes_stay_unique(client, settings, admin):
    auth = bearer(admin)
    p = new_patient(client, auth, "P-100", birth_year=1970)
    new_patient(client, auth, "P-200")
    aid = analysed(client, auth, settings, patient_id="P-100")

    r = client.patch(f"/v1/patients/{p['id']}", json={"code": "P-200"}, headers=auth)
    assert r.status_code == 409
    assert r.json()["detail"] == "code: a patient with code 'P-200' already exists in this clinic"
    r = client.patch(
        f"/v1/patients/{p['id']}", json={"code": "P-101", "sex": "female", "birth_year": None}, headers=auth
    )
    assert r.status_code == 200, r.text
    assert (r.json()["code"], r.json()["sex"], r.json()["birth_year"]) == ("P-101", "female", None)
    assert client.get(f"/v1/assessments/{aid}", headers=auth).json()["patient_id"] == "P-101"  # carried over
    assert client.patch(f"/v1/patients/{p['id']}", json={"code": None}, headers=auth).status_code == 422

    event = audit_of(client, auth, entity_type="patient", entity_id=p["id"])[0]
    assert event["action"] == "patient.update" and event["actor_key_id"] == key_id(settings, admin)
    assert event["before"] == {"code": "P-100", "birth_year": 1970, "sex": None}
    assert event["after"] == {"code": "P-101", "birth_year": None, "sex": "female", "assessments_recoded": 1}

    other = bearer(make_key(settings, "Clinic B"))
    assert client.patch(f"/v1/patients/{p['id']}", json={"sex": "male"}, headers=other).status_code == 404
    assert client.delete(f"/v1/patients/{p['id']}", headers=other).status_code == 404


def test_session_edit_and_patient_delete_unlink_assessments(client, settings, admin):
    auth = bearer(admin)
    p = new_patient(client, auth, "P-300")
    aid = analysed(client, auth, settings, patient_id="P-300")
    s = client.post(
        f"/v1/patients/{p['id']}/sessions",
        json={"date": "2026-01-05", "notes": "first visit", "assessment_ids": [aid]},
        headers=auth,
    ).json()
    client.post(f"/v1/patients/{p['id']}/outcomes", json={"instrument": "nrs", "site": "leg", "value": 6}, headers=auth)

    r = client.patch(
        f"/v1/patients/{p['id']}/sessions/{s['id']}",
        json={"notes": "first visit, leg pain 6/10", "date": "2026-01-06"},
        headers=auth,
    )
    assert r.status_code == 200 and r.json()["date"] == "2026-01-06" and r.json()["assessment_ids"] == [aid]
    event = audit_of(client, auth, entity_type="session", entity_id=s["id"])[0]
    assert event["before"] == {"patient_id": p["id"], "session_date": "2026-01-05", "notes": "first visit"}
    assert event["after"]["notes"] == "first visit, leg pain 6/10"

    assert client.delete(f"/v1/patients/{p['id']}", headers=auth).status_code == 204
    assert client.get(f"/v1/patients/{p['id']}", headers=auth).status_code == 404
    kept = client.get(f"/v1/assessments/{aid}", headers=auth).json()
    assert kept["status"] == "done" and kept["patient_id"] is None  # unlinked, not deleted
    event = audit_of(client, auth, entity_type="patient", entity_id=p["id"])[0]  # the trail outlives the patient
    assert event["action"] == "patient.delete"
    assert event["before"]["code"] == "P-300" and event["before"]["sessions"] == 1 and event["before"]["outcomes"] == 1
    assert event["after"]["assessments_unlinked"] == [aid]
    # the assessment can join another patient's session now
    q = new_patient(client, auth, "P-301")
    r = client.post(f"/v1/patients/{q['id']}/sessions", json={"assessment_ids": [aid]}, headers=auth)
    assert r.status_code == 201, r.text
