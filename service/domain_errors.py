"""Errors the service's domain modules raise when a request cannot be carried out.

They name what went wrong (``kind``, the problem type's last segment, and a one-line
``detail``), never an HTTP status: :mod:`service.errors` alone maps each class to its
status and ``application/problem+json`` body, so the same code serves the API, the CLI
and the job workers.
"""

from __future__ import annotations

__all__ = ["Conflict", "DomainError", "Forbidden", "Invalid", "NotFound", "StoredDataError"]


class DomainError(Exception):
    """A request the domain refuses; ``extra`` fields go into the problem body as they are."""

    def __init__(self, kind: str, detail: str, **extra: object) -> None:
        super().__init__(detail)
        self.kind, self.detail, self.extra = kind, detail, extra


class NotFound(DomainError):
    """The thing asked for does not exist (or belongs to another clinic)."""

    def __init__(self, detail: str, **extra: object) -> None:
        super().__init__("not-found", detail, **extra)


class Conflict(DomainError):
    """The request is valid but the thing is not in a state that allows it (``kind`` says which)."""


class Forbidden(DomainError):
    """The caller may not do this to this thing (a patient link acting for another patient)."""

    def __init__(self, detail: str, **extra: object) -> None:
        super().__init__("forbidden", detail, **extra)


class Invalid(DomainError):
    """The request's content is invalid; ``detail`` starts with the field's name.

    ``kind`` is ``validation`` unless a more precise one is stable API (``malformed-landmarks``, ...).
    """

    def __init__(self, detail: str, *, kind: str = "validation", **extra: object) -> None:
        super().__init__(kind, detail, **extra)


class StoredDataError(DomainError):
    """Stored data the service itself wrote cannot be used (a server-side fault, ``kind`` says where)."""
