"""Two rough edges a trial user met: the job handle carries the submission's request id
(worth quoting to Adobe support), and the sync deadline warnings name the job. Emulator over
loopback."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_firefly.client import (
    AsyncFireflyClient,
    FireflyClient,
    FireflyCredentials,
    FireflyJobTimeoutError,
    HttpSettings,
    JobHandle,
    PollPolicy,
    TokenCacheSettings,
)
from airflow_provider_firefly.client.jobs import parse_submit_response
from airflow_provider_firefly.client.server_text import MAX_FIELD
from airflow_provider_firefly.testing import FireflyEmulator

pytestmark = pytest.mark.timeout(60)

CANCEL = "PUT /v3/cancel/{jobId}"
FAST = PollPolicy(first_delay=0, min_interval=0.05, max_interval=0.1)
LOGGER = "airflow_provider_firefly.client"


def _kwargs(emu: FireflyEmulator, tmp_path: Path) -> dict[str, Any]:
    return {
        "credentials": FireflyCredentials(emu.client_id, emu.client_secret, ims_url=emu.ims_url),
        "http": HttpSettings(api_url=emu.api_url, max_attempts=1),
        "token_cache": TokenCacheSettings(cache_dir=tmp_path / "tokens"),
    }


def test_sync_handle_carries_the_reply_request_id(
    firefly_emulator: FireflyEmulator, tmp_path: Path
) -> None:
    emu = firefly_emulator
    with FireflyClient(**_kwargs(emu, tmp_path)) as client:
        # the emulator echoes a request id it is sent, as Adobe's gateway does
        echoed = client.submit("generate_images", {"prompt": "a"}, headers={"x-request-id": "r-1"})
        first = client.generate_images({"prompt": "a"})
        second = client.generate_images({"prompt": "a"})
    assert echoed.request_id == "r-1"
    # otherwise it makes one up per reply
    assert first.request_id
    assert second.request_id
    assert first.request_id != second.request_id
    assert JobHandle.from_dict(first.to_dict()) == first
    assert first.to_dict()["request_id"] == first.request_id


def test_async_handle_carries_the_reply_request_id(
    firefly_emulator: FireflyEmulator, tmp_path: Path
) -> None:
    async def submit() -> JobHandle:
        async with AsyncFireflyClient(**_kwargs(firefly_emulator, tmp_path)) as client:
            return await client.submit("generate_images", {"prompt": "a"})

    handle = asyncio.run(submit())
    assert handle.request_id
    assert JobHandle.from_dict(handle.to_dict()).request_id == handle.request_id


def test_old_handle_dicts_still_load_and_none_is_left_out() -> None:
    old = {"job_id": "urn:ff:jobs:x:1", "status_url": "https://x/v3/status/1", "cancel_url": None}
    handle = JobHandle.from_dict(old)
    assert handle.request_id is None
    assert handle.to_dict() == old


def test_deadline_warnings_name_the_job(
    firefly_emulator: FireflyEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    emu = firefly_emulator
    emu.configure(job_duration=30)
    caplog.set_level(logging.WARNING, logger=LOGGER)
    with FireflyClient(**_kwargs(emu, tmp_path)) as client:
        handle = client.generate_images({"prompt": "slow"})
        with pytest.raises(FireflyJobTimeoutError):
            client.wait(handle, timeout=0.3, poll=FAST)
        emu.script(CANCEL, [{"status": 500}])
        other = client.generate_images({"prompt": "slow"})
        with pytest.raises(FireflyJobTimeoutError):
            client.wait(other.job_id, timeout=0.3, poll=FAST)  # a bare id is named too
    messages = [r.getMessage() for r in caplog.records if "deadline passed" in r.getMessage()]
    assert messages[0] == f"Firefly job {handle.job_id}: deadline passed; cancel requested"
    assert messages[1].startswith(f"Firefly job {other.job_id}: deadline passed; cancel failed: ")
    assert len(messages) == 2


def test_a_hostile_request_id_is_clipped() -> None:
    body = {"jobId": "urn:ff:jobs:x:1", "statusUrl": "https://x/v3/status/1"}
    handle = parse_submit_response(body, subject="POST", headers={"X-Request-Id": "r" * 5000})
    assert handle.request_id is not None
    assert 0 < len(handle.request_id) <= MAX_FIELD + 3  # clipped, with an ellipsis at most
    loaded = JobHandle.from_dict({**handle.to_dict(), "request_id": "s" * 5000})
    assert loaded.request_id is not None
    assert len(loaded.request_id) <= MAX_FIELD + 3
