"""Series export: CSV and OpenSim .mot carry exactly the assessment's samples."""

from __future__ import annotations

import csv
import io
import json

import numpy as np

from service.cli import main
from service.export import to_csv, to_mot
from tests.service.conftest import run_worker_once
from tests.service.test_api import post_landmarks
from tests.vision.test_landmark_json import document


def _assessment(tmp_path) -> dict:
    src = tmp_path / "phone.json"
    src.write_text(json.dumps(document(n=30)))
    out = tmp_path / "a.json"
    assert main(["analyze", str(src), "--out", str(out), "-q"]) == 0
    return json.loads(out.read_text())


def test_csv_round_trips_every_series(tmp_path):
    doc = _assessment(tmp_path)
    rows = list(csv.reader(io.StringIO(to_csv(doc))))
    header, body = rows[0], np.array(rows[1:], dtype=float)
    assert header[0] == "t_s" and len(body) == len(doc["series"]["t_s"])
    for j, name in enumerate(header[1:], start=1):
        want = np.array([np.nan if v is None else v for v in doc["series"][name]], dtype=float)
        np.testing.assert_array_equal(body[:, j], want)
    assert "hip_flexion_left_deg" not in header  # a frontal recording: not measurable, not exported


def test_mot_header_matches_its_table(tmp_path):
    doc = _assessment(tmp_path)
    lines = to_mot(doc).splitlines()
    end = lines.index("endheader")
    n_rows = int(next(ln for ln in lines if ln.startswith("nRows=")).split("=")[1])
    n_cols = int(next(ln for ln in lines if ln.startswith("nColumns=")).split("=")[1])
    labels = lines[end + 1].split("\t")
    table = lines[end + 2 :]
    assert "inDegrees=yes" in lines[:end]
    assert labels[0] == "time" and "pelvic_obliquity" in labels and len(labels) == n_cols
    assert len(table) == n_rows == len(doc["series"]["t_s"])
    k = labels.index("pelvic_obliquity")
    np.testing.assert_allclose([float(r.split("\t")[k]) for r in table], 4.0, atol=0.05)  # rendered at 4 deg


def test_cli_export_and_refusal(tmp_path, capsys):
    doc = _assessment(tmp_path)
    path = tmp_path / "a.json"
    path.write_text(json.dumps(doc))
    assert main(["export", str(path), "--format", "mot", "--out", str(tmp_path / "a.mot")]) == 0
    assert (tmp_path / "a.mot").read_text().startswith("a\nversion=1")
    (tmp_path / "bad.json").write_text("[1, 2]")
    assert main(["export", str(tmp_path / "bad.json")]) == 2


def test_api_exports_once_done(client, auth, settings):
    aid = post_landmarks(client, auth).json()["id"]
    assert client.get(f"/v1/assessments/{aid}/series.csv", headers=auth).status_code == 409
    run_worker_once(settings)
    r = client.get(f"/v1/assessments/{aid}/series.csv", headers=auth)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.text.splitlines()[0].startswith("t_s,")
    mot = client.get(f"/v1/assessments/{aid}/series.mot", headers=auth)
    assert mot.status_code == 200 and "endheader" in mot.text
    assert client.get(f"/v1/assessments/{aid}/series.xlsx", headers=auth).status_code == 422
