"""Pose backends: one module per runtime, each with a ``Backend`` class (docs/models.md).

Only ``mediapipe.py`` imports mediapipe and only ``onnx.py`` imports onnxruntime;
:func:`load_backend` imports the one a manifest entry names.
"""

from __future__ import annotations

import importlib

from vision.backends.base import PersonPose, PoseBackend

__all__ = ["PersonPose", "PoseBackend", "load_backend"]


def load_backend(model: str, *, video: bool, num_poses: int = 2, **options: object) -> PoseBackend:
    """The backend that runs manifest entry ``model`` (its ``backend`` field), with its sha256 checked.

    ``options`` go to that backend's ``Backend.from_name`` (mediapipe: ``quiet``;
    onnx: ``device``, ``threads``, ``quiet``).
    """
    from vision.models import model_spec

    spec = model_spec(model)
    module = importlib.import_module(f"vision.backends.{spec.backend}")
    return module.Backend.from_name(model, video=video, num_poses=num_poses, **options)
