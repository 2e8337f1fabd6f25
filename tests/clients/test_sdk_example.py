"""docs/sdk.md's example, run as written against a real ``motionscript serve`` on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import av
import pytest

from tests.conftest import POSE2SIM

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "docs" / "examples" / "sdk_quickstart.py"


def test_the_example_in_the_docs_is_the_example_file():
    doc = (REPO / "docs" / "sdk.md").read_text()
    block = doc.split("### Example", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    assert block == EXAMPLE.read_text()


@pytest.mark.slow
def test_the_sdk_example_runs_as_written_with_a_clinician_key(server, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTIONSCRIPT_")}
    env.update(MOTIONSCRIPT_URL=server.url, MOTIONSCRIPT_API_KEY=server.clinician_key)
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), str(POSE2SIM)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "oblique view, 100 frames" in done.stdout and "FHIR collection Bundle" in done.stdout
    assert "progress nrs_leg: [6.0]" in done.stdout
    assert (tmp_path / "report.pdf").read_bytes()[:5] == b"%PDF-"
    with av.open(str(tmp_path / "overlay.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) == 100


def test_the_example_with_an_app_key_is_refused_where_the_docs_say(server, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTIONSCRIPT_")}
    env.update(MOTIONSCRIPT_URL=server.url, MOTIONSCRIPT_API_KEY=server.app_key)
    landmarks = tmp_path / "phone.json"
    import json

    from tests.vision.test_landmark_json import document

    landmarks.write_text(json.dumps(document(n=30)))
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), str(landmarks)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode != 0 and "motionscript_client.errors.Forbidden: 403" in done.stderr
    assert "patients:list" in done.stderr
