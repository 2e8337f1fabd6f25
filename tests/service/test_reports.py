"""Session reports (HTML and PDF) built from real assessments, on SQLite and PostgreSQL.

The recordings are the synthetic single-leg stance of ``tests/protocols/synthetic.py`` (known truth:
standing on the right leg from 2.0 s the pelvis tilts to -6 deg, on the left from 11.0 s to +2.5 deg),
sent as landmark JSON through the API and analysed by the real worker.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest

from kinematics.synth import Camera, render
from service import catalogue as K
from service.reports._plots import LINE_COLOUR
from tests.kinematics.conftest import CAMERA_DISTANCE_M, NOISE_PX
from tests.protocols import synthetic as S
from tests.service.conftest import make_key, run_worker_once
from tests.service.test_api import post_landmarks
from tests.service.test_patients import new_patient, odi

pdfium = pytest.importorskip("pypdfium2")

NOTE = 'left leg pain 6/10 <script>alert("x")</script> & "quotes"'
RIGHT_STANCE_S, LEFT_STANCE_S = (2.0, 8.8), (11.0, 16.8)  # the scenario's lift start to landing, seconds


def stance_landmarks(yaw_deg: float, seed: int) -> dict:
    """The single-leg-stance scenario filmed at ``yaw_deg`` (0 facing the camera, 90 side-on) as landmark JSON."""
    sc = S.single_leg_stance()
    image, _ = render(
        sc.pose,
        sc.t_s,
        camera=Camera(yaw_deg=yaw_deg, distance_m=CAMERA_DISTANCE_M),
        pelvis_path_m=sc.path,
        noise_px=NOISE_PX,
        rng=np.random.default_rng(seed),
    )
    frames = [
        {"t_s": round(float(t), 5), "landmarks": [[round(float(c), 6) for c in p] + [0.9] for p in image.xyz[i]]}
        for i, t in enumerate(image.t_s)
    ]
    return {"schema": "blazepose33", "space": "image", "fps": 30, "frames": frames, "image_size": [1080, 1920]}


def _assessment(client, auth, settings, code: str, yaw_deg: float, seed: int) -> str:
    r = post_landmarks(client, auth, stance_landmarks(yaw_deg, seed), exercise="single_leg_stance", patient_id=code)
    assert r.status_code == 202, r.text
    run_worker_once(settings)
    return r.json()["id"]


def _odi_at(percent_sections: list[int]) -> dict:
    from kinematics.outcomes import ODI_SECTIONS

    return odi(None, **dict(zip(ODI_SECTIONS, percent_sections, strict=True)))


@pytest.fixture
def visits(client, auth, settings) -> dict:
    """Three sessions of one patient: two filmed facing the camera, the third side-on (frontal series null)."""
    code = "P-042"
    pid = new_patient(client, auth, code=code)["id"]
    sids = []
    for i, (day, yaw) in enumerate([(date(2026, 10, 1), 0.0), (date(2026, 10, 15), 0.0), (date(2026, 10, 29), 90.0)]):
        aid = _assessment(client, auth, settings, code, yaw, seed=i)
        r = client.post(
            f"/v1/patients/{pid}/sessions",
            headers=auth,
            json={"date": day.isoformat(), "notes": NOTE, "assessment_ids": [aid]},
        )
        assert r.status_code == 201, r.text
        sids.append(r.json()["id"])
    at = [datetime(2026, 10, 1, 9, tzinfo=UTC), datetime(2026, 10, 15, 9, tzinfo=UTC)]
    # ODI 50 % -> 30 % (20 points: beyond the 10-point MCID); leg pain 7 -> 4 (3 points: beyond the 2-point MCID)
    for sid, when, sections, pain in [
        (sids[0], at[0], [3, 3, 3, 3, 3, 2, 2, 2, 2, 2], 7),
        (sids[1], at[1], [2, 2, 2, 2, 1, 1, 1, 1, 1, 2], 4),
    ]:
        for body in (_odi_at(sections), {"instrument": "nrs", "value": pain, "site": "leg"}):
            r = client.post(
                f"/v1/patients/{pid}/outcomes",
                headers=auth,
                json={**body, "session_id": sid, "recorded_at": when.isoformat()},
            )
            assert r.status_code == 201, r.text
    return {"pid": pid, "sids": sids, "code": code}


ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "reports"


def _keep(name: str, data: bytes) -> Path:
    """Keep a rendered report (tests/artifacts is git-ignored) to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / name).write_bytes(data)
    return ARTIFACTS / name


