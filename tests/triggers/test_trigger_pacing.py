"""FireflyJobTrigger: its own share of the organisation's budget, TLS errors, and on_kill when
the trigger was handed to another triggerer. Emulator over loopback, real ``aget_connection``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_firefly.client.limits import request_spacing
from airflow_provider_firefly.testing import FireflyEmulator
from airflow_provider_firefly.testing.tls import make_private_ca
from airflow_provider_firefly.triggers import ownership
from airflow_provider_firefly.triggers.firefly import FireflyJobTrigger

from .conftest import run_trigger, submit

STATUS_ROUTE = "GET /v3/status/{jobId}"


def _trigger(conn_id: str, job: dict[str, Any], **kwargs: Any) -> FireflyJobTrigger:
    kwargs.setdefault("expected_seconds", 0.0)
    kwargs.setdefault("poll_min_interval", 0.1)
    kwargs.setdefault("poll_max_interval", 0.2)
    return FireflyJobTrigger(firefly_conn_id=conn_id, job=job, **kwargs)


def test_each_trigger_run_waits_its_own_spacing_before_its_first_poll(
    firefly_emulator: FireflyEmulator, set_conn: Any
) -> None:
    """600/min over 10 slots: 1.02 s apart per trigger. Two triggers in one loop (one
    triggerer) each wait their own spacing, so both polls come about 1 s after the start, not
    one after the other; with the old shared-bucket-only pacing the pair took 0.1 s."""
    emu = firefly_emulator
    emu.configure(job_duration=0)
    conn = set_conn("ff_trig_pace", emu, requests_per_minute=600, budget_slots=10)
    jobs = [submit(emu, conn, f"a fox {i}") for i in range(2)]
    spacing = request_spacing(60)

    async def both() -> list[list[dict[str, Any]]]:
        async def one(job: dict[str, Any]) -> list[dict[str, Any]]:
            return [e.payload async for e in _trigger(conn, job).run()]

        return await asyncio.gather(*(one(j) for j in jobs))

    started = time.monotonic()
    events = asyncio.run(asyncio.wait_for(both(), 30))
    elapsed = time.monotonic() - started
    assert [e[0]["status"] for e in events] == ["succeeded", "succeeded"]
    assert spacing <= elapsed < spacing + 1.5
    assert emu.counters()["requests_by_route"][STATUS_ROUTE] == 2


@pytest.fixture
def tls_emu(tmp_path: Path) -> Iterator[FireflyEmulator]:
    files = make_private_ca(tmp_path / "ca")
    with FireflyEmulator(tls_cert=files.cert, tls_key=files.key, job_duration=0) as emu:
        yield emu


def test_an_untrusted_certificate_is_an_error_event_at_once(
    firefly_emulator: FireflyEmulator, tls_emu: FireflyEmulator, set_conn: Any
) -> None:
    # IMS answers; the API host's certificate is trusted by nobody
    conn = set_conn("ff_trig_tls", firefly_emulator, api_url=tls_emu.url)
    job_id = "urn:ff:jobs:emu:00000000-0000-0000-0000-000000000001"
    job = {"job_id": job_id, "status_url": f"{tls_emu.url}/v3/status/{job_id}", "cancel_url": None}
    started = time.monotonic()
    events = run_trigger(_trigger(conn, job), timeout=60)
    assert time.monotonic() - started < 10
    assert len(events) == 1
    assert events[0]["status"] == "error"
    assert events[0]["error_type"] == "FireflyTLSError"


class _TI:
    dag_id, task_id, run_id, map_index = "d", "t", "r", -1


def test_on_kill_leaves_the_job_alone_while_the_task_is_still_deferred(
    firefly_emulator: FireflyEmulator, set_conn: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The triggerer lost the trigger to another one (Airflow 3.3 calls on_kill then too):
    the Execution API says the task is deferred, so nothing is cancelled. Once it is not
    deferred (a user's mark-failed), on_kill cancels."""
    emu = firefly_emulator
    emu.configure(job_duration=60)
    conn = set_conn("ff_trig_lost", emu)
    job = submit(emu, conn)
    asked: list[Any] = []

    def deferred_count(ti: Any) -> int:
        asked.append((ti.dag_id, ti.task_id, ti.run_id, ti.map_index))
        return state["deferred"]

    state = {"deferred": 1}
    monkeypatch.setattr(ownership, "_count_deferred", deferred_count)
    trigger = _trigger(conn, job)
    trigger.task_instance = _TI()  # type: ignore[assignment]
    asyncio.run(trigger.on_kill())
    assert emu.counters()["jobs_cancelled"] == 0
    assert asked == [("d", "t", "r", -1)]
    state["deferred"] = 0
    asyncio.run(trigger.on_kill())
    assert emu.counters()["jobs_cancelled"] == 1


def test_on_kill_cancels_when_the_state_cannot_be_read(
    firefly_emulator: FireflyEmulator, set_conn: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No Task SDK supervisor to ask (or no answer): the user's kill wins, as before."""
    emu = firefly_emulator
    emu.configure(job_duration=60)
    conn = set_conn("ff_trig_unknown", emu)
    job = submit(emu, conn)
    trigger = _trigger(conn, job)
    trigger.task_instance = _TI()  # type: ignore[assignment]
    asyncio.run(trigger.on_kill())  # the real _count_deferred: no supervisor in a test
    assert emu.counters()["jobs_cancelled"] == 1
