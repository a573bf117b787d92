"""Operators for every Adobe Firefly operation.

Imported lazily: ``from airflow_provider_firefly.operators import FireflyGenerateImagesOperator``
loads only that operator's module (and ``airflow.sdk``), so DAG files parse fast.

=========================================  ====================================================
Operator                                   Firefly operation
=========================================  ====================================================
FireflyGenerateImagesOperator              text to image: Image 3/4, custom models, Image 5
FireflyGenerateSimilarImagesOperator       generate similar images
FireflyExpandImageOperator                 generative expand
FireflyFillImageOperator                   generative fill
FireflyGenerateObjectCompositeOperator     object composite (generated scene)
FireflyPreciseCompositeOperator            precise composite
FireflyAdaptiveCompositeOperator           adaptive composite
FireflyUpscaleImageOperator                precise upscale
FireflyGenerateVideoOperator               text / image to video
FireflyUploadImageOperator                 upload an image (XCom: upload id)
FireflyListCustomModelsOperator            list custom models (XCom: the list)
FireflyOperator                            any job operation, given a name or path and a body
FireflyJobSensor                           wait for a job (e.g. ``wait_for_completion=False``)
=========================================  ====================================================

``FireflyJobSensor`` lives in :mod:`airflow_provider_firefly.sensors` and is re-exported here.

``FireflyUnansweredSubmissionError`` is raised by a job operator whose submission (or an earlier
try's) was sent but never answered: see ``resubmit_unanswered``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_firefly.lazy_exports import lazy_exports

if TYPE_CHECKING:  # what the lazy names below resolve to, for type checkers and IDEs
    from airflow_provider_firefly.operators._runner import (
        FireflyUnansweredSubmissionError as FireflyUnansweredSubmissionError,
    )
    from airflow_provider_firefly.operators.base import (
        FireflyBaseOperator as FireflyBaseOperator,
    )
    from airflow_provider_firefly.operators.base import FireflyRequest as FireflyRequest
    from airflow_provider_firefly.operators.composite import (
        FireflyAdaptiveCompositeOperator as FireflyAdaptiveCompositeOperator,
    )
    from airflow_provider_firefly.operators.composite import (
        FireflyGenerateObjectCompositeOperator as FireflyGenerateObjectCompositeOperator,
    )
    from airflow_provider_firefly.operators.composite import (
        FireflyPreciseCompositeOperator as FireflyPreciseCompositeOperator,
    )
    from airflow_provider_firefly.operators.custom_models import (
        FireflyListCustomModelsOperator as FireflyListCustomModelsOperator,
    )
    from airflow_provider_firefly.operators.generic import FireflyOperator as FireflyOperator
    from airflow_provider_firefly.operators.image_edits import (
        FireflyExpandImageOperator as FireflyExpandImageOperator,
    )
    from airflow_provider_firefly.operators.image_edits import (
        FireflyFillImageOperator as FireflyFillImageOperator,
    )
    from airflow_provider_firefly.operators.image_edits import (
        FireflyUpscaleImageOperator as FireflyUpscaleImageOperator,
    )
    from airflow_provider_firefly.operators.images import (
        FireflyGenerateImagesOperator as FireflyGenerateImagesOperator,
    )
    from airflow_provider_firefly.operators.images import (
        FireflyGenerateSimilarImagesOperator as FireflyGenerateSimilarImagesOperator,
    )
    from airflow_provider_firefly.operators.links import FireflyOutputLink as FireflyOutputLink
    from airflow_provider_firefly.operators.uploads import (
        FireflyUploadImageOperator as FireflyUploadImageOperator,
    )
    from airflow_provider_firefly.operators.variations import (
        FireflyVariationsOperator as FireflyVariationsOperator,
    )
    from airflow_provider_firefly.operators.video import (
        FireflyGenerateVideoOperator as FireflyGenerateVideoOperator,
    )
    from airflow_provider_firefly.sensors.firefly import FireflyJobSensor as FireflyJobSensor

#: Public name → the module that defines it (loaded on first access).
_MODULES = {
    "FireflyBaseOperator": "base",
    "FireflyRequest": "base",
    "FireflyVariationsOperator": "variations",
    "FireflyGenerateImagesOperator": "images",
    "FireflyGenerateSimilarImagesOperator": "images",
    "FireflyExpandImageOperator": "image_edits",
    "FireflyFillImageOperator": "image_edits",
    "FireflyUpscaleImageOperator": "image_edits",
    "FireflyGenerateObjectCompositeOperator": "composite",
    "FireflyPreciseCompositeOperator": "composite",
    "FireflyAdaptiveCompositeOperator": "composite",
    "FireflyGenerateVideoOperator": "video",
    "FireflyUploadImageOperator": "uploads",
    "FireflyListCustomModelsOperator": "custom_models",
    "FireflyOperator": "generic",
    "FireflyOutputLink": "links",
    "FireflyUnansweredSubmissionError": "_runner",
    # absolute: the sensor is in the sensors package
    "FireflyJobSensor": "airflow_provider_firefly.sensors.firefly",
}

__all__ = sorted(_MODULES)  # noqa: PLE0605
__getattr__, __dir__ = lazy_exports(__name__, _MODULES)
