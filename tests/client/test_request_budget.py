"""RequestBudget: pacing, FIFO order, the shared pause, one bucket per connection per loop."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from airflow_provider_firefly.client.errors import FireflyRateLimitError, FireflyServerError
from airflow_provider_firefly.client.limits import SPACING_MARGIN
from airflow_provider_firefly.client.request_budget import RequestBudget, budget_for
from airflow_provider_firefly.client.retry import BudgetedRetryPolicy


def test_grants_are_evenly_spaced_and_fifo() -> None:
    async def main() -> tuple[list[int], list[float]]:
        budget = RequestBudget(1200)  # one per 50 ms
        loop = asyncio.get_running_loop()
        order: list[int] = []
        granted: list[float] = []

        async def take(i: int) -> None:
            await budget.acquire()
            granted.append(loop.time())
            order.append(i)

        await asyncio.gather(*(take(i) for i in range(10)))
        return order, granted

    order, grants = asyncio.run(main())
    assert order == list(range(10))
    gaps = [b - a for a, b in itertools.pairwise(grants)]
    assert min(gaps) >= 0.05 * (1 + SPACING_MARGIN) * 0.99


def test_pause_holds_every_user_of_the_bucket() -> None:
    async def main() -> float:
        budget = RequestBudget(None)
        loop = asyncio.get_running_loop()
        await budget.acquire()  # unpaced: immediate
        budget.pause(0.3)
        budget.pause(0.1)  # a shorter pause never cuts a longer one
        start = loop.time()
        await asyncio.gather(budget.acquire(), budget.acquire())
        assert budget.pauses == 1
        return loop.time() - start

    assert asyncio.run(main()) >= 0.29


def test_pause_without_retry_after_uses_a_default() -> None:
    async def main() -> float:
        return RequestBudget(4).pause(None)

    assert asyncio.run(main()) >= 15.0  # at least one slot of a 4/min budget


def test_one_budget_per_connection_and_loop_lowest_rate_wins() -> None:
    async def main() -> tuple[RequestBudget, RequestBudget, RequestBudget]:
        a = budget_for("conn_a", 60)
        b = budget_for("conn_a", 30)
        c = budget_for("conn_b", None)
        assert budget_for("conn_a", None) is a
        return a, b, c

    a, b, c = asyncio.run(main())
    assert a is b
    assert a.requests_per_minute == 30
    assert c is not a
    assert c.requests_per_minute is None
    d, _, _ = asyncio.run(main())  # another event loop: another bucket
    assert d is not a


@pytest.mark.parametrize("bad", [0, -1, float("nan"), True])
def test_bad_rates_are_refused(bad: float) -> None:
    with pytest.raises(ValueError):
        RequestBudget(bad)


def test_policy_hands_429_back_and_draws_retries_from_the_budget() -> None:
    assert BudgetedRetryPolicy().hand_back_rate_limits

    async def main() -> tuple[int, int, int]:
        budget = RequestBudget(None)
        policy = BudgetedRetryPolicy(max_attempts=3, backoff_base=0.01, budget=budget)
        calls = {"429": 0, "503": 0}

        async def rate_limited() -> None:
            calls["429"] += 1
            raise FireflyRateLimitError("slow down", status=429, retry_after=5)

        with pytest.raises(FireflyRateLimitError):
            await policy.async_retrying("GET /v3/status")(rate_limited)

        async def unavailable() -> None:
            calls["503"] += 1
            raise FireflyServerError("busy", status=503, retry_after=0.05)

        with pytest.raises(FireflyServerError):
            await policy.async_retrying("GET /v3/status")(unavailable)
        return calls["429"], calls["503"], budget.granted

    rate_limited_calls, unavailable_calls, granted = asyncio.run(main())
    assert rate_limited_calls == 1  # not retried inside the client
    assert unavailable_calls == 3
    assert granted == 2  # the two retries; the first attempt is the caller's
