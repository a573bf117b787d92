"""FireflyJobTrigger against the emulator over loopback, with real ``aget_connection``."""

from __future__ import annotations

import asyncio
import importlib
import itertools
import json
import time
from email.utils import formatdate
from typing import Any

import pytest

from airflow_provider_firefly.client.errors import (
    FireflyConfigError,
    FireflyContentPolicyError,
    FireflyError,
    FireflyJobCancelledError,
    FireflyJobFailedError,
    FireflyJobTimeoutError,
    FireflyNotFoundError,
)
from airflow_provider_firefly.client.jobs import JobHandle
from airflow_provider_firefly.client.request_budget import RequestBudget
from airflow_provider_firefly.client.transport import AsyncTransport
from airflow_provider_firefly.testing import FireflyEmulator
from airflow_provider_firefly.triggers.firefly import (
    EVENT_STATUSES,
    FireflyJobTrigger,
    raise_for_event,
)

from .conftest import run_trigger, submit

STATUS_ROUTE = "GET /v3/status/{jobId}"
CANCEL_ROUTE = "PUT /v3/cancel/{jobId}"


def import_string(path: str) -> Any:
    module, name = path.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


def _trigger(conn_id: str, job: dict[str, Any], **kwargs: Any) -> FireflyJobTrigger:
    kwargs.setdefault("expected_seconds", 0.2)
    kwargs.setdefault("poll_min_interval", 0.2)
    kwargs.setdefault("poll_max_interval", 0.5)
    return FireflyJobTrigger(firefly_conn_id=conn_id, job=job, **kwargs)


def _route_count(emu: FireflyEmulator, route: str) -> int:
    return int(emu.counters()["requests_by_route"].get(route, 0))


