"""`motionscript analyze` reads frames before it imports the kinematics, the document's models or the web stack.

Every import before the first frame is time on the caller's core before its own chunk of a long
video starts, and everything before the head start's worker is spawned is time the other core
idles (docs/performance.md, issue 19). Each probe is a fresh interpreter that records
``sys.modules`` at the moment that matters.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VIDEO = ROOT / "tests" / "fixtures" / "video" / "pose2sim_cam01.mp4"

#: Never needed before the first frame; each is imported by the analysis afterwards (or never, by the CLI).
LATER = (
    "scipy",
    "scipy.signal",
    "kinematics.pipeline",
    "kinematics.protocols",
    "service.schemas",
    "service.wearables",
    "fastapi",
    "starlette",
    "sqlalchemy",
    "httpx",
    "motionscript_client",
)
#: Nor before the head start's worker is spawned: the pose runtime's own imports come with the worker.
#: (pydantic is: the settings name the pose model the worker loads.)
BEFORE_SPAWN = (*LATER, "numpy", "cv2", "onnxruntime")
#: Nor in a worker process re-running the ``motionscript`` script (``service.cli``'s module level).
SCRIPT = (*BEFORE_SPAWN, "pydantic", "importlib.metadata")

_CLI = """
import json, sys
from pathlib import Path

WATCH = %r
seen = {}

def snapshot(moment):
    seen.setdefault(moment, [m for m in WATCH if m in sys.modules])

import vision.backends
import vision.head_start

start_head, load_backend = vision.head_start.start_head, vision.backends.load_backend

def recording_start_head(*args, **kwargs):
    snapshot("start_head")
    return start_head(*args, **kwargs)

def recording_load_backend(*args, **kwargs):
    snapshot("first model load")
    return load_backend(*args, **kwargs)

vision.head_start.start_head, vision.backends.load_backend = recording_start_head, recording_load_backend

from service.cli import main

code = main(["analyze", sys.argv[1], "--out", str(Path(sys.argv[2]) / "a.json"), "-q"])
snapshot("end")
print(json.dumps({"code": code, "seen": seen}))
"""


def _run(code: str, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_analyze_reads_frames_before_the_kinematics_and_the_web_stack(tmp_path):
    result = _run(_CLI % (BEFORE_SPAWN,), str(VIDEO), str(tmp_path))
    assert result["code"] == 0
    seen = result["seen"]
    assert seen["start_head"] == [], f"imported before the head start's worker is spawned: {seen['start_head']}"
    early = [m for m in seen["first model load"] if m in LATER]
    assert early == [], f"imported before the first frame is read: {early}"
    # The probe sees what the analysis imports once the landmarks are in: the checks above can fail.
    assert {"scipy.signal", "kinematics.pipeline", "service.schemas"} <= set(seen["end"])
    assert not {"fastapi", "sqlalchemy", "httpx"} & set(seen["end"]), "a local analysis imported the web stack"


def test_a_chunk_worker_imports_only_the_pose_runtime():
    """What a worker process imports before its first frame: the script it re-runs (`service.cli`
    under ``motionscript analyze``), the pickled backend factory, then the chunk reader and its model."""
    code = (
        "import json, sys\n"
        "import service.cli\n"
        f"bare = [m for m in {SCRIPT!r} if m in sys.modules]\n"
        "import vision.parallel, vision.backends.onnx, vision.head_start\n"
        f"print(json.dumps({{'cli': bare, 'worker': [m for m in {SCRIPT!r} if m in sys.modules]}}))\n"
    )
    result = _run(code)
    assert result["cli"] == [], f"re-running the script imports {result['cli']}"
    assert result["worker"] == ["numpy", "cv2"], result["worker"]  # (onnxruntime: when the model loads)
