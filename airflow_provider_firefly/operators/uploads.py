"""``FireflyUploadImageOperator``: upload an image to Firefly storage; starts no job."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_firefly.connection import DEFAULT_CONN_ID
from airflow_provider_firefly.operators._errors import bad_param
from airflow_provider_firefly.operators.runtime import FireflyHookMixin

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["FireflyUploadImageOperator"]


class FireflyUploadImageOperator(FireflyHookMixin, BaseOperator):
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

    def execute(self, context: Context) -> str:
        from airflow_provider_firefly.operators._inputs import ImageInputs  # not at DAG parse

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
