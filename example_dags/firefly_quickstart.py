"""Quick start: generate images for a list of prompts and save them to object storage.

Each prompt becomes one mapped task that submits a Firefly text-to-image job, waits for it and
streams every output to ``output_dir`` (any ``ObjectStoragePath`` URL: ``file://``, ``s3://``...)
before Adobe's one-hour URLs expire. The same DAG runs against Adobe or the local emulator: only
the ``firefly_default`` connection differs.

Run it against the emulator with ``scripts/demo``; against Adobe, set the connection's Client ID
and Client secret (README, "Configure the connection") and trigger the DAG. Set the environment
variable ``FIREFLY_OUTPUT_DIR`` (read when the DAG file is parsed) to choose where images go.
``FIREFLY_EXPECTED_SECONDS`` / ``FIREFLY_POLL_INTERVAL`` (optional, seconds) make the first status
poll come sooner against a fast emulator; unset, the operator waits the operation's typical
duration (about 15 s) before polling, which suits Adobe.
"""

from __future__ import annotations

import os

from airflow.sdk import dag, task

from airflow_provider_firefly.operators import FireflyGenerateImagesOperator

PROMPTS = [
    "a lighthouse on a cliff at dawn, watercolor",
    "a red bicycle leaning on a blue door",
    "a bowl of ramen, studio photo",
]
OUTPUT_DIR = os.environ.get("FIREFLY_OUTPUT_DIR", "file:///tmp/firefly-quickstart")


def _seconds(name: str) -> float | None:
    value = os.environ.get(name)
    return float(value) if value else None


@dag(
    dag_id="firefly_quickstart",
    schedule=None,
    catchup=False,
    doc_md=__doc__,
    tags=["firefly", "example"],
)
def firefly_quickstart() -> None:
    images = FireflyGenerateImagesOperator.partial(
        task_id="generate",
        output_dir=OUTPUT_DIR,
        output_name="{map_index}-{seed}.{ext}",
        size=(1024, 1024),
        num_variations=1,
        max_active_tis_per_dag=4,  # a few jobs at a time: Adobe limits requests per minute
        expected_seconds=_seconds("FIREFLY_EXPECTED_SECONDS"),
        poll_interval=_seconds("FIREFLY_POLL_INTERVAL"),
    ).expand(prompt=PROMPTS)

    @task
    def report(results: list[dict]) -> list[str]:
        paths = [path for result in results for path in result["saved_paths"]]
        for path in paths:
            print(f"FIREFLY_OUTPUT {path}")
        return paths

    report(images.output)


firefly_quickstart()
