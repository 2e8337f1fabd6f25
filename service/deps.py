"""Dependencies shared by the routes: settings, sessions, storage, the caller."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from service.auth import Principal, authenticate, permits
from service.errors import Problem
from service.settings import Settings
from service.store.uploads import UploadStore

__all__ = [
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "CurrentPrincipal",
    "SessionDep",
    "SettingsDep",
    "StoreDep",
    "bearer_principal",
    "require",
]

SESSION_COOKIE = "ms_session"  # HttpOnly: the server-side session's random id (service/accounts.py)
CSRF_COOKIE = "ms_csrf"  # readable by the page, which echoes it in CSRF_HEADER
CSRF_HEADER = "x-csrf-token"
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


async def _settings(request: Request) -> Settings:  # async: no I/O, so no thread hop
    return request.app.state.settings


def _session(request: Request) -> Iterator[Session]:
    session = request.app.state.session_factory()
    try:
        yield session
    finally:
        session.close()


async def _store(request: Request) -> UploadStore:
    return request.app.state.uploads


SettingsDep = Annotated[Settings, Depends(_settings)]
# scope="function": the session closes when the route returns, before the response is sent, so a
# client that reads its response slowly never holds a database connection (docs/limits.md).
SessionDep = Annotated[Session, Depends(_session, scope="function")]
StoreDep = Annotated[UploadStore, Depends(_store)]


def bearer_principal(session: Session, token: str) -> Principal | None:
    """An API key (``ms_…``) or a patient link (``mpl.…``)."""
    if token.startswith("mpl."):
        from service.accounts import verify_patient_link

        return verify_patient_link(session, token)
    return authenticate(session, token)


# Declares the scheme in the OpenAPI document (components.securitySchemes.bearer, and `security` on
# every route that needs a key); the header is still read below, so that errors are problem+json.
bearer = HTTPBearer(
    scheme_name="bearer",
    bearerFormat="ms_<prefix>_<secret>",
    description="An API key from `motionscript keys create --clinic NAME [--role admin|clinician|app]` "
    "(or a signed patient link, `mpl.…`); the role each call needs is in docs/sdk.md. Browser pages use "
    "the login session cookie instead (docs/web.md).",
    auto_error=False,
)


def _principal(
    request: Request,
    _declared: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)] = None,
) -> Principal:
    # A session of its own, closed at once: an upload's connection is not held while its body streams in.
    with request.app.state.session_factory() as session:
        return _authenticate(request, session)


def _authenticate(request: Request, session: Session) -> Principal:
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise Problem(401, "unauthenticated", "send an API key as 'Authorization: Bearer <key>'")
        principal = bearer_principal(session, key.strip())
        if principal is None:
            if key.strip().startswith("mpl."):
                raise Problem(401, "unauthenticated", "the patient link is not valid or has expired; ask the clinic")
            raise Problem(401, "unauthenticated", "the API key is not valid or has been revoked")
        return principal
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise Problem(
            401,
            "unauthenticated",
            "log in (/app/login) or send an API key as 'Authorization: Bearer <key>' (motionscript keys create)",
        )
    from service.accounts import session_principal

    found = session_principal(session, cookie)
    if found is None:
        raise Problem(401, "unauthenticated", "the login has ended (logged out, expired or disabled); log in again")
    principal, row = found
    if request.method not in _SAFE:
        # Cookies travel with cross-site requests; a state change must prove it comes from our page.
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not hmac.compare_digest(sent.encode(), row.csrf_token.encode()):
            raise Problem(403, "csrf", f"a logged-in request that changes data needs the {CSRF_HEADER} header")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(_principal)]


def require(action: str):
    """A dependency that admits only roles allowed to do ``action``."""

    async def check(principal: CurrentPrincipal) -> Principal:  # no I/O: on the event loop
        if not permits(principal.role, action):
            raise Problem(403, "forbidden", f"the {principal.role!r} role may not do {action}")
        return principal

    return Depends(check)
