"""``FireflyRequest``: what a job operator asks Firefly for, and the part of it a task keeps.

Light on purpose (standard library only): every operator module imports it when a DAG file is
parsed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FireflyRequest", "info_after_deferral", "request_info"]


@dataclass
class FireflyRequest:
    """What a subclass asks for: an operation, its JSON body and ``x-model-version``."""

    operation: str
    body: dict[str, Any]
    model_version: str | None = None
    #: requested output media type (names the saved files' extension), if the operation has one.
    media_type: str | None = None
    #: API body field → operator parameter, so a schema error names the parameter.
    field_map: dict[str, str] = field(default_factory=dict)

    def info(self) -> dict[str, Any]:
        """What the result, a submit-only handle, the deferral and lineage keep of the request:
        operation, model version, media type and seeds (never the prompt or the images)."""
        return request_info(
            self.operation, self.model_version, self.media_type, self.body.get("seeds")
        )


def request_info(operation: Any, model_version: Any, media_type: Any, seeds: Any) -> dict[str, Any]:
    """The kept part of a request, in the one shape the XCom, the record and lineage read."""
    return {
        "operation": operation,
        "model_version": model_version,
        "media_type": media_type,
        "seeds": seeds,
    }


def info_after_deferral(kept: Mapping[str, Any]) -> dict[str, Any]:
    """The kept part of a request as the deferral handed it back (or as rebuilt after a
    ``dag.test()``, which drops the deferral's kwargs): seeds only as a list."""
    seeds = kept.get("seeds")
    return request_info(
        str(kept.get("operation", "")),
        kept.get("model_version"),
        kept.get("media_type"),
        seeds if isinstance(seeds, list) else None,
    )
