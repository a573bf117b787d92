"""What the operators and the sensor need only when a task runs, loaded on first use.

A DAG file that declares Firefly tasks imports ``airflow.sdk`` and the small operator modules;
the hook (and with it the HTTP client), the trigger and Airflow's configuration load here, the
first time a task asks for them. Everything else in the Airflow layer names these types under
``TYPE_CHECKING`` only, so signatures stay precise without paying for the imports.
"""

from __future__ import annotations

import math
import time
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_firefly.hooks.firefly import FireflyHook
    from airflow_provider_firefly.triggers.firefly import FireflyJobTrigger

__all__ = [
    "FireflyHookMixin",
    "default_deferrable",
    "firefly_hook",
    "job_trigger_class",
    "task_started_at",
]


def default_deferrable() -> bool:
    """``deferrable`` when a task does not say: ``[operators] default_deferrable`` (False).

    Read when the task is created, not when this module is imported, so a configuration set
    after import (tests, ``AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE``) is honoured."""
    from airflow_provider_firefly.compat import conf

    return bool(conf.getboolean("operators", "default_deferrable", fallback=False))


def task_started_at(context: Any) -> float | None:
    """The ``time.monotonic()`` time at which this task try started (``ti.start_date``, taken by
    the worker that runs it), or None when the context has none or it lies in the future.

    A task starts only after the task before it in its pool slot ended, so the slot has sent no
    Firefly request since: the budget pacer counts its first spacing from here, which spares
    the task the time Airflow spent starting it."""
    ti = context.get("ti") if hasattr(context, "get") else None
    start = getattr(ti, "start_date", None)
    if not isinstance(start, datetime) or start.tzinfo is None:
        return None
    elapsed = time.time() - start.timestamp()
    if not math.isfinite(elapsed) or elapsed < 0:
        return None
    return time.monotonic() - elapsed


def firefly_hook(firefly_conn_id: str) -> FireflyHook:
    """A hook for the connection (the HTTP client loads now, not when the DAG is parsed)."""
    from airflow_provider_firefly.hooks.firefly import FireflyHook

    return FireflyHook(firefly_conn_id=firefly_conn_id)


def job_trigger_class() -> type[FireflyJobTrigger]:
    """The trigger that waits for a job in the triggerer."""
    from airflow_provider_firefly.triggers.firefly import FireflyJobTrigger

    return FireflyJobTrigger


class FireflyHookMixin:
    """``hook``: the operator's or sensor's :class:`FireflyHook`, made on first use."""

    firefly_conn_id: str

    @cached_property
    def hook(self) -> FireflyHook:
        return firefly_hook(self.firefly_conn_id)