def _url(v: dict, i: int, ext: str) -> str:
    return f"/v1/patients/{v['pid']}/sessions/{v['sids'][i]}/report.{ext}"


def _stored(client, auth, v: dict, i: int) -> dict:
    session = client.get(f"/v1/patients/{v['pid']}", headers=auth).json()["sessions"][i]
    return client.get(f"/v1/assessments/{session['assessment_ids'][0]}", headers=auth).json()


def _figure(body: str, attr: str) -> str:
    m = re.search(rf'<figure class="plot" {attr}>(.*?)</figure>', body, re.S)
    assert m, f"no figure with {attr}"
    return m.group(1)


def _path_points(svg: str, gid: str) -> np.ndarray:
    m = re.search(rf'<g id="{re.escape(gid)}">\s*<path d="([^"]+)"', svg)
    assert m, f"no <g id={gid}> path in the SVG"
    return np.array([float(x) for x in re.findall(r"-?\d+(?:\.\d+)?", m.group(1))]).reshape(-1, 2)


def _extremes_in_time(x: np.ndarray, y_down: np.ndarray, duration_s: float) -> tuple[float, float]:
    """Times (s) of the lowest and the highest value of a plotted line whose x extent is [0, duration]."""
    t = (x - x.min()) / (x.max() - x.min()) * duration_s
    return float(t[np.argmax(y_down)]), float(t[np.argmin(y_down)])


def test_html_report_plots_the_series_findings_and_escapes_stored_text(client, auth, visits):
    r = client.get(_url(visits, 1, "html"), headers=auth)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["content-disposition"] == 'inline; filename="motionscript-report-P-042-2026-10-15.html"'
    assert "default-src 'none'" in r.headers["content-security-policy"] and r.headers["cache-control"] == "no-store"
    body = r.text
    _keep("report-session2.html", body.encode())
    stored = _stored(client, auth, visits, 1)
    t_s = stored["series"]["t_s"]

    # The pelvic obliquity plot: its line is the stored series. Lowest point while standing on the right
    # leg (truth -6 deg), highest while standing on the left (truth +2.5 deg); SVG y grows downwards.
    svg = _figure(body, 'data-series="pelvic_obliquity_deg"')
    xy = _path_points(svg, "series-pelvic_obliquity_deg")
    assert len(xy) > 100
    low_t, high_t = _extremes_in_time(xy[:, 0], xy[:, 1], t_s[-1] - t_s[0])
    assert RIGHT_STANCE_S[0] < low_t < RIGHT_STANCE_S[1] and LEFT_STANCE_S[0] < high_t < LEFT_STANCE_S[1]
    assert "sign: &gt; 0 when the subject&#x27;s LEFT hip is higher" in body
    # the drop threshold (4 deg MDC) is drawn and cited
    assert "pelvic drop limit 4° either side" in body and "J Sport Rehabil 2007;16(4):326" in body
    # every stored finding is in the table with its evidence's threshold and source
    assert stored["findings"], "the synthetic stance should produce findings"
    for f in stored["findings"]:
        assert html.escape(f["message"]) in body
        assert html.escape(f["source"]) in body
    assert body.count("Not reviewed") == len(stored["findings"])
    # each finding's severity is its plain title, in its own cell (the JSON keeps the code), and the key under
    # the table says once what each title shown means
    table = re.search(r"<h3>Findings</h3>(.*?)</table>", body, re.S).group(1)
    cells = re.findall(r'<td data-label="severity">([^<]*)</td>', table)
    assert cells == [K.severity_title(f["severity"]) for f in stored["findings"]], cells
    assert not set(cells) & {"attention", "normal", "inconclusive", "info"}
    key = re.search(r'<ul class="sev-key" data-testid="severity-key">(.*?)</ul>', body, re.S).group(1)
    for code in {f["severity"] for f in stored["findings"]}:
        assert f"<strong>{K.severity_title(code)}</strong>: {html.escape(K.severity_meaning(code))}" in key
    assert key.count("<li>") == len({f["severity"] for f in stored["findings"]})
    # no raw series or metric name reaches the reader: labels and units come from the catalogue
    text = re.sub(r"<svg.*?</svg>|<[^>]+>", " ", body, flags=re.S)
    assert not re.findall(r"\b[a-z]+_[a-z_]+_(?:deg|s|m|pct)\b", text)
    assert "Pelvic drop" in text and "Single-leg stance held" in text
    # the clinician's note is shown, escaped: no markup from stored text reaches the page
    assert "<script" not in body.lower()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;quotes&quot;" in body
    # progress up to this session: ODI 50 -> 30 % judged against the 10-point MCID
    odi_caption = _figure(body, 'data-measure="odi"')
    # ODI scores are percent; the change and the MCID are percentage points, in the same unit
    assert "latest vs baseline \u221220 points (\u221240 % of baseline): improved (MCID 10 points)" in odi_caption
    assert "Ostelo" in odi_caption
    assert "Findings support a clinician&#x27;s judgement; they do not diagnose." in body