def _only_event(events: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(events) == 1, events
    event = events[0]
    assert set(event) == {"status", "job", "job_status", "message", "error_type"}
    assert event["status"] in EVENT_STATUSES
    json.dumps(event)  # the payload crosses processes as JSON
    return event


def test_succeeds_polling_the_status_url_as_returned(
    set_conn: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[str] = []
    original = AsyncTransport.request

    async def recording(self: AsyncTransport, method: str, url: str, **kwargs: Any) -> Any:
        sent.append(f"{method} {url}")
        return await original(self, method, url, **kwargs)

    monkeypatch.setattr(AsyncTransport, "request", recording)
    # statusUrl/cancelUrl point to a second listener (another port than the API URL).
    with FireflyEmulator(status_port=0, job_duration=1.0) as emu:
        conn = set_conn("ff_trig_ok", emu)
        job = submit(emu, conn)
        assert emu.status_url
        assert job["status_url"].startswith(emu.status_url)
        assert not job["status_url"].startswith(emu.api_url + "/")
        started = time.monotonic()
        event = _only_event(run_trigger(_trigger(conn, job, expected_seconds=0.8)))
        elapsed = time.monotonic() - started
        assert event["status"] == "succeeded", event
        assert event["job"] == job
        assert event["error_type"] is None
        status = raise_for_event(event)
        assert status.succeeded
        assert status.job_id == job["job_id"]
        assert status.outputs
        assert status.outputs[0].url.startswith("http")
        counters = emu.counters()
        # Few polls: the first near the expected duration, then at most a couple more.
        assert 1 <= counters["status_polls"] <= 4, counters
        assert counters["jobs_submitted"] == 1
        assert elapsed < 5
        assert sent == [f"GET {job['status_url']}"] * counters["status_polls"]


@pytest.mark.parametrize(
    ("forced", "event_status", "error"),
    [
        ("failed", "failed", FireflyJobFailedError),
        ("timeout", "timeout", FireflyJobTimeoutError),
        ("cancelled", "cancelled", FireflyJobCancelledError),
    ],
)
def test_terminal_failures(
    firefly_emulator: FireflyEmulator,
    set_conn: Any,
    forced: str,
    event_status: str,
    error: type[Exception],
) -> None:
    emu = firefly_emulator
    emu.configure(job_duration=60)
    conn = set_conn("ff_trig_fail", emu)
    job = submit(emu, conn)
    emu.set_job(job["job_id"], status=forced, error_code="runtime_error", message="it broke")
    event = _only_event(run_trigger(_trigger(conn, job)))
    assert event["status"] == event_status, event
    assert event["job_status"]["status"] == forced
    assert job["job_id"] in event["message"]
    with pytest.raises(error) as info:
        raise_for_event(event)
    assert info.value.job_id == job["job_id"]  # type: ignore[attr-defined]
    assert emu.counters()["jobs_cancelled"] == 0


def test_deadline_cancels_the_job(firefly_emulator: FireflyEmulator, set_conn: Any) -> None:
    emu = firefly_emulator
    emu.configure(job_duration=60)
    conn = set_conn("ff_trig_deadline", emu)
    job = submit(emu, conn)
    trigger = _trigger(conn, job, expected_seconds=0.3, deadline=time.time() + 1.0)
    started = time.monotonic()
    event = _only_event(run_trigger(trigger))
    # not before the deadline; the bound only catches a hang (a busy CI host took 4.5 s)
    assert 0.9 <= time.monotonic() - started < 30
    assert event["status"] == "deadline", event
    assert event["error_type"] == "FireflyJobTimeoutError"
    assert "deadline" in event["message"]
    assert _route_count(emu, CANCEL_ROUTE) == 1
    assert emu.counters()["jobs_cancelled"] == 1
    assert {j["jobId"]: j["status"] for j in emu.jobs()}[job["job_id"]] in (
        "cancel_pending",
        "cancelled",
    )
    with pytest.raises(FireflyJobTimeoutError) as info:
        raise_for_event(event)
    assert info.value.job_id == job["job_id"]


def test_deadline_without_cancel(firefly_emulator: FireflyEmulator, set_conn: Any) -> None:
    emu = firefly_emulator
    emu.configure(job_duration=60)
    conn = set_conn("ff_trig_deadline2", emu)
    job = submit(emu, conn)
    # 5 s: time for one poll to be answered on a busy host (CI runs older minors beside the suite)
    trigger = _trigger(conn, job, deadline=time.time() + 5, cancel_on_deadline=False)
    event = _only_event(run_trigger(trigger))
    assert event["status"] == "deadline"
    assert event["job_status"]["status"] in ("pending", "running")
    assert _route_count(emu, CANCEL_ROUTE) == 0


def test_deadline_on_a_job_that_just_ended_reports_how_it_ended(
    firefly_emulator: FireflyEmulator, set_conn: Any
) -> None:
    emu = firefly_emulator
    emu.configure(job_duration=60)
    conn = set_conn("ff_trig_deadline3", emu)
    job = submit(emu, conn)
    emu.set_job(job["job_id"], status="succeeded")
    # Deadline before the first poll: the cancel answers 409 job_completed, then one poll.
    trigger = _trigger(conn, job, expected_seconds=5, deadline=time.time() + 0.3)
    event = _only_event(run_trigger(trigger))
    assert event["status"] == "succeeded", event
    assert _route_count(emu, CANCEL_ROUTE) == 1
    assert emu.counters()["jobs_cancelled"] == 0


@pytest.mark.parametrize("retry_after_format", ["seconds", "http-date"])
def test_429_while_polling_delays_the_next_poll(
    firefly_emulator: FireflyEmulator, set_conn: Any, retry_after_format: str
) -> None:
    emu = firefly_emulator
    emu.configure(job_duration=0)
    conn = set_conn("ff_trig_429", emu)
    job = submit(emu, conn)
    retry_after = (
        "1" if retry_after_format == "seconds" else formatdate(time.time() + 2, usegmt=True)
    )
    emu.script(
        STATUS_ROUTE,
        [
            {
                "status": 429,
                "headers": {"retry-after": retry_after, "x-access-rate-limit-level": "org"},
                "body": {"error_code": "rate_limited", "message": "Too many requests"},
            }
        ],
    )
    started = time.monotonic()
    event = _only_event(run_trigger(_trigger(conn, job, expected_seconds=0)))
    elapsed = time.monotonic() - started
    assert event["status"] == "succeeded", event
    # One 429 (not retried inside the client), then the poll after the pause succeeded.
    assert _route_count(emu, STATUS_ROUTE) == 2
    assert elapsed >= 0.9


@pytest.mark.slow
def test_emulator_rate_limit_pauses_and_the_job_still_succeeds(
    firefly_emulator: FireflyEmulator, set_conn: Any
) -> None:
    emu = firefly_emulator
    emu.configure(job_duration=1.5)
    conn = set_conn("ff_trig_rl", emu)
    job = submit(emu, conn)
    emu.configure(rate_limit=2, rate_limit_window=2, retry_after_format="http-date")
    event = _only_event(
        run_trigger(_trigger(conn, job, expected_seconds=0, poll_min_interval=0.1), timeout=30)
    )
    assert event["status"] == "succeeded", event
    counters = emu.counters()
    assert counters["rate_limited"] >= 1, counters


def test_451_while_polling_is_an_error_event(
    firefly_emulator: FireflyEmulator, set_conn: Any
) -> None:
    emu = firefly_emulator
    emu.configure(job_duration=0, blocked_words=("forbidden",), content_policy_stage="poll-451")
    conn = set_conn("ff_trig_451", emu)
    job = submit(emu, conn, prompt="a forbidden lighthouse")
    event = _only_event(run_trigger(_trigger(conn, job, expected_seconds=0)))
    assert event["status"] == "error", event
    assert event["error_type"] == "FireflyContentPolicyError"
    assert _route_count(emu, STATUS_ROUTE) == 1  # never retried
    with pytest.raises(FireflyContentPolicyError) as info:
        raise_for_event(event)
    assert job["job_id"] in str(info.value)


def test_404_while_polling_is_an_error_event(
    firefly_emulator: FireflyEmulator, set_conn: Any
) -> None:
    emu = firefly_emulator
    conn = set_conn("ff_trig_404", emu)
    job = JobHandle.for_job_id(
        emu.api_url, "urn:ff:jobs:emu:00000000-0000-0000-0000-000000000000"
    ).to_dict()
    event = _only_event(run_trigger(_trigger(conn, job, expected_seconds=0)))
    assert event["status"] == "error"
    assert event["error_type"] == "FireflyNotFoundError"
    with pytest.raises(FireflyNotFoundError):
        raise_for_event(event)


def test_transient_5xx_is_polled_again(firefly_emulator: FireflyEmulator, set_conn: Any) -> None:
    emu = firefly_emulator
    emu.configure(job_duration=0)
    conn = set_conn("ff_trig_5xx", emu, max_attempts=1)
    job = submit(emu, conn)
    emu.script(STATUS_ROUTE, [{"status": 503}, {"status": 500}])
    event = _only_event(run_trigger(_trigger(conn, job, expected_seconds=0)))
    assert event["status"] == "succeeded", event
    assert _route_count(emu, STATUS_ROUTE) == 3


def test_repeated_5xx_ends_with_an_error_event(
    firefly_emulator: FireflyEmulator, set_conn: Any
) -> None:
    emu = firefly_emulator
    conn = set_conn("ff_trig_5xx2", emu, max_attempts=1)
    job = submit(emu, conn)
    emu.script(STATUS_ROUTE, [{"status": 500}] * 5)
    event = _only_event(run_trigger(_trigger(conn, job, expected_seconds=0)))
    assert event["status"] == "error"
    assert event["error_type"] == "FireflyServerError"


def test_missing_connection_is_an_error_event() -> None:
    job = JobHandle.for_job_id("https://firefly-api.adobe.io", "urn:ff:jobs:x:1").to_dict()
    event = _only_event(run_trigger(_trigger("ff_does_not_exist", job, expected_seconds=0)))
    assert event["status"] == "error"
    with pytest.raises(FireflyError):
        raise_for_event(event)


def test_triggerer_restart_keeps_polling_the_same_job(
    firefly_emulator: FireflyEmulator, set_conn: Any
) -> None:
    emu = firefly_emulator
    # Long enough that the job is still running when the first poll is seen, even on a busy
    # machine (with 2 s the first poll could already find it done, and nothing was cancelled).
    emu.configure(job_duration=8.0)
    conn = set_conn("ff_trig_restart", emu)
    job = submit(emu, conn)
    first = _trigger(conn, job, expected_seconds=0.2, deadline=time.time() + 60)

    async def run_then_shutdown() -> None:
        task = asyncio.ensure_future(anext(first.run()))
        while _route_count(emu, STATUS_ROUTE) < 1:
            await asyncio.sleep(0.05)
        task.cancel()  # what a triggerer shutdown does to a running trigger
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run_then_shutdown())
    polls_before = _route_count(emu, STATUS_ROUTE)
    assert polls_before >= 1
    assert {j["jobId"]: j["status"] for j in emu.jobs()}[job["job_id"]] in ("pending", "running")

    # The triggerer stores the kwargs (as JSON) and rebuilds the trigger from them.
    classpath, kwargs = first.serialize()
    rebuilt = import_string(classpath)(**json.loads(json.dumps(kwargs)))
    assert rebuilt.serialize() == (classpath, kwargs)
    event = _only_event(run_trigger(rebuilt))
    assert event["status"] == "succeeded", event
    counters = emu.counters()
    assert counters["jobs_submitted"] == 1
    assert counters["jobs_cancelled"] == 0
    assert _route_count(emu, CANCEL_ROUTE) == 0
    assert _route_count(emu, STATUS_ROUTE) > polls_before


def test_on_kill_cancels_an_owned_job(firefly_emulator: FireflyEmulator, set_conn: Any) -> None:
    emu = firefly_emulator
    emu.configure(job_duration=60)
    conn = set_conn("ff_trig_kill", emu)
    owned = submit(emu, conn)
    watched = submit(emu, conn)
    asyncio.run(_trigger(conn, owned).on_kill())
    asyncio.run(_trigger(conn, watched, cancel_on_deadline=False).on_kill())
    assert emu.counters()["jobs_cancelled"] == 1
    statuses = {j["jobId"]: j["status"] for j in emu.jobs()}
    assert statuses[owned["job_id"]] in ("cancel_pending", "cancelled")
    assert statuses[watched["job_id"]] in ("pending", "running")


@pytest.mark.slow
def test_triggers_share_the_connection_budget(
    firefly_emulator: FireflyEmulator, set_conn: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = firefly_emulator
    emu.configure(job_duration=1.0)
    conn = set_conn("ff_trig_budget", emu)
    jobs = [submit(emu, conn, prompt=f"prompt {i}") for i in range(8)]
    # 8 jobs polled together with a budget of 240/min (one request per 0.25 s) while the
    # emulator allows 5 requests per second: the budget alone keeps every request inside it.
    emu.configure(rate_limit=5, rate_limit_window=1.0)
    rpm = 240.0
    triggers = [
        _trigger(conn, job, expected_seconds=0.3, poll_min_interval=0.2, requests_per_minute=rpm)
        for job in jobs
    ]
    # When each grant of the shared budget was given (loop clock), seen from outside it.
    grants: list[float] = []
    acquire = RequestBudget.acquire

    async def recorded(budget: RequestBudget) -> float:
        waited = await acquire(budget)
        if budget.name == conn:
            grants.append(asyncio.get_running_loop().time())
        return waited

    monkeypatch.setattr(RequestBudget, "acquire", recorded)

    async def run_all() -> list[dict[str, Any]]:
        async def one(trigger: FireflyJobTrigger) -> dict[str, Any]:
            async for event in trigger.run():
                return dict(event.payload)
            raise AssertionError("no event")

        events = await asyncio.wait_for(asyncio.gather(*(one(t) for t in triggers)), 60)
        return list(events)

    events = asyncio.run(run_all())
    assert [e["status"] for e in events] == ["succeeded"] * len(jobs)
    counters = emu.counters()
    assert counters["rate_limited"] == 0, counters
    assert len(grants) == counters["status_polls"] >= len(jobs)
    gaps = [b - a for a, b in itertools.pairwise(grants)]
    assert min(gaps) >= 60.0 / rpm * 0.99, gaps
    # In any 1-second window, at most 4 requests (240/min); the emulator saw no 429.
    for i, start in enumerate(grants):
        assert sum(1 for t in grants[i:] if t - start < 1.0) <= 4


def test_kwargs_hold_no_secret_and_round_trip(
    firefly_emulator: FireflyEmulator, set_conn: Any
) -> None:
    emu = firefly_emulator
    emu.configure(job_duration=0)
    conn = set_conn("ff_trig_kwargs", emu)
    job = submit(emu, conn)
    trigger = _trigger(conn, job, deadline=1_900_000_000.5, requests_per_minute=4)
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_firefly.triggers.firefly.FireflyJobTrigger"
    assert set(kwargs) == {
        "firefly_conn_id",
        "job",
        "expected_seconds",
        "poll_min_interval",
        "poll_max_interval",
        "deadline",
        "cancel_on_deadline",
        "requests_per_minute",
    }
    assert set(kwargs["job"]) == {"job_id", "status_url", "cancel_url", "request_id"}
    text = json.dumps(kwargs) + repr(trigger)
    run_trigger(trigger)  # a token now exists in this process
    from airflow_provider_firefly.hooks.firefly import FireflyHook

    token = FireflyHook(firefly_conn_id=conn).get_access_token()
    for secret in (emu.client_secret, token, "Bearer"):
        assert secret not in text
    assert json.dumps(trigger.serialize()[1]) == json.dumps(kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"job": {"status_url": "https://x/v3/status/1"}},
        {"job": {"job_id": "1"}},
        {"poll_min_interval": 0},
        {"poll_min_interval": 10, "poll_max_interval": 5},
        {"expected_seconds": -1},
        {"requests_per_minute": 0},
        {"firefly_conn_id": ""},
    ],
)
def test_bad_kwargs_are_refused(kwargs: dict[str, Any]) -> None:
    base: dict[str, Any] = {
        "firefly_conn_id": "ff",
        "job": {"job_id": "1", "status_url": "https://x/v3/status/1", "cancel_url": None},
    }
    base.update(kwargs)
    with pytest.raises(ValueError):
        FireflyJobTrigger(**base)


