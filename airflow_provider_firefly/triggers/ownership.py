"""Whether a trigger's task is still deferred: told apart, a user's kill and a lost trigger.

Airflow 3.3.2 calls ``on_kill()`` both when a user acts on a deferred task (mark failed,
clear...) and when a triggerer finds that a trigger it runs was handed to another triggerer
(after missing heartbeats: a long pause, a frozen container). Only the first may cancel the
paid job; in the second the task is still ``deferred`` and the other triggerer polls the job.
The trigger asks the Execution API (through the Task SDK, as the standard provider's
``ExternalTaskTrigger`` does) how many task instances of its own task are ``deferred``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

__all__ = ["task_still_deferred"]

log = logging.getLogger("airflow_provider_firefly.triggers")

#: Seconds the state question may take before the trigger decides without the answer.
STATE_TIMEOUT = 10.0


def _count_deferred(ti: Any) -> int:
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    return int(
        RuntimeTaskInstance.get_ti_count(
            dag_id=ti.dag_id,
            map_index=ti.map_index,
            task_ids=[ti.task_id],
            run_ids=[ti.run_id],
            states=["deferred"],
        )
    )


async def task_still_deferred(ti: Any) -> bool | None:
    """True while ``ti`` (the trigger's ``task_instance``) is deferred, False once it is not,
    None when nobody can tell (no task instance, no Task SDK, no answer in time)."""
    if ti is None or not all(hasattr(ti, a) for a in ("dag_id", "task_id", "run_id")):
        return None
    try:
        count = await asyncio.wait_for(asyncio.to_thread(_count_deferred, ti), STATE_TIMEOUT)
    except Exception as error:  # ImportError, no supervisor, API error, timeout
        log.warning("could not read the state of task %s: %s", ti.task_id, error)
        return None
    return count > 0
