"""Fixtures of the trigger tests: isolated token caches and budgets, connections at the emulator."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_firefly.client.request_budget import clear_budgets
from airflow_provider_firefly.client.tokens import clear_memory_cache
from airflow_provider_firefly.testing import FireflyEmulator


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AIRFLOW_PROVIDER_FIREFLY_CACHE_DIR", str(tmp_path / "token-cache"))
    clear_memory_cache()
    clear_budgets()
    yield
    clear_memory_cache()
    clear_budgets()


def conn_json(emu: FireflyEmulator, **extra: Any) -> str:
    return emu.airflow_connection(**extra)


@pytest.fixture
def set_conn(monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """``set_conn("ff_x", emu, **extra)`` exports ``AIRFLOW_CONN_FF_X``; returns the conn id."""

    def _set(conn_id: str, emu: FireflyEmulator, **extra: Any) -> str:
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", conn_json(emu, **extra))
        return conn_id

    return _set


def submit(emu: FireflyEmulator, conn_id: str, prompt: str = "a lighthouse") -> dict[str, Any]:
    """Submit a job through the sync hook; returns ``JobHandle.to_dict()``."""
    from airflow_provider_firefly.hooks.firefly import FireflyHook

    hook = FireflyHook(firefly_conn_id=conn_id)
    try:
        return hook.submit("generate_images", {"prompt": prompt}).to_dict()
    finally:
        hook.client.close()


def run_trigger(trigger: Any, timeout: float = 30.0) -> list[dict[str, Any]]:
    """Run ``trigger.run()`` to its end on a fresh event loop; the payloads of its events."""

    async def collect() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    return asyncio.run(asyncio.wait_for(collect(), timeout))
