"""The model manifest: which pose models exist, where their files are, and checks on them."""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType

from kinematics.errors import MotionscriptError
from models import MANIFEST, MODELS_DIR

__all__ = ["ModelError", "ModelSpec", "available_models", "model_spec"]


class ModelError(MotionscriptError):
    """A model file is missing, altered, or not in the manifest."""


_CORE_FIELDS = ("backend", "file", "sha256", "schema", "license", "origin")


@dataclass(frozen=True)
class ModelSpec:
    """One entry of ``models/manifest.toml``.

    ``options`` holds the entry's other fields (``bytes``, ``made_with``,
    ``decoder``, ``detector``, ``input_size``...), read-only; what they mean
    is up to the backend named by ``backend`` (see ``docs/models.md``).
    """

    name: str
    backend: str
    path: Path
    sha256: str
    schema: str
    license: str
    origin: str
    options: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}), compare=False, repr=False)

    def option(self, key: str, default: object = None) -> object:
        """A backend-specific manifest field, or ``default``."""
        return self.options.get(key, default)

    def provenance(self) -> dict[str, str]:
        """What an assessment records about the model that produced it."""
        return {
            "name": self.name,
            "backend": self.backend,
            "file": self.path.name,
            "sha256": self.sha256,
            "schema": self.schema,
            "license": self.license,
            "origin": self.origin,
        }


@cache
def _manifest(path: Path = MANIFEST) -> dict[str, ModelSpec]:
    with open(path, "rb") as f:
        doc = tomllib.load(f)
    return {
        name: ModelSpec(
            name=name,
            backend=entry["backend"],
            path=MODELS_DIR / entry["file"],
            sha256=entry["sha256"],
            schema=entry["schema"],
            license=entry["license"],
            origin=entry["origin"],
            options=MappingProxyType({k: v for k, v in entry.items() if k not in _CORE_FIELDS}),
        )
        for name, entry in doc.get("models", {}).items()
    }


def available_models() -> list[str]:
    return sorted(_manifest())


def model_spec(name: str) -> ModelSpec:
    try:
        return _manifest()[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r}; the manifest lists: {', '.join(available_models())}") from None


@cache
def verify(spec: ModelSpec) -> ModelSpec:
    """Check the file's sha256 against the manifest once per process."""
    if not spec.path.is_file():
        raise ModelError(f"model file missing: {spec.path} (see models/README.md to rebuild it)")
    digest = hashlib.sha256(spec.path.read_bytes()).hexdigest()
    if digest != spec.sha256:
        raise ModelError(f"model file {spec.path.name} has sha256 {digest}, manifest says {spec.sha256}")
    return spec
