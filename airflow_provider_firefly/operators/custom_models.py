"""``FireflyListCustomModelsOperator``: list the custom models a credential may use."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_firefly.connection import DEFAULT_CONN_ID
from airflow_provider_firefly.operators._params import as_int, check_choice
from airflow_provider_firefly.operators.runtime import FireflyHookMixin
from airflow_provider_firefly.schema import CUSTOM_MODEL_PUBLISHED_STATES

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["FireflyListCustomModelsOperator"]

SORT_BY = (
    "assetName",
    "createdDate",
    "modifiedDate",
    "-assetName",
    "-createdDate",
    "-modifiedDate",
)
PUBLISHED_STATES = CUSTOM_MODEL_PUBLISHED_STATES


class FireflyListCustomModelsOperator(FireflyHookMixin, BaseOperator):
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

    def execute(self, context: Context) -> list[dict[str, Any]]:
        label = type(self).__name__
        check_choice(label, "published_state", self.published_state, PUBLISHED_STATES)
        check_choice(label, "sort_by", self.sort_by, SORT_BY)
        page = as_int(label, "page_size", self.page_size, low=1, high=50)
        limit = as_int(label, "limit", self.limit, low=1, high=10_000)
        models: list[dict[str, Any]] = []
        for model in self.hook.client.list_custom_models(
            page_size=page or 50, sort_by=self.sort_by, published_state=self.published_state
        ):
            models.append(model)
            if limit is not None and len(models) >= limit:
                break
        self.log.info("%d custom model(s)", len(models))
        return models
