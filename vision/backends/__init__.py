"""Pose backends: one module per runtime, each with a ``Backend`` class (docs/models.md).

Only ``mediapipe.py`` imports mediapipe and only ``onnx.py`` imports onnxruntime;
:func:`load_backend` imports the one a manifest entry names. Importing this package
imports nothing else (not even numpy): a backend factory that names `load_backend` can
be made and pickled before a worker process is started (`vision.head_start`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vision.backends.base import PersonPose, PoseBackend

__all__ = ["PersonPose", "PoseBackend", "load_backend"]


def __getattr__(name: str) -> Any:
    if name in ("PersonPose", "PoseBackend"):
        from vision.backends import base

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_backend(model: str, *, video: bool, num_poses: int = 2, **options: object) -> PoseBackend:
    """The backend that runs manifest entry ``model`` (its ``backend`` field), with its sha256 checked.

    ``options`` go to that backend's ``Backend.from_name`` (mediapipe: ``quiet``;
    onnx: ``device``, ``threads``, ``quiet``).
    """
    from vision.models import model_spec

    spec = model_spec(model)
    module = importlib.import_module(f"vision.backends.{spec.backend}")
    return module.Backend.from_name(model, video=video, num_poses=num_poses, **options)
