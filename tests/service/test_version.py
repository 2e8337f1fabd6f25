"""One version number, from pyproject.toml, everywhere a user can ask for it."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from service.version import __version__

ROOT = Path(__file__).parents[2]


def test_installed_version_is_pyprojects():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert __version__ == declared


def test_cli_prints_the_version():
    out = subprocess.run(
        [sys.executable, "-m", "service.cli", "--version"], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == f"motionscript {__version__}"


def test_api_and_assessment_carry_the_version(client, auth, settings):
    from tests.service.conftest import run_worker_once
    from tests.service.test_api import post_landmarks

    assert client.get("/openapi.json").json()["info"]["version"] == __version__
    assert client.get("/healthz").json()["version"] == __version__
    aid = post_landmarks(client, auth).json()["id"]
    run_worker_once(settings)
    software = client.get(f"/v1/assessments/{aid}", headers=auth).json()["processing"]["software"]
    assert software["motionscript"] == __version__
    assert {"numpy", "opencv-contrib-python"} <= set(software)


def test_changelog_names_the_version():
    assert f"## {__version__}" in (ROOT / "CHANGELOG.md").read_text()
