"""People in a clinic: accounts, passwords, browser sessions, one-time login links, patient links.

- A **user** belongs to one clinic and has one of the roles of :mod:`service.auth` (``admin`` or
  ``clinician``; ``app`` is for API keys). Passwords are stored as Argon2id hashes
  (``argon2-cffi``'s RFC 9106 low-memory profile); an account may have no password at all and log
  in with a one-time link printed by ``motionscript users add`` / ``users reset``.
- A **browser session** is a server-side row keyed by the sha256 of a random cookie value, so a
  logout, a disabled account or a reset ends it at the next request. Each session has its own
  CSRF token, which cookie-authenticated requests that change state must echo in ``X-CSRF-Token``.
- A **patient link** is ``mpl.<clinic>.<patient>.<expiry>.<hmac>``: signed with the clinic's own
  link secret and valid until its expiry; it acts as an ``app`` principal pinned to that patient.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service import audit
from service.auth import Principal
from service.domain_errors import Forbidden, Invalid
from service.schemas import Me
from service.store.db import now
from service.store.models import ApiKey, Clinic, LoginLink, Patient, User, UserSession

__all__ = [
    "MIN_PASSWORD",
    "USER_ROLES",
    "AccountError",
    "change_password",
    "check_password",
    "LoginResult",
    "clinic_by_name",
    "create_login_link",
    "create_user",
    "end_session",
    "end_user_sessions",
    "find_user",
    "hash_password",
    "log_in",
    "log_out",
    "logged_in",
    "me",
    "me_user",
    "patient_link_token",
    "record_login",
    "redeem_login_link",
    "session_principal",
    "set_password",
    "verify_patient_link",
]

USER_ROLES = ("admin", "clinician")
MIN_PASSWORD = 10
_EMAIL = re.compile(r"^[^@\s]{1,100}@[^@\s]{1,150}$")
_HASHER = PasswordHasher()  # Argon2id, RFC 9106 second recommended (low-memory) parameters
# Verified when the email is unknown, so that a wrong email and a wrong password take the same time.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """A request about accounts that cannot be done (the message says why; safe to show)."""


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)  # SQLite hands back naive UTC


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > 1000:
        raise AccountError("a password may have at most 1000 characters")
    return _HASHER.hash(password)


def clinic_by_name(session: Session, name: str) -> Clinic:
    clinic = session.scalar(select(Clinic).where(Clinic.name == name))
    if clinic is None:
        raise AccountError(f"no clinic {name!r} (a clinic is created by `motionscript keys create --clinic`)")
    return clinic


def find_user(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def create_user(
    session: Session, clinic: Clinic, email: str, display_name: str, role: str, password: str | None = None
) -> User:
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise AccountError(f"{email!r} is not an email address")
    if role not in USER_ROLES:
        raise AccountError(f"a person's role is one of {', '.join(USER_ROLES)} (apps use API keys), got {role!r}")
    display_name = display_name.strip()
    if not 1 <= len(display_name) <= 200:
        raise AccountError("the display name needs 1-200 characters")
    if find_user(session, email) is not None:
        raise AccountError(f"there is already an account for {email}")
    user = User(
        id=str(uuid.uuid4()),
        clinic_id=clinic.id,
        email=email,
        display_name=display_name,
        role=role,
        password_hash=hash_password(password) if password is not None else None,
        created_at=now(),
    )
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, user: User, password: str | None, keep_session: str | None = None) -> None:
    """Set (or with ``None`` clear) the password; every open session of the user but ``keep_session`` ends."""
    user.password_hash = hash_password(password) if password is not None else None
    end_user_sessions(session, user.id, keep=keep_session)


def check_password(user: User, password: str) -> bool:
    try:
        return user.password_hash is not None and _HASHER.verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def end_user_sessions(session: Session, user_id: str, keep: str | None = None) -> int:
    """Revoke the user's open sessions (but ``keep``) and unused login links; returns the sessions ended."""
    result = session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None), UserSession.id != (keep or ""))
        .values(revoked_at=now())
    )
    session.execute(
        update(LoginLink).where(LoginLink.user_id == user_id, LoginLink.used_at.is_(None)).values(used_at=now())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class LoginResult:
    user: User
    token: str  # the cookie value; only its sha256 is stored
    csrf: str
    expires_at: datetime


def _start_session(session: Session, user: User, hours: float, via: str) -> LoginResult:
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    t = now()
    row = UserSession(
        id=_sha256(token),
        user_id=user.id,
        clinic_id=user.clinic_id,
        csrf_token=csrf,
        via=via,
        created_at=t,
        expires_at=t + timedelta(hours=hours),
    )
    session.add(row)
    user.last_login_at = t
    session.flush()
    return LoginResult(user=user, token=token, csrf=csrf, expires_at=row.expires_at)


def log_in(session: Session, email: str, password: str, hours: float) -> LoginResult | None:
    """A new session for the right email and password of an enabled account; else None (same time either way)."""
    user = find_user(session, email)
    stored = user.password_hash if user is not None and user.disabled_at is None else None
    try:
        _HASHER.verify(stored or _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if user is None or stored is None:
        return None
    if _HASHER.check_needs_rehash(stored):
        user.password_hash = _HASHER.hash(password)
    return _start_session(session, user, hours, "password")


def create_login_link(session: Session, user: User, minutes: float) -> str:
    """A one-time login token for ``user`` (shown once; only its sha256 is stored)."""
    if user.disabled_at is not None:
        raise AccountError(f"{user.email} is disabled")
    token = secrets.token_urlsafe(32)
    session.add(
        LoginLink(
            id=_sha256(token),
            user_id=user.id,
            created_at=now(),
            expires_at=now() + timedelta(minutes=minutes),
        )
    )
    session.flush()
    return token


def redeem_login_link(session: Session, token: str, hours: float) -> LoginResult | None:
    """Use a login link once: a new session, or None when unknown, used, expired or the account is disabled."""
    link = session.get(LoginLink, _sha256(token)) if 0 < len(token) <= 200 else None
    if link is None or link.used_at is not None or _aware(link.expires_at) <= now():
        return None
    user = session.get(User, link.user_id)
    if user is None or user.disabled_at is not None:
        return None
    link.used_at = now()
    return _start_session(session, user, hours, "link")


def session_principal(session: Session, token: str) -> tuple[Principal, UserSession] | None:
    """The principal of a live session cookie, or None (unknown, logged out, expired, account disabled)."""
    if not 0 < len(token) <= 200:
        return None
    row = session.get(UserSession, _sha256(token))
    if row is None or row.revoked_at is not None or _aware(row.expires_at) <= now():
        return None
    user = session.get(User, row.user_id)
    if user is None or user.disabled_at is not None:
        return None
    principal = Principal(
        clinic_id=user.clinic_id,
        key_id=user.id,
        role=user.role,  # type: ignore[arg-type]
        kind="user",
        user_id=user.id,
        actor_name=f"{user.display_name} <{user.email}>",
    )
    return principal, row


def end_session(session: Session, token: str) -> bool:
    row = session.get(UserSession, _sha256(token)) if 0 < len(token) <= 200 else None
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = now()
    return True


# -- Patient links ------------------------------------------------------------------------

_LINK = re.compile(r"^mpl\.([0-9a-f-]{36})\.([0-9a-f-]{36})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})$")


def _link_secret(session: Session, clinic: Clinic) -> bytes:
    if not clinic.link_secret:  # clinics made before migration 0006 get theirs on first use
        clinic.link_secret = secrets.token_hex(32)
        session.flush()
    return bytes.fromhex(clinic.link_secret)


def _sign(secret: bytes, payload: str) -> str:
    mac = hmac.new(secret, payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def patient_link_token(session: Session, clinic: Clinic, patient: Patient, expires_at: datetime) -> str:
    """A signed token naming ``patient`` of ``clinic``, valid until ``expires_at``."""
    payload = f"mpl.{clinic.id}.{patient.id}.{int(expires_at.timestamp())}"
    return f"{payload}.{_sign(_link_secret(session, clinic), payload)}"


def verify_patient_link(session: Session, token: str) -> Principal | None:
    """The ``app`` principal of a valid, unexpired patient link (pinned to its patient), else None."""
    m = _LINK.match(token)
    if m is None:
        return None
    clinic_id, patient_id, exp, mac = m.groups()
    clinic = session.get(Clinic, clinic_id)
    if clinic is None or not clinic.link_secret:
        return None
    payload = token.rsplit(".", 1)[0]
    if not hmac.compare_digest(mac, _sign(bytes.fromhex(clinic.link_secret), payload)):
        return None
    if int(exp) <= now().timestamp():
        return None
    patient = session.get(Patient, patient_id)
    if patient is None or patient.clinic_id != clinic_id:  # deleted since the link was sent
        return None
    return Principal(
        clinic_id=clinic_id,
        key_id=patient.id,  # with kind "patient_link": the audit trail names the patient link
        role="app",
        kind="patient_link",
        patient_id=patient.id,
        patient_code=patient.code,
        actor_name=f"patient link for {patient.code}",
    )


# -- who the caller is (GET /v1/auth/me) -----------------------------------------------------------------------------


def me_user(session: Session, user: User, row: UserSession) -> Me:
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


def me(session: Session, principal: Principal, *, bearer_token: str = "") -> Me:
    """Who an API key or a patient link is (a person logged in: :func:`me_user`)."""
    clinic = session.get(Clinic, principal.clinic_id)
    name = clinic.name if clinic else ""
    if principal.kind == "patient_link":
        exp = datetime.fromtimestamp(int(bearer_token.split(".")[3]), UTC)
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


# -- a person's login, from the session cookie to the audit log ------------------------------------------------------


def logged_in(session: Session, token: str) -> tuple[User, UserSession] | None:
    """The person and the login a session cookie's token belongs to (None when revoked, expired or unknown)."""
    found = session_principal(session, token)
    if found is None:
        return None
    principal, row = found
    user = session.get(User, principal.user_id)
    return (user, row) if user is not None else None


def record_login(session: Session, login: LoginResult, how: str) -> UserSession:
    """Audit a login that just started (``how``: password or link) and commit; its session row."""
    principal, row = session_principal(session, login.token)  # type: ignore[misc]
    audit.record(session, principal, f"user.login_{how}", "user", login.user.id)
    session.commit()
    return row


def log_out(session: Session, principal: Principal, token: str, user: User) -> None:
    """End the login of this session token now; audited."""
    end_session(session, token)
    audit.record(session, principal, "user.logout", "user", user.id)
    session.commit()


def change_password(
    session: Session, principal: Principal, user: User, login: UserSession, current: str | None, new: str
) -> None:
    """Set a person's password (the current one is needed when one is set); their other logins end. Audited."""
    if user.password_hash is not None and not check_password(user, current or ""):
        raise Forbidden("the current password is wrong")
    try:
        set_password(session, user, new, keep_session=login.id)
    except AccountError as exc:
        raise Invalid(str(exc)) from None
    audit.record(session, principal, "user.password", "user", user.id)
    session.commit()