def test_progress_stops_at_the_reported_session_and_null_series_get_a_note(client, auth, visits):
    first = client.get(_url(visits, 0, "html"), headers=auth).text
    # the later ODI is not in the first report, and one value gets no chart, only its table row
    assert 'data-measure="odi"' not in first and "<figure" in first
    assert re.search(
        r'<tr class="measure-odi"><td data-label="measure">Oswestry Disability Index \(ODI\)</td>'
        r'<td data-label="unit">%</td><td data-label="values \(oldest first\)">50</td>'
        r'<td data-label="change">baseline only',
        first,
    )
    side_on = client.get(_url(visits, 2, "html"), headers=auth).text
    assert 'id="series-' not in side_on  # nothing plotted for the key series ...
    stored = _stored(client, auth, visits, 2)
    assert stored["series"]["pelvic_obliquity_deg"] is None
    note = html.escape(stored["unavailable"]["pelvic_obliquity_deg"])
    # ... a note instead: both frontal series withheld for the one reason, on one line
    assert stored["unavailable"]["trunk_lean_lateral_deg"] == stored["unavailable"]["pelvic_obliquity_deg"]
    line = f"<b>Pelvic obliquity</b>, <b>Trunk lean, sideways</b> (°): not measurable: {note}</p>"
    assert line in side_on and side_on.count(f"not measurable: {note}") == 1
    # the coaching is for whoever films; the clinician reads why the recording was not scored
    assert stored["coaching"][0]["code"] == "wrong_view"
    assert html.escape(stored["coaching"][0]["message"]) not in side_on and "turn the phone" not in side_on
    note = "Not scored: this exercise is measured facing the camera; the recording shows the patient side-on."
    assert side_on.count(note) == 1  # once, above the measurements
    # the values it left unmeasured give the same reason, in the clinician's words, not the coaching again
    assert "not measurable: this exercise is measured facing the camera; the recording shows the patient side-on." in (
        side_on
    )
    assert "not measurable: Not scored" not in side_on


def _colour_mask(image: np.ndarray, hex_colour: str, tol: float = 40.0) -> np.ndarray:
    rgb = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=float)
    return np.linalg.norm(image[..., :3].astype(float) - rgb, axis=-1) < tol


def _bands(rows: np.ndarray) -> list[tuple[int, int]]:
    """Runs of consecutive row indices (one per plot), allowing gaps of a few pixels inside a line."""
    out: list[tuple[int, int]] = []
    for r in np.unique(rows):
        if out and r - out[-1][1] <= 12:
            out[-1] = (out[-1][0], int(r))
        else:
            out.append((int(r), int(r)))
    return out


def _page_png(pdf_bytes: bytes, tmp_path, name: str, dpi: int = 100) -> tuple[np.ndarray, int, list[str]]:
    doc = pdfium.PdfDocument(pdf_bytes)
    try:
        texts = []
        for page in doc:
            textpage = page.get_textpage()
            texts.append(textpage.get_text_range())
            textpage.close()
            page.close()
        image = doc[0].render(scale=dpi / 72).to_pil()
        image.save(tmp_path / name)
        return np.asarray(image.convert("RGB")), len(doc), texts
    finally:
        doc.close()


