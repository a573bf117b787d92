"""The Airflow CLI in subprocesses: ``providers list``, ``connections add`` and ``connections
test`` against a spawned emulator (``[core] test_connection = Enabled`` comes from conftest)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator

import pytest

from airflow_provider_firefly.testing import FireflyEmulator, SpawnedEmulator
from airflow_provider_firefly.testing.config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

AIRFLOW = os.path.join(os.path.dirname(sys.executable), "airflow")


def _airflow(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AIRFLOW, *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def spawned_emulator() -> Iterator[SpawnedEmulator]:
    with FireflyEmulator.spawn() as emu:
        yield emu


def test_providers_list_shows_the_provider() -> None:
    result = _airflow("providers", "list", "-o", "json")
    assert result.returncode == 0, result.stderr[-2000:]
    start = result.stdout.index("[")
    providers = {p["package_name"]: p for p in json.loads(result.stdout[start:])}
    assert "airflow-provider-firefly" in providers
    assert providers["airflow-provider-firefly"]["description"]


def test_connections_add_then_test(airflow_db: str, spawned_emulator: SpawnedEmulator) -> None:
    url = spawned_emulator.url
    extra = json.dumps({"api_url": url, "ims_url": url, "host_cache": False, "max_attempts": 1})
    suffix = uuid.uuid4().hex[:8]
    good, bad = f"ff_cli_ok_{suffix}", f"ff_cli_bad_{suffix}"
    wrong_secret = f"wrong-secret-{suffix}"
    for conn_id, secret in ((good, DEFAULT_CLIENT_SECRET), (bad, wrong_secret)):
        added = _airflow(
            "connections",
            "add",
            conn_id,
            "--conn-type",
            "firefly",
            "--conn-login",
            DEFAULT_CLIENT_ID,
            "--conn-password",
            secret,
            "--conn-extra",
            extra,
        )
        assert added.returncode == 0, added.stderr[-2000:]
        assert "Successfully added" in added.stdout

    ok = _airflow("connections", "test", good)
    assert ok.returncode == 0, ok.stdout[-2000:] + ok.stderr[-2000:]
    assert "Connection success!" in ok.stdout
    assert DEFAULT_CLIENT_SECRET not in ok.stdout + ok.stderr

    failed = _airflow("connections", "test", bad)
    assert failed.returncode == 1
    assert "Connection failed!" in failed.stdout
    assert "IMS rejected the client secret" in failed.stdout
    assert wrong_secret not in failed.stdout + failed.stderr
    assert "Traceback" not in failed.stdout + failed.stderr

    with urllib.request.urlopen(f"{url}/_emulator/counters", timeout=10) as reply:
        counters = json.load(reply)
    assert counters["ims_token_requests"] == 2  # one per test, no retry of the bad secret
