"""Errors raised by the analysis core.

Hierarchy (every class is a ``ValueError``, so callers that validate input can
catch the family with one clause)::

    MotionscriptError
    ├── InsufficientDataError   too few valid samples to compute what was asked
    └── InputError              the caller's input is wrong (defined here so that
        │                       vision/ and service/ share one family)
        ├── UnsupportedMediaError   not a video, image or landmark file we accept
        ├── CorruptMediaError       a video or image that cannot be decoded
        ├── MediaTooLargeError      a picture or video frame with more pixels than are decoded
        ├── LandmarkFormatError     malformed landmark JSON
        └── NoPersonError           decoded fine, but no person was found

The message of each error says what was wrong and what is accepted; it is
meant to be shown to the user as it is.
"""

from __future__ import annotations

__all__ = [
    "CorruptMediaError",
    "InputError",
    "InsufficientDataError",
    "LandmarkFormatError",
    "MediaTooLargeError",
    "MotionscriptError",
    "NoPersonError",
    "UnsupportedMediaError",
]


class MotionscriptError(ValueError):
    """Base class of every error the analysis core raises on purpose."""


class InsufficientDataError(MotionscriptError):
    """Too few valid samples to compute the requested quantity."""


class InputError(MotionscriptError):
    """The input itself is unusable; the message says why and what is accepted."""


class UnsupportedMediaError(InputError):
    """The content is not a kind of file the service accepts."""


class CorruptMediaError(InputError):
    """A video or image of an accepted kind that cannot be decoded."""


class MediaTooLargeError(InputError):
    """An image or video whose pictures have more pixels than the decoder is allowed to produce."""


class LandmarkFormatError(InputError):
    """A landmark document that does not follow the documented format."""


class NoPersonError(InputError):
    """The media decoded, but no person was found in it."""
