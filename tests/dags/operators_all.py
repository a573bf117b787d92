"""Test DAGs of tests/operators/test_dag_runs.py: every Firefly operator in a real task run.

``ff_ops_sync`` waits in the worker, ``ff_ops_deferred`` in the triggerer; both run every
operator once (text to image mapped over prompts, a prompt from a ``.txt`` template, Image 4,
Image 5, similar, expand, fill, object/precise/adaptive composite, upscale, video, upload,
custom models, the generic operator) against the emulator behind ``AIRFLOW_CONN_FF_OPS``,
reading inputs from and saving outputs under ``FF_OPS_WORKDIR``.
"""

from __future__ import annotations

import datetime
import os

from airflow.sdk import DAG, ObjectStoragePath

from airflow_provider_firefly.operators import (
    FireflyAdaptiveCompositeOperator,
    FireflyExpandImageOperator,
    FireflyFillImageOperator,
    FireflyGenerateImagesOperator,
    FireflyGenerateObjectCompositeOperator,
    FireflyGenerateSimilarImagesOperator,
    FireflyGenerateVideoOperator,
    FireflyListCustomModelsOperator,
    FireflyOperator,
    FireflyPreciseCompositeOperator,
    FireflyUploadImageOperator,
    FireflyUpscaleImageOperator,
)

WORK = os.environ.get("FF_OPS_WORKDIR", "/tmp/ff-ops-work")
IN = f"{WORK}/inputs"


def build(dag_id: str, deferrable: bool) -> DAG:
    with DAG(
        dag_id=dag_id,
        schedule=None,
        start_date=datetime.datetime(2026, 1, 1),
        catchup=False,
        params={"animal": "red fox"},
        template_searchpath=[os.path.dirname(os.path.abspath(__file__))],
        tags=["firefly-tests"],
        default_args={
            "firefly_conn_id": "ff_ops",
            "deferrable": deferrable,
            "expected_seconds": 0,
            "poll_interval": 0.2,
            "max_poll_interval": 0.5,
            "job_timeout": 60,
            "output_dir": f"file://{WORK}/out/{{{{ dag.dag_id }}}}/{{{{ task.task_id }}}}",
        },
    ) as dag:
        upload = FireflyUploadImageOperator(task_id="upload", image=f"file://{IN}/photo.png")
        FireflyGenerateImagesOperator.partial(task_id="generate_mapped", size=(64, 48)).expand(
            prompt=["a lighthouse at dawn", "a red bicycle", "a bowl of ramen"]
        )
        FireflyGenerateImagesOperator(
            task_id="generate_template",
            prompt="prompts/ff_ops_prompt.txt",
            model="image4",
            num_variations=2,
            seeds=[11, 22],
            size="72x40",
            content_class="art",
            style_presets=["watercolor"],
            style_reference=f"{IN}/photo.png",
            output_name="{dag_id}-{index}-seed{seed}.{ext}",
        )
        FireflyGenerateImagesOperator(
            task_id="generate_image5",
            prompt="a {{ params.animal }} in the snow",
            model="image5",
            aspect_ratio="16:9",
            resolution="1MP",
            output_dir=None,
        )
        similar = FireflyGenerateSimilarImagesOperator(
            task_id="similar", image=ObjectStoragePath(f"file://{IN}/photo.png"), size=(40, 30)
        )
        FireflyExpandImageOperator(
            task_id="expand", image=f"{IN}/photo.png", size=(128, 96), placement="top-left"
        )
        fill = FireflyFillImageOperator(
            task_id="fill",
            image="{{ ti.xcom_pull(task_ids='upload') }}",
            mask=f"{IN}/mask.png",
            prompt="a {{ params.animal }}",
            size=(64, 48),
        )
        FireflyGenerateObjectCompositeOperator(
            task_id="object_composite",
            image=f"{IN}/photo.png",
            prompt="on a marble table",
            placement={"alignment": {"horizontal": "left", "vertical": "bottom"}},
            size=(96, 72),
        )
        FireflyPreciseCompositeOperator(
            task_id="precise_composite",
            background=f"{IN}/photo.png",
            fill_area_mask=f"file://{IN}/mask.png",
            object_image=f"{IN}/photo.png",
            num_variations=2,
            blend=0.3,
            output_format="png",
        )
        FireflyAdaptiveCompositeOperator(
            task_id="adaptive_composite",
            background=f"{IN}/photo.png",
            fill_area_mask=f"{IN}/mask.png",
            object_image=f"{IN}/photo.png",
            object_mask=f"{IN}/mask.png",
            harmonization=0.5,
        )
        upscale = FireflyUpscaleImageOperator(
            task_id="upscale",
            image="{{ ti.xcom_pull(task_ids='upload') }}",
            upscale_factor=2,
            seeds=[5],
        )
        FireflyGenerateVideoOperator(
            task_id="video",
            prompt="a {{ params.animal }} running",
            first_frame=f"{IN}/photo.png",
            seed=7,
            size=(64, 36),
            camera_motion="camera zoom in",
        )
        FireflyListCustomModelsOperator(task_id="custom_models", published_state="all")
        FireflyOperator(
            task_id="generic",
            operation="/v3/images/fill-async",
            body={
                "image": {"source": "@image:photo"},
                "mask": {"source": "@image:mask"},
                "prompt": "a {{ params.animal }}",
                "size": {"width": 48, "height": 32},
                "seeds": [3],
            },
            images={"photo": f"{IN}/photo.png", "mask": f"{IN}/mask.png"},
        )
        upload >> [fill, upscale]
        similar  # noqa: B018
    return dag


ff_ops_sync = build("ff_ops_sync", deferrable=False)
ff_ops_deferred = build("ff_ops_deferred", deferrable=True)
