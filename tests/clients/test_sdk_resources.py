"""The SDK's calls beyond assessments, against the real server: patients, sessions, outcomes, progress,
review, reports, FHIR, clinic settings and the webhook secret; each with the roles docs/sdk.md names."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

import motionscript_client as ms_client
from motionscript_client import AsyncClient, Client
from tests.vision.test_landmark_json import document

REPO = Path(__file__).resolve().parents[2]

# Each documented method and the server action it needs (service/auth.py); the doc's roles must be the server's.
ACTIONS = {
    "create_assessment": "assessments:create",
    "get_assessment": "assessments:read",
    "wait": "assessments:read",
    "list_assessments": "assessments:list",
    "delete_assessment": "assessments:delete",
    "analyze_frame": "frames:analyze",
    "export_series": "assessments:read",
    "get_overlay": "assessments:input",
    "get_input": "assessments:input",
    "create_patient": "patients:create",
    "list_patients": "patients:list",
    "get_patient": "patients:read",
    "update_patient": "patients:update",
    "create_session": "sessions:write",
    "update_session": "sessions:write",
    "record_odi": "outcomes:create",
    "get_progress": "patients:read",
    "get_signature": "patients:read",
    "get_report_pdf": "reports:read",
    "get_fhir_bundle": "patients:read",
    "list_findings": "findings:read",
    "review_finding": "findings:review",
    "list_suggestions": "suggestions:read",
    "decide_suggestion": "suggestions:decide",
    "list_audit_events": "audit:read",
    "get_clinic": "clinic:read",
    "get_webhook_secret": "clinic:webhook_secret",
}


def _documented_roles() -> dict[str, set[str]]:
    text = (REPO / "docs" / "sdk.md").read_text()
    table = text[text.index("### Calls and the role each needs") : text.index("### Models")]
    out = {}
    for row in table.splitlines():
        cells = [c.strip() for c in row.strip().strip("|").split(" | ")]
        if len(cells) != 4 or not cells[0].startswith("`"):
            continue
        roles = {r.strip() for r in cells[3].split(",")}
        for name in re.findall(r"`?(\w+)\(", cells[0]):
            out[name] = roles
    return out


def test_docs_name_every_public_method_with_the_roles_the_server_allows():
    from service.auth import _PERMISSIONS  # the tests may look inside the service; the SDK may not

    documented = _documented_roles()
    public = {n for n in dir(Client) if not n.startswith("_") and callable(getattr(Client, n)) and n != "close"}
    assert public <= set(documented), public - set(documented)
    for method, action in ACTIONS.items():
        assert documented[method] == _PERMISSIONS[action], (method, documented[method], _PERMISSIONS[action])
    assert public <= set(dir(AsyncClient))  # the async client has them all


def test_patients_sessions_outcomes_progress_reports_and_fhir(server):
    with Client(server.url, server.clinician_key) as ms:
        a = ms.create_assessment(document(n=60), exercise="single_leg_stance", patient_id="p-sdk-res")
        ms.wait(a.id, timeout_s=60)
        patient = ms.create_patient("p-sdk-res", birth_year=1975, sex="female")
        assert isinstance(patient, ms_client.Patient) and patient.code == "p-sdk-res"
        with pytest.raises(ms_client.Conflict):
            ms.create_patient("p-sdk-res")
        assert [p.id for p in ms.list_patients(code="p-sdk-res")] == [patient.id]
        assert ms.update_patient(patient.id, birth_year=None).birth_year is None
        session = ms.create_session(patient.id, notes="visit 1")
        session = ms.link_assessments(patient.id, session.id, [a.id])
        assert session.assessment_ids == [a.id]
        assert ms.update_session(patient.id, session.id, notes="visit one").notes == "visit one"
        odi = ms.record_odi(patient.id, dict.fromkeys(ODI, 2), session_id=session.id)
        nrs = ms.record_nrs(patient.id, 7, site="leg", session_id=session.id)
        assert odi.instrument == "odi" and odi.score == 40.0 and nrs.score == 7.0 and nrs.site == "leg"
        detail = ms.get_patient(patient.id)
        assert [s.id for s in detail.sessions] == [session.id] and len(detail.outcomes) == 2
        progress = ms.get_progress(patient.id)
        assert {s.measure for s in progress.series} >= {"odi", "nrs_leg"}
        assert isinstance(ms.get_signature(patient.id), dict)
        assert ms.get_report_pdf(patient.id, session.id)[:5] == b"%PDF-"
        assert "<html" in ms.get_report_html(patient.id, session.id).lower()
        bundle = ms.get_fhir_bundle(patient.id)
        assert bundle["resourceType"] == "Bundle" and any(
            e["resource"]["resourceType"] == "QuestionnaireResponse" for e in bundle["entry"]
        )
        assert ms.export_series(a.id).startswith("t_s")
        assert ms.list_findings(a.id).items == [] and ms.list_suggestions(a.id).items == []
        with pytest.raises(ms_client.InvalidInput, match="has no suggestions"):
            ms.decide_suggestion(a.id, 0, "approve")
        audit = list(ms.list_audit_events(entity_type="patient", page_size=1))
        assert audit and all(isinstance(e, ms_client.AuditEvent) for e in audit)
        with pytest.raises(ms_client.Forbidden) as exc:
            ms.get_webhook_secret()
        assert "clinic:webhook_secret" in exc.value.detail
        ms.delete_patient(patient.id)
        with pytest.raises(ms_client.NotFound):
            ms.get_patient(patient.id)
    with Client(server.url, server.app_key) as app, pytest.raises(ms_client.Forbidden):
        app.create_patient("p-app")


def test_clinic_settings_and_webhook_secret_need_an_admin(server):
    with Client(server.url, server.key) as admin:
        clinic = admin.get_clinic()
        assert admin.update_clinic(patient_feedback="signed_off_only").patient_feedback == "signed_off_only"
        admin.update_clinic(patient_feedback=clinic.patient_feedback)
        old = admin.get_webhook_secret()
        new = admin.rotate_webhook_secret()
        assert new.secret != old.secret and admin.get_webhook_secret().fingerprint == new.fingerprint


def test_async_client_has_the_same_calls(server):
    async def run():
        async with AsyncClient(server.url, server.clinician_key) as ms:
            p = await ms.create_patient("p-async-res")
            s = await ms.create_session(p.id)
            o = await ms.record_nrs(p.id, 3, session_id=s.id)
            listed = [x.id async for x in ms.list_patients(code="p-async-res")]
            progress = await ms.get_progress(p.id)
            await ms.delete_patient(p.id)
            return p, o, listed, progress

    p, o, listed, progress = asyncio.run(run())
    assert listed == [p.id] and o.score == 3.0 and isinstance(progress, ms_client.Progress)


ODI = (
    "pain_intensity",
    "personal_care",
    "lifting",
    "walking",
    "sitting",
    "standing",
    "sleeping",
    "sex_life",
    "social_life",
    "travelling",
)