def test_pdf_report_has_the_text_and_the_plot_on_page_one(client, auth, visits, tmp_path):
    r = client.get(_url(visits, 1, "pdf"), headers=auth)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF-")
    assert r.headers["content-disposition"] == 'attachment; filename="motionscript-report-P-042-2026-10-15.pdf"'
    image, n_pages, texts = _page_png(r.content, tmp_path, "report-page1.png")
    print(f"page 1 rendered to {tmp_path / 'report-page1.png'}")
    assert n_pages >= 2
    flat = [" ".join(t.split()) for t in texts]
    for i, text in enumerate(flat):  # A4 with a footer on every page that counts them
        assert f"Page {i + 1}/{n_pages}" in text and "they do not diagnose" in text
    everything = " ".join(flat)
    assert "Patient code: P-042" in flat[0] and 'alert("x")' in flat[0]  # text, selectable, not markup
    for f in _stored(client, auth, visits, 1)["findings"]:
        assert " ".join(f["message"].split()) in everything, f["code"]
    doc = pdfium.PdfDocument(r.content)
    try:
        w_pt, h_pt = doc[0].get_size()
    finally:
        doc.close()
    assert (round(w_pt), round(h_pt)) == (595, 842)  # A4 in points

    # The plot: the series colour sits inside the page's text column, in one band per plotted series,
    # and the first band (pelvic obliquity) is lowest during right stance and highest during left stance.
    mask = _colour_mask(image, LINE_COLOUR)
    rows, cols = np.nonzero(mask)
    assert mask.sum() > 1000, mask.sum()
    h, w = mask.shape
    assert cols.min() > w * 15 / 210 and cols.max() < w * 195 / 210  # 15 mm margins
    bands = _bands(rows)
    assert len(bands) == 2, bands  # pelvic obliquity and lateral trunk lean
    top, bottom = bands[0]
    sel = (rows >= top) & (rows <= bottom)
    band_rows, band_cols = rows[sel], cols[sel]
    xs = np.unique(band_cols)
    mean_row = np.array([band_rows[band_cols == x].mean() for x in xs])
    stored = _stored(client, auth, visits, 1)
    low_t, high_t = _extremes_in_time(xs.astype(float), mean_row, stored["series"]["t_s"][-1])
    assert RIGHT_STANCE_S[0] < low_t < RIGHT_STANCE_S[1] and LEFT_STANCE_S[0] < high_t < LEFT_STANCE_S[1]


def test_pdf_of_a_session_whose_series_is_null_has_no_plot_line(client, auth, visits, tmp_path):
    r = client.get(_url(visits, 2, "pdf"), headers=auth)
    assert r.status_code == 200, r.text
    image, _, texts = _page_png(r.content, tmp_path, "report-null-page1.png")
    assert _colour_mask(image, LINE_COLOUR).sum() < 20
    assert "Pelvic obliquity, Trunk lean, sideways (°): not measurable" in " ".join(texts[0].split())


def test_reports_are_clinic_scoped_and_for_clinicians(client, auth, settings, visits):
    other = {"Authorization": f"Bearer {make_key(settings, 'Clinic B')}"}
    app_key = {"Authorization": f"Bearer {make_key(settings, role='app')}"}
    clinician = {"Authorization": f"Bearer {make_key(settings, role='clinician')}"}
    own = new_patient(client, auth, code="P-043")["id"]
    for ext in ("html", "pdf"):
        r = client.get(_url(visits, 0, ext), headers=other)
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
        assert visits["pid"] in r.json()["detail"]
        r = client.get(f"/v1/patients/{own}/sessions/{visits['sids'][0]}/report.{ext}", headers=auth)
        assert r.status_code == 404 and visits["sids"][0] in r.json()["detail"]  # another patient's session
        r = client.get(f"/v1/patients/{visits['pid']}/sessions/not-a-session/report.{ext}", headers=auth)
        assert r.status_code == 404
        assert client.get(_url(visits, 0, ext), headers=app_key).status_code == 403
        assert client.get(_url(visits, 0, ext), headers=clinician).status_code == 200
        assert client.get(_url(visits, 0, ext)).status_code == 401


