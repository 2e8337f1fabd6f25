"""The one version number of Motionscript, and the versions of what it measures with.

``pyproject.toml`` is the only place the version is written; the installed package's
metadata carries it to the API (OpenAPI ``info.version``, ``/healthz``), the CLI
(``motionscript --version``) and every assessment (``processing.software``).
"""

from __future__ import annotations

from functools import cache
from importlib import metadata

__all__ = ["MEASURING_PACKAGES", "__version__", "software_versions"]

# Packages whose version can change a measured number: the decoder, the pose runtimes,
# the image library that resizes and converts frames, and the numerics.
MEASURING_PACKAGES = (
    "motionscript",
    "mediapipe",
    "onnxruntime",
    "onnxruntime-gpu",
    "opencv-contrib-python",
    "numpy",
    "scipy",
    "av",
)


def _own_version() -> str:
    try:
        return metadata.version("motionscript")
    except metadata.PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


__version__ = _own_version()


@cache
def software_versions() -> dict[str, str]:
    """Installed versions of :data:`MEASURING_PACKAGES` (absent ones left out)."""
    out = {}
    for dist in MEASURING_PACKAGES:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out
