"""The per-task pacer (one budget share per pool slot): timing on a fake clock, no wall clock.

The end-to-end proof (many tasks, a real organisation limit) is the cluster test; here each
rule of :class:`TaskPacer` is pinned down, and the sync and asyncio transports are shown to
send every attempt through it against the emulator.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_firefly.client.api import FireflyClient
from airflow_provider_firefly.client.async_api import AsyncFireflyClient
from airflow_provider_firefly.client.async_transport import SharedAsyncTransport, connection_key
from airflow_provider_firefly.client.config import (
    FireflyCredentials,
    HttpSettings,
    TokenCacheSettings,
)
from airflow_provider_firefly.client.errors import (
    FireflyConfigError,
    FireflyRateLimitError,
    FireflyServerError,
)
from airflow_provider_firefly.client.limits import SPACING_MARGIN, request_spacing
from airflow_provider_firefly.client.pacing import (
    DEFAULT_RATE_LIMIT_PATIENCE,
    MAX_RATE_LIMIT_PAUSE,
    TaskPacer,
    share_per_slot,
)
from airflow_provider_firefly.client.request_budget import RequestBudget, budget_for
from airflow_provider_firefly.client.retry import BudgetedRetryPolicy
from airflow_provider_firefly.testing import FireflyEmulator


class FakeClock:
    """Monotonic seconds that only move when something sleeps."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


def _limited(retry_after: float | None = None) -> FireflyRateLimitError:
    return FireflyRateLimitError("rate limited", status=429, retry_after=retry_after)


def _max_in_sliding_minute(times: list[float]) -> int:
    times = sorted(times)
    window: deque[float] = deque()
    best = 0
    for t in times:
        window.append(t)
        while window[0] <= t - 60.0:
            window.popleft()
        best = max(best, len(window))
    return best


# -- the share -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rpm", "slots", "share"),
    [(30, 10, 3), (30, 6, 5), (30, 7, 4), (4, 4, 1), (4, 1, 4), (30, None, 1), (4.5, 2, 2)],
)
def test_share_is_the_floor_of_budget_over_slots(rpm: float, slots: int | None, share: int) -> None:
    assert share_per_slot(rpm, slots) == share


@pytest.mark.parametrize("slots", [0, -1, 31, True, 2.5, "3"])
def test_bad_slots_are_refused_naming_the_field(slots: Any) -> None:
    with pytest.raises(FireflyConfigError) as caught:
        share_per_slot(30, slots)
    assert caught.value.field == "budget_slots"


def test_for_budget_spacing_and_no_budget() -> None:
    assert TaskPacer.for_budget(None, 10) is None
    pacer = TaskPacer.for_budget(30, 10, clock=FakeClock())
    assert pacer is not None
    # 3 requests a minute: 20 s apart, plus the margin every pacing rule of the package uses
    assert pacer.spacing == pytest.approx(20.0 * (1 + SPACING_MARGIN))
    assert pacer.spacing == request_spacing(3)


# -- the rule ----------------------------------------------------------------------------------


def test_first_request_waits_one_spacing_after_the_start() -> None:
    clock = FakeClock()
    pacer = TaskPacer(20.0, clock=clock)
    clock.now += 5.0  # the task spent 5 s before its first request
    assert pacer.reserve() == pytest.approx(15.0)


@pytest.mark.parametrize(
    ("quiet_for", "wait"),
    [
        (12.0, 8.0),  # the task started 12 s before its pacer: 8 s of the spacing are left
        (30.0, 0.0),  # started longer ago than a spacing: the first request goes at once
        (-5.0, 20.0),  # a start "in the future" (a clock step) counts as the pacer's creation
        (math.nan, 20.0),
    ],
)
def test_first_request_waits_one_spacing_after_the_slot_went_quiet(
    quiet_for: float, wait: float
) -> None:
    clock = FakeClock()
    pacer = TaskPacer(20.0, clock=clock, quiet_since=clock.now - quiet_for)
    assert pacer.reserve() == pytest.approx(wait)
    assert pacer.reserve() == pytest.approx(wait + 20.0)  # and the spacing holds after it


def test_requests_are_spaced_and_a_late_sender_moves_the_next_slot() -> None:
    clock = FakeClock()
    pacer = TaskPacer(10.0, clock=clock)
    sent = []
    for _ in range(3):
        clock.sleep(pacer.reserve())
        pacer.sent()
        sent.append(clock.now)
    assert [round(t - clock.sleeps[0] - 1000.0, 6) for t in sent] == [0.0, 10.0, 20.0]
    # a sender that leaves 3 s late (a busy connection pool): the next one is 10 s after it
    wait = pacer.reserve()
    clock.sleep(wait + 3.0)
    pacer.sent()
    late = clock.now
    assert pacer.reserve() == pytest.approx(10.0)
    assert late - sent[-1] == pytest.approx(13.0)


def test_concurrent_reservations_get_successive_slots() -> None:
    clock = FakeClock()
    pacer = TaskPacer(6.0, clock=clock)
    assert [pacer.reserve() for _ in range(3)] == pytest.approx([6.0, 12.0, 18.0])


