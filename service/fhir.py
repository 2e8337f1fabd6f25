"""FHIR R4 export of one patient: a ``collection`` Bundle built through ``fhir.resources`` models.

Contents: the pseudonymous ``Patient`` (identifier = the clinic's code only),
each Oswestry questionnaire as a ``QuestionnaireResponse`` plus its score as an
``Observation`` (LOINC 97909-6), each pain NRS as an ``Observation`` (LOINC
72514-3), and each metric of the patient's finished assessments as an
``Observation`` with a UCUM ``valueQuantity`` (or ``dataAbsentReason`` when it
was not measurable), its side as a ``component``, and its confidence and 95 %
interval in ``note``.

Library: no ``fhir.resources`` release ships FHIR R4 (4.0.1) models for
pydantic 2 (6.4.0 is R4 on pydantic 1 only; 6.5 and later default to R4B or R5),
so resources are validated with the ``fhir.resources.R4B`` (4.3.0) models, whose
Patient, Observation, Bundle and QuestionnaireResponse are the same as R4's; the
tests also parse every export with ``fhirclient``'s models generated from 4.0.1.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from sqlalchemy import select

from kinematics.errors import InputError
from kinematics.outcomes import ODI_SECTIONS, ODI_SOURCE, score_odi
from service.auth import Principal
from service.domain_errors import DomainError, StoredDataError

__all__ = [
    "FHIR_VERSION",
    "LOCAL_SYSTEM",
    "UCUM",
    "FhirExportError",
    "SessionAssessment",
    "bundle_json",
    "fhir_for_code",
    "patient_bundle",
    "patient_fhir",
    "ucum",
]

FHIR_VERSION = "4.0.1"
UCUM_SYSTEM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
# The project's own code systems. `.invalid` (RFC 2606) cannot resolve: these codes belong to no
# published terminology, and a receiving system maps them (docs/outcomes.md, "FHIR export").
LOCAL_SYSTEM = "http://motionscript.invalid/fhir/CodeSystem"
_ID_NAMESPACE = uuid.UUID("4f3c8a52-7d1e-4b8e-9a57-0d6f1c2e9b31")  # stable resource ids across exports

# The project's units -> UCUM (code, human-readable unit). Anything else is refused.
UCUM: dict[str, tuple[str, str]] = {
    "deg": ("deg", "deg"),
    "deg/s": ("deg/s", "deg/s"),
    "s": ("s", "s"),
    "1/min": ("/min", "/min"),
    "1": ("1", "1"),
    "%": ("%", "%"),
    "m": ("m", "m"),
    "px": ("{pixel}", "pixel"),  # UCUM annotation: dimensionless count of image pixels
}

_ODI_TEXT = {
    "pain_intensity": "Pain intensity",
    "personal_care": "Personal care (washing, dressing, etc.)",
    "lifting": "Lifting",
    "walking": "Walking",
    "sitting": "Sitting",
    "standing": "Standing",
    "sleeping": "Sleeping",
    "sex_life": "Sex life (if applicable)",
    "social_life": "Social life",
    "travelling": "Travelling",
}
_SIDE = {"left": ("7771000", "Left"), "right": ("24028007", "Right")}
_METHOD = (
    "markerless video: pose estimation ({model}) and the motionscript kinematics model; "
    "camera-plane angles, see the assessment's conventions"
)


class FhirExportError(InputError):
    """Stored data that cannot be expressed in FHIR (e.g. a unit with no UCUM mapping); the message names it."""


@dataclass(frozen=True)
class SessionAssessment:
    """A finished assessment's document, its id and time, and its session's date (if linked)."""

    id: str
    created_at: datetime
    result: dict
    session_date: date | None = None


def ucum(unit: str, *, what: str) -> tuple[str, str]:
    """UCUM ``(code, unit)`` of one of the project's units; unknown units raise :class:`FhirExportError`."""
    try:
        return UCUM[unit]
    except KeyError:
        raise FhirExportError(
            f"{what}: unit {unit!r} has no UCUM mapping; mapped units are {', '.join(repr(u) for u in UCUM)}"
        ) from None


def _rid(*parts: str) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, "/".join(parts)))


def _iso(at: datetime) -> str:
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return at.isoformat().replace("+00:00", "Z")


