"""Submit a video, wait for the assessment, file it under a patient's session with a pain rating, then
read the progress, sign off the findings and fetch the annotated video, the report and the FHIR Bundle.

    pip install ./clients        # motionscript-client: httpx + pydantic, no pose model
    MOTIONSCRIPT_URL=http://127.0.0.1:8000 MOTIONSCRIPT_API_KEY=ms_... python docs/examples/sdk_quickstart.py clip.mp4

The key needs the clinician (or admin) role: an app key may submit and read assessments and record
questionnaires, but not look up or create patients, sessions, reviews or reports (403 Forbidden).
"""

import os
import sys

from motionscript_client import Client

video = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/video/pose2sim_cam01.mp4"

with Client(os.environ.get("MOTIONSCRIPT_URL", "http://127.0.0.1:8000")) as ms:  # key: MOTIONSCRIPT_API_KEY
    accepted = ms.create_assessment(video, exercise="squat", patient_id="p-0042")
    assessment = ms.wait(accepted.id, timeout_s=600)
    print(f"{assessment.id}: {assessment.view.view} view, {assessment.input.frames_read} frames")
    for metric in assessment.metrics:
        if metric.measurable and metric.source == "protocol":
            print(f"  {metric.name} = {metric.value} {metric.unit} (95 % interval {metric.ci95})")
    for event in assessment.events:
        print(f"  {event.type} {event.side or ''} {event.start_s:.2f}-{event.end_s} s")
    for advice in assessment.coaching:
        print(f"  coaching: {advice.message}")

    patient = next(ms.list_patients(code="p-0042"), None) or ms.create_patient("p-0042", birth_year=1980)
    session = ms.create_session(patient.id, assessment_ids=[accepted.id], notes="first visit")
    ms.record_nrs(patient.id, 6, site="leg", session_id=session.id)
    for series in ms.get_progress(patient.id).series:
        print(f"  progress {series.measure}: {[point.value for point in series.points]} {series.unit}")

    for finding in ms.list_findings(accepted.id).items:
        print(f"  finding {finding.index} {finding.code} ({finding.severity}): {finding.message}")
        ms.review_finding(accepted.id, finding.index, "sign_off")

    with open("overlay.mp4", "wb") as f:
        f.write(ms.get_overlay(accepted.id))  # skeleton, pelvis line, angles and events drawn on the video
    with open("report.pdf", "wb") as f:
        f.write(ms.get_report_pdf(patient.id, session.id))
    bundle = ms.get_fhir_bundle(patient.id)
    print(f"FHIR {bundle['type']} Bundle with {len(bundle['entry'])} resources; wrote overlay.mp4 and report.pdf")
