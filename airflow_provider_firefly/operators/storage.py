"""Operators that start no job: upload an image, list custom models."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_firefly.connection import DEFAULT_CONN_ID
from airflow_provider_firefly.operators._errors import bad_param
from airflow_provider_firefly.schema import CUSTOM_MODEL_PUBLISHED_STATES

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_firefly.hooks.firefly import FireflyHook

__all__ = ["FireflyListCustomModelsOperator", "FireflyUploadImageOperator"]

SORT_BY = (
    "assetName",
    "createdDate",
    "modifiedDate",
    "-assetName",
    "-createdDate",
    "-modifiedDate",
)
PUBLISHED_STATES = CUSTOM_MODEL_PUBLISHED_STATES


class FireflyUploadImageOperator(BaseOperator):
    """Upload an image to Firefly storage (``POST /v2/storage/image``); XCom: the upload id.

    The id stays valid for 7 days and can be passed as the ``image`` (or any image parameter)
    of the other operators.

    :param image: a local path, a storage URL (``s3://``, ``file://``...) or an
        ``ObjectStoragePath``; PNG, JPEG, WEBP, TIFF or JXL, up to 15 MB. Templated.
    :param firefly_conn_id: the ``firefly`` connection.
    """

    template_fields: Sequence[str] = ("image",)
    ui_color = "#fa0f00"
    ui_fgcolor = "#ffffff"

    def __init__(self, *, image: Any, firefly_conn_id: str = DEFAULT_CONN_ID, **kwargs: Any):
        super().__init__(**kwargs)
        self.image = image
        self.firefly_conn_id = firefly_conn_id
        self._upload_id: str | None = None

    @cached_property
    def hook(self) -> FireflyHook:
        from airflow_provider_firefly.hooks.firefly import FireflyHook

        return FireflyHook(firefly_conn_id=self.firefly_conn_id)

    def execute(self, context: Context) -> str:
        from airflow_provider_firefly.operators._inputs import ImageInputs

        label = type(self).__name__
        inputs = ImageInputs(label)
        inputs.add("image", self.image)
        item = inputs.items[0]
        if item.kind not in ("local", "object"):
            raise bad_param(
                label,
                "image",
                f"is {'an upload id' if item.kind == 'upload_id' else 'a URL'}, not a file",
                "give a local path, a storage URL or an ObjectStoragePath",
            )
        upload_id = inputs.upload(self.hook, self.log)["image"]
        self._upload_id = upload_id
        self.log.info("Upload id %s (valid for 7 days)", upload_id)
        return upload_id

    def _api_host(self) -> str:
        try:
            return str(self.hook.config.http.api_host)
        except Exception:  # a broken connection was reported by execute already
            return ""

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The photo as the input, the Firefly storage item (``uploads/{id}``) as the output."""
        from airflow_provider_firefly.operators import lineage

        return lineage.upload_lineage(self.image, self._api_host(), self._upload_id)

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        """The photo as the input."""
        from airflow_provider_firefly.operators import lineage

        return lineage.upload_lineage(self.image, self._api_host(), None)


class FireflyListCustomModelsOperator(BaseOperator):
    """List the custom models the credential may use (``GET /v3/custom-models``).

    XCom: a list of model dicts as Firefly returns them (``assetId``, ``displayName``,
    ``trainingMode``, ``baseModel``, ``publishedState``...). Pass an ``assetId`` as
    ``custom_model_id`` of :class:`FireflyGenerateImagesOperator`.

    :param published_state: ``all``, ``ready``, ``published`` (Firefly's default), ...
    :param sort_by: ``assetName``, ``createdDate`` or ``modifiedDate`` (``-`` prefix reverses).
    :param page_size: models per request, 1..50.
    :param limit: stop after this many models (None: all).
    """

    template_fields: Sequence[str] = ("published_state", "sort_by")
    ui_color = "#fa0f00"
    ui_fgcolor = "#ffffff"

    def __init__(
        self,
        *,
        firefly_conn_id: str = DEFAULT_CONN_ID,
        published_state: str | None = None,
        sort_by: str | None = None,
        page_size: int = 50,
        limit: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.firefly_conn_id = firefly_conn_id
        self.published_state = published_state
        self.sort_by = sort_by
        self.page_size = page_size
        self.limit = limit

    @cached_property
    def hook(self) -> FireflyHook:
        from airflow_provider_firefly.hooks.firefly import FireflyHook

        return FireflyHook(firefly_conn_id=self.firefly_conn_id)

    def execute(self, context: Context) -> list[dict[str, Any]]:
        from airflow_provider_firefly.operators import _params as p

        label = type(self).__name__
        p.check_choice(label, "published_state", self.published_state, PUBLISHED_STATES)
        p.check_choice(label, "sort_by", self.sort_by, SORT_BY)
        page = p.as_int(label, "page_size", self.page_size, low=1, high=50)
        limit = p.as_int(label, "limit", self.limit, low=1, high=10_000)
        models: list[dict[str, Any]] = []
        for model in self.hook.client.list_custom_models(
            page_size=page or 50, sort_by=self.sort_by, published_state=self.published_state
        ):
            models.append(model)
            if limit is not None and len(models) >= limit:
                break
        self.log.info("%d custom model(s)", len(models))
        return models
