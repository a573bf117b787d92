"""Fixtures of the reliability suite, and the hooks that write the figures of the last run.

Every test here runs ``_isolated`` (``tests/fixtures/isolation.py``); ``conn_json`` and
``set_conn`` are ``tests/fixtures/connections.py``'s."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from . import _ledger

HERE = Path(__file__).parent


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if not report.nodeid.startswith("tests/reliability/"):
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _ledger.ITEMS[report.nodeid] = report.outcome


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _ledger.ITEMS:
        _ledger.write()


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backoff steps of milliseconds (``retry-after`` is still honoured as sent)."""
    from airflow_provider_firefly.client.retry import RetryPolicy

    original = RetryPolicy.from_settings.__func__  # type: ignore[attr-defined]

    def from_settings(cls: type[RetryPolicy], settings: Any, **overrides: Any) -> RetryPolicy:
        overrides.setdefault("backoff_base", 0.02)
        overrides.setdefault("backoff_max", 0.1)
        return original(cls, settings, **overrides)  # type: ignore[no-any-return]

    monkeypatch.setattr(RetryPolicy, "from_settings", classmethod(from_settings))


@pytest.fixture
def records(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The never-pay-twice records in a dict instead of Airflow Variables (no task runner)."""
    from airflow_provider_firefly.operators._resume import JobRecord

    store: dict[str, str] = {}

    def variable_get(key: str, default: Any = None) -> Any:
        return store.get(key, default)

    def variable_set(key: str, value: str, description: str | None = None) -> None:
        store[key] = value

    def variable_delete(key: str) -> None:
        store.pop(key, None)

    from airflow.sdk import Variable

    monkeypatch.setattr(Variable, "get", staticmethod(variable_get))
    monkeypatch.setattr(Variable, "set", staticmethod(variable_set))
    monkeypatch.setattr(Variable, "delete", staticmethod(variable_delete))
    assert JobRecord  # the real JobRecord code runs, only the storage is a dict
    return store
