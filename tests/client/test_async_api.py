"""AsyncFireflyClient (httpx) against the emulator: same headers, retries, 401 refresh, errors."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from airflow_provider_firefly.client import (
    AsyncFireflyClient,
    FireflyAuthError,
    FireflyConnectionError,
    FireflyCredentials,
    FireflyNotFoundError,
    FireflyServerError,
    FireflyTimeoutError,
    HttpSettings,
    TokenCacheSettings,
)
from airflow_provider_firefly.client.retry import RetryPolicy
from airflow_provider_firefly.client.transport import AsyncTransport, SyncTransport
from airflow_provider_firefly.testing import FireflyEmulator
from airflow_provider_firefly.testing.ims import fingerprint

pytestmark = pytest.mark.timeout(30)

T = TypeVar("T")
GENERATE = "POST /v3/images/generate-async"
STATUS = "GET /v3/status/{jobId}"
CANCEL = "PUT /v3/cancel/{jobId}"


@pytest.fixture
def emu(firefly_emulator: FireflyEmulator) -> FireflyEmulator:
    firefly_emulator.configure(job_duration=0)
    return firefly_emulator


def run(
    emu: FireflyEmulator,
    tmp_path: Path,
    scenario: Callable[[AsyncFireflyClient], Awaitable[T]],
    *,
    api_url: str | None = None,
    **http: Any,
) -> T:
    options: dict[str, Any] = {"connect_timeout": 1.0, "read_timeout": 2.0, "max_attempts": 4}
    options.update(http)
    settings = HttpSettings(api_url=api_url or emu.api_url, **options)
    policy = RetryPolicy.from_settings(settings, backoff_base=0.01, backoff_max=0.05)
    credentials = FireflyCredentials(emu.client_id, emu.client_secret, ims_url=emu.ims_url)

    async def main() -> T:
        async with AsyncFireflyClient(
            credentials, settings, TokenCacheSettings(cache_dir=tmp_path / "tok")
        ) as client:
            client.__dict__["transport"] = AsyncTransport(
                settings, user_agent=client.user_agent, policy=policy
            )
            client.__dict__["_token_transport"] = SyncTransport(
                settings, user_agent=client.user_agent, policy=policy
            )
            return await scenario(client)

    return asyncio.run(main())


def routes(emu: FireflyEmulator) -> dict[str, int]:
    return dict(emu.counters()["requests_by_route"])


def test_submit_status_cancel_with_headers(emu: FireflyEmulator, tmp_path: Path) -> None:
    async def scenario(client: AsyncFireflyClient) -> Any:
        handle = await client.submit(
            "generate_images", {"prompt": "a"}, model_version="image4_ultra"
        )
        status = await client.get_status(handle)
        by_id = await client.get_status(handle.job_id)  # a URN is not a URL
        cancelled = await client.cancel(handle.job_id)
        return handle, status, by_id, cancelled, await client.get_access_token()

    handle, status, by_id, cancelled, token = run(emu, tmp_path, scenario)
    assert status.succeeded
    assert status.outputs
    assert by_id.job_id == handle.job_id
    assert cancelled is False  # already succeeded
    counters = emu.counters()
    for route in (GENERATE, STATUS, CANCEL):
        headers = counters["last_headers"][route]
        assert headers["authorization"] == f"Bearer {fingerprint(token)}"
        assert headers["x-api-key"] == emu.client_id
        assert headers["user-agent"].startswith("airflow-provider-firefly/")
    assert counters["last_headers"][GENERATE]["x-model-version"] == "image4_ultra"
    assert counters["ims_token_requests"] == 1


def test_cancel_running_job(emu: FireflyEmulator, tmp_path: Path) -> None:
    emu.configure(job_duration=30)

    async def scenario(client: AsyncFireflyClient) -> Any:
        handle = await client.submit("generate_images", {"prompt": "slow"})
        return await client.cancel(handle), (await client.get_status(handle)).status

    assert run(emu, tmp_path, scenario) == (True, "cancel_pending")


def test_retries_like_the_sync_client(emu: FireflyEmulator, tmp_path: Path) -> None:
    emu.script(GENERATE, [{"status": 503}, {"status": 429, "headers": {"retry-after": "0"}}])
    emu.script(STATUS, [{"status": 500}, {"status": 504}, {"drop": True}])

    async def scenario(client: AsyncFireflyClient) -> Any:
        handle = await client.submit("generate_images", {"prompt": "a"})
        return await client.get_status(handle)

    assert run(emu, tmp_path, scenario).succeeded
    assert routes(emu)[GENERATE] == 3
    assert routes(emu)[STATUS] == 4
    assert emu.counters()["jobs_submitted"] == 1


def test_submit_never_paid_twice(emu: FireflyEmulator, tmp_path: Path) -> None:
    outcomes: list[type] = []

    async def scenario(client: AsyncFireflyClient) -> None:
        await client.get_access_token()
        for fault in (
            {"status": 500},
            {"drop": True, "process": True},
            {"delay": 0.8, "process": True},
        ):
            emu.script(GENERATE, [fault])
            try:
                await client.submit("generate_images", {"prompt": "a"})
            except (FireflyServerError, FireflyConnectionError) as error:
                outcomes.append(type(error))
        await asyncio.sleep(0.6)

    run(emu, tmp_path, scenario, read_timeout=0.3)
    assert outcomes == [FireflyServerError, FireflyConnectionError, FireflyTimeoutError]
    assert routes(emu)[GENERATE] == 3
    assert len(emu.jobs()) == 2  # the dropped and the timed-out submission were accepted once


def test_connection_refused_retried_then_raises(emu: FireflyEmulator, tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"

    async def scenario(client: AsyncFireflyClient) -> Any:
        started = time.monotonic()
        try:
            await client.submit("generate_images", {"prompt": "a"})
        except FireflyConnectionError as error:
            return error, time.monotonic() - started
        raise AssertionError("no error")

    error, elapsed = run(emu, tmp_path, scenario, api_url=dead, max_attempts=3)
    assert error.request_sent is False
    assert elapsed < 2


def test_401_refresh_once_then_auth_error(emu: FireflyEmulator, tmp_path: Path) -> None:
    unauthorised = {"status": 401, "body": {"error_code": "401013", "message": "not valid"}}

    async def scenario(client: AsyncFireflyClient) -> Any:
        handle = await client.submit("generate_images", {"prompt": "a"})
        emu.revoke_tokens()
        first = await client.get_status(handle)
        emu.script(STATUS, [unauthorised, unauthorised])
        try:
            await client.get_status(handle)
        except FireflyAuthError as error:
            return first, error
        raise AssertionError("no error")

    first, error = run(emu, tmp_path, scenario)
    assert first.succeeded
    assert error.status == 401
    assert error.error_code == "401013"
    assert emu.counters()["ims_token_requests"] == 3
    assert routes(emu)[STATUS] == 4


def test_unknown_job(emu: FireflyEmulator, tmp_path: Path) -> None:
    async def scenario(client: AsyncFireflyClient) -> Any:
        try:
            await client.get_status("urn:ff:jobs:emu851211:00000000-0000-0000-0000-000000000000")
        except FireflyNotFoundError as error:
            return error
        raise AssertionError("no error")

    error = run(emu, tmp_path, scenario)
    assert error.status == 404
    assert error.request_id
