"""Quick start: generate images for a list of prompts and save them to object storage.

Each prompt becomes one mapped task that submits a Firefly text-to-image job, waits for it and
streams every output to ``output_dir`` (any ``ObjectStoragePath``: ``file://``, ``s3://``...)
before Adobe's one-hour URLs expire. The same DAG runs against Adobe or the local emulator:
only the ``firefly_default`` connection differs.

Run it against the emulator with ``scripts/demo``; against Adobe, set the connection's Client ID
and Client secret (README, "Configure the connection") and trigger the DAG.
"""

from __future__ import annotations

import os
import re

from airflow.sdk import Param, dag, task

DEFAULT_PROMPTS = [
    "a lighthouse on a cliff at dawn, watercolor",
    "a red bicycle leaning on a blue door",
    "a bowl of ramen, studio photo",
]


@dag(
    dag_id="firefly_quickstart",
    schedule=None,
    catchup=False,
    tags=["firefly", "example"],
    params={
        "prompts": Param(DEFAULT_PROMPTS, type="array", description="One image job per prompt."),
        "output_dir": Param(
            os.environ.get("FIREFLY_OUTPUT_DIR", "file:///tmp/firefly-quickstart"),
            type="string",
            description="Where to save the images (an ObjectStoragePath URL).",
        ),
        "width": Param(1024, type="integer", minimum=1, maximum=4096),
        "height": Param(1024, type="integer", minimum=1, maximum=4096),
    },
)
def firefly_quickstart() -> None:
    @task
    def list_prompts(params: dict | None = None) -> list[str]:
        return list(params["prompts"]) if params else DEFAULT_PROMPTS

    @task(max_active_tis_per_dag=4)
    def generate(prompt: str, params: dict | None = None) -> list[str]:
        from airflow.sdk import ObjectStoragePath

        from airflow_provider_firefly.client.api import PollPolicy
        from airflow_provider_firefly.hooks.firefly import FireflyHook

        params = params or {}
        hook = FireflyHook()
        job = hook.submit(
            "generate_images",
            {
                "prompt": prompt,
                "numVariations": 1,
                "size": {"width": params.get("width", 1024), "height": params.get("height", 1024)},
            },
        )
        status = hook.wait(job, timeout=900, poll=PollPolicy(first_delay=3.0, min_interval=2.0))
        slug = re.sub(r"[^a-z0-9]+", "-", prompt.lower()).strip("-")[:40]
        folder = ObjectStoragePath(params.get("output_dir", "file:///tmp/firefly-quickstart"))
        saved = []
        for output in status.outputs:
            target = folder / f"{slug}-{output.seed}.png"
            result = hook.download(output, target)
            print(f"saved {target} ({result.bytes_written} bytes)")
            saved.append(str(target))
        return saved

    @task
    def report(paths: list[list[str]]) -> list[str]:
        flat = [p for group in paths for p in group]
        for path in flat:
            print(f"FIREFLY_OUTPUT {path}")
        return flat

    report(generate.expand(prompt=list_prompts()))


firefly_quickstart()
