"""A clinic's day in the clinician app: real Chromium, a real ``motionscript serve``, real recordings.

A clinician creates a patient, records a baseline ODI at the first visit, uploads a real walk
(``sports2d_walker.mp4``, analysed by the real pose model) at the second, corrects a finding's
severity with a note, links the single-leg stance the patient's phone app sent (landmarks of
the synthetic-truth stance: a 6 deg pelvic drop on the right leg) and approves its exercise,
enters the second ODI, sees the progress chart against the MCID and downloads the PDF, whose
text must show the review, the corrected severity and the approval.

Every step is photographed at phone (390x844) and desktop (1280x800) size into
``tests/artifacts/web/day/``; with ``MOTIONSCRIPT_DOCS_IMG=1`` into ``docs/img/`` for
``docs/web.md``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

from service import catalogue as K
from tests.conftest import FIXTURES
from tests.service._servers import Processes, cli, free_port, service_env, wait_ready
from tests.web.conftest import ARTIFACTS

pytestmark = pytest.mark.slow

pdfium = pytest.importorskip("pypdfium2")

REPO = Path(__file__).resolve().parents[2]
SIZES = {"phone": (390, 844), "desktop": (1280, 800)}
CODE = "P-0107"
REVIEWER = "A. Physio"
EMAIL = "a.physio@day-clinic.test"
PASSWORD = "correct horse battery staple"


def _shots_dir() -> Path:
    if os.environ.get("MOTIONSCRIPT_DOCS_IMG") == "1":
        return REPO / "docs" / "img"
    return ARTIFACTS / "day"


class Camera:
    """Screenshots of one step at both sizes; the page is put back to desktop size afterwards."""

    def __init__(self, page) -> None:
        self.page = page
        self.dir = _shots_dir()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.taken: list[Path] = []

    def __call__(self, name: str, focus: str | None = None) -> None:
        for size, (w, h) in SIZES.items():
            self.page.set_viewport_size({"width": w, "height": h})
            self.page.wait_for_timeout(250)  # layout and SVG settle at the new width
            if focus:
                # scrolled as far as a person would to see it: not at all when it is on the first screen
                self.page.evaluate("() => window.scrollTo(0, 0)")
                self.page.locator(focus).first.evaluate("(e) => e.scrollIntoView({ block: 'nearest' })")
            else:
                self.page.evaluate("() => window.scrollTo(0, 0)")
            path = self.dir / f"web-day-{name}-{size}.png"
            self.page.screenshot(path=str(path))
            _shrink(path)
            self.taken.append(path)
        self.page.set_viewport_size({"width": SIZES["desktop"][0], "height": SIZES["desktop"][1]})


def _shrink(path: Path) -> None:
    """A 128-colour palette: screenshots of forms and charts stay sharp at a fraction of the size."""
    from PIL import Image

    with Image.open(path) as im:
        im.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    """A fresh server (SQLite, one local worker) with a clinician's key labelled with their name and an app key."""
    root = tmp_path_factory.mktemp("day")
    (root / "logs").mkdir()
    env = service_env(data_dir=root / "var", workers=1)
    # the test's own checks read the API with a key; the clinician logs in as a person
    clinician = cli(
        "keys", "create", "--clinic", "Day Clinic", "--role", "clinician", "--label", "test checks", env=env, cwd=root
    ).strip()
    app = cli("keys", "create", "--clinic", "Day Clinic", "--role", "app", "--label", "patient app", env=env, cwd=root)
    added = subprocess.run(
        [sys.executable, "-m", "service.cli", "users", "add", "--clinic", "Day Clinic", "--email", EMAIL,
         "--name", REVIEWER, "--role", "clinician", "--password-stdin"],
        input=PASSWORD, env=env, cwd=root, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    procs = Processes(root / "logs")
    port = free_port()
    try:
        proc = procs.serve("serve", port, env=env, cwd=root)
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, proc, timeout_s=120)
        yield {"base": base, "clinician": clinician, "app": app.strip(), "root": root}
    finally:
        procs.close()
        procs.dump_logs(60)


