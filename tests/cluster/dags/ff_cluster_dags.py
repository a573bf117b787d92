"""DAGs of the cluster tests (``tests/cluster``), run by two Celery workers and two triggerers.

The cluster (``tests/cluster/cluster.py``) exports one connection per DAG (``AIRFLOW_CONN_*``,
each its own emulator client, i.e. its own organisation, all with ``shared_cache`` on) and
``FF_CLUSTER_WORK`` (outputs go below it). The emulator's job duration is set by each test.

* ``ff_cluster_mapped``: 20 text-to-image tasks waiting in a worker, 20 in a triggerer.
* ``ff_cluster_worker_kill``: 2 tasks waiting in workers, one retry (the worker dies).
* ``ff_cluster_triggerer_kill``: 6 deferred tasks polled early and often (the triggerer dies).
* ``ff_cluster_triggerer_pause``: 4 deferred tasks polled early and often (a triggerer freezes
  past the health-check threshold, then comes back).
* ``ff_cluster_budget``: 20 sync and 20 deferred tasks with the provider's default polling,
  through a connection whose ``requests_per_minute`` is the organisation's budget, all in one
  10-slot pool that counts deferred tasks.

Parsing does no I/O.
"""

from __future__ import annotations

import datetime
import os
from typing import Any

from airflow.sdk import DAG

from airflow_provider_firefly.operators import FireflyGenerateImagesOperator

WORK = os.environ.get("FF_CLUSTER_WORK", "/tmp/ff-cluster-work")
N_MAPPED = 20
N_WORKER_KILL = 2
N_TRIGGERER_KILL = 6
N_TRIGGERER_PAUSE = 4
N_BUDGET = 20
#: First poll of a deferred task in the mapped and budget DAGs. A trigger that fires before the
#: scheduler has processed the deferring worker's exit trips an Airflow 3.3.2 race
#: (apache/airflow#66374, #71580, #72716; see tests/e2e/dags): 20 s leaves room on busy cores.
DEFER_FIRST_POLL = 20.0
SUBJECTS = ("a lighthouse at dawn", "a red bicycle", "a fox in the snow", "a paper boat")


def _prompts(n: int, subject: str) -> list[str]:
    return [f"{SUBJECTS[i % len(SUBJECTS)]}, {subject} {i}" for i in range(n)]


def _dag(dag_id: str) -> DAG:
    return DAG(
        dag_id=dag_id,
        schedule=None,
        start_date=datetime.datetime(2026, 1, 1),
        catchup=False,
        max_active_tasks=64,
        tags=["firefly-cluster"],
    )


def _common(conn_id: str) -> dict[str, Any]:
    return {
        "firefly_conn_id": conn_id,
        "size": (64, 48),
        "output_dir": f"file://{WORK}/out/{{{{ dag.dag_id }}}}/{{{{ run_id }}}}",
        "job_timeout": 600,
    }


with _dag("ff_cluster_mapped") as ff_cluster_mapped:
    fast = {"poll_interval": 0.5, "max_poll_interval": 1, "retries": 0}
    FireflyGenerateImagesOperator.partial(
        task_id="sync", deferrable=False, expected_seconds=0, **fast, **_common("ff_cl_mapped")
    ).expand(prompt=_prompts(N_MAPPED, "sync"))
    FireflyGenerateImagesOperator.partial(
        task_id="deferred",
        deferrable=True,
        expected_seconds=DEFER_FIRST_POLL,
        **fast,
        **_common("ff_cl_mapped"),
    ).expand(prompt=_prompts(N_MAPPED, "deferred"))

with _dag("ff_cluster_worker_kill") as ff_cluster_worker_kill:
    FireflyGenerateImagesOperator.partial(
        task_id="sync",
        deferrable=False,
        expected_seconds=1,
        poll_interval=1,
        max_poll_interval=2,
        # The retry after the worker's death: it must resume the job, not pay a new one.
        retries=1,
        retry_delay=datetime.timedelta(seconds=1),
        **_common("ff_cl_worker_kill"),
    ).expand(prompt=_prompts(N_WORKER_KILL, "worker kill"))

with _dag("ff_cluster_triggerer_kill") as ff_cluster_triggerer_kill:
    FireflyGenerateImagesOperator.partial(
        task_id="deferred",
        deferrable=True,
        expected_seconds=2,
        poll_interval=2,
        max_poll_interval=4,
        retries=0,
        **_common("ff_cl_triggerer_kill"),
    ).expand(prompt=_prompts(N_TRIGGERER_KILL, "triggerer kill"))

with _dag("ff_cluster_triggerer_pause") as ff_cluster_triggerer_pause:
    FireflyGenerateImagesOperator.partial(
        task_id="deferred",
        deferrable=True,
        expected_seconds=2,
        poll_interval=2,
        max_poll_interval=4,
        retries=0,
        **_common("ff_cl_triggerer_pause"),
    ).expand(prompt=_prompts(N_TRIGGERER_PAUSE, "triggerer pause"))

with _dag("ff_cluster_budget") as ff_cluster_budget:
    # The provider's default polling (first poll at the operation's expected duration, then
    # 2 s growing to 30 s): what a user gets without tuning. Every task in one pool that also
    # counts deferred tasks (created by the fixture, 10 slots), as docs/deployment.md advises.
    FireflyGenerateImagesOperator.partial(
        task_id="sync", deferrable=False, retries=0, pool="ff_budget", **_common("ff_cl_budget")
    ).expand(prompt=_prompts(N_BUDGET, "sync"))
    FireflyGenerateImagesOperator.partial(
        task_id="deferred",
        deferrable=True,
        expected_seconds=DEFER_FIRST_POLL,
        retries=0,
        pool="ff_budget",
        **_common("ff_cl_budget"),
    ).expand(prompt=_prompts(N_BUDGET, "deferred"))
