"""``/v1/auth``: a person logs in (password or one-time link), sees who they are, logs out.

The login is a server-side session (service/accounts.py) behind an HttpOnly, SameSite=Strict
cookie, Secure over HTTPS. Requests that change data with that cookie must send the session's
CSRF token as ``X-CSRF-Token`` (service/deps.py); API keys and patient links (Bearer) need not.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session

from service import accounts
from service.deps import CSRF_COOKIE, SESSION_COOKIE, CurrentPrincipal, SessionDep, SettingsDep
from service.errors import Problem
from service.limits import LoginThrottle
from service.schemas import LoginLinkRequest, LoginRequest, Me, PasswordChange
from service.settings import Settings
from service.store.models import User, UserSession

router = APIRouter(prefix="/v1/auth", tags=["auth"])

_BAD_LOGIN = "wrong email or password, or the account is disabled"


def _throttle(request: Request) -> LoginThrottle:
    state = request.app.state
    if not hasattr(state, "login_throttle"):
        state.login_throttle = LoginThrottle()
    return state.login_throttle


def _secure(request: Request, settings: Settings) -> bool:
    if settings.cookie_secure != "auto":
        return settings.cookie_secure == "always"
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def _same_origin(request: Request) -> None:
    """A login form posted from another site is refused (login CSRF); browsers send Origin on POST."""
    origin = request.headers.get("origin")
    if origin is None:  # not a browser's cross-site form: curl, the SDK, a test client
        return
    host = request.headers.get("host", "")
    if origin.split("://", 1)[-1] != host:
        raise Problem(403, "csrf", f"a login must come from this site's own page (Origin {origin!r})")


def _set_cookies(response: Response, request: Request, settings: Settings, login: accounts.LoginResult) -> None:
    secure = _secure(request, settings)
    max_age = int((login.expires_at - datetime.now(UTC)).total_seconds())
    common = {"max_age": max_age, "path": "/", "secure": secure, "samesite": "strict"}
    response.set_cookie(SESSION_COOKIE, login.token, httponly=True, **common)  # type: ignore[arg-type]
    response.set_cookie(CSRF_COOKIE, login.csrf, httponly=False, **common)  # type: ignore[arg-type]


def _clear_cookies(response: Response, request: Request, settings: Settings) -> None:
    secure = _secure(request, settings)
    for name, httponly in ((SESSION_COOKIE, True), (CSRF_COOKIE, False)):
        response.delete_cookie(name, path="/", secure=secure, httponly=httponly, samesite="strict")


def _logged_in(session: Session, request: Request) -> tuple[User, UserSession] | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    return accounts.logged_in(session, cookie) if cookie else None


def _start(session: Session, request: Request, response: Response, settings: Settings, login, how: str) -> Me:
    row = accounts.record_login(session, login, how)
    _set_cookies(response, request, settings, login)
    response.headers["Cache-Control"] = "no-store"
    return accounts.me_user(session, login.user, row)


@router.post(
    "/login",
    response_model=Me,
    name="log_in",
    responses={401: {"description": _BAD_LOGIN}, 429: {"description": "too many failed logins; see Retry-After"}},
)
def log_in(body: LoginRequest, request: Request, response: Response, session: SessionDep, settings: SettingsDep) -> Me:
    """Log in with email and password: sets the session cookie and returns who you are with the CSRF token."""
    _same_origin(request)
    throttle, email = _throttle(request), body.email.strip().lower()
    client = request.client.host if request.client else "-"
    throttle.check(email, client)
    login = accounts.log_in(session, body.email, body.password, settings.session_hours)
    if login is None:
        throttle.failed(email, client)
        raise Problem(401, "unauthenticated", _BAD_LOGIN)
    throttle.succeeded(email)
    return _start(session, request, response, settings, login, "password")


@router.post("/link", response_model=Me, name="log_in_with_link")
def log_in_with_link(
    body: LoginLinkRequest, request: Request, response: Response, session: SessionDep, settings: SettingsDep
) -> Me:
    """Log in with a one-time link's token (``motionscript users add`` / ``users reset`` print the link)."""
    _same_origin(request)
    login = accounts.redeem_login_link(session, body.token, settings.session_hours)
    if login is None:
        raise Problem(401, "unauthenticated", "the login link is not valid: used already, expired, or disabled")
    return _start(session, request, response, settings, login, "link")


@router.post("/logout", status_code=204, name="log_out")
def log_out(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """End this login now (the session row is revoked, so the cookie is refused at the next request)."""
    response = Response(status_code=204)
    found = _logged_in(session, request)
    if found is not None:
        from service.deps import _authenticate  # the CSRF check of a cookie-authenticated change

        principal = _authenticate(request, session)
        accounts.log_out(session, principal, request.cookies[SESSION_COOKIE], found[0])
    _clear_cookies(response, request, settings)
    return response


@router.get("/me", response_model=Me, name="who_am_i")
def who_am_i(request: Request, response: Response, session: SessionDep, principal: CurrentPrincipal) -> Me:
    """Who the caller is (a person, an API key or a patient link), with a person's CSRF token."""
    response.headers["Cache-Control"] = "no-store"
    found = _logged_in(session, request) if principal.kind == "user" else None
    if found is not None:
        return accounts.me_user(session, *found)
    token = request.headers.get("authorization", "").partition(" ")[2].strip()
    return accounts.me(session, principal, bearer_token=token)


def _person(request: Request, session: SessionDep) -> tuple[User, UserSession]:
    found = _logged_in(session, request)
    if found is None:
        raise Problem(401, "unauthenticated", "log in first (/app/login)")
    return found


@router.post("/password", status_code=204, name="change_password")
def change_password(
    body: PasswordChange,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    person: Annotated[tuple[User, UserSession], Depends(_person)],
) -> Response:
    """Set your password (the current one is needed when one is set); your other logins end."""
    accounts.change_password(session, principal, *person, body.current_password, body.new_password)
    return Response(status_code=204)
