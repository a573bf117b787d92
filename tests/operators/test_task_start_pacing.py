"""A task's budget share counts its first spacing from the task's start (``ti.start_date``).

The pool slot has sent nothing since the task started (the task before it in the slot had
ended), so the time Airflow spends starting a task is not also waited by the pacer.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_firefly.hooks.firefly import FireflyHook
from airflow_provider_firefly.operators.runtime import task_started_at
from airflow_provider_firefly.testing import FireflyEmulator


def _context(start: Any) -> dict[str, Any]:
    return {"ti": SimpleNamespace(start_date=start)}


def test_task_started_at_is_the_monotonic_time_of_the_start() -> None:
    start = datetime.now(timezone.utc) - timedelta(seconds=30)
    at = task_started_at(_context(start))
    assert at is not None
    assert time.monotonic() - at == pytest.approx(30, abs=2)


@pytest.mark.parametrize(
    "context",
    [
        {},
        {"ti": SimpleNamespace()},
        _context(None),
        _context("2026-01-01T00:00:00Z"),  # not a datetime
        _context(datetime.now() - timedelta(seconds=5)),  # naive: which zone?
        _context(datetime.now(timezone.utc) + timedelta(days=1)),  # in the future
    ],
)
def test_no_usable_start_means_none(context: dict[str, Any]) -> None:
    assert task_started_at(context) is None


def test_the_hooks_pacer_counts_from_the_task_start(
    firefly_emulator: FireflyEmulator, set_conn: Any
) -> None:
    # 6 requests a minute for one slot: 10.2 s between requests
    conn = set_conn("ff_start", firefly_emulator, requests_per_minute=6, budget_slots=1)
    fresh = FireflyHook(firefly_conn_id=conn)
    assert fresh.client.pacer is not None
    assert fresh.client.pacer.reserve() == pytest.approx(fresh.client.pacer.spacing, abs=0.5)

    started_long_ago = FireflyHook(firefly_conn_id=conn)
    started_long_ago.quiet_since = time.monotonic() - 60
    assert started_long_ago.client.pacer is not None
    assert started_long_ago.client.pacer.reserve() == 0  # the first request goes at once

    started_4s_ago = FireflyHook(firefly_conn_id=conn)
    started_4s_ago.quiet_since = time.monotonic() - 4
    assert started_4s_ago.client.pacer is not None
    wait = started_4s_ago.client.pacer.reserve()
    assert wait == pytest.approx(started_4s_ago.client.pacer.spacing - 4, abs=0.5)
    for hook in (fresh, started_long_ago, started_4s_ago):
        hook.client.close()
