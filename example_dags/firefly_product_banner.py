"""Product banner: upload a product photo, expand it to a banner, fill a masked area, upscale.

**What it does.** Four chained Firefly tasks on ``assets/product.png`` (a 512x512 mug photo):

1. ``upload``: ``FireflyUploadImageOperator`` uploads the photo once; its XCom is the upload id
   (valid 7 days).
2. ``expand``: ``FireflyExpandImageOperator`` grows it to a 1344x768 banner around the centred
   product (``image`` = the upload id, pulled from XCom).
3. ``fill``: ``FireflyFillImageOperator`` paints a prop into the white area of
   ``assets/banner_mask.png`` (left of the product). Its ``image`` is the expand task's output
   URL from XCom (Firefly's presigned URL: no download and re-upload).
4. ``upscale``: ``FireflyUpscaleImageOperator`` doubles the filled banner to 2688x1536.

Every step saves its outputs to ``{output_dir}/firefly_product_banner/<run time>/`` (the
``output_dir`` param; default from ``FIREFLY_OUTPUT_DIR``, else ``file:///tmp/firefly-examples``);
``report`` prints the saved files. Any image parameter also takes a local path, a storage URL
(``s3://...``) or an ``ObjectStoragePath``: replace ``PRODUCT`` with your own photo.

**Connection.** ``firefly_default`` (type *Adobe Firefly*).

**Run against the emulator**: start it and set ``AIRFLOW_CONN_FIREFLY_DEFAULT`` as in
``firefly_nightly_campaign`` (or ``scripts/demo``), then
``airflow dags test firefly_product_banner``. **Against Adobe**: set the connection's Client ID
and secret and trigger the DAG (three generative jobs and one upscale).
``FIREFLY_EXPECTED_SECONDS`` / ``FIREFLY_POLL_INTERVAL`` (optional) shorten polling for tests.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_provider_firefly.operators import (
    FireflyExpandImageOperator,
    FireflyFillImageOperator,
    FireflyUploadImageOperator,
    FireflyUpscaleImageOperator,
)

ASSETS = Path(__file__).resolve().parent / "assets"
PRODUCT = str(ASSETS / "product.png")  # a path only: nothing is read while parsing
MASK = str(ASSETS / "banner_mask.png")
OUTPUT_DIR = os.environ.get("FIREFLY_OUTPUT_DIR", "file:///tmp/firefly-examples")


def _seconds(name: str) -> float | None:
    value = os.environ.get(name)
    return float(value) if value else None


with DAG(
    dag_id="firefly_product_banner",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    doc_md=__doc__,
    tags=["firefly", "example", "pipeline"],
    params={
        "output_dir": Param(OUTPUT_DIR, type="string", minLength=1),
        "prop": Param("a small potted succulent in a white pot", type="string", minLength=1),
    },
    default_args={
        "firefly_conn_id": "firefly_default",
        "output_dir": "{{ params.output_dir }}/{{ dag.dag_id }}/"
        "{{ dag_run.run_after | ts_nodash }}",
        "expected_seconds": _seconds("FIREFLY_EXPECTED_SECONDS"),
        "poll_interval": _seconds("FIREFLY_POLL_INTERVAL"),
    },
):
    upload = FireflyUploadImageOperator(task_id="upload", image=PRODUCT)

    expand = FireflyExpandImageOperator(
        task_id="expand",
        image="{{ ti.xcom_pull(task_ids='upload') }}",
        size=(1344, 768),
        placement="center",
        prompt="a bright wooden kitchen counter, soft morning light",
        seeds=[42],
    )

    fill = FireflyFillImageOperator(
        task_id="fill",
        image="{{ ti.xcom_pull(task_ids='expand')['outputs'][0]['url'] }}",
        mask=MASK,
        prompt="{{ params.prop }}",
        size=(1344, 768),
        seeds=[7],
    )

    upscale = FireflyUpscaleImageOperator(
        task_id="upscale",
        image="{{ ti.xcom_pull(task_ids='fill')['outputs'][0]['url'] }}",
        upscale_factor=2,
        seeds=[1],
    )

    @task
    def report(
        expanded: dict[str, Any], filled: dict[str, Any], upscaled: dict[str, Any]
    ) -> list[str]:
        paths = [*expanded["saved_paths"], *filled["saved_paths"], *upscaled["saved_paths"]]
        for path in paths:
            print(f"FIREFLY_OUTPUT {path}")
        return paths

    upload >> expand >> fill >> upscale
    report(expand.output, fill.output, upscale.output)