def test_a_429_waits_its_retry_after_and_never_less_than_the_spacing() -> None:
    clock = FakeClock()
    pacer = TaskPacer(10.0, clock=clock)
    clock.sleep(pacer.reserve())
    pacer.sent()
    assert pacer.rate_limited(_limited(retry_after=25.0))
    assert pacer.reserve() == pytest.approx(25.0)
    pacer.sent()  # (fake: at the same instant)
    assert pacer.rate_limited(_limited(retry_after=1.0))
    # the server allows 1 s, the share does not: a spacing after the refused request
    assert pacer.reserve() == pytest.approx(10.0 + 25.0)  # includes the slot reserved above


def test_a_429_without_retry_after_and_a_hostile_one_are_bounded() -> None:
    clock = FakeClock()
    pacer = TaskPacer(2.0, clock=clock)
    assert pacer.rate_limited(_limited(retry_after=None))
    assert pacer.reserve() == pytest.approx(10.0)  # DEFAULT_PAUSE_SECONDS
    other = TaskPacer(2.0, clock=clock)
    assert other.rate_limited(_limited(retry_after=10**9))
    assert other.reserve() == pytest.approx(MAX_RATE_LIMIT_PAUSE)
    nan = TaskPacer(2.0, clock=clock)
    assert nan.rate_limited(_limited(retry_after=math.nan))
    assert nan.reserve() == pytest.approx(10.0)


def test_a_429_past_the_deadline_is_given_up() -> None:
    clock = FakeClock()
    pacer = TaskPacer(5.0, clock=clock, deadline=clock.now + 30.0)
    assert pacer.rate_limited(_limited(retry_after=20.0))
    assert not pacer.rate_limited(_limited(retry_after=40.0))
    default = TaskPacer(5.0, clock=clock)
    assert default.deadline == pytest.approx(clock.now + DEFAULT_RATE_LIMIT_PATIENCE)


# -- the drivers -------------------------------------------------------------------------------


def _paced(spacing: float, clock: FakeClock, **kwargs: Any) -> TaskPacer:
    return TaskPacer(spacing, clock=clock, sleep=clock.sleep, asleep=clock.asleep, **kwargs)


def _flaky(results: list[Any], clock: FakeClock, sent_at: list[float]) -> Callable[[], Any]:
    def attempt() -> Any:
        sent_at.append(clock.now)
        result = results.pop(0)
        if isinstance(result, BaseException):
            raise result
        return result

    return attempt


def test_call_retries_429s_until_it_passes_and_spaces_every_attempt() -> None:
    clock = FakeClock()
    pacer = _paced(12.0, clock)
    sent_at: list[float] = []
    attempt = _flaky([_limited(30.0), _limited(None), "ok"], clock, sent_at)
    assert pacer.call(attempt) == "ok"
    assert [t - 1000.0 for t in sent_at] == pytest.approx([12.0, 42.0, 54.0])
    assert pacer.rate_limited_count == 2
    assert pacer.sent_count == 3


def test_call_raises_the_429_at_the_deadline_and_other_errors_at_once() -> None:
    clock = FakeClock()
    pacer = _paced(1.0, clock, deadline=clock.now + 50.0)
    sent_at: list[float] = []
    attempt = _flaky([_limited(30.0), _limited(30.0), "never"], clock, sent_at)
    with pytest.raises(FireflyRateLimitError):
        pacer.call(attempt)
    assert len(sent_at) == 2
    boom = _flaky([FireflyServerError("down", status=500)], clock, sent_at)
    with pytest.raises(FireflyServerError):
        pacer.call(boom)
    assert len(sent_at) == 3


def test_acall_follows_the_same_rule() -> None:
    clock = FakeClock()
    pacer = _paced(12.0, clock)
    sent_at: list[float] = []
    sync = _flaky([_limited(30.0), _limited(None), "ok"], clock, sent_at)

    async def attempt() -> Any:
        return sync()

    assert asyncio.run(pacer.acall(attempt)) == "ok"
    assert [t - 1000.0 for t in sent_at] == pytest.approx([12.0, 42.0, 54.0])


def test_slots_sharing_a_budget_stay_in_it_over_a_sliding_minute() -> None:
    """The proof of docs/deployment.md, simulated: a 10-slot pool on a 30/min budget, tasks
    following each other in each slot (each starting after the one before it ended, after a
    random scheduling gap), each task sending a random number of requests. No sliding minute
    holds more than 30."""
    rng = random.Random(7)
    budget, slots = 30, 10
    every: list[float] = []
    for _slot in range(slots):
        clock = FakeClock(start=rng.uniform(0, 5))
        for _task in range(12):
            clock.sleep(rng.uniform(0, 3))  # the scheduler starts the next task
            pacer = TaskPacer.for_budget(budget, slots, clock=clock)
            assert pacer is not None
            for _request in range(rng.randint(1, 6)):
                clock.sleep(pacer.reserve())
                pacer.sent()
                every.append(clock.now)
                clock.sleep(rng.uniform(0, 25))  # the task works, polls later
    assert len(every) > 300
    assert _max_in_sliding_minute(every) <= budget
    # and the share is used: some minute reaches most of the budget
    assert _max_in_sliding_minute(every) >= budget * 0.6


