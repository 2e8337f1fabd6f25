"""``motionscript-client`` is a distribution of its own: httpx and pydantic, no pose stack, no service."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_wheel_requires_only_httpx_and_pydantic_and_imports_nothing_heavy(tmp_path):
    src = tmp_path / "src"  # built from a copy: the build leaves nothing in the checkout
    shutil.copytree(REPO / "clients", src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), "."],
        cwd=src,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = tmp_path.glob("motionscript_client-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        meta = Parser().parsestr(z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode())
        z.extractall(tmp_path / "site")
    assert meta["Name"] == "motionscript-client"
    requires = sorted(r.split(">")[0].split("=")[0].split("<")[0].strip() for r in meta.get_all("Requires-Dist"))
    assert requires == ["httpx", "pydantic"]
    code = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert code == {"motionscript_client"} and "motionscript_client/py.typed" in names
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import motionscript_client as m; "
        "from motionscript_client import Client, AsyncClient, models; "
        "assert m.__file__.startswith(sys.argv[1]), m.__file__; "
        "heavy = ('cv2', 'mediapipe', 'av', 'numpy', 'onnxruntime', 'service', 'vision', 'kinematics', 'scipy'); "
        "print(sorted(n for n in sys.modules if n.split('.')[0] in heavy))"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path / "site")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0 and run.stdout.strip() == "[]", run.stdout + run.stderr


def test_the_old_clients_name_still_gives_the_sdk():
    import clients
    import motionscript_client

    assert clients.Client is motionscript_client.Client and clients.models.DOCUMENT_FIELDS
