"""The command line: a whole analysis, and one clear line for every kind of bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from service.cli import EXIT_INPUT, main
from service.schemas import Assessment
from tests.conftest import POSE2SIM
from tests.vision.test_landmark_json import document


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[2],
    )


def test_analyze_landmark_json_writes_a_valid_assessment(tmp_path, capsys):
    src = tmp_path / "phone.json"
    src.write_text(json.dumps(document(n=60)))
    out = tmp_path / "a.json"
    assert main(["analyze", str(src), "--out", str(out), "--exercise", "single_leg_stance", "-q"]) == 0
    a = Assessment.model_validate_json(out.read_text())
    assert a.input.kind == "landmarks" and a.exercise == "single_leg_stance"
    assert a.view.view == "frontal"
    obliquity = np.array(a.series["pelvic_obliquity_deg"], dtype=float)
    np.testing.assert_allclose(obliquity, 4.0, atol=0.05)  # the document was rendered at 4 deg
    assert a.conventions["pelvic_obliquity_deg"].unit == "deg"
    assert "LEFT hip is higher" in a.conventions["pelvic_obliquity_deg"].convention


def test_analyze_real_video_end_to_end(tmp_path):
    out = tmp_path / "a.json"
    proc = run_cli("analyze", str(POSE2SIM), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    a = Assessment.model_validate_json(out.read_text())
    assert a.input.frames_read == 100 and a.input.frames_with_pose >= 95
    assert a.input.width == 1080 and a.input.height == 1920
    assert a.model is not None and a.model["license"] == "Apache-2.0"


def _one_line_error(proc: subprocess.CompletedProcess, expected: str) -> None:
    assert proc.returncode == EXIT_INPUT, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("motionscript")]
    assert len(lines) == 1 and expected in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_truncated_mp4(tmp_path):
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(POSE2SIM.read_bytes()[:150_000])
    _one_line_error(run_cli("analyze", str(cut)), "cut.mp4")


def test_text_file_named_mp4(tmp_path):
    fake = tmp_path / "clip.mp4"
    fake.write_text("this is not a video\n")
    _one_line_error(run_cli("analyze", str(fake)), "looks like text")


def test_image_without_a_person(tmp_path):
    empty = tmp_path / "wall.png"
    gradient = np.tile(np.linspace(40, 200, 640, dtype=np.uint8), (480, 1))
    cv2.imwrite(str(empty), np.dstack([gradient] * 3))
    _one_line_error(run_cli("analyze", str(empty)), "no person was found")


def test_malformed_landmark_json(tmp_path):
    bad = tmp_path / "lm.json"
    bad.write_text('{"schema": "blazepose33", "space": "image", "frames": [')
    _one_line_error(run_cli("analyze", str(bad)), "not valid JSON")


@pytest.mark.parametrize("exercise", ["jumping_jacks"])
def test_unknown_exercise_lists_the_accepted_ones(exercise):
    proc = run_cli("analyze", str(POSE2SIM), "--exercise", exercise)
    assert proc.returncode == 2 and "single_leg_stance" in proc.stderr


def test_analyze_overlay_writes_the_annotated_video(tmp_path):
    import av

    src = Path(__file__).resolve().parents[1] / "fixtures" / "video" / "sports2d_jumping_jacks.mp4"
    out = tmp_path / "jj.overlay.mp4"
    assert main(["analyze", str(src), "--out", str(tmp_path / "a.json"), "--overlay", str(out), "-q"]) == 0
    with av.open(str(out)) as c:
        stream = c.streams.video[0]
        assert stream.codec_context.name == "h264" and sum(1 for _ in c.decode(stream)) == 85
    assert not list(tmp_path.glob("*.part"))


def test_analyze_overlay_needs_a_video(tmp_path, capsys):
    src = tmp_path / "phone.json"
    src.write_text(json.dumps(document(n=30)))
    assert main(["analyze", str(src), "--overlay", str(tmp_path / "o.mp4"), "-q"]) == EXIT_INPUT
    assert "--overlay needs a video" in capsys.readouterr().err and not (tmp_path / "o.mp4").exists()
