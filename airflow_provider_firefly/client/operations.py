"""The Firefly operations: path, method and the ``x-model-version`` values each accepts.

A test checks this table against Adobe's OpenAPI document shipped in ``spec/``, so it cannot
drift from the spec; it is kept as code so that importing the client does not parse 160 KB of
JSON.
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow_provider_firefly.client.errors import FireflyConfigError

__all__ = ["OPERATIONS", "Operation", "get_operation"]


@dataclass(frozen=True)
class Operation:
    """One Firefly endpoint.

    :param name: the name used by the client, hook and generic operator.
    :param method: HTTP method.
    :param path: path below the API base URL.
    :param submits_job: True when the call starts a billed asynchronous job.
    :param model_versions: accepted ``x-model-version`` values, the default first.
    :param model_version_required: whether the header must be sent.
    :param expected_seconds: typical job duration, the first poll's delay.
    """

    name: str
    method: str
    path: str
    submits_job: bool = True
    model_versions: tuple[str, ...] = ()
    model_version_required: bool = False
    expected_seconds: float = 15.0

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    def check_model_version(self, value: str | None) -> str | None:
        """The header value to send, or a :class:`FireflyConfigError` naming the choices."""
        if value is None:
            return self.model_versions[0] if self.model_version_required else None
        if not self.model_versions:
            raise FireflyConfigError(
                f"{self.label} takes no x-model-version; remove model_version",
                field="model_version",
            )
        if value not in self.model_versions:
            raise FireflyConfigError(
                f"model_version {value!r} is not accepted by {self.label}; choose one of "
                f"{', '.join(self.model_versions)}",
                field="model_version",
            )
        return value


OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        Operation(
            "generate_images",
            "POST",
            "/v3/images/generate-async",
            model_versions=(
                "image3",
                "image3_custom",
                "image4_standard",
                "image4_ultra",
                "image4_custom",
            ),
        ),
        Operation(
            "generate_images_v4",
            "POST",
            "/v4/images/generate-async",
            model_versions=("image5",),
            model_version_required=True,
        ),
        Operation(
            "generate_similar_images",
            "POST",
            "/v3/images/generate-similar-async",
            model_versions=("image3", "image4_standard", "image4_ultra"),
        ),
        Operation("expand_image", "POST", "/v3/images/expand-async"),
        Operation("fill_image", "POST", "/v3/images/fill-async"),
        Operation(
            "generate_object_composite", "POST", "/v3/images/generate-object-composite-async"
        ),
        Operation("precise_composite", "POST", "/v3/images/precise-composite"),
        Operation("adaptive_composite", "POST", "/v3/images/adaptive-composite"),
        Operation(
            "upscale_image",
            "POST",
            "/v3/images/upscale",
            model_versions=("precise_upsampler_v1",),
        ),
        Operation(
            "generate_video",
            "POST",
            "/v3/videos/generate",
            model_versions=("video1_standard",),
            model_version_required=True,
            expected_seconds=90.0,
        ),
        Operation("list_custom_models", "GET", "/v3/custom-models", submits_job=False),
        Operation("upload_image", "POST", "/v2/storage/image", submits_job=False),
        Operation("get_status", "GET", "/v3/status/{jobId}", submits_job=False),
        Operation("cancel_job", "PUT", "/v3/cancel/{jobId}", submits_job=False),
    )
}


def get_operation(name_or_path: str) -> Operation:
    """Look an operation up by name (``"expand_image"``) or path (``"/v3/images/expand-async"``)."""
    if name_or_path in OPERATIONS:
        return OPERATIONS[name_or_path]
    for op in OPERATIONS.values():
        if op.path == name_or_path or op.path == "/" + name_or_path.lstrip("/"):
            return op
    raise FireflyConfigError(
        f"unknown Firefly operation {name_or_path!r}; known: {', '.join(OPERATIONS)}",
        field="operation",
    )
