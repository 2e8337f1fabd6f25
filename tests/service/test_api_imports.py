"""The API process loads no media library until media arrives: reading names and routes must stay light."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

MEDIA = ("cv2", "av", "mediapipe", "onnxruntime")

_PROBE = """
import json, sys
from pathlib import Path

from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings

app = create_app(Settings(data_dir=Path(sys.argv[1])), start_workers=False)
with TestClient(app) as client:
    status = client.get("/readyz").status_code
    app.openapi()
print(json.dumps({"status": status, "loaded": sorted(m for m in %r if m in sys.modules)}))
"""


def _loaded_after(code: str, tmp_path: Path) -> dict:
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], cwd=root, capture_output=True, text=True, timeout=300, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_creating_and_starting_the_app_loads_no_media_library(tmp_path):
    result = _loaded_after(_PROBE % (MEDIA,), tmp_path)
    assert result["status"] == 200
    assert result["loaded"] == [], f"the API process imported {result['loaded']} before any media arrived"


def test_the_probe_sees_a_media_library_once_one_is_used(tmp_path):
    """The check above can fail: decoding a frame does load OpenCV in the same process."""
    code = _PROBE.replace("app.openapi()", "from service.frame_analysis import decode_image") % (MEDIA,)
    assert "cv2" in _loaded_after(code, tmp_path)["loaded"]
