"""People, logins, keys and patient links (service/accounts.py, service/api/auth.py), on SQLite and PostgreSQL.

Everything goes through the real app (TestClient), the real database and the real CLI entry point.
"""

from __future__ import annotations

import json
import time

import pytest

from service.cli import main as cli_main
from tests.service.conftest import make_key
from tests.service.test_patients import new_patient
from tests.service.test_reviews import _stance_document, analysed, audit_of, bearer

PASSWORD = "correct horse battery"


@pytest.fixture
def cli(settings, monkeypatch, capsys):
    """Run ``motionscript ARGS`` against the test database; returns (exit code, stdout, stderr)."""
    monkeypatch.setenv("MOTIONSCRIPT_DATABASE_URL", settings.sqlalchemy_url)
    monkeypatch.setenv("MOTIONSCRIPT_DATA_DIR", str(settings.data_dir))

    def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
        if stdin is not None:
            import io

            monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = cli_main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def admin_key(client, settings) -> str:
    return make_key(settings, clinic="Clinic A", role="admin")


def add_user(cli, email="ana@clinic-a.test", name="Ana Costa", role="clinician", password=PASSWORD) -> None:
    code, out, err = cli(
        "users", "add", "--clinic", "Clinic A", "--email", email, "--name", name, "--role", role,
        *(["--password-stdin"] if password else []), stdin=(password + "\n") if password else None,
    )  # fmt: skip
    assert code == 0, err


def log_in(client, email="ana@clinic-a.test", password=PASSWORD) -> dict:
    r = client.post("/v1/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return r.json()


def cookie_header(value: str) -> dict[str, str]:
    return {"Cookie": f"ms_session={value}"}


def test_login_sets_a_strict_httponly_cookie_and_me_names_the_person(client, cli, admin_key):
    add_user(cli)
    r = client.post("/v1/auth/login", json={"email": "Ana@Clinic-A.test ", "password": PASSWORD})
    assert r.status_code == 200, r.text
    me = r.json()
    assert (me["kind"], me["role"], me["name"], me["email"], me["clinic_name"]) == (
        "user",
        "clinician",
        "Ana Costa",
        "ana@clinic-a.test",
        "Clinic A",
    )
    assert me["has_password"] is True and len(me["csrf_token"]) >= 40
    cookies = r.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookies if c.startswith("ms_session="))
    csrf_cookie = next(c for c in cookies if c.startswith("ms_csrf="))
    low = session_cookie.lower()
    assert "httponly" in low and "samesite=strict" in low and "path=/" in low
    assert "secure" not in low  # plain http here (the test client): a Secure cookie would never come back
    assert "httponly" not in csrf_cookie.lower() and me["csrf_token"] in csrf_cookie
    assert r.headers["cache-control"] == "no-store"

    again = client.get("/v1/auth/me")
    assert again.status_code == 200 and again.json()["email"] == "ana@clinic-a.test"
    # the stored session is the cookie's sha256, never the cookie itself
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from service.store.db import make_engine
    from service.store.models import UserSession

    value = client.cookies["ms_session"]
    engine = make_engine(client.app.state.settings.sqlalchemy_url)
    with Session(engine) as s:
        ids = s.scalars(select(UserSession.id)).all()
    engine.dispose()
    assert value not in ids and len(ids) == 1 and len(ids[0]) == 64


def test_cookie_is_secure_over_https(client, cli, admin_key):
    add_user(cli)
    r = client.post(
        "/v1/auth/login",
        json={"email": "ana@clinic-a.test", "password": PASSWORD},
        headers={"X-Forwarded-Proto": "https"},
    )
    assert r.status_code == 200
    assert all("secure" in c.lower() for c in r.headers.get_list("set-cookie"))


def test_wrong_password_and_unknown_email_get_the_same_401(client, cli, admin_key):
    add_user(cli)
    bad = client.post("/v1/auth/login", json={"email": "ana@clinic-a.test", "password": "wrong password!"})
    unknown = client.post("/v1/auth/login", json={"email": "nobody@clinic-a.test", "password": PASSWORD})
    assert bad.status_code == unknown.status_code == 401
    assert bad.json()["detail"] == unknown.json()["detail"]
    assert "ms_session" not in client.cookies


