"""Asset producer: campaign images saved under an asset, one job waited for by a sensor.

Two ways to make images, both announcing them on the ``firefly_campaign_images`` asset:

* ``hero`` is a text-to-image operator that waits for its job and saves the outputs;
* ``submit_variants`` submits its job and ends at once (``wait_for_completion=False``); the
  ``variants`` sensor then waits for that job (in the triggerer when deferrable) and saves
  its outputs with the operators' own naming and checks.

Each asset event carries, in its ``extra``, the Firefly job ids, the saved paths, the number of
outputs and their seeds: ``firefly_asset_consumer`` (scheduled on the asset) reads them. Set
``FIREFLY_OUTPUT_DIR`` (read at parse time) to choose where images go. The same DAG runs against
Adobe or the local emulator (``scripts/demo``): only the ``firefly_default`` connection differs.
"""

from __future__ import annotations

import os

from airflow.sdk import Asset, dag

from airflow_provider_firefly.operators import FireflyGenerateImagesOperator
from airflow_provider_firefly.sensors import FireflyJobSensor

CAMPAIGN_IMAGES = Asset("firefly_campaign_images")
OUTPUT_DIR = os.environ.get("FIREFLY_OUTPUT_DIR", "file:///tmp/firefly-campaign")


def _seconds(name: str) -> float | None:
    value = os.environ.get(name)
    return float(value) if value else None


@dag(
    dag_id="firefly_asset_producer",
    schedule=None,
    catchup=False,
    doc_md=__doc__,
    tags=["firefly", "example", "assets"],
)
def firefly_asset_producer() -> None:
    FireflyGenerateImagesOperator(
        task_id="hero",
        prompt="a sunlit terrace with a lemon tree, product hero shot",
        seeds=[7, 8],
        size=(1024, 1024),
        output_dir=OUTPUT_DIR,
        output_name="hero-{index}-{seed}.{ext}",
        expected_seconds=_seconds("FIREFLY_EXPECTED_SECONDS"),
        poll_interval=_seconds("FIREFLY_POLL_INTERVAL"),
        outlets=[CAMPAIGN_IMAGES],
    )
    submitted = FireflyGenerateImagesOperator(
        task_id="submit_variants",
        prompt="the same terrace at dusk, warm lights",
        seeds=[21],
        size=(1024, 1024),
        wait_for_completion=False,  # XCom: the job handle; the sensor below waits for it
    )
    FireflyJobSensor(
        task_id="variants",
        job=submitted.output,
        output_dir=OUTPUT_DIR,
        output_name="variant-{index}-{seed}.{ext}",
        poke_interval=_seconds("FIREFLY_POLL_INTERVAL") or 10.0,
        timeout=3600,
        mode="reschedule",
        outlets=[CAMPAIGN_IMAGES],
    )


firefly_asset_producer()
