"""Helpers of the trigger tests (isolation and ``set_conn`` are the shared fixtures of
``tests/fixtures``)."""

from __future__ import annotations

import asyncio
from typing import Any

from airflow_provider_firefly.testing import FireflyEmulator


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
