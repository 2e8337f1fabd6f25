"""Dependencies shared by the routes: settings, sessions, storage, the caller."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from service.auth import Principal, authenticate, permits
from service.errors import Problem
from service.settings import Settings
from service.store.uploads import UploadStore

__all__ = ["CurrentPrincipal", "SessionDep", "SettingsDep", "StoreDep", "require"]


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _session(request: Request) -> Iterator[Session]:
    session = request.app.state.session_factory()
    try:
        yield session
    finally:
        session.close()


def _store(request: Request) -> UploadStore:
    return request.app.state.uploads


SettingsDep = Annotated[Settings, Depends(_settings)]
SessionDep = Annotated[Session, Depends(_session)]
StoreDep = Annotated[UploadStore, Depends(_store)]


def _principal(request: Request, session: SessionDep) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Problem(
            401, "unauthenticated", "send an API key as 'Authorization: Bearer <key>' (motionscript keys create)"
        )
    principal = authenticate(session, key.strip())
    if principal is None:
        raise Problem(401, "unauthenticated", "the API key is not valid or has been revoked")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(_principal)]


def require(action: str):
    """A dependency that admits only roles allowed to do ``action``."""

    def check(principal: CurrentPrincipal) -> Principal:
        if not permits(principal.role, action):
            raise Problem(403, "forbidden", f"the {principal.role!r} role may not do {action}")
        return principal

    return Depends(check)
