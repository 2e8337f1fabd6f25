"""``/v1/auth``: a person logs in (password or one-time link), sees who they are, logs out.

The login is a server-side session (service/accounts.py) behind an HttpOnly, SameSite=Strict
cookie, Secure over HTTPS. Requests that change data with that cookie must send the session's
CSRF token as ``X-CSRF-Token`` (service/deps.py); API keys and patient links (Bearer) need not.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session

from service import accounts, audit
from service.deps import CSRF_COOKIE, SESSION_COOKIE, CurrentPrincipal, SessionDep, SettingsDep
from service.errors import Problem
from service.schemas import LoginLinkRequest, LoginRequest, Me, PasswordChange
from service.settings import Settings
from service.store.models import ApiKey, Clinic, User, UserSession

router = APIRouter(prefix="/v1/auth", tags=["auth"])

_BAD_LOGIN = "wrong email or password, or the account is disabled"


class LoginThrottle:
    """Failed logins per email and per client address within a window; beyond the limit, 429 until it passes.

    Kept in the API process (``app.state``): with several API processes each counts its own.
    Argon2's cost already makes each guess slow; this stops a patient guesser at a handful.
    """

    def __init__(self, per_email: int = 5, per_client: int = 30, window_s: float = 900.0) -> None:
        self.limits = {"email": per_email, "client": per_client}
        self.window_s = window_s
        self._failures: dict[tuple[str, str], list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> list[float]:
        times = [t for t in self._failures.get(key, []) if now - t < self.window_s]
        if times:
            self._failures[key] = times
        else:
            self._failures.pop(key, None)
        return times

    def check(self, email: str, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            for kind, value in (("email", email), ("client", client)):
                times = self._recent((kind, value), now)
                if len(times) >= self.limits[kind]:
                    wait = int(self.window_s - (now - times[0])) + 1
                    raise Problem(
                        429,
                        "too-many-attempts",
                        f"too many failed logins for this {'account' if kind == 'email' else 'address'}; "
                        f"try again in {wait // 60 + 1} min or ask for a login link",
                        retry_after_s=wait,
                    )

    def failed(self, email: str, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in (("email", email), ("client", client)):
                self._failures.setdefault(key, []).append(now)

    def succeeded(self, email: str) -> None:
        with self._lock:
            self._failures.pop(("email", email), None)


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


def _me_user(session: Session, user: User, row: UserSession) -> Me:
    clinic = session.get(Clinic, user.clinic_id)
    return Me(
        kind="user",
        role=user.role,  # type: ignore[arg-type]
        clinic_id=user.clinic_id,
        clinic_name=clinic.name if clinic else "",
        name=user.display_name,
        email=user.email,
        user_id=user.id,
        has_password=user.password_hash is not None,
        csrf_token=row.csrf_token,
        expires_at=row.expires_at,
    )


def _logged_in(session: Session, request: Request) -> tuple[User, UserSession] | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    found = accounts.session_principal(session, cookie) if cookie else None
    if found is None:
        return None
    principal, row = found
    user = session.get(User, principal.user_id)
    return (user, row) if user is not None else None


def _start(session: Session, request: Request, response: Response, settings: Settings, login, how: str) -> Me:
    principal, row = accounts.session_principal(session, login.token)  # type: ignore[misc]
    audit.record(session, principal, f"user.login_{how}", "user", login.user.id)
    session.commit()
    _set_cookies(response, request, settings, login)
    response.headers["Cache-Control"] = "no-store"
    return _me_user(session, login.user, row)


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
        accounts.end_session(session, request.cookies[SESSION_COOKIE])
        audit.record(session, principal, "user.logout", "user", found[0].id)
        session.commit()
    _clear_cookies(response, request, settings)
    return response


@router.get("/me", response_model=Me, name="who_am_i")
def who_am_i(request: Request, response: Response, session: SessionDep, principal: CurrentPrincipal) -> Me:
    """Who the caller is (a person, an API key or a patient link), with a person's CSRF token."""
    response.headers["Cache-Control"] = "no-store"
    clinic = session.get(Clinic, principal.clinic_id)
    name = clinic.name if clinic else ""
    if principal.kind == "user":
        found = _logged_in(session, request)
        if found is not None:
            return _me_user(session, *found)
    if principal.kind == "patient_link":
        token = request.headers.get("authorization", "").partition(" ")[2].strip()
        exp = datetime.fromtimestamp(int(token.split(".")[3]), UTC)
        return Me(
            kind="patient_link",
            role="app",
            clinic_id=principal.clinic_id,
            clinic_name=name,
            name=principal.actor_name,
            patient_id=principal.patient_id,
            patient_code=principal.patient_code,
            expires_at=exp,
        )
    key = session.get(ApiKey, principal.key_id)
    return Me(
        kind="key",
        role=principal.role,
        clinic_id=principal.clinic_id,
        clinic_name=name,
        name=key.label if key else None,
    )


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
    user, row = person
    if user.password_hash is not None and not accounts.check_password(user, body.current_password or ""):
        raise Problem(403, "forbidden", "the current password is wrong")
    try:
        accounts.set_password(session, user, body.new_password, keep_session=row.id)
    except accounts.AccountError as exc:
        raise Problem(422, "validation", str(exc)) from None
    audit.record(session, principal, "user.password", "user", user.id)
    session.commit()
    return Response(status_code=204)