def test_a_logged_out_session_gets_401_at_once(client, cli, admin_key):
    add_user(cli)
    me = log_in(client)
    value = client.cookies["ms_session"]
    assert client.get("/v1/patients", headers=cookie_header(value)).status_code == 200
    r = client.post("/v1/auth/logout", headers={"X-CSRF-Token": me["csrf_token"]})
    assert r.status_code == 204
    assert any(c.startswith('ms_session=""') or "max-age=0" in c.lower() for c in r.headers.get_list("set-cookie"))
    client.cookies.clear()
    # the very same cookie, replayed: the server-side row is revoked
    r = client.get("/v1/patients", headers=cookie_header(value))
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
    assert "log in again" in r.json()["detail"]
    assert client.get("/v1/auth/me", headers=cookie_header(value)).status_code == 401


def test_state_changes_with_the_cookie_need_the_csrf_header(client, cli, admin_key):
    add_user(cli)
    me = log_in(client)
    r = client.post("/v1/patients", json={"code": "P-CSRF"})
    assert r.status_code == 403 and r.json()["type"].endswith("/csrf")
    r = client.post("/v1/patients", json={"code": "P-CSRF"}, headers={"X-CSRF-Token": "x" * 43})
    assert r.status_code == 403
    r = client.post("/v1/patients", json={"code": "P-CSRF"}, headers={"X-CSRF-Token": me["csrf_token"]})
    assert r.status_code == 201, r.text
    assert client.get("/v1/patients").status_code == 200  # reads need no token
    # logout is a state change too: without the token it is refused and the login stays
    assert client.post("/v1/auth/logout").status_code == 403
    assert client.get("/v1/auth/me").status_code == 200


