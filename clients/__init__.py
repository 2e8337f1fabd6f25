"""The service's clients: the remote CLI (``clients.cli_remote``) and, for code written against the
name it had before 0.2, the SDK re-exported from :mod:`motionscript_client` (the ``motionscript-client``
distribution in this folder, docs/sdk.md).

The re-export is lazy: ``motionscript analyze`` imports ``clients.cli_remote`` on every run to see
whether ``--server`` was given, and a local analysis needs neither httpx nor the SDK's models.
"""

from __future__ import annotations

import importlib
from typing import Any


def __getattr__(name: str) -> Any:
    if name in ("errors", "models", "sdk"):
        return importlib.import_module(f"motionscript_client.{name}")
    sdk = importlib.import_module("motionscript_client")
    if name == "__all__" or name in sdk.__all__:
        return getattr(sdk, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
