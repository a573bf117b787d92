"""Custom models: list the organisation's Firefly custom models, generate with the first one.

**What it does.** ``FireflyListCustomModelsOperator`` lists the published custom models the
credential may use (XCom: Firefly's model dicts). ``pick_model`` (a short-circuit task) takes the
first one, or skips the rest of the DAG when there is none. ``generate`` then runs
``FireflyGenerateImagesOperator`` with that model's ``assetId`` as ``custom_model_id``, its base
model (Image 3 or Image 4, which become ``image3_custom`` / ``image4_custom``) and the ``prompt``
param (default: the model's sample prompt), and saves the images to
``{output_dir}/firefly_custom_models/<run time>/``.

**Connection.** ``firefly_default`` (type *Adobe Firefly*); custom models are trained in the
Firefly web app and belong to the credential's organisation.

**Run against the emulator** (it serves three sample models, two published): start it and set
``AIRFLOW_CONN_FIREFLY_DEFAULT`` as in ``firefly_nightly_campaign`` (or ``scripts/demo``), then
``airflow dags test firefly_custom_models``. **Against Adobe**: set the connection's Client ID and
secret and trigger the DAG; with no custom model, ``generate`` is skipped and nothing is billed.
``FIREFLY_EXPECTED_SECONDS`` / ``FIREFLY_POLL_INTERVAL`` (optional) shorten polling for tests.
"""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_provider_firefly.operators import (
    FireflyGenerateImagesOperator,
    FireflyListCustomModelsOperator,
)

OUTPUT_DIR = os.environ.get("FIREFLY_OUTPUT_DIR", "file:///tmp/firefly-examples")


def _seconds(name: str) -> float | None:
    value = os.environ.get(name)
    return float(value) if value else None


with DAG(
    dag_id="firefly_custom_models",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    doc_md=__doc__,
    tags=["firefly", "example", "custom-models"],
    params={
        "output_dir": Param(OUTPUT_DIR, type="string", minLength=1),
        "prompt": Param("", type="string", description="empty: the model's sample prompt"),
    },
):
    models = FireflyListCustomModelsOperator(
        task_id="list_models",
        firefly_conn_id="firefly_default",
        published_state="published",
        sort_by="-modifiedDate",
        limit=20,
    )

    @task.short_circuit
    def pick_model(models: list[dict[str, Any]], params: dict[str, Any] | None = None) -> Any:
        """The first model as {asset_id, name, model, prompt}, or None to skip `generate`."""
        for model in models:
            print(f"custom model {model.get('displayName')!r}: {model.get('assetId')}")
        if not models:
            print("no custom model: nothing to generate")
            return None
        first = models[0]
        base = str((first.get("baseModel") or {}).get("version", "3"))
        prompt = (params or {}).get("prompt") or first.get("samplePrompt")
        return {
            "asset_id": first["assetId"],
            "name": first.get("displayName"),
            "model": "image4" if base.startswith("4") else "image3",
            "prompt": prompt or f"a product photo in the style of {first.get('displayName')}",
        }

    picked = pick_model(models.output)

    generate = FireflyGenerateImagesOperator(
        task_id="generate",
        firefly_conn_id="firefly_default",
        prompt="{{ ti.xcom_pull(task_ids='pick_model')['prompt'] }}",
        custom_model_id="{{ ti.xcom_pull(task_ids='pick_model')['asset_id'] }}",
        model="{{ ti.xcom_pull(task_ids='pick_model')['model'] }}",
        num_variations=2,
        size=(2048, 2048),
        output_dir="{{ params.output_dir }}/{{ dag.dag_id }}/{{ dag_run.run_after | ts_nodash }}",
        expected_seconds=_seconds("FIREFLY_EXPECTED_SECONDS"),
        poll_interval=_seconds("FIREFLY_POLL_INTERVAL"),
    )
    picked >> generate
