"""One real ``motionscript serve`` process (SQLite, local workers) shared by the SDK tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.service._servers import REPO, Processes, cli, free_port, service_env, wait_ready


@dataclass(frozen=True)
class Server:
    url: str
    key: str
    app_key: str  # role "app": may create and read, not list or delete
    clinician_key: str = ""


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("sdk-server")
    env = service_env(data_dir=tmp / "var", workers=2, log_level="WARNING")
    key = cli("keys", "create", "--clinic", "SDK clinic", env=env, cwd=REPO).strip()
    app_key = cli("keys", "create", "--clinic", "SDK clinic", "--role", "app", env=env, cwd=REPO).strip()
    clinician_key = cli("keys", "create", "--clinic", "SDK clinic", "--role", "clinician", env=env, cwd=REPO).strip()
    logs = tmp / "logs"
    logs.mkdir()
    procs = Processes(logs)
    try:
        port = free_port()
        proc = procs.serve("server", port, env=env, cwd=REPO)
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, proc)
        yield Server(url, key, app_key, clinician_key)
    finally:
        procs.close()
        procs.dump_logs(40)
