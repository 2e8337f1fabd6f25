"""The service's clients: the remote CLI (``clients.cli_remote``) and, for code written against the
name it had before 0.2, the SDK re-exported from :mod:`motionscript_client` (the ``motionscript-client``
distribution in this folder, docs/sdk.md)."""

from motionscript_client import *  # noqa: F403
from motionscript_client import __all__, errors, models, sdk  # noqa: F401