def _wait_done(base: str, key: str, aid: str, timeout_s: float = 300) -> dict:
    h = {"Authorization": f"Bearer {key}"}
    deadline = time.monotonic() + timeout_s
    while (a := httpx.get(f"{base}/v1/assessments/{aid}", headers=h).json())["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline, f"assessment still {a['status']}"
        time.sleep(1)
    assert a["status"] == "done", a
    return a


def _odi(page, answers: dict[str, int | None]) -> None:
    form = page.get_by_test_id("odi-form")
    for section, value in answers.items():
        form.get_by_test_id(f"odi-{section}").select_option("" if value is None else str(value))


ODI_FIRST = dict(
    pain_intensity=3,
    personal_care=2,
    lifting=3,
    walking=2,
    sitting=3,
    standing=2,
    sleeping=2,
    sex_life=None,
    social_life=2,
    travelling=3,
)  # 22 of 45: 48.9 %
ODI_SECOND = dict(
    pain_intensity=1,
    personal_care=1,
    lifting=2,
    walking=1,
    sitting=1,
    standing=1,
    sleeping=1,
    sex_life=None,
    social_life=1,
    travelling=1,
)  # 10 of 45: 22.2 %


def test_a_clinic_day_from_a_new_patient_to_the_signed_pdf(browser, console, clinic, tmp_path):
    base = clinic["base"]
    console.expect("status of 401")  # GET /v1/auth/me before logging in: the app goes to the login page
    h = {"Authorization": f"Bearer {clinic['clinician']}"}
    context = browser.new_context(viewport={"width": 1280, "height": 800}, device_scale_factor=1, accept_downloads=True)
    page = context.new_page()
    page.on("console", lambda m: console.seen.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: console.seen.append(f"page error: {e}"))
    shoot = Camera(page)
    try:
        # 1. the clinician opens the app and is sent to log in; then back to the app, named in the header
        page.goto(f"{base}/app/clinician")
        page.get_by_test_id("login-form").wait_for()
        assert "/app/login" in page.url
        page.get_by_test_id("login-email").fill(EMAIL)
        page.get_by_test_id("login-password").fill(PASSWORD)
        shoot("00-login", '[data-testid="login-form"]')
        page.get_by_test_id("login-submit").click()
        page.get_by_test_id("new-patient").wait_for()
        assert page.get_by_test_id("whoami").inner_text().startswith(f"{REVIEWER} · clinician · Day Clinic")

        # 2. a new patient
        page.get_by_test_id("patient-code").fill(CODE)
        page.get_by_test_id("patient-birth-year").fill("1968")
        page.get_by_test_id("patient-sex").select_option("female")
        shoot("01-new-patient", '[data-testid="new-patient"]')
        page.get_by_test_id("create-patient").click()
        page.get_by_test_id("patient-title").filter(has_text=CODE).wait_for()
        pid = httpx.get(f"{base}/v1/patients?code={CODE}", headers=h).json()["items"][0]["id"]
        assert f"p={pid}" in page.url

        # 3. the first visit, four weeks ago: baseline ODI
        first_day = date.today() - timedelta(days=28)
        page.get_by_test_id("session-date").fill(first_day.isoformat())
        page.get_by_test_id("session-notes").fill("first visit, low back pain with right leg pain")
        page.get_by_test_id("create-session").click()
        page.get_by_test_id("odi-form").wait_for()
        _odi(page, ODI_FIRST)
        assert page.get_by_test_id("odi-preview").inner_text() == "48.9 % (1 unanswered)"
        shoot("02-odi-first-visit", '[data-testid="odi-form"]')
        page.get_by_test_id("odi-submit").click()
        page.get_by_test_id("session-outcomes").filter(has_text="ODI 48.9%").wait_for()

        # 4. the second visit, today: upload a real walk
        page.get_by_test_id("crumbs").get_by_role("link", name=CODE).click()
        page.get_by_test_id("progress-empty").wait_for()  # one ODI: no chart yet
        page.get_by_test_id("create-session").click()
        page.get_by_test_id("upload-form").wait_for()
        sid2 = page.url.split("s=")[1]
        page.get_by_test_id("upload-exercise").select_option("gait")
        page.get_by_test_id("upload-file").set_input_files(str(FIXTURES / "video" / "sports2d_walker.mp4"))
        shoot("03-upload", '[data-testid="upload-form"]')
        page.get_by_test_id("upload-submit").click()
        page.locator('[data-testid="assessment"][data-status="done"]').wait_for(timeout=300_000)
        walk_id = page.get_by_test_id("assessment").get_attribute("data-id")
        walk = httpx.get(f"{base}/v1/assessments/{walk_id}", headers=h).json()
        assert walk["patient_id"] == CODE and walk["input_kind"] == "video"
        session = httpx.get(f"{base}/v1/patients/{pid}", headers=h).json()["sessions"]
        assert [s["assessment_ids"] for s in session if s["id"] == sid2] == [[walk_id]]

        # the recording sits beside its plot: on a desktop side by side, the plot's top within the first screen
        page.wait_for_function(
            "() => document.querySelector('[data-testid=\"video\"]').readyState >= 2", timeout=60_000
        )
        video_box = page.get_by_test_id("video").bounding_box()
        plot_box = page.get_by_test_id("plot-svg").bounding_box()
        assert plot_box["x"] > video_box["x"] + video_box["width"] - 1 and plot_box["y"] < 800
        # labels, not raw series names
        legend = page.get_by_test_id("legend").inner_text()
        assert "Hip flexion (left)" in legend and "hip_flexion_left_deg" not in legend
        shoot("04-recording-beside-plot")
        page.set_viewport_size({"width": 390, "height": 844})
        page.evaluate("() => window.scrollTo(0, 0)")
        plot_top = page.get_by_test_id("plot-svg").bounding_box()["y"]
        assert plot_top < 844 * 1.5, plot_top  # on a phone the plot follows the video, not 4000 px below
        page.set_viewport_size({"width": 1280, "height": 800})

        # 5. review: correct the severity of an inconclusive finding (with a note)
        target = page.locator('[data-testid="finding"][data-severity="inconclusive"]').first
        target.wait_for()
        index = int(target.get_attribute("data-index"))
        original = walk["findings"][index]
        assert original["severity"] == "inconclusive"
        target.get_by_test_id("correct-box").locator("summary").click()
        target.get_by_test_id("correct-severity").select_option("info")
        target.get_by_test_id("review-note").fill("steps even on observation; treadmill video agrees")
        shoot("05-review-finding", f'[data-testid="finding"][data-index="{index}"]')
        target.get_by_test_id("correct").click()
        done = page.locator(f'[data-testid="finding"][data-index="{index}"][data-severity="info"]')
        done.get_by_test_id("review-status").filter(has_text=f"Corrected by {REVIEWER},").wait_for()
        # the severity as its plain title (service/catalogue.py), never the bare code; the key says what it means
        assert f"(was {K.severity_title('inconclusive')})" in done.inner_text()
        assert done.get_by_test_id("finding-severity").inner_text() == K.severity_title("info")
        assert "inconclusive" not in done.get_by_test_id("finding-severity").inner_text()
        key = page.get_by_test_id("severity-key").inner_text()
        assert f"{K.severity_title('info')}: {K.severity_meaning('info')}" in key
        stored = httpx.get(f"{base}/v1/assessments/{walk_id}/findings", headers=h).json()["items"][index]["review"]
        assert stored["status"] == "corrected" and stored["correction"] == {"severity": "info"}
        shoot("06-finding-corrected", f'[data-testid="finding"][data-index="{index}"]')

        # 6. the patient's phone app sent a single-leg stance (landmarks); the clinician links it and approves
        from tests.service.test_reports import stance_landmarks

        r = httpx.post(
            f"{base}/v1/assessments",
            headers={"Authorization": f"Bearer {clinic['app']}", "Content-Type": "application/json"},
            content=json.dumps({**stance_landmarks(0.0, seed=3), "exercise": "single_leg_stance", "patient_id": CODE}),
            timeout=60,
        )
        assert r.status_code == 202, r.text
        stance_id = r.json()["id"]
        stance = _wait_done(base, clinic["clinician"], stance_id)
        assert any(f["severity"] == "attention" for f in stance["findings"])  # truth: a 6 deg drop on the right leg
        page.goto(f"{base}/app/clinician#p={pid}&s={sid2}")
        page.locator(f'[data-testid="unlinked-item"][data-id="{stance_id}"]').wait_for()
        shoot("07-link-recording", '[data-testid="unlinked"]')
        page.get_by_test_id("link-assessment").click()
        page.locator(f'[data-testid="assessment-link"][data-id="{stance_id}"]').click()
        # the evidence prints the interval the finding's words print (the same rounding as the report)
        page.get_by_test_id("finding").first.wait_for()
        for f in page.get_by_test_id("finding").all():
            said = re.search(
                r"95 % range \(?(-?[\d.]+) to (-?[\d.]+)", f.get_by_test_id("finding-message").inner_text()
            )
            if said:
                shown = f.get_by_test_id("evidence").inner_text().replace("\u2212", "-")
                assert f"95 % interval {said[1]} to {said[2]}" in shown, (said[0], shown)
        suggestion = page.locator('[data-testid="suggestion"]').first
        suggestion.wait_for()
        name = suggestion.locator("strong").inner_text()
        suggestion.get_by_test_id("decision-sets").fill("2")
        suggestion.get_by_test_id("decision-note").fill("start with 2 sets, review in 2 weeks")
        suggestion.get_by_test_id("approve").click()
        approved = page.locator('[data-testid="suggestion"][data-status="approved"]').first
        approved.get_by_test_id("decision-status").filter(has_text=f"Approved by {REVIEWER},").wait_for()
        decided = httpx.get(f"{base}/v1/assessments/{stance_id}/suggestions", headers=h).json()["items"]
        assert [s["status"] for s in decided if s["exercise"]["name"] == name][0] == "approved"
        shoot("08-suggestion-approved", '[data-testid="suggestions"]')

        # 7. the second ODI, then the progress chart against the 10-point MCID
        page.goto(f"{base}/app/clinician#p={pid}&s={sid2}")
        page.get_by_test_id("odi-form").wait_for()
        _odi(page, ODI_SECOND)
        assert page.get_by_test_id("odi-preview").inner_text() == "22.2 % (1 unanswered)"
        page.get_by_test_id("odi-submit").click()
        page.get_by_test_id("session-outcomes").filter(has_text="ODI 22.2%").wait_for()
        page.get_by_test_id("crumbs").get_by_role("link", name=CODE).click()
        chart = page.locator('[data-testid="progress-chart"][data-measure="odi"]')
        chart.wait_for()
        assert chart.get_by_test_id("progress-point").count() == 2
        assert chart.get_by_test_id("progress-band").count() == 1  # baseline +- MCID
        assert "improved" in chart.text_content() and "Oswestry Disability Index (ODI) (%)" in chart.text_content()
        shoot("09-progress-chart", '[data-testid="progress"]')

        # 8. the report: the PDF's text shows the review, the corrected severity and the approval
        page.locator(f'[data-testid="session"][data-id="{sid2}"] [data-testid="session-link"]').click()
        page.get_by_test_id("download-pdf").wait_for()
        shoot("10-report-download", '[data-testid="download-pdf"]')
        with page.expect_download() as info:
            page.get_by_test_id("download-pdf").click()
        download = info.value
        assert download.suggested_filename == f"motionscript-report-{CODE}-{date.today().isoformat()}.pdf"
        pdf_path = tmp_path / download.suggested_filename
        download.save_as(pdf_path)
        doc = pdfium.PdfDocument(str(pdf_path))
        try:
            texts = []
            for i, pg in enumerate(doc):
                tp = pg.get_textpage()
                texts.append(" ".join(tp.get_text_range().split()))
                tp.close()
                if i < 3:
                    pg.render(scale=110 / 72).to_pil().save(shoot.dir / f"web-day-11-report-p{i + 1}.png")
                    _shrink(shoot.dir / f"web-day-11-report-p{i + 1}.png")
                pg.close()
        finally:
            doc.close()
        text = " ".join(texts)
        assert f"{K.severity_title('info')} (was {K.severity_title('inconclusive')})" in text
        assert f"Corrected by {REVIEWER}" in text and "treadmill video agrees" in text
        assert f"Severity corrected from {K.severity_title('inconclusive')} to {K.severity_title('info')}" in text
        assert f"Approved by {REVIEWER}" in text and "start with 2 sets" in text and "2 sets ×" in text
        assert "Walking" in text and "Single-leg stance" in text
        assert "MCID 10 points" in text and "unanswered: sex life" in text
        assert "hip_flexion_left_deg" not in text and "turn the phone" not in text

        # 9. the day ends: logging out sends the page to the login, and the session is refused at once
        page.get_by_test_id("logout").click()
        page.get_by_test_id("login-form").wait_for()
        assert page.request.get(f"{base}/v1/patients").status == 401
    finally:
        context.close()
    assert not console.unexpected(), "\n".join(console.unexpected())
