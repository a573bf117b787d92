"""A real ``airflow api-server`` (core app) and a spawned emulator, on every supported minor.

The server runs in its own ``AIRFLOW_HOME`` (SQLite, migrated here) on 127.0.0.1 and a free port,
with the simple auth manager making every user an admin and the Test button enabled. Airflow 3.0
and 3.1 still want a Bearer token for ``/ui/*`` and ``/api/v2/*`` even then (3.2+ do not), so
:meth:`ApiServer.request` sends one from ``GET /auth/token`` on every minor: the same client code
works everywhere. The server itself is ``tests/fixtures/airflow_server.py``'s.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fixtures.airflow_server import AIRFLOW, http_json, running_api_server, server_env

from airflow_provider_firefly.testing import FireflyEmulator, SpawnedEmulator

__all__ = ["AIRFLOW", "ApiServer", "server_env"]  # what the tests of this folder import

START_TIMEOUT = 120.0


@dataclass
class ApiServer:
    base_url: str
    home: Path
    log_path: Path
    token: str

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return http_json(method, self.base_url + path, body, token=self.token)


@pytest.fixture(scope="session")
def compat_emulator() -> Iterator[SpawnedEmulator]:
    with FireflyEmulator.spawn("--host", "127.0.0.1", "--job-duration", "0") as emu:
        yield emu


@pytest.fixture(scope="session")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    home = tmp_path_factory.mktemp("compat-airflow-home")
    with running_api_server(home, server_env(home), start_timeout=START_TIMEOUT) as (base_url, log):
        status, body = http_json("GET", base_url + "/auth/token")
        assert status in (200, 201), (status, body)
        yield ApiServer(base_url, home, log, token=body["access_token"])