def _event(status: str, **extra: Any) -> dict[str, Any]:
    job = {"job_id": "urn:ff:jobs:t:1", "status_url": "https://x/v3/status/1", "cancel_url": None}
    event: dict[str, Any] = {
        "status": status,
        "job": job,
        "job_status": None,
        "message": f"job {status}",
        "error_type": None,
    }
    event.update(extra)
    return event


@pytest.mark.parametrize(
    ("event", "error"),
    [
        (_event("failed"), FireflyJobFailedError),
        (_event("cancelled"), FireflyJobCancelledError),
        (_event("timeout"), FireflyJobTimeoutError),
        (_event("deadline"), FireflyJobTimeoutError),
        (_event("error", error_type="FireflyContentPolicyError"), FireflyContentPolicyError),
        (_event("error", error_type="FireflyConfigError"), FireflyConfigError),
        (_event("error", error_type="KeyError"), FireflyError),
        (_event("error", error_type="object"), FireflyError),
        (_event("error"), FireflyError),
        (_event("succeeded"), FireflyError),  # no job status: malformed
    ],
)
def test_raise_for_event(event: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error) as info:
        raise_for_event(event)
    assert type(info.value) is error
    assert "urn:ff:jobs:t:1" in str(info.value)
    if error is not FireflyConfigError:  # a bad connection: its constructor takes no job id
        assert getattr(info.value, "job_id", None) == "urn:ff:jobs:t:1"
