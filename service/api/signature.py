"""``/v1/patients/{id}/signature`` (motion signature per session) and ``/v1/patients/{id}/fhir`` (FHIR R4 export).

Routes only: the signature is :mod:`service.signature`'s, the export :mod:`service.fhir`'s.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response

from service.auth import Principal
from service.deps import SessionDep, require
from service.fhir import patient_fhir
from service.signature import PatientSignature, patient_signature

router = APIRouter(prefix="/v1/patients", tags=["patients"])


# -- routes ----------------------------------------------------------------------------------


@router.get("/{patient_id}/signature", response_model=PatientSignature, name="get_signature")
def get_signature(
    patient_id: str, session: SessionDep, principal: Annotated[Principal, require("patients:read")]
) -> PatientSignature:
    """Per session (date order): the motion signature, its distance to the first session and to typical values."""
    return patient_signature(session, principal, patient_id)


@router.get(
    "/{patient_id}/fhir",
    name="get_fhir_bundle",
    response_class=Response,
    responses={200: {"content": {"application/fhir+json": {}}, "description": "a FHIR R4 Bundle (type collection)"}},
)
def get_fhir(
    patient_id: str, session: SessionDep, principal: Annotated[Principal, require("patients:read")]
) -> Response:
    """The patient as a FHIR R4 Bundle: Patient, ODI QuestionnaireResponses and scores, NRS and motion Observations."""
    return Response(patient_fhir(session, principal, patient_id), media_type="application/fhir+json; fhirVersion=4.0")
