"""DAGs of the end-to-end tests (``tests/e2e``), run by a real scheduler, executor and triggerer.

The deployment fixture (``tests/e2e/conftest.py``) exports the connections (``AIRFLOW_CONN_*``,
aimed at an emulator) and ``FF_E2E_WORK`` (outputs go below it) to every Airflow process.

* ``ff_e2e_mapped_sync``: text to image mapped over ``FF_E2E_TASKS`` prompts, waiting in the worker.
* ``ff_e2e_mapped_deferred``: the same, waiting in the triggerer (``deferrable=True``).
* ``ff_e2e_cluster_cache``: one task, then a fan-out whose every task uses its own connection
  with ``shared_cache`` on and its own ``cache_dir`` (or none): no host cache is shared, only the
  encrypted token in the Airflow Variable.
* ``ff_e2e_cluster_cold``: ``FF_E2E_COLD_TASKS`` tasks that start together on a cold cluster
  cache, no host cache (a third client): measures the last-writer-wins window.

Parsing does no I/O.
"""

from __future__ import annotations

import datetime
import os
from typing import Any

from airflow.sdk import DAG

from airflow_provider_firefly.operators import FireflyGenerateImagesOperator

WORK = os.environ.get("FF_E2E_WORK", "/tmp/ff-e2e-work")
N_TASKS = int(os.environ.get("FF_E2E_TASKS", "20"))
N_CLUSTER = int(os.environ.get("FF_E2E_CLUSTER_TASKS", "6"))
N_COLD = int(os.environ.get("FF_E2E_COLD_TASKS", "4"))
DEFER_FIRST_POLL = float(os.environ.get("FF_E2E_DEFER_FIRST_POLL", "25"))
SUBJECTS = (
    "a lighthouse at dawn",
    "a red bicycle",
    "a bowl of ramen",
    "a fox in the snow",
    "a paper boat",
    "a desert cactus",
    "a city at night",
    "a cup of coffee",
)
PROMPTS = [f"{SUBJECTS[i % len(SUBJECTS)]}, variant {i}" for i in range(N_TASKS)]


def _args(conn_id: str, deferrable: bool) -> dict[str, Any]:
    return {
        "firefly_conn_id": conn_id,
        "deferrable": deferrable,
        # Deferred: the trigger's first poll comes 25 s after the deferral. A trigger that fires
        # before the scheduler has processed the deferring worker's exit event (measured: up to
        # 10 s on 2 busy cores) trips an Airflow 3.3.2 race (apache/airflow#66374, #71580,
        # #72716): that stale "success" event fails the re-queued task instance.
        "expected_seconds": DEFER_FIRST_POLL if deferrable else 0,
        "poll_interval": 0.5,
        "max_poll_interval": 1,
        "job_timeout": 300,
        "size": (64, 48),
        "output_dir": f"file://{WORK}/out/{{{{ dag.dag_id }}}}",
        "retries": 0,
    }


def _mapped(dag_id: str, deferrable: bool) -> DAG:
    with DAG(
        dag_id=dag_id,
        schedule=None,
        start_date=datetime.datetime(2026, 1, 1),
        catchup=False,
        max_active_tasks=N_TASKS,
        tags=["firefly-e2e"],
    ) as dag:
        FireflyGenerateImagesOperator.partial(
            task_id="generate", **_args("ff_e2e", deferrable)
        ).expand(prompt=PROMPTS)
    return dag


ff_e2e_mapped_sync = _mapped("ff_e2e_mapped_sync", deferrable=False)
ff_e2e_mapped_deferred = _mapped("ff_e2e_mapped_deferred", deferrable=True)

with DAG(
    dag_id="ff_e2e_cluster_cache",
    schedule=None,
    start_date=datetime.datetime(2026, 1, 1),
    catchup=False,
    tags=["firefly-e2e"],
) as ff_e2e_cluster_cache:
    first = FireflyGenerateImagesOperator(
        task_id="first", prompt="a lighthouse at dawn", **_args("ff_cw_0", False)
    )
    fan_out_args = {k: v for k, v in _args("ff_cw_0", False).items() if k != "firefly_conn_id"}
    # Each mapped task has its own connection: its own host cache folder (the last: none).
    rest = FireflyGenerateImagesOperator.partial(task_id="fan_out", **fan_out_args).expand_kwargs(
        [
            {"firefly_conn_id": f"ff_cw_{i}", "prompt": f"a paper boat, worker {i}"}
            for i in range(1, N_CLUSTER + 1)
        ]
    )
    first >> rest

with DAG(
    dag_id="ff_e2e_cluster_cold",
    schedule=None,
    start_date=datetime.datetime(2026, 1, 1),
    catchup=False,
    tags=["firefly-e2e"],
) as ff_e2e_cluster_cold:
    # First in line for the executor's slots, so that the tasks start together.
    FireflyGenerateImagesOperator.partial(
        task_id="cold", priority_weight=1000, weight_rule="absolute", **fan_out_args
    ).expand_kwargs(
        [
            {"firefly_conn_id": f"ff_cold_{i}", "prompt": f"a cup of coffee, worker {i}"}
            for i in range(N_COLD)
        ]
    )
