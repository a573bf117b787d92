"""Retries over real HTTP: 429 in every form, 5xx bursts, timeouts, dropped and refused
connections, and the rule that a job submission is never paid twice."""

from __future__ import annotations

import logging
import socket
import time
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_firefly.client import (
    FireflyClient,
    FireflyConnectionError,
    FireflyCredentials,
    FireflyRateLimitError,
    FireflyServerError,
    FireflyTimeoutError,
    HttpSettings,
    PollPolicy,
    TokenCacheSettings,
)
from airflow_provider_firefly.client.retry import RetryPolicy
from airflow_provider_firefly.client.transport import HttpResponse, SyncTransport, describe_url
from airflow_provider_firefly.testing import FireflyEmulator

pytestmark = pytest.mark.timeout(30)

GENERATE = "POST /v3/images/generate-async"
STATUS = "GET /v3/status/{jobId}"
FAST = PollPolicy(first_delay=0, min_interval=0.05, max_interval=0.1)
LOGGER = "airflow_provider_firefly.client"


def make_client(
    emu: FireflyEmulator, tmp_path: Path, *, api_url: str | None = None, **http: Any
) -> FireflyClient:
    options: dict[str, Any] = {"connect_timeout": 1.0, "read_timeout": 2.0, "max_attempts": 4}
    options.update(http)
    settings = HttpSettings(api_url=api_url or emu.api_url, **options)
    credentials = FireflyCredentials(emu.client_id, emu.client_secret, ims_url=emu.ims_url)
    client = FireflyClient(credentials, settings, TokenCacheSettings(cache_dir=tmp_path / "tok"))
    policy = RetryPolicy.from_settings(settings, backoff_base=0.01, backoff_max=0.05)
    for name in ("transport", "_token_transport"):
        setattr(client, name, SyncTransport(settings, user_agent=client.user_agent, policy=policy))
    return client


@pytest.fixture
def emu(firefly_emulator: FireflyEmulator) -> FireflyEmulator:
    firefly_emulator.configure(job_duration=0)
    return firefly_emulator


def requests_to(emu: FireflyEmulator, route: str) -> int:
    return int(emu.counters()["requests_by_route"].get(route, 0))


def retry_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- 429 ----------------------------------------------------------------------------------


@pytest.mark.parametrize("empty_body", [False, True])
def test_429_retry_after_seconds(
    emu: FireflyEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture, empty_body: bool
) -> None:
    reply: dict[str, Any] = {"status": 429, "headers": {"retry-after": "1"}}
    if not empty_body:
        reply["body"] = {"error_code": "rate_limited", "message": "Too many requests"}
    emu.script(GENERATE, [reply])
    caplog.set_level(logging.WARNING, LOGGER)
    with make_client(emu, tmp_path, max_retry_wait=5) as client:
        client.get_access_token()
        started = time.monotonic()
        handle = client.generate_images({"prompt": "a"})
        elapsed = time.monotonic() - started
    assert handle.job_id
    assert 1.0 <= elapsed < 2.5
    assert requests_to(emu, GENERATE) == 2
    assert emu.counters()["jobs_submitted"] == 1
    (message,) = retry_logs(caplog)
    assert "rate limited (HTTP 429)" in message
    assert "retrying in 1." in message


def test_429_retry_after_http_date(emu: FireflyEmulator, tmp_path: Path) -> None:
    when = formatdate(time.time() + 1.5, usegmt=True)
    emu.script(STATUS, [{"status": 429, "headers": {"retry-after": when}}])
    with make_client(emu, tmp_path, max_retry_wait=5) as client:
        handle = client.generate_images({"prompt": "a"})
        started = time.monotonic()
        assert client.get_status(handle).succeeded
        elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 2.5
    assert requests_to(emu, STATUS) == 2


