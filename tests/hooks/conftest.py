"""Fixtures of the hook tests: isolated token caches, connections pointing at the emulator."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_firefly.client.tokens import clear_memory_cache
from airflow_provider_firefly.testing import FireflyEmulator


@pytest.fixture(autouse=True)
def _isolated_token_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test sees another's in-process tokens or host cache files."""
    monkeypatch.setenv("AIRFLOW_PROVIDER_FIREFLY_CACHE_DIR", str(tmp_path / "token-cache"))
    clear_memory_cache()
    yield
    clear_memory_cache()


def conn_json(emu: FireflyEmulator | None = None, **fields: Any) -> str:
    """A ``firefly`` connection as Airflow's JSON form, aimed at ``emu``.

    ``fields`` override ``login``/``password``; any other keyword goes into ``extra``
    (``None`` removes a key).
    """
    conn: dict[str, Any] = {
        "conn_type": "firefly",
        "login": emu.client_id if emu else "client-id",
        "password": emu.client_secret if emu else "client-secret-value",
    }
    extra: dict[str, Any] = {"api_url": emu.api_url, "ims_url": emu.ims_url} if emu else {}
    for key, value in fields.items():
        if key in ("login", "password"):
            conn[key] = value
        elif value is None:
            extra.pop(key, None)
        else:
            extra[key] = value
    conn["extra"] = extra
    return json.dumps(conn)


@pytest.fixture
def set_conn(monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """``set_conn("ff_x", emu, **fields)`` exports ``AIRFLOW_CONN_FF_X``; returns the conn id."""

    def _set(conn_id: str, emu: FireflyEmulator | None = None, **fields: Any) -> str:
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", conn_json(emu, **fields))
        return conn_id

    return _set