def _concept(system: str, code: str, display: str, text: str | None = None) -> dict:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": text or display}


def _category(code: str, display: str) -> list[dict]:
    return [_concept("http://terminology.hl7.org/CodeSystem/observation-category", code, display)]


def _patient(patient) -> Patient:
    body: dict = {
        "resourceType": "Patient",
        "id": patient.id,
        "identifier": [{"system": f"{LOCAL_SYSTEM}/patient-code", "value": patient.code}],
    }
    if patient.sex is not None:
        body["gender"] = {"female": "female", "male": "male", "other": "other"}[patient.sex]
    if patient.birth_year is not None:
        body["birthDate"] = f"{patient.birth_year:04d}"  # year only: FHIR date allows YYYY
    return Patient.model_validate(body)


def _odi(o, subject: dict) -> list:
    qr_id = _rid("odi-response", o.id)
    scored = score_odi(o.answers)
    items = []
    for section in ODI_SECTIONS:
        item: dict = {"linkId": section, "text": _ODI_TEXT[section]}
        if o.answers.get(section) is not None:
            item["answer"] = [{"valueInteger": int(o.answers[section])}]
        items.append(item)
    qr = QuestionnaireResponse.model_validate(
        {
            "resourceType": "QuestionnaireResponse",
            "id": qr_id,
            "status": "completed",
            "subject": subject,
            "authored": _iso(o.recorded_at),
            "identifier": {"system": f"{LOCAL_SYSTEM}/outcome", "value": o.id},
            "item": items,
        }
    )
    obs = Observation.model_validate(
        {
            "resourceType": "Observation",
            "id": _rid("odi-score", o.id),
            "status": "final",
            "category": _category("survey", "Survey"),
            "code": _concept(LOINC, "97909-6", "Oswestry disability index score ODI"),
            "subject": subject,
            "effectiveDateTime": _iso(o.recorded_at),
            "valueQuantity": {"value": o.score, "unit": "%", "system": UCUM_SYSTEM, "code": "%"},
            "derivedFrom": [{"reference": f"urn:uuid:{qr_id}"}],
            "note": [{"text": f"band: {scored.band}; {scored.answered} of 10 sections answered; scoring {ODI_SOURCE}"}],
        }
    )
    return [qr, obs]


def _nrs(o, subject: dict) -> Observation:
    body: dict = {
        "resourceType": "Observation",
        "id": _rid("nrs", o.id),
        "status": "final",
        "category": _category("survey", "Survey"),
        "code": _concept(LOINC, "72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - Reported"),
        "subject": subject,
        "effectiveDateTime": _iso(o.recorded_at),
        "valueInteger": int(o.score),
    }
    if o.site is not None:
        body["bodySite"] = {"text": {"leg": "leg (sciatica: leg pain)", "back": "back"}[o.site]}
    return Observation.model_validate(body)


def _metric(a: SessionAssessment, i: int, m: dict, subject: dict) -> Observation:
    exercise = a.result.get("exercise")
    name = m["name"]
    what = f"assessment {a.id} metric {name}"
    code, unit = ucum(m.get("unit", ""), what=what)
    model = (a.result.get("model") or {}).get("name") or "client-side landmarks"
    body: dict = {
        "resourceType": "Observation",
        "id": _rid("metric", a.id, str(i)),
        "status": "final",
        "category": _category("exam", "Exam"),
        "code": {
            "coding": [{"system": f"{LOCAL_SYSTEM}/metric", "code": name}],
            "text": f"{name} ({exercise})" if exercise else name,
        },
        "subject": subject,
        "effectiveDateTime": _iso(a.created_at),
        "identifier": [{"system": f"{LOCAL_SYSTEM}/assessment-metric", "value": f"{a.id}#{i}"}],
        "method": {"text": _METHOD.format(model=model)},
    }
    notes = []
    if m.get("measurable", True) and m.get("value") is not None:
        body["valueQuantity"] = {"value": m["value"], "unit": unit, "system": UCUM_SYSTEM, "code": code}
    else:
        body["dataAbsentReason"] = _concept(
            "http://terminology.hl7.org/CodeSystem/data-absent-reason",
            "unknown",
            "Unknown",
            f"not measurable: {m.get('reason') or 'no reason given'}",
        )
    if m.get("side") is not None:
        body["component"] = [
            {
                "code": {"coding": [{"system": f"{LOCAL_SYSTEM}/metric-part", "code": "side"}], "text": "body side"},
                "valueCodeableConcept": _concept(SNOMED, *_SIDE[m["side"]]),
            }
        ]
    if m.get("ci95"):
        lo, hi = m["ci95"]
        notes.append(f"95 % interval {lo:g} to {hi:g} {m['unit']}")
    if m.get("confidence") is not None:
        notes.append(f"confidence {m['confidence']:g} (mean sample confidence x coverage, 0-1)")
    if m.get("coverage") is not None:
        notes.append(f"coverage {m['coverage']:g} of samples measured")
    if a.session_date is not None:
        notes.append(f"session {a.session_date.isoformat()}")
    if notes:
        body["note"] = [{"text": "; ".join(notes)}]
    return Observation.model_validate(body)


