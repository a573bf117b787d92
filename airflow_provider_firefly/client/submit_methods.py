"""One blocking method per Firefly job operation, each a thin :meth:`submit` call.

A mixin of :class:`~airflow_provider_firefly.client.api.FireflyClient`, kept apart so that the
client module holds the request logic and this one the catalogue of operations.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, Protocol

from airflow_provider_firefly.client._api_base import SubmitOptions
from airflow_provider_firefly.client.jobs import JobHandle
from airflow_provider_firefly.client.operations import Operation

if sys.version_info >= (3, 11):
    # At run time too (3.11+), so that documentation tools can read the signatures.
    from typing import Unpack

__all__ = ["SubmitMethods"]


class _Submits(Protocol):
    def submit(
        self, operation: str | Operation, body: Mapping[str, Any], **options: Unpack[SubmitOptions]
    ) -> JobHandle: ...


class SubmitMethods:
    """``generate_images``, ``expand_image``, ... for a class that has ``submit``."""

    def generate_images(
        self: _Submits, body: Mapping[str, Any], *, model_version: str | None = None
    ) -> JobHandle:
        """``POST /v3/images/generate-async`` (Image 3, Image 4, custom models)."""
        return self.submit("generate_images", body, model_version=model_version)

    def generate_images_v4(
        self: _Submits, body: Mapping[str, Any], *, model_version: str | None = None
    ) -> JobHandle:
        """``POST /v4/images/generate-async`` (Image 5)."""
        return self.submit("generate_images_v4", body, model_version=model_version)

    def generate_similar_images(
        self: _Submits, body: Mapping[str, Any], *, model_version: str | None = None
    ) -> JobHandle:
        """``POST /v3/images/generate-similar-async``."""
        return self.submit("generate_similar_images", body, model_version=model_version)

    def expand_image(self: _Submits, body: Mapping[str, Any]) -> JobHandle:
        """``POST /v3/images/expand-async``."""
        return self.submit("expand_image", body)

    def fill_image(self: _Submits, body: Mapping[str, Any]) -> JobHandle:
        """``POST /v3/images/fill-async``."""
        return self.submit("fill_image", body)

    def generate_object_composite(self: _Submits, body: Mapping[str, Any]) -> JobHandle:
        """``POST /v3/images/generate-object-composite-async``."""
        return self.submit("generate_object_composite", body)

    def precise_composite(self: _Submits, body: Mapping[str, Any]) -> JobHandle:
        """``POST /v3/images/precise-composite``."""
        return self.submit("precise_composite", body)

    def adaptive_composite(self: _Submits, body: Mapping[str, Any]) -> JobHandle:
        """``POST /v3/images/adaptive-composite``."""
        return self.submit("adaptive_composite", body)

    def upscale_image(
        self: _Submits, body: Mapping[str, Any], *, model_version: str | None = None
    ) -> JobHandle:
        """``POST /v3/images/upscale``."""
        return self.submit("upscale_image", body, model_version=model_version)

    def generate_video(
        self: _Submits, body: Mapping[str, Any], *, model_version: str | None = None
    ) -> JobHandle:
        """``POST /v3/videos/generate``."""
        return self.submit("generate_video", body, model_version=model_version)
