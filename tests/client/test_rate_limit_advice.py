"""The final 429 (the retries or the pacer's patience used up) says how many tries were made
over how long and what to change: a pool sized to the budget, requests_per_minute and
budget_slots. Scripted 429s from the emulator over loopback."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_firefly.client import (
    AsyncFireflyClient,
    FireflyClient,
    FireflyCredentials,
    FireflyRateLimitError,
    HttpSettings,
    TokenCacheSettings,
)
from airflow_provider_firefly.client.pacing import TaskPacer
from airflow_provider_firefly.testing import FireflyEmulator

pytestmark = pytest.mark.timeout(60)

GENERATE = "POST /v3/images/generate-async"
LIMITED = {"status": 429, "headers": {"retry-after": "0", "x-access-rate-limit-level": "org"}}


def _kwargs(emu: FireflyEmulator, tmp_path: Path, attempts: int) -> dict[str, Any]:
    return {
        "credentials": FireflyCredentials(emu.client_id, emu.client_secret, ims_url=emu.ims_url),
        "http": HttpSettings(api_url=emu.api_url, max_attempts=attempts, max_retry_wait=0.05),
        "token_cache": TokenCacheSettings(cache_dir=tmp_path / "tokens"),
    }


def _assert_advice(error: FireflyRateLimitError, tries: int) -> None:
    text = str(error)
    assert f"gave up after {tries} tries over " in text
    for advice in ("airflow pools set firefly", "--include-deferred", "requests_per_minute"):
        assert advice in text
    assert "budget_slots" in text
    # the details of the last 429 are kept, and it is the cause
    assert error.status == 429
    assert error.tries == tries
    assert error.elapsed is not None
    assert error.limit_level == "org"
    assert isinstance(error.__cause__, FireflyRateLimitError)
    assert "gave up" not in str(error.__cause__)  # the original was not changed


def test_sync_retries_used_up(firefly_emulator: FireflyEmulator, tmp_path: Path) -> None:
    emu = firefly_emulator
    emu.script(GENERATE, [LIMITED] * 3)
    client = FireflyClient(**_kwargs(emu, tmp_path, attempts=3))
    with client, pytest.raises(FireflyRateLimitError) as info:
        client.generate_images({"prompt": "a"})
    _assert_advice(info.value, tries=3)
    assert emu.counters()["requests_by_route"][GENERATE] == 3
    assert emu.counters()["jobs_submitted"] == 0


def test_async_retries_used_up(firefly_emulator: FireflyEmulator, tmp_path: Path) -> None:
    emu = firefly_emulator
    emu.script(GENERATE, [LIMITED] * 2)

    async def submit() -> None:
        async with AsyncFireflyClient(**_kwargs(emu, tmp_path, attempts=2)) as client:
            await client.submit("generate_images", {"prompt": "a"})

    with pytest.raises(FireflyRateLimitError) as info:
        asyncio.run(submit())
    _assert_advice(info.value, tries=2)


def test_pacer_patience_used_up(firefly_emulator: FireflyEmulator, tmp_path: Path) -> None:
    """The pacer retries 429s past max_attempts until its deadline; then the advice."""
    emu = firefly_emulator
    emu.script(GENERATE, [{**LIMITED, "headers": {**LIMITED["headers"], "retry-after": "1"}}] * 9)
    pacer = TaskPacer(0.0, deadline=None)
    pacer.give_up_after(2.5)  # room for the first try and two 1 s pauses, not a third
    client = FireflyClient(**_kwargs(emu, tmp_path, attempts=2), pacer=pacer)
    with client, pytest.raises(FireflyRateLimitError) as info:
        client.generate_images({"prompt": "a"})
    _assert_advice(info.value, tries=3)
    assert emu.counters()["requests_by_route"][GENERATE] == 3
