"""The one retry policy: what is retried, how long it waits, when it stops, what it logs."""

from __future__ import annotations

import asyncio
import logging

import pytest

from airflow_provider_firefly.client import (
    FireflyAccessError,
    FireflyAuthError,
    FireflyConnectionError,
    FireflyContentPolicyError,
    FireflyNotFoundError,
    FireflyRateLimitError,
    FireflyRequestError,
    FireflyServerError,
    FireflyTimeoutError,
    FireflyValidationError,
    HttpSettings,
)
from airflow_provider_firefly.client.retry import RetryPolicy, is_retryable, retry_reason

pytestmark = pytest.mark.timeout(10)

RETRY_BOTH = [
    FireflyRateLimitError("x", status=429),
    FireflyServerError("x", status=503),
    FireflyConnectionError("refused", request_sent=False),
]
RETRY_IDEMPOTENT_ONLY = [
    FireflyServerError("x", status=500),
    FireflyServerError("x", status=502),
    FireflyServerError("x", status=504),
    FireflyServerError("x", status=408),
    FireflyConnectionError("dropped"),
    FireflyTimeoutError("slow"),
]
NEVER = [
    FireflyAuthError("x", status=401),
    FireflyAccessError("x", status=403, access_error="quota_exhausted"),
    FireflyNotFoundError("x", status=404),
    FireflyValidationError("x", status=422),
    FireflyRequestError("x", status=400),
    FireflyContentPolicyError("x", status=451),
    ValueError("not ours"),
]


@pytest.mark.parametrize("error", RETRY_BOTH, ids=repr)
def test_retried_even_for_submissions(error: Exception) -> None:
    assert is_retryable(error, idempotent=True)
    assert is_retryable(error, idempotent=False)


@pytest.mark.parametrize("error", RETRY_IDEMPOTENT_ONLY, ids=repr)
def test_retried_only_when_idempotent(error: Exception) -> None:
    assert is_retryable(error, idempotent=True)
    assert not is_retryable(error, idempotent=False)


@pytest.mark.parametrize("error", NEVER, ids=repr)
def test_never_retried(error: Exception) -> None:
    assert not is_retryable(error, idempotent=True)
    assert not is_retryable(error, idempotent=False)


def test_wait_honours_retry_after_capped_and_backoff_grows() -> None:
    policy = RetryPolicy(max_wait=10.0, backoff_base=1.0, backoff_max=4.0)
    limited = FireflyRateLimitError("x", retry_after=2.0)
    assert 2.0 <= policy.wait_seconds(limited, 1) <= 2.25
    assert policy.wait_seconds(FireflyRateLimitError("x", retry_after=3600.0), 1) == 10.0
    assert 0.0 <= policy.wait_seconds(FireflyRateLimitError("x", retry_after=0.0), 1) <= 0.25
    for attempt, step in ((1, 1.0), (2, 2.0), (3, 4.0), (8, 4.0)):
        for _ in range(20):
            wait = policy.wait_seconds(FireflyServerError("x", status=500), attempt)
            assert step / 2 <= wait <= step
    assert policy.wait_seconds(None, 1) <= 1.0


def test_from_settings() -> None:
    settings = HttpSettings(max_attempts=7, max_retry_time=9.0, max_retry_wait=3.0)
    policy = RetryPolicy.from_settings(settings, backoff_base=0.5)
    assert (policy.max_attempts, policy.max_retry_time, policy.max_wait) == (7, 9.0, 3.0)
    assert policy.backoff_base == 0.5


def test_retrying_stops_after_max_attempts_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "airflow_provider_firefly.client")
    policy = RetryPolicy(max_attempts=3, backoff_base=0.001, backoff_max=0.001)
    calls = []

    def flaky() -> str:
        calls.append(1)
        raise FireflyServerError("boom", status=502)

    with pytest.raises(FireflyServerError):
        policy.retrying("GET /v3/status")(flaky)
    assert len(calls) == 3
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "GET /v3/status: HTTP 502; retrying in 0.0 s (attempt 2 of 3)",
        "GET /v3/status: HTTP 502; retrying in 0.0 s (attempt 3 of 3)",
    ]


def test_non_idempotent_gives_up_at_once() -> None:
    policy = RetryPolicy(max_attempts=5, backoff_base=0.001)
    calls = []

    def dropped() -> None:
        calls.append(1)
        raise FireflyConnectionError("dropped", request_sent=True)

    with pytest.raises(FireflyConnectionError):
        policy.retrying("POST /v3/images/generate-async", idempotent=False)(dropped)
    assert calls == [1]


def test_max_retry_time_stops_before_a_long_wait() -> None:
    policy = RetryPolicy(max_attempts=10, max_retry_time=0.5, max_wait=5.0)
    calls = []

    def limited() -> None:
        calls.append(1)
        raise FireflyRateLimitError("x", status=429, retry_after=1.0)

    with pytest.raises(FireflyRateLimitError):
        policy.retrying("x")(limited)
    assert calls == [1]


def test_async_retrying_shares_the_policy() -> None:
    policy = RetryPolicy(max_attempts=4, backoff_base=0.001, backoff_max=0.001)
    calls = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise FireflyServerError("busy", status=503)
        return "ok"

    async def main() -> str:
        return await policy.async_retrying("GET x", idempotent=False)(flaky)

    assert asyncio.run(main()) == "ok"
    assert len(calls) == 3


def test_retry_reason() -> None:
    assert retry_reason(None) == "unknown error"
    assert retry_reason(FireflyRateLimitError("x", limit_level="org")) == (
        "rate limited (HTTP 429, level org)"
    )
    assert retry_reason(FireflyServerError("x", status=504)) == "HTTP 504"
    assert retry_reason(FireflyTimeoutError("GET h/x: no response within 1 s")) == (
        "GET h/x: no response within 1 s"
    )
    assert retry_reason(OSError()) == "OSError"