# -- the clients send every Firefly attempt through the pacer (emulator over loopback) ----------

GENERATE = "POST /v3/images/generate-async"
STATUS = "GET /v3/status/{jobId}"


def _client_kwargs(emu: FireflyEmulator, tmp_path: Path) -> dict[str, Any]:
    return {
        "credentials": FireflyCredentials(
            emu.client_id, emu.client_secret, ims_url=emu.url, allow_custom_endpoints=True
        ),
        "http": HttpSettings(api_url=emu.url, allow_custom_endpoints=True, max_attempts=2),
        "token_cache": TokenCacheSettings(cache_dir=str(tmp_path / "tokens")),
    }


def test_sync_client_paces_submission_polls_and_waits_out_more_429s_than_attempts(
    firefly_emulator: FireflyEmulator, tmp_path: Path
) -> None:
    """Three 429s on the submission with only 2 attempts per request: still one job, no
    failure; every Firefly request (not the IMS one) a spacing apart on the pacer's clock."""
    emu = firefly_emulator
    emu.configure(job_duration=0)
    emu.script(GENERATE, [{"status": 429, "headers": {"retry-after": "3"}}] * 3)
    clock = FakeClock()
    pacer = _paced(7.0, clock)
    with FireflyClient(**_client_kwargs(emu, tmp_path), pacer=pacer) as client:
        handle = client.generate_images({"prompt": "a"})
        client.get_status(handle)
        client.cancel(handle)
    counts = emu.counters()["requests_by_route"]
    assert counts[GENERATE] == 4
    assert emu.counters()["jobs_submitted"] == 1
    assert pacer.sent_count == 6  # 4 submissions, 1 poll, 1 cancel; IMS not counted
    assert pacer.rate_limited_count == 3
    # first a spacing after the start; after each 429 a spacing (7 s > retry-after 3 s)
    assert clock.sleeps == pytest.approx([7.0] * 6, abs=0.05)


def test_async_client_paces_every_request(
    firefly_emulator: FireflyEmulator, tmp_path: Path
) -> None:
    emu = firefly_emulator
    emu.configure(job_duration=0)
    emu.script(STATUS, [{"status": 429, "headers": {"retry-after": "20"}}])
    clock = FakeClock()
    pacer = _paced(9.0, clock)

    async def go() -> None:
        async with AsyncFireflyClient(**_client_kwargs(emu, tmp_path), pacer=pacer) as client:
            handle = await client.submit("generate_images", {"prompt": "a"})
            await client.get_status(handle)
            await client.get_status(handle)

    asyncio.run(go())
    assert pacer.sent_count == 4
    assert clock.sleeps == pytest.approx([9.0, 9.0, 20.0, 9.0], abs=0.05)


def test_a_budgeted_client_keeps_the_clients_pacer_unless_given_one(
    firefly_emulator: FireflyEmulator, tmp_path: Path
) -> None:
    """The trigger sends through a pool shared in its triggerer; the pacer stays its own."""
    emu = firefly_emulator
    clock = FakeClock()
    pacer = _paced(5.0, clock)
    client = AsyncFireflyClient(**_client_kwargs(emu, tmp_path), pacer=pacer)
    budgeted = client.budgeted(None)
    assert isinstance(budgeted.transport, SharedAsyncTransport)
    assert budgeted.pacer is pacer
    assert budgeted.transport.pacer is pacer
    # The pool is shared with this client id's other clients only.
    assert budgeted.transport.pool_key == connection_key(client.http, emu.client_id)
    other = _paced(7.0, clock)
    assert client.budgeted(None, pacer=other).transport.pacer is other


def test_a_budgeted_client_draws_its_retries_from_the_budget_and_hands_429s_back(
    firefly_emulator: FireflyEmulator, tmp_path: Path
) -> None:
    emu = firefly_emulator
    client = AsyncFireflyClient(**_client_kwargs(emu, tmp_path))

    async def go() -> tuple[RequestBudget, AsyncFireflyClient]:
        budget = budget_for("conn", 600)
        return budget, client.budgeted(budget)

    budget, budgeted = asyncio.run(go())
    policy = budgeted.transport.policy
    assert isinstance(policy, BudgetedRetryPolicy)
    assert policy.budget is budget
    assert policy.hand_back_rate_limits
    assert policy.max_attempts == client.http.max_attempts  # the connection's bounds


def test_give_up_after_only_shortens_the_deadline() -> None:
    clock = FakeClock()
    pacer = _paced(1.0, clock, deadline=clock.now + 100.0)
    pacer.give_up_after(500.0)
    assert pacer.deadline == pytest.approx(clock.now + 100.0)
    pacer.give_up_after(20.0)
    assert pacer.deadline == pytest.approx(clock.now + 20.0)
    assert not pacer.rate_limited(_limited(retry_after=30.0))
