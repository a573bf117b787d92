"""A real ``airflow api-server`` (core app) and a spawned emulator, on every supported minor.

The server runs in its own ``AIRFLOW_HOME`` (SQLite, migrated here) on 127.0.0.1 and a free port,
with the simple auth manager making every user an admin and the Test button enabled. Airflow 3.0
and 3.1 still want a Bearer token for ``/ui/*`` and ``/api/v2/*`` even then (3.2+ do not), so
:meth:`ApiServer.request` sends one from ``GET /auth/token`` on every minor: the same client code
works everywhere. The server is stopped by its PID (its own session, so a lingering child can be
killed as a group).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_firefly.testing import FireflyEmulator, SpawnedEmulator

AIRFLOW = str(Path(sys.executable).with_name("airflow"))
START_TIMEOUT = 120.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(
    method: str, url: str, body: Any = None, token: str | None = None, timeout: float = 30.0
) -> tuple[int, Any]:
    """One JSON request; returns (status, decoded body). HTTP errors are returned, not raised."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


@dataclass
class ApiServer:
    base_url: str
    home: Path
    log_path: Path
    token: str

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return http(method, self.base_url + path, body, token=self.token)


def server_env(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AIRFLOW_CONN_") and k != "FIREFLY_TESTS_OWN_HOME"
    }
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
        AIRFLOW__CORE__TEST_CONNECTION="Enabled",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW_PROVIDER_FIREFLY_CACHE_DIR=str(home / "token-cache"),
    )
    return env


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the group of the session we started
            proc.wait(5)


@pytest.fixture(scope="session")
def compat_emulator() -> Iterator[SpawnedEmulator]:
    with FireflyEmulator.spawn("--host", "127.0.0.1", "--job-duration", "0") as emu:
        yield emu


@pytest.fixture(scope="session")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    home = tmp_path_factory.mktemp("compat-airflow-home")
    env = server_env(home)
    migrate = subprocess.run(
        [AIRFLOW, "db", "migrate"], env=env, capture_output=True, text=True, check=False
    )
    assert migrate.returncode == 0, migrate.stdout[-2000:] + migrate.stderr[-2000:]
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = home / "api-server.log"
    argv = [AIRFLOW, "api-server", "--apps", "core", "--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            argv, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                status, _ = http("GET", base_url + "/api/v2/monitor/health", timeout=2)
                if status == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"api-server did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        status, body = http("GET", base_url + "/auth/token")
        assert status in (200, 201), (status, body)
        yield ApiServer(base_url, home, log_path, token=body["access_token"])
    finally:
        _stop(proc)