def test_a_login_posted_from_another_site_is_refused(client, cli, admin_key):
    add_user(cli)
    r = client.post(
        "/v1/auth/login",
        json={"email": "ana@clinic-a.test", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert r.status_code == 403 and "ms_session" not in client.cookies
    ok = client.post(
        "/v1/auth/login",
        json={"email": "ana@clinic-a.test", "password": PASSWORD},
        headers={"Origin": "http://testserver"},
    )
    assert ok.status_code == 200


def test_a_revoked_key_gets_401_at_once_and_rotate_replaces_it(client, cli, settings, admin_key):
    code, key, _ = cli("keys", "create", "--clinic", "Clinic A", "--role", "app", "--label", "front-desk tablet")
    key = key.strip()
    assert code == 0 and client.get("/v1/exercises", headers=bearer(key)).status_code == 200
    code, listing, _ = cli("keys", "list", "--clinic", "Clinic A")
    prefix = key.split("_")[1]
    line = next(row for row in listing.splitlines() if row.startswith(prefix))
    assert "app" in line and "front-desk tablet" in line and line.split()[3] == "-"  # not revoked
    assert key.split("_", 2)[2] not in listing  # never the secret

    code, _, err = cli("keys", "revoke", "--clinic", "Clinic A", prefix)
    assert code == 0 and "revoked" in err
    r = client.get("/v1/exercises", headers=bearer(key))
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    line = next(row for row in cli("keys", "list", "--clinic", "Clinic A")[1].splitlines() if row.startswith(prefix))
    assert line.split()[3] != "-"

    # rotate: the replacement works at once, the old key does not
    code, old, _ = cli("keys", "create", "--clinic", "Clinic A", "--role", "clinician", "--label", "reporting")
    old = old.strip()
    code, new, err = cli("keys", "rotate", "--clinic", "Clinic A", old)
    new = new.strip()
    assert code == 0 and new.startswith("ms_") and new != old
    assert client.get("/v1/patients", headers=bearer(old)).status_code == 401
    assert client.get("/v1/patients", headers=bearer(new)).status_code == 200
    assert "reporting" in err
    # another clinic's key prefix is not found here
    other = make_key(settings, clinic="Clinic B", role="admin")
    code, _, err = cli("keys", "revoke", "--clinic", "Clinic A", other.split("_")[1])
    assert code == 2 and "no key" in err
    assert client.get("/v1/clinic", headers=bearer(other)).status_code == 200


def test_the_audit_log_names_the_person_and_the_key(client, cli, settings, admin_key):
    add_user(cli, email="boss@clinic-a.test", name="Dr Bea Silva", role="admin")
    me = log_in(client, email="boss@clinic-a.test")
    csrf = {"X-CSRF-Token": me["csrf_token"]}
    assert client.patch("/v1/clinic", json={"patient_feedback": "all"}, headers=csrf).status_code == 200
    code, labelled, _ = cli("keys", "create", "--clinic", "Clinic A", "--role", "admin", "--label", "EHR bridge")
    client.cookies.clear()
    labelled_h = bearer(labelled.strip())
    assert (
        client.patch("/v1/clinic", json={"patient_feedback": "signed_off_only"}, headers=labelled_h).status_code == 200
    )
    # a finding reviewed by the person carries their name too
    aid = analysed(client, labelled_h, settings)
    log_in(client, email="boss@clinic-a.test")
    csrf = {"X-CSRF-Token": client.cookies["ms_csrf"]}
    r = client.post(f"/v1/assessments/{aid}/findings/0/review", json={"action": "sign_off"}, headers=csrf)
    assert r.status_code == 201, r.text
    assert r.json()["reviewer_name"] == "Dr Bea Silva <boss@clinic-a.test>"
    finding = client.get(f"/v1/assessments/{aid}/findings").json()["items"][0]
    assert finding["review"]["reviewer_name"] == "Dr Bea Silva <boss@clinic-a.test>"

    events = audit_of(client, {})
    by_action = {}
    for e in events:
        by_action.setdefault(e["action"], []).append(e)
    updates = by_action["clinic.update"]  # newest first
    assert (updates[0]["actor_type"], updates[0]["actor_name"]) == ("key", "API key 'EHR bridge'")
    assert (updates[1]["actor_type"], updates[1]["actor_name"]) == ("user", "Dr Bea Silva <boss@clinic-a.test>")
    assert updates[1]["actor_role"] == "admin"
    review = by_action["finding.sign_off"][0]
    assert review["actor_name"] == "Dr Bea Silva <boss@clinic-a.test>"
    login = by_action["user.login_password"][0]
    assert login["entity_type"] == "user" and login["actor_name"] == "Dr Bea Silva <boss@clinic-a.test>"
    created = by_action["user.create"][0]
    assert created["actor_type"] == "cli" and created["after"]["display_name"] == "Dr Bea Silva"
    assert not any(e["actor_name"] is None for e in events)


def test_disable_and_reset_end_logins_at_once_and_login_links_work_once(client, cli, admin_key):
    add_user(cli, password=None)  # no password: the CLI prints a one-time login link
    code, out, err = cli(
        "users", "add", "--clinic", "Clinic A", "--email", "carl@clinic-a.test", "--name", "Carl", "--url",
        "https://clinic.example",
    )  # fmt: skip
    assert code == 0 and out.startswith("https://clinic.example/app/login#link=")
    token = out.strip().split("#link=")[1]
    r = client.post("/v1/auth/link", json={"token": token})
    assert r.status_code == 200 and r.json()["has_password"] is False and r.json()["name"] == "Carl"
    client.cookies.clear()
    assert client.post("/v1/auth/link", json={"token": token}).status_code == 401  # once only
    assert client.post("/v1/auth/login", json={"email": "carl@clinic-a.test", "password": "x" * 12}).status_code == 401

    # a link login sets a password (no current password needed), then password login works
    r = client.post(
        "/v1/auth/link", json={"token": cli("users", "reset", "carl@clinic-a.test")[1].split("#link=")[1].strip()}
    )
    me = r.json()
    short = client.post("/v1/auth/password", json={"new_password": "short"}, headers={"X-CSRF-Token": me["csrf_token"]})
    assert short.status_code == 422
    ok = client.post("/v1/auth/password", json={"new_password": PASSWORD}, headers={"X-CSRF-Token": me["csrf_token"]})
    assert ok.status_code == 204
    assert client.get("/v1/auth/me").status_code == 200  # this login stays
    client.cookies.clear()
    log_in(client, email="carl@clinic-a.test")
    value = client.cookies["ms_session"]

    code, _, err = cli("users", "disable", "carl@clinic-a.test")
    assert code == 0 and "2 login(s) ended" in err  # the link login (kept by the password change) and this one
    assert client.get("/v1/patients", headers=cookie_header(value)).status_code == 401
    client.cookies.clear()
    assert client.post("/v1/auth/login", json={"email": "carl@clinic-a.test", "password": PASSWORD}).status_code == 401
    cli("users", "enable", "carl@clinic-a.test")
    log_in(client, email="carl@clinic-a.test")
    value = client.cookies["ms_session"]
    code, link, _ = cli("users", "reset", "carl@clinic-a.test")
    assert code == 0 and "#link=" in link
    assert client.get("/v1/patients", headers=cookie_header(value)).status_code == 401  # reset ends logins
    client.cookies.clear()
    assert client.post("/v1/auth/login", json={"email": "carl@clinic-a.test", "password": PASSWORD}).status_code == 401

    code, listing, _ = cli("users", "list", "--clinic", "Clinic A")
    assert "carl@clinic-a.test" in listing and "ana@clinic-a.test" in listing and "argon2" not in listing


def test_cli_refuses_bad_accounts_with_one_line(cli, client, admin_key):
    code, _, err = cli("users", "add", "--clinic", "Nowhere", "--email", "a@b.test", "--name", "A")
    assert code == 2 and "no clinic 'Nowhere'" in err
    code, _, err = cli("users", "add", "--clinic", "Clinic A", "--email", "not-an-email", "--name", "A")
    assert code == 2 and "not an email" in err
    code, _, err = cli(
        "users",
        "add",
        "--clinic",
        "Clinic A",
        "--email",
        "a@b.test",
        "--name",
        "A",
        "--password-stdin",
        stdin="short\n",
    )
    assert code == 2 and "at least 10" in err
    add_user(cli)
    code, _, err = cli("users", "add", "--clinic", "Clinic A", "--email", "ana@clinic-a.test", "--name", "Again")
    assert code == 2 and "already" in err
    code, _, err = cli("users", "disable", "ghost@clinic-a.test")
    assert code == 2 and "no account" in err


def test_passwords_are_stored_as_argon2id(client, cli, admin_key):
    add_user(cli)
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from service.store.db import make_engine
    from service.store.models import User

    engine = make_engine(client.app.state.settings.sqlalchemy_url)
    with Session(engine) as s:
        stored = s.scalar(select(User.password_hash))
    engine.dispose()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


# -- patient links ---------------------------------------------------------------------------------


def test_a_patient_link_records_for_its_own_patient_only(client, settings, admin_key):
    auth = bearer(admin_key)
    p = new_patient(client, auth, code="P-LINK")
    other = new_patient(client, auth, code="P-OTHER")
    r = client.post(f"/v1/patients/{p['id']}/link", json={"exercise": "single_leg_stance"}, headers=auth)
    assert r.status_code == 201, r.text
    link = r.json()
    assert link["url"].startswith("http://testserver/app/patient#link=mpl.")
    assert link["url"].endswith("&exercise=single_leg_stance") and r.headers["cache-control"] == "no-store"
    token = link["token"]
    me = client.get("/v1/auth/me", headers=bearer(token)).json()
    assert (me["kind"], me["role"], me["patient_code"], me["patient_id"]) == ("patient_link", "app", "P-LINK", p["id"])

    # the page never types the patient: the assessment is the link's patient's
    body = json.loads(_stance_document())
    r = client.post(
        "/v1/assessments", content=json.dumps(body), headers={**bearer(token), "Content-Type": "application/json"}
    )
    assert r.status_code == 202, r.text
    aid = r.json()["id"]
    assert client.get(f"/v1/assessments/{aid}", headers=auth).json()["patient_id"] == "P-LINK"
    assert client.get(f"/v1/assessments/{aid}", headers=bearer(token)).status_code == 200
    body["patient_id"] = "P-OTHER"
    r = client.post(
        "/v1/assessments", content=json.dumps(body), headers={**bearer(token), "Content-Type": "application/json"}
    )
    assert r.status_code == 403
    # another patient's assessment is not found with this link
    theirs = analysed(client, auth, settings, patient_id="P-OTHER")
    assert client.get(f"/v1/assessments/{theirs}", headers=bearer(token)).status_code == 404
    assert client.get(f"/v1/assessments/{theirs}/suggestions", headers=bearer(token)).status_code == 404
    nrs = {"instrument": "nrs", "value": 3, "site": "back"}
    assert client.post(f"/v1/patients/{other['id']}/outcomes", json=nrs, headers=bearer(token)).status_code == 404
    assert client.post(f"/v1/patients/{p['id']}/outcomes", json=nrs, headers=bearer(token)).status_code == 201
    assert client.get("/v1/patients", headers=bearer(token)).status_code == 403
    # the audit log names who made the link
    event = audit_of(client, auth, entity_type="patient", entity_id=p["id"])[0]
    assert event["action"] == "patient.link" and event["actor_name"].startswith("API key")


def test_a_tampered_or_expired_patient_link_gets_401(client, settings, admin_key):
    auth = bearer(admin_key)
    p = new_patient(client, auth, code="P-EXP")
    token = client.post(f"/v1/patients/{p['id']}/link", json={"expires_in_days": 2 / 86400}, headers=auth).json()[
        "token"
    ]
    assert client.get("/v1/exercises", headers=bearer(token)).status_code == 200
    head, exp, mac = token.rsplit(".", 2)
    later = f"{head}.{int(exp) + 86400}.{mac}"  # a longer expiry without the clinic's secret
    r = client.get("/v1/exercises", headers=bearer(later))
    assert r.status_code == 401 and "patient link" in r.json()["detail"]
    other_patient = new_patient(client, auth, code="P-EXP2")
    swapped = token.replace(p["id"], other_patient["id"])
    assert client.get("/v1/exercises", headers=bearer(swapped)).status_code == 401
    # another clinic's link secret does not sign this clinic's links
    other = bearer(make_key(settings, clinic="Clinic B"))
    q = new_patient(client, other, code="P-B")
    theirs = client.post(f"/v1/patients/{q['id']}/link", headers=other).json()["token"]
    forged = theirs.replace(theirs.split(".")[1], token.split(".")[1])
    assert client.get("/v1/exercises", headers=bearer(forged)).status_code == 401
    time.sleep(2.2)
    assert client.get("/v1/exercises", headers=bearer(token)).status_code == 401  # expired
    # a deleted patient's link stops working
    t2 = client.post(f"/v1/patients/{other_patient['id']}/link", headers=auth).json()["token"]
    assert client.delete(f"/v1/patients/{other_patient['id']}", headers=auth).status_code == 204
    assert client.get("/v1/exercises", headers=bearer(t2)).status_code == 401


def test_patient_link_bad_input_is_a_clear_4xx(client, settings, admin_key):
    auth = bearer(admin_key)
    p = new_patient(client, auth, code="P-BAD")
    app = bearer(make_key(settings, role="app"))
    assert client.post(f"/v1/patients/{p['id']}/link", headers=app).status_code == 403
    assert client.post("/v1/patients/00000000-0000-0000-0000-000000000000/link", headers=auth).status_code == 404
    r = client.post(f"/v1/patients/{p['id']}/link", json={"expires_in_days": 0}, headers=auth)
    assert r.status_code == 422
    r = client.post(f"/v1/patients/{p['id']}/link", json={"exercise": "juggling"}, headers=auth)
    assert r.status_code == 422 and "juggling" in r.text
    assert client.get("/v1/exercises", headers=bearer("mpl.garbage")).status_code == 401


def test_failed_logins_are_throttled_per_account(client, cli, admin_key):
    add_user(cli)
    add_user(cli, email="other@clinic-a.test", name="Other")
    for _ in range(5):
        r = client.post("/v1/auth/login", json={"email": "ana@clinic-a.test", "password": "not the password"})
        assert r.status_code == 401
    r = client.post("/v1/auth/login", json={"email": "ana@clinic-a.test", "password": PASSWORD})
    assert r.status_code == 429 and r.json()["type"].endswith("/too-many-attempts")  # even the right password
    assert 800 < int(r.headers["retry-after"]) <= 901
    log_in(client, email="other@clinic-a.test")  # another account is not held up


def test_links_reset_stops_every_patient_link_of_the_clinic(client, cli, settings, admin_key):
    auth = bearer(admin_key)
    p = new_patient(client, auth, code="P-RESET")
    token = client.post(f"/v1/patients/{p['id']}/link", headers=auth).json()["token"]
    other = bearer(make_key(settings, clinic="Clinic B"))
    q = new_patient(client, other, code="P-B")
    theirs = client.post(f"/v1/patients/{q['id']}/link", headers=other).json()["token"]
    assert client.get("/v1/auth/me", headers=bearer(token)).status_code == 200
    code, _, err = cli("links", "reset", "--clinic", "Clinic A")
    assert code == 0 and "no longer works" in err
    assert client.get("/v1/auth/me", headers=bearer(token)).status_code == 401
    assert client.get("/v1/auth/me", headers=bearer(theirs)).status_code == 200  # another clinic's links stay
    fresh = client.post(f"/v1/patients/{p['id']}/link", headers=auth).json()["token"]
    assert client.get("/v1/auth/me", headers=bearer(fresh)).status_code == 200
    assert audit_of(client, auth, entity_type="clinic")[0]["action"] == "clinic.links_reset"