def test_429_without_retry_after_backs_off(
    emu: FireflyEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    emu.script(GENERATE, [{"status": 429}, {"status": 429}])
    caplog.set_level(logging.WARNING, LOGGER)
    with make_client(emu, tmp_path) as client:
        started = time.monotonic()
        assert client.generate_images({"prompt": "a"}).job_id
        assert time.monotonic() - started < 1.0
    assert requests_to(emu, GENERATE) == 3
    assert emu.counters()["jobs_submitted"] == 1
    assert len(retry_logs(caplog)) == 2


def test_emulator_rate_limit_http_date_empty_body(emu: FireflyEmulator, tmp_path: Path) -> None:
    emu.configure(
        rate_limit=1,
        rate_limit_window=1.0,
        retry_after_format="http-date",
        rate_limit_empty_body=True,
    )
    with make_client(emu, tmp_path, max_retry_wait=3) as client:
        first = client.generate_images({"prompt": "a"})
        started = time.monotonic()
        second = client.generate_images({"prompt": "b"})
        assert time.monotonic() - started < 3.5
    assert first.job_id != second.job_id
    counters = emu.counters()
    assert counters["rate_limited"] >= 1
    assert counters["jobs_submitted"] == 2


def test_429_outlasting_the_budget(emu: FireflyEmulator, tmp_path: Path) -> None:
    emu.script(
        STATUS,
        [{"status": 429, "headers": {"retry-after": "3600", "x-access-rate-limit-level": "org"}}]
        * 3,
    )
    with make_client(emu, tmp_path, max_attempts=3, max_retry_wait=0.05) as client:
        handle = client.generate_images({"prompt": "a"})
        started = time.monotonic()
        with pytest.raises(FireflyRateLimitError) as info:
            client.get_status(handle)
        assert time.monotonic() - started < 1.0  # retry-after capped by max_retry_wait
    assert info.value.status == 429
    assert info.value.limit_level == "org"
    assert info.value.retry_after == 3600
    assert requests_to(emu, STATUS) == 3


# -- 5xx ----------------------------------------------------------------------------------


def test_5xx_burst_shorter_than_budget_recovers(emu: FireflyEmulator, tmp_path: Path) -> None:
    emu.script(STATUS, [{"status": s} for s in (500, 502, 503, 504)])
    with make_client(emu, tmp_path, max_attempts=5) as client:
        handle = client.generate_images({"prompt": "a"})
        assert client.get_status(handle).succeeded
    assert requests_to(emu, STATUS) == 5


def test_5xx_burst_longer_than_budget_raises(emu: FireflyEmulator, tmp_path: Path) -> None:
    emu.script(
        STATUS,
        [{"status": 502, "body": "<html>Bad Gateway</html>"}] * 2
        + [{"status": 503, "body": {"error_code": "model_not_loaded", "message": "busy"}}] * 3,
    )
    with make_client(emu, tmp_path, max_attempts=4) as client:
        handle = client.generate_images({"prompt": "a"})
        with pytest.raises(FireflyServerError) as info:
            client.get_status(handle)
    assert info.value.status == 503
    assert info.value.error_code == "model_not_loaded"
    assert requests_to(emu, STATUS) == 4


def test_submit_503_is_retried_but_500_is_not(emu: FireflyEmulator, tmp_path: Path) -> None:
    emu.script(GENERATE, [{"status": 503}, {"status": 503, "headers": {"retry-after": "0"}}])
    with make_client(emu, tmp_path) as client:
        assert client.generate_images({"prompt": "a"}).job_id
        assert requests_to(emu, GENERATE) == 3
        for status in (500, 502, 504, 408):
            emu.script(GENERATE, [{"status": status}])
            with pytest.raises(FireflyServerError) as info:
                client.generate_images({"prompt": "b"})
            assert info.value.status == status
    assert requests_to(emu, GENERATE) == 3 + 4
    assert emu.counters()["jobs_submitted"] == 1


def test_total_time_is_bounded(emu: FireflyEmulator, tmp_path: Path) -> None:
    emu.script(STATUS, [{"status": 503, "headers": {"retry-after": "1"}}] * 10)
    with make_client(emu, tmp_path, max_attempts=10, max_retry_time=1.5, max_retry_wait=5) as c:
        handle = c.generate_images({"prompt": "a"})
        started = time.monotonic()
        with pytest.raises(FireflyServerError):
            c.get_status(handle)
        assert time.monotonic() - started < 2.5
    assert requests_to(emu, STATUS) <= 2


# -- timeouts, drops, refused connections -------------------------------------------------


def test_read_timeout_on_status_poll_is_retried(
    emu: FireflyEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, LOGGER)
    with make_client(emu, tmp_path, read_timeout=0.3) as client:
        handle = client.generate_images({"prompt": "a"})
        emu.script(STATUS, [{"delay": 0.8, "process": True}])
        assert client.get_status(handle).succeeded
    assert requests_to(emu, STATUS) == 2
    (message,) = retry_logs(caplog)
    assert "no response within 0.3 s" in message


def test_read_timeout_on_submit_is_not_retried(emu: FireflyEmulator, tmp_path: Path) -> None:
    with make_client(emu, tmp_path, read_timeout=0.3) as client:
        client.get_access_token()
        emu.script(GENERATE, [{"delay": 0.8, "process": True}])
        with pytest.raises(FireflyTimeoutError) as info:
            client.generate_images({"prompt": "a"})
    assert info.value.request_sent is True
    time.sleep(0.6)  # let the emulator finish the delayed request
    assert requests_to(emu, GENERATE) == 1
    assert len(emu.jobs()) == 1  # accepted once, and only once


def test_dropped_connection_on_submit_is_not_retried(emu: FireflyEmulator, tmp_path: Path) -> None:
    with make_client(emu, tmp_path) as client:
        client.get_access_token()
        emu.script(GENERATE, [{"drop": True, "process": True}])
        with pytest.raises(FireflyConnectionError) as info:
            client.generate_images({"prompt": "a"})
        assert info.value.request_sent is True
        assert not isinstance(info.value, FireflyTimeoutError)
        assert requests_to(emu, GENERATE) == 1
        assert len(emu.jobs()) == 1
        # The same fault on a poll is retried.
        handle = client.generate_images({"prompt": "b"})
        emu.script(STATUS, [{"drop": True}])
        assert client.get_status(handle).succeeded
    assert emu.counters()["dropped_connections"] == 2


def test_connection_refused_is_retried_then_raises(
    emu: FireflyEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, LOGGER)
    dead = f"http://127.0.0.1:{closed_port()}"
    with make_client(emu, tmp_path, api_url=dead, max_attempts=3) as client:
        started = time.monotonic()
        with pytest.raises(FireflyConnectionError) as info:
            client.generate_images({"prompt": "a"})
        assert time.monotonic() - started < 2
    assert info.value.request_sent is False
    assert "could not connect" in str(info.value)
    assert len(retry_logs(caplog)) == 2  # a submission is safe to retry when never sent
    assert emu.counters()["ims_token_requests"] == 1


def test_dns_failure_counts_as_not_sent(tmp_path: Path) -> None:
    transport = SyncTransport(
        HttpSettings(connect_timeout=1.0),
        user_agent="test",
        policy=RetryPolicy(max_attempts=1),
    )
    with pytest.raises(FireflyConnectionError) as info:
        transport.request("GET", "https://no-such-host.invalid/v3/status/x", idempotent=False)
    assert info.value.request_sent is False


def test_retry_logs_name_reason_and_wait_without_secrets(
    emu: FireflyEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    emu.script(STATUS, [{"status": 503}, {"status": 429}])
    with make_client(emu, tmp_path) as client:
        handle = client.generate_images({"prompt": "a"})
        assert client.get_status(handle).succeeded
        token = client.get_access_token()
    messages = retry_logs(caplog)
    assert len(messages) == 2
    assert "HTTP 503; retrying in 0.0" in messages[0]
    assert "(attempt 2 of 4)" in messages[0]
    assert "rate limited (HTTP 429)" in messages[1]
    assert "(attempt 3 of 4)" in messages[1]
    text = caplog.text
    assert token not in text
    assert emu.client_secret not in text


# -- transport details --------------------------------------------------------------------


def test_response_json_and_url_description(emu: FireflyEmulator) -> None:
    transport = SyncTransport(HttpSettings(api_url=emu.api_url), user_agent="ua-test/1")
    response = transport.request("GET", emu.url + "/_emulator/health")
    assert isinstance(response, HttpResponse)
    assert response.json()["status"] == "ok"
    assert describe_url("https://h.example:8443/p/a?X-Amz-Signature=s#f") == "h.example:8443/p/a"
    bad = HttpResponse(200, {"x-request-id": "r1"}, b"<html>", "https://h/x?sig=1")
    with pytest.raises(Exception) as info:
        bad.json()
    assert "sig=1" not in str(info.value)
    assert "r1" in str(info.value)
    transport.close()
