"""Model files shipped with motionscript, listed in ``manifest.toml``.

This package holds data only; :mod:`vision.models` reads the manifest and
verifies each file's sha256 before a backend loads it.
"""

from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent
MANIFEST = MODELS_DIR / "manifest.toml"

__all__ = ["MANIFEST", "MODELS_DIR"]
