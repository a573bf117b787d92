"""Product placement: one product photo staged five ways, with Image 5 and the composites.

**What it does.** Starting from ``assets/product.png`` (a 512x512 mug photo):

1. ``upload``: ``FireflyUploadImageOperator`` uploads the photo once; its XCom is the upload id.
2. ``scene``: ``FireflyGenerateImagesOperator`` with ``model="image5"`` generates an empty
   1344x768 scene (aspect ratio 16:9 at 1 megapixel) from the ``scene`` param.
3. ``precise``: ``FireflyPreciseCompositeOperator`` puts the product, as it is, into the white
   area of ``assets/banner_mask.png`` (1344x768, left of centre) in that scene.
4. ``adaptive``: ``FireflyAdaptiveCompositeOperator`` does the same but relights the product and
   adds its shadow, so it looks shot in the scene.
5. ``staged``: ``FireflyGenerateObjectCompositeOperator`` generates a new scene around the
   product from the ``staging`` prompt (no background needed).
6. ``similar``: ``FireflyGenerateSimilarImagesOperator`` makes two variations of the staged shot.

The image parameters take upload ids (``upload``), Firefly's presigned output URLs pulled from
XCom (``scene``, ``staged``: no download and re-upload) and local paths (the mask); any of them
also takes a storage URL (``s3://...``) or an ``ObjectStoragePath``. Every job saves its outputs
under ``{output_dir}/firefly_product_placement/<run time>/`` (the ``output_dir`` param; default
from ``FIREFLY_OUTPUT_DIR``, else ``file:///tmp/firefly-examples``) and ``report`` prints them.

**Connection.** ``firefly_default`` (type *Adobe Firefly*).

**Run against the emulator**: start it and set ``AIRFLOW_CONN_FIREFLY_DEFAULT`` as in
``firefly_nightly_campaign`` (or ``scripts/demo``), then
``airflow dags test firefly_product_placement``. **Against Adobe**: set the connection's Client
ID and secret and trigger the DAG (five generative jobs: Image 5, two composites, an object
composite and generate-similar).
``FIREFLY_EXPECTED_SECONDS`` / ``FIREFLY_POLL_INTERVAL`` (optional) shorten polling for tests.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_provider_firefly.operators import (
    FireflyAdaptiveCompositeOperator,
    FireflyGenerateImagesOperator,
    FireflyGenerateObjectCompositeOperator,
    FireflyGenerateSimilarImagesOperator,
    FireflyPreciseCompositeOperator,
    FireflyUploadImageOperator,
)

ASSETS = Path(__file__).resolve().parent / "assets"
PRODUCT = str(ASSETS / "product.png")  # paths only: nothing is read while parsing
FILL_AREA = str(ASSETS / "banner_mask.png")  # 1344x768, white where the product goes
OUTPUT_DIR = os.environ.get("FIREFLY_OUTPUT_DIR", "file:///tmp/firefly-examples")
UPLOADED_PRODUCT = "{{ ti.xcom_pull(task_ids='upload') }}"
SCENE_URL = "{{ ti.xcom_pull(task_ids='scene')['outputs'][0]['url'] }}"


def _seconds(name: str) -> float | None:
    value = os.environ.get(name)
    return float(value) if value else None


with DAG(
    dag_id="firefly_product_placement",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    doc_md=__doc__,
    tags=["firefly", "example", "composite"],
    params={
        "output_dir": Param(OUTPUT_DIR, type="string", minLength=1),
        "scene": Param(
            "an empty white marble kitchen counter by a sunny window, photographed at eye level",
            type="string",
            minLength=1,
        ),
        "staging": Param(
            "on a rustic wooden picnic table in a summer garden, shallow depth of field",
            type="string",
            minLength=1,
        ),
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

    scene = FireflyGenerateImagesOperator(
        task_id="scene",
        model="image5",
        prompt="{{ params.scene }}",
        aspect_ratio="16:9",
        resolution="1MP",
        seeds=[11],
    )

    precise = FireflyPreciseCompositeOperator(
        task_id="precise",
        background=SCENE_URL,
        fill_area_mask=FILL_AREA,
        object_image=UPLOADED_PRODUCT,
        blend=0.4,
        seeds=[333],
    )

    adaptive = FireflyAdaptiveCompositeOperator(
        task_id="adaptive",
        background=SCENE_URL,
        fill_area_mask=FILL_AREA,
        object_image=UPLOADED_PRODUCT,
        harmonization=0.6,
        shadow_intensity=0.8,
        seeds=[222],
    )

    staged = FireflyGenerateObjectCompositeOperator(
        task_id="staged",
        image=UPLOADED_PRODUCT,
        prompt="{{ params.staging }}",
        placement="bottom-center",
        content_class="photo",
        size=(2048, 2048),
        seeds=[5],
    )

    similar = FireflyGenerateSimilarImagesOperator(
        task_id="similar",
        image="{{ ti.xcom_pull(task_ids='staged')['outputs'][0]['url'] }}",
        model="image4_standard",
        size=(2048, 2048),
        seeds=[1, 2],
    )

    @task
    def report(
        scene: dict[str, Any],
        precise: dict[str, Any],
        adaptive: dict[str, Any],
        staged: dict[str, Any],
        similar: dict[str, Any],
    ) -> list[str]:
        results = (scene, precise, adaptive, staged, similar)
        paths = [path for result in results for path in result["saved_paths"]]
        for path in paths:
            print(f"FIREFLY_OUTPUT {path}")
        return paths

    upload >> [scene, staged]
    scene >> [precise, adaptive]
    staged >> similar
    report(scene.output, precise.output, adaptive.output, staged.output, similar.output)
