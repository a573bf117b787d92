"""Nightly campaign: images for a list of prompts, one mapped task per prompt, saved to storage.

**What it does.** Every night (``@daily``, no catch-up) a task reads the ``prompts`` param and
dynamic task mapping starts one ``FireflyGenerateImagesOperator`` per prompt (Image 4, two
variations each, at most four jobs at a time). Each task waits for its Firefly job and streams
the images to ``{output_dir}/campaign/<date>/`` before Adobe's one-hour URLs expire; a last task
writes ``manifest.json`` (prompt → saved files and seeds) next to them.

Two DAGs come from this file:

- ``firefly_nightly_campaign`` waits in the worker (one worker slot per running job);
- ``firefly_nightly_campaign_deferrable`` sets ``deferrable=True``: each task submits its job and
  hands the polling to the triggerer (``FireflyJobTrigger``), freeing the worker slot. It needs a
  running ``airflow triggerer`` (``airflow standalone`` starts one; ``airflow dags test`` runs
  triggers inline).

**Connection.** ``firefly_default`` (type *Adobe Firefly*): Client ID and Client secret of an
Adobe Developer Console OAuth server-to-server credential with the Firefly API.

**Output.** The ``output_dir`` param: any ``ObjectStoragePath`` URL (``s3://bucket/prefix`` with
the Amazon provider and an ``aws_default`` connection, ``gs://...``, ``file:///...``). Its
default comes from the environment variable ``FIREFLY_OUTPUT_DIR`` (read at parse time), else
``file:///tmp/firefly-examples``. Trigger with a config to change prompts or destination, e.g.
``{"prompts": ["a mug on a beach"], "output_dir": "s3://my-bucket/firefly"}``.

**Run against the emulator** (no Adobe account, no credit)::

    python -m airflow_provider_firefly.testing.emulator --port 8765 --job-duration 1 &
    export AIRFLOW_CONN_FIREFLY_DEFAULT='{"conn_type": "firefly",
        "login": "firefly-emulator-client", "password": "firefly-emulator-secret",
        "extra": {"api_url": "http://127.0.0.1:8765", "ims_url": "http://127.0.0.1:8765"}}'
    export AIRFLOW__CORE__DAGS_FOLDER=$PWD/example_dags FIREFLY_EXPECTED_SECONDS=1
    airflow dags test firefly_nightly_campaign

**Run against Adobe**: set the ``firefly_default`` connection's Client ID and secret (README,
"Configure the connection"), leave ``FIREFLY_EXPECTED_SECONDS`` unset, unpause the DAG. Each
prompt costs two generations. Put the tasks in a pool sized to your organisation's request
budget (``airflow pools set firefly 4 "Adobe Firefly"`` and ``pool="firefly"``).

``FIREFLY_EXPECTED_SECONDS`` / ``FIREFLY_POLL_INTERVAL`` (optional, seconds) override when the
first status poll happens and the shortest poll interval; unset, the operator uses the
operation's typical duration (about 15 s for images), which suits Adobe.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pendulum
from airflow.sdk import DAG, ObjectStoragePath, Param, task

from airflow_provider_firefly.operators import FireflyGenerateImagesOperator

PROMPTS = [
    "a teal ceramic mug on a sunny kitchen counter, product photo",
    "a teal ceramic mug on a mossy rock in a misty forest, product photo",
    "a teal ceramic mug on a snowy cabin windowsill at dusk, product photo",
]
OUTPUT_DIR = os.environ.get("FIREFLY_OUTPUT_DIR", "file:///tmp/firefly-examples")


def _seconds(name: str) -> float | None:
    value = os.environ.get(name)
    return float(value) if value else None


def build(dag_id: str, *, deferrable: bool) -> DAG:
    with DAG(
        dag_id=dag_id,
        schedule="@daily",
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        max_active_runs=1,
        doc_md=__doc__,
        tags=["firefly", "example", "deferrable" if deferrable else "campaign"],
        params={
            "prompts": Param(PROMPTS, type="array", items={"type": "string"}, minItems=1),
            "output_dir": Param(OUTPUT_DIR, type="string", minLength=1),
        },
        default_args={
            "firefly_conn_id": "firefly_default",
            "retries": 2,
            "retry_delay": pendulum.duration(minutes=1),
            "expected_seconds": _seconds("FIREFLY_EXPECTED_SECONDS"),
            "poll_interval": _seconds("FIREFLY_POLL_INTERVAL"),
        },
    ) as dag:

        @task
        def prompts(params: dict[str, Any] | None = None) -> list[str]:
            """The night's prompts, from the DAG params (a trigger config may replace them)."""
            assert params is not None
            return [str(prompt) for prompt in params["prompts"]]

        images = FireflyGenerateImagesOperator.partial(
            task_id="generate",
            model="image4",
            num_variations=2,
            size=(2048, 2048),
            content_class="photo",
            output_dir="{{ params.output_dir }}/campaign/{{ dag_run.run_after | ds }}",
            output_name="{map_index}-{index}-{seed}.{ext}",
            max_active_tis_per_dag=4,  # a few jobs at a time: Adobe limits requests per minute
            deferrable=deferrable,
        ).expand(prompt=prompts())

        @task
        def manifest(
            results: list[dict[str, Any]], params: dict[str, Any] | None = None, dag_run: Any = None
        ) -> str:
            """Write manifest.json (prompt, job id, seeds, saved files) next to the images."""
            assert params is not None
            entries = [
                {
                    "prompt": prompt,
                    "job_id": result["job_id"],
                    "seeds": result["seeds"],
                    "files": result["saved_paths"],
                }
                for prompt, result in zip(params["prompts"], results, strict=True)
            ]
            day = dag_run.run_after.strftime("%Y-%m-%d")
            target = ObjectStoragePath(params["output_dir"]) / "campaign" / day / "manifest.json"
            target.write_text(json.dumps({"run_id": dag_run.run_id, "images": entries}, indent=2))
            print(f"FIREFLY_OUTPUT {target}")
            return str(target)

        manifest(images.output)
    return dag


firefly_nightly_campaign = build("firefly_nightly_campaign", deferrable=False)
firefly_nightly_campaign_deferrable = build("firefly_nightly_campaign_deferrable", deferrable=True)
