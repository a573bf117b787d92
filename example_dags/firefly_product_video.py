"""Product video: a five-second clip from a prompt and a keyframe image (deferrable).

**What it does.** ``FireflyGenerateVideoOperator`` sends the ``prompt`` param and
``assets/product.png`` as the clip's first keyframe (position 0; ``keyframes`` also takes more
``(image, position)`` pairs up to the last frame at 1) with a slow zoom, square 1080x1080, and a
fixed seed. The local keyframe is uploaded first. Video jobs take a minute or two, so the task
runs with ``deferrable=True``: it submits the job, then the triggerer polls it while the worker
slot is free; the task resumes to stream the MP4 to
``{output_dir}/firefly_product_video/<run time>/`` before its URL expires. It needs a running
``airflow triggerer`` (``airflow standalone`` starts one; ``airflow dags test`` runs triggers
inline).

**Connection.** ``firefly_default`` (type *Adobe Firefly*); the credential needs access to
Firefly video generation.

**Output.** The ``output_dir`` param (default from ``FIREFLY_OUTPUT_DIR``, else
``file:///tmp/firefly-examples``): any ``ObjectStoragePath`` URL.

**Run against the emulator**: start it and set ``AIRFLOW_CONN_FIREFLY_DEFAULT`` as in
``firefly_nightly_campaign`` (or ``scripts/demo``), then
``airflow dags test firefly_product_video``. **Against Adobe**: set the connection's Client ID
and secret and trigger the DAG (one video generation). ``FIREFLY_EXPECTED_SECONDS`` /
``FIREFLY_POLL_INTERVAL`` (optional) shorten polling for tests; unset, the first poll comes
after the typical video duration (90 s).
"""

from __future__ import annotations

import os
from pathlib import Path

import pendulum
from airflow.sdk import DAG, Param

from airflow_provider_firefly.operators import FireflyGenerateVideoOperator

KEYFRAME = str(Path(__file__).resolve().parent / "assets" / "product.png")
OUTPUT_DIR = os.environ.get("FIREFLY_OUTPUT_DIR", "file:///tmp/firefly-examples")


def _seconds(name: str) -> float | None:
    value = os.environ.get(name)
    return float(value) if value else None


with DAG(
    dag_id="firefly_product_video",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    doc_md=__doc__,
    tags=["firefly", "example", "video", "deferrable"],
    params={
        "output_dir": Param(OUTPUT_DIR, type="string", minLength=1),
        "prompt": Param(
            "steam rises from the teal mug as morning light sweeps across the table",
            type="string",
            minLength=1,
        ),
    },
):
    FireflyGenerateVideoOperator(
        task_id="video",
        firefly_conn_id="firefly_default",
        prompt="{{ params.prompt }}",
        keyframes=[(KEYFRAME, 0)],
        size=(1080, 1080),
        seed=1234,
        camera_motion="camera zoom in",
        shot_size="medium shot",
        output_dir="{{ params.output_dir }}/{{ dag.dag_id }}/{{ dag_run.run_after | ts_nodash }}",
        output_name="clip-{seed}.{ext}",
        deferrable=True,
        execution_timeout=pendulum.duration(minutes=20),
        expected_seconds=_seconds("FIREFLY_EXPECTED_SECONDS"),
        poll_interval=_seconds("FIREFLY_POLL_INTERVAL"),
    )
