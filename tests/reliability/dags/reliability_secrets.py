"""DAG of tests/reliability/test_secrets.py: one sync and one deferred Firefly task, with a
templated prompt and output folder, so that every place a secret could leak is filled."""

from __future__ import annotations

import datetime
import os

from airflow.sdk import DAG

from airflow_provider_firefly.operators import FireflyGenerateImagesOperator

WORK = os.environ.get("FF_SECRETS_WORKDIR", "/tmp/ff-secrets-work")

with DAG(
    dag_id="ff_reliability_secrets",
    schedule=None,
    start_date=datetime.datetime(2026, 1, 1),
    catchup=False,
    params={"subject": "a lighthouse"},
    tags=["firefly-tests"],
) as dag:
    for deferrable in (False, True):
        FireflyGenerateImagesOperator(
            task_id="deferred" if deferrable else "sync",
            firefly_conn_id="ff_secrets",
            prompt="{{ params.subject }} at dawn, run {{ run_id }}",
            size=(32, 32),
            seeds=[7],
            output_dir=WORK + "/{{ ds }}",
            expected_seconds=0.2,
            poll_interval=0.1,
            deferrable=deferrable,
        )