def patient_bundle(
    patient, outcomes: Iterable, assessments: Sequence[SessionAssessment], *, at: datetime | None = None
) -> Bundle:
    """The patient's FHIR Bundle (type ``collection``); every resource is validated by its model on construction.

    ``patient`` and ``outcomes`` are the stored rows (``Patient``, ``OutcomeRow``): anything with their attributes.
    Raises :class:`FhirExportError` for a metric whose unit has no UCUM mapping.
    """
    at = at or datetime.now(UTC)
    subject = {"reference": f"urn:uuid:{patient.id}"}
    resources: list = [_patient(patient)]
    for o in outcomes:
        resources += _odi(o, subject) if o.instrument == "odi" else [_nrs(o, subject)]
    for a in assessments:
        resources += [_metric(a, i, m, subject) for i, m in enumerate(a.result.get("metrics") or [])]
    return Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "id": _rid("bundle", patient.id, _iso(at)),
            "type": "collection",
            "timestamp": _iso(at),
            "entry": [{"fullUrl": f"urn:uuid:{r.id}", "resource": r} for r in resources],
        }
    )


def bundle_json(bundle: Bundle) -> str:
    """FHIR JSON: no nulls, no empty elements (what ``fhir.resources`` writes)."""
    return json.dumps(json.loads(bundle.model_dump_json(exclude_none=True)), ensure_ascii=False)


# -- from the stored rows ------------------------------------------------------------------


def patient_fhir(session, principal: Principal, patient_id: str) -> str:
    """The patient (by id, within the principal's clinic) as FHIR JSON; NotFound for another clinic's."""
    from service.progress import patient_or_404
    from service.signature import assessment_doc, session_docs
    from service.store.models import OutcomeRow

    p = patient_or_404(session, principal, patient_id)
    outcomes = list(
        session.scalars(
            select(OutcomeRow).where(OutcomeRow.patient_id == p.id).order_by(OutcomeRow.recorded_at, OutcomeRow.id)
        )
    )
    assessments = [
        SessionAssessment(id=a.id, created_at=a.created_at, result=assessment_doc(a), session_date=s.session_date)
        for s, rows in session_docs(session, principal, p.id)
        for a in rows
    ]
    assessments.sort(key=lambda a: (a.created_at, a.id))
    try:
        return bundle_json(patient_bundle(p, outcomes, assessments))
    except FhirExportError as exc:
        raise StoredDataError("fhir-export", f"the patient's data cannot be exported as FHIR: {exc}") from None


def fhir_for_code(session, *, clinic: str, patient_code: str) -> str:
    """The FHIR bundle of a patient named by clinic name and code (the CLI's ``motionscript fhir``)."""
    from service.store.models import Clinic
    from service.store.models import Patient as PatientRow

    clinic_id = session.scalar(select(Clinic.id).where(Clinic.name == clinic))
    if clinic_id is None:
        raise InputError(f"--clinic: no clinic named {clinic!r}")
    pid = session.scalar(
        select(PatientRow.id).where(PatientRow.clinic_id == clinic_id, PatientRow.code == patient_code)
    )
    if pid is None:
        raise InputError(f"--patient: no patient with code {patient_code!r} in clinic {clinic!r}")
    try:
        return patient_fhir(session, Principal(clinic_id=clinic_id, key_id="cli", role="admin"), pid)
    except DomainError as exc:
        raise InputError(exc.detail) from None