def test_render_html_escapes_the_patient_code_and_clinic_name():
    from service.reports import ReportModel, render_html

    report = ReportModel(
        patient_code="<script>x()</script>",
        clinic="<b>Clinic & Co</b>",
        session_id="s",
        session_date=date(2026, 11, 2),
        session_notes=None,
        session_number=1,
        generated_at=datetime(2026, 11, 2, tzinfo=UTC),
        assessments=(),
        outcomes=(),
        progress=(),
        sources=(),
    )
    body = render_html(report)
    assert "<script" not in body and "<b>Clinic" not in body
    assert "&lt;script&gt;x()&lt;/script&gt;" in body and "&lt;b&gt;Clinic &amp; Co&lt;/b&gt;" in body


def test_cli_writes_the_report_from_the_local_database(visits, settings, tmp_path, monkeypatch, capsys):
    from service.cli import main

    monkeypatch.setenv("MOTIONSCRIPT_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("MOTIONSCRIPT_DATA_DIR", str(settings.data_dir))
    out = tmp_path / "visit.pdf"
    assert (
        main(["report", "--clinic", "Clinic A", "--patient", "P-042", "--session", "2026-10-15", "--out", str(out)])
        == 0
    )
    _, _, texts = _page_png(out.read_bytes(), tmp_path, "cli-page1.png")
    assert "Session: 2026-10-15 (session 2)" in " ".join(texts[0].split())
    page = tmp_path / "visit.html"
    assert (
        main(
            ["report", "--clinic", "Clinic A", "--patient", "P-042", "--session", visits["sids"][2], "--out", str(page)]
        )
        == 0
    )
    assert "2026-10-29 (session 3)" in page.read_text()
    capsys.readouterr()
    assert (
        main(["report", "--clinic", "Clinic A", "--patient", "P-999", "--session", "2026-10-15", "--out", str(out)])
        == 2
    )
    assert "no patient with code 'P-999'" in capsys.readouterr().err
    assert (
        main(["report", "--clinic", "Clinic B", "--patient", "P-042", "--session", "2026-10-15", "--out", str(out)])
        == 2
    )  # another clinic's patient is not found


def _labelled_key(settings, label: str, role: str = "clinician") -> str:
    from sqlalchemy.orm import Session

    from service.auth import create_key
    from service.store.db import make_engine

    engine = make_engine(settings.sqlalchemy_url)
    with Session(engine) as s:
        key, _ = create_key(s, "Clinic A", role, label=label)  # type: ignore[arg-type]
        s.commit()
    engine.dispose()
    return key


def test_reviews_and_approvals_reach_the_pdf_with_the_corrected_severity(client, auth, settings, visits, tmp_path):
    """Sign off one finding, correct another (attention -> info, with a note), approve its exercise: the PDF says so."""
    physio = {"Authorization": f"Bearer {_labelled_key(settings, 'A. Physio')}"}
    stored = _stored(client, auth, visits, 1)
    aid = stored["id"]
    before = client.get(_url(visits, 1, "pdf"), headers=auth).content
    attention = [i for i, f in enumerate(stored["findings"]) if f["severity"] == "attention"]
    other = [i for i, f in enumerate(stored["findings"]) if f["severity"] != "attention"]
    assert attention and other, [f["severity"] for f in stored["findings"]]  # synthetic truth: a 6 deg drop
    corrected, signed = attention[0], other[0]
    r = client.post(f"/v1/assessments/{aid}/findings/{signed}/review", headers=physio, json={"action": "sign_off"})
    assert r.status_code == 201, r.text
    r = client.post(
        f"/v1/assessments/{aid}/findings/{corrected}/review",
        headers=physio,
        json={"action": "correct", "note": "known hip OA, stable", "correction": {"severity": "info"}},
    )
    assert r.status_code == 201, r.text
    suggestions = client.get(f"/v1/assessments/{aid}/suggestions", headers=physio).json()["items"]
    assert suggestions, "an attention finding the catalogue covers gives a suggestion"
    s = suggestions[0]
    r = client.post(
        f"/v1/assessments/{aid}/suggestions/{s['n']}/decision",
        headers=physio,
        json={"action": "approve", "note": "start gently", "overrides": {"sets": 2}},
    )
    assert r.status_code == 201, r.text

    after = client.get(_url(visits, 1, "pdf"), headers=auth).content
    assert after != before
    _keep("report-session2-reviewed.pdf", after)
    _, n_pages, texts = _page_png(after, tmp_path, "reviewed-page1.png")
    for i in range(n_pages):  # every page as PNG, to look at
        doc = pdfium.PdfDocument(after)
        try:
            doc[i].render(scale=110 / 72).to_pil().save(ARTIFACTS / f"report-session2-reviewed-p{i + 1}.png")
        finally:
            doc.close()
    text = " ".join(" ".join(t.split()) for t in texts)
    # the corrected finding: the clinician's severity replaces the original, which is noted, with who/when/note
    was = f"{K.severity_title('info')} (was {K.severity_title('attention')})"  # titles, never the bare codes
    assert was in text and "info (was attention)" not in text
    # a key's review is named by its label (a person's by their name: tests/web/test_clinic_day.py)
    assert "Corrected by API key 'A. Physio', " in text and "known hip OA, stable" in text
    assert f"Severity corrected from {K.severity_title('attention')} to {K.severity_title('info')}" in text
    assert "Signed off by API key 'A. Physio', " in text
    assert text.count("Not reviewed") == len(stored["findings"]) - 2
    # the approved exercise with its dose after the clinician's override
    assert f"{s['exercise']['name']}" in text or s["exercise"]["name"].split()[0] in text
    assert "2 sets" in text and "Approved by API key 'A. Physio'" in text and "start gently" in text
    # the HTML says the same
    body = client.get(_url(visits, 1, "html"), headers=auth).text
    assert was in body and "Corrected by API key &#x27;A. Physio&#x27;" in body
    assert "Approved by API key &#x27;A. Physio&#x27;" in body
    # the first session's report (another assessment) is untouched by these reviews
    assert "Corrected by" not in client.get(_url(visits, 0, "html"), headers=auth).text


def _series(name: str, values: list[float | None], thresholds=()):
    from service import catalogue as K
    from service.reports.model import KeySeries

    t = tuple(i / 10 for i in range(len(values)))
    return KeySeries(
        name=name,
        unit="deg",
        plane="sagittal",
        convention=f"> 0 when the {name.split('_')[2]} thigh moves forward",
        t_s=t,
        values=tuple(values),
        reason=None,
        thresholds=thresholds,
        label=K.label(name),
        side=K.entry(name).side,
    )


def test_left_and_right_share_a_plot_and_a_far_reference_line_does_not_squash_them():
    from service.reports._plots import LINE_COLOUR, RIGHT_COLOUR, series_figure, to_svg
    from service.reports.model import EventSpan, ThresholdLine, _plots

    ref = ThresholdLine("reference hip flexion (passive range) 110°", (110.0,), "Wilson 2014")
    wave = [20 + 20 * np.sin(i / 8) for i in range(120)]  # 0..40 deg: far below 110
    groups = _plots(
        [
            _series("hip_flexion_left_deg", wave, (ref,)),
            _series("hip_flexion_right_deg", [v + 3 for v in wave], (ref,)),
            _series("pelvic_obliquity_deg", [0.0] * 120),
        ]
    )
    assert [g.key for g in groups] == ["hip_flexion_deg", "pelvic_obliquity_deg"]
    hip = groups[0]
    assert hip.title == "Hip flexion, left and right" and [ks.side for ks in hip.lines] == ["left", "right"]
    assert hip.thresholds == ()  # 110 deg is 67 deg above the highest value: named, not drawn
    assert hip.off_scale and "110°" in hip.off_scale[0] and "above the plotted range" in hip.off_scale[0]
    lo, hi = hip.y_range
    assert lo > -5 and hi < 50, hip.y_range  # the curves fill the axis
    assert "left" not in hip.convention and "right" not in hip.convention
    events = (EventSpan("rep", 1.0, 3.0, None), EventSpan("rep", 5.0, 7.0, None))
    svg = to_svg(series_figure(hip, events))
    assert 'id="series-hip_flexion_left_deg"' in svg and 'id="series-hip_flexion_right_deg"' in svg
    assert LINE_COLOUR.lower() in svg.lower() and RIGHT_COLOUR.lower() in svg.lower()
    # a near threshold is drawn, and event names sit above it on their own background (never struck through)
    near = ThresholdLine("pelvic drop limit 4°", (-4.0, 4.0), "J Sport Rehabil")
    pelvis = _plots([_series("pelvic_obliquity_deg", [0.0, 1.0, -1.0] * 40, (near,))])[0]
    assert pelvis.thresholds == (near,) and pelvis.off_scale == ()
    fig = series_figure(pelvis, events)
    ax = fig.axes[0]
    labels = [t for t in ax.texts if t.get_text() == "repetition"]
    dashed = [ln for ln in ax.lines if ln.get_linestyle() == "--"]
    assert len(labels) == 2 and len(dashed) == 2
    assert all(t.zorder > ln.zorder for t in labels for ln in dashed)
    assert all(t.get_bbox_patch() is not None and t.get_bbox_patch().get_facecolor()[:3] == (1, 1, 1) for t in labels)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    top = max(near.levels)
    for t in labels:  # the label's box lies above the highest threshold line
        box = t.get_bbox_patch().get_window_extent(renderer=canvas.get_renderer())
        y_of_top = ax.transData.transform((0, top))[1]
        assert box.y0 > y_of_top, (box.y0, y_of_top)


def test_catalogue_labels_every_metric_the_protocols_produce():
    """No metric name reaches a report raw: each one any protocol emits is in the catalogue."""
    import pathlib

    from service import catalogue as K

    root = pathlib.Path(__file__).resolve().parents[2] / "kinematics"
    src = "\n".join(p.read_text() for p in root.rglob("*.py"))
    names = set(re.findall(r'ProtocolMetric\(\s*"([a-z_0-9]+)"', src))
    names |= set(re.findall(r'ProtocolMetric\(\s*\n\s*"([a-z_0-9]+)"', src))
    assert len(names) > 20
    assert sorted(n for n in names if n not in K.METRICS) == []
    assert K.fmt_value(7, "1") == "7" and K.fmt_value(6.08, "deg") == "6.1°" and K.fmt_value(0.625, "s", 2) == "0.62 s"
    assert K.label("hip_flexion_asymmetry_deg") == "Hip flexion asymmetry"  # unknown names stay readable
    assert K.fmt_interval([-19.94, 7.78], "deg") == "95 % interval \u221219.9 to 7.8°"


def test_catalogue_titles_every_quality_issue_the_analysis_raises():
    """No quality code reaches a report or a page raw: each one the analysis can raise has a plain title."""
    import pathlib

    from service import catalogue as K

    root = pathlib.Path(__file__).resolve().parents[2]
    src = "\n".join(p.read_text() for d in ("kinematics", "service", "vision") for p in (root / d).rglob("*.py"))
    codes = set(re.findall(r'QualityIssue\(\s*"([a-z_]+)"', src))
    codes |= {f"{side}_knee_not_visible" for side in ("left", "right")}  # f"{side}_knee_not_visible"
    assert {"implausible_angle", "implausible_protocol_angle", "pose_settling", "hips_collapsed"} <= codes
    assert sorted(c for c in codes if c not in K.QUALITY) == []
    assert K.quality_title("some_new_code") == "Some new code"  # an unknown code still reads as words
    notes = K.quality_notes(
        [
            {"code": "pose_settling", "severity": "info", "message": "the first 2 frame(s) ..."},
            {"code": "oblique_view", "severity": "error", "message": "body turned 40 deg"},
            {"code": "implausible_angle", "severity": "warning", "message": "6 angle sample(s) ..."},
        ]
    )
    assert [n.code for n in notes] == ["oblique_view", "implausible_angle", "pose_settling"]
    assert notes[2].text == "The first 2 frame(s) ..." and notes[2].is_note


def test_catalogue_gives_patients_advice_for_every_code_a_live_angle_or_warning_can_carry():
    """Every code a withheld live sample carries (kinematics.withheld) has a title and a patient's advice in the
    one table of codes; every quality issue has a title, and advice unless it is about something no patient can
    change (the file, the app's skeleton, the analysis); advice is plain: no code, no clinician title, no jargon."""
    import string

    from kinematics.withheld import NOT_MEASURED
    from service import catalogue as K

    assert sorted(c for c in NOT_MEASURED if c not in K.PATIENT_ADVICE) == []
    assert K.QUALITY == {c: w.title for c, w in K.QUALITY_WORDS.items()}  # one table, two views
    silent = {c for c, w in K.QUALITY_WORDS.items() if w.patient is None}
    assert silent == {
        "no_filtering", "truncated", "decode_note", "skeleton_limit", "no_visibility", "timestamps_from_fps",
        "no_camera", "protocol_needs_camera", "protocol_not_available",
    }  # fmt: skip
    jargon = ("landmark", "pose model", "sagittal", "frontal", "oblique", "plane", "frames", "visibility")
    for code, text in K.PATIENT_ADVICE.items():
        fields = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
        assert fields <= {"needed"}, (code, fields)
        assert "_" not in text and K.QUALITY[code] not in text, code  # no snake_case code, no clinician title
        assert not any(w in text.lower() for w in jargon), (code, text)
        assert text[0].isupper() and text.endswith("."), text
    assert K.PATIENT_ADVICE["oblique_view"].format(needed=K.NEEDED["standing_hip_flexion"]) == (
        "You are at an angle to the camera. Turn so that you are side-on."
    )


def glitched_bridge() -> dict:
    """The synthetic bridge side-on with both knees put on the shoulders for 0.2 s three times (a pose
    failure, ``tests/protocols/test_protocol_angle_gate.py``), as landmark JSON."""
    from tests.protocols.test_protocol_angle_gate import _knees_moved

    clean = S.observe(S.SCENARIOS["bridge"], 90.0, "image")
    lm, _ = _knees_moved(clean.landmarks, [2.3, 6.8, 11.3], "shoulder")
    frames = [
        {"t_s": round(float(t), 5), "landmarks": [[round(float(c), 6) for c in p] + [0.9] for p in lm.xyz[i]]}
        for i, t in enumerate(lm.t_s)
    ]
    return {"schema": "blazepose33", "space": "image", "fps": 30, "frames": frames, "image_size": [1080, 1920]}


def test_quality_issues_are_titled_in_plain_words_apart_from_the_findings(client, auth, settings, tmp_path):
    """The withheld angles of a pose failure reach both reports as 'Recording quality' with the catalogue's
    titles: no code, no bare severity word, not in the findings table and not in a finding's colours."""
    from service import catalogue as K

    pid = new_patient(client, auth, code="P-Q1")["id"]
    r = post_landmarks(client, auth, glitched_bridge(), exercise="bridge", patient_id="P-Q1")
    assert r.status_code == 202, r.text
    run_worker_once(settings)
    aid = r.json()["id"]
    stored = client.get(f"/v1/assessments/{aid}", headers=auth).json()
    codes = {q["code"]: q for q in stored["quality"]}
    assert {"implausible_angle", "implausible_protocol_angle"} <= set(codes), codes
    r = client.post(f"/v1/patients/{pid}/sessions", headers=auth, json={"assessment_ids": [aid]})
    assert r.status_code == 201, r.text
    url = f"/v1/patients/{pid}/sessions/{r.json()['id']}/report"

    body = client.get(f"{url}.html", headers=auth).text
    _keep("report-quality.html", body.encode())
    m = re.search(r'<div class="quality" data-testid="quality">(.*?)</div>', body, re.S)
    assert m, "no recording-quality block"
    block = m.group(1)
    for code, q in codes.items():
        title = html.escape(K.QUALITY[code])
        sentence = html.escape(q["message"][:1].upper() + q["message"][1:])
        assert f'<li data-code="{code}"><b>{title}.</b> {sentence}</li>' in block, code
    text = re.sub(r"<svg.*?</svg>|<[^>]+>", " ", body, flags=re.S)
    assert "implausible_protocol_angle" not in text and "implausible_angle" not in text
    assert not re.search(r"\b(?:warning|info|error): ", text), "a bare severity word before a sentence"
    findings = re.search(r"<h3>Findings</h3>(.*?)</section>", body, re.S).group(1)
    assert "Impossible" not in findings and "withheld" not in findings  # never listed as a finding
    assert '<meta name="viewport"' in body  # a phone lays it out at its own width (tests/web: no overflow)

    r = client.get(f"{url}.pdf", headers=auth)
    _keep("report-quality.pdf", r.content)
    _, _, texts = _page_png(r.content, tmp_path, "quality.png")
    flat = " ".join(" ".join(t.split()) for t in texts).replace("\u200b", "")
    assert "Recording quality" in flat and " ".join(K.QUALITY_INTRO.split()) in flat
    for code, q in codes.items():
        assert f"{K.QUALITY[code]}. {' '.join(q['message'].split())[:60]}"[:80] in flat, code
    assert "implausible_protocol_angle" not in flat and not re.search(r"\b(?:warning|info|error): ", flat)
