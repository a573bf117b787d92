"""What the emulator reads from Adobe's OpenAPI document beyond request validation.

The spec itself and the request checks live in :mod:`airflow_provider_firefly.schema`, shared
with the operators; the documented responses and header enums are only the emulator's concern
(and its tests', which check every reply against the spec).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_firefly.schema import operation, validator_at

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

__all__ = ["header_enum", "response_validator", "schema_validator"]


def schema_validator(name: str) -> Validator:
    """Validator for ``components.schemas.<name>``."""
    return validator_at("components", "schemas", name)


def response_validator(
    path: str, method: str, status: int, content_type: str = "application/json"
) -> Validator | None:
    """Validator of the documented response schema, or ``None`` when the spec gives none."""
    resp = operation(path, method).get("responses", {}).get(str(status))
    if not resp:
        return None
    content = resp.get("content") or {}
    if content_type not in content or "schema" not in content[content_type]:
        return None
    return validator_at(
        "paths", path, method.lower(), "responses", str(status), "content", content_type, "schema"
    )


def header_enum(path: str, method: str, header: str) -> tuple[list[str] | None, bool, Any]:
    """``(enum, required, default)`` of a header parameter (``(None, False, None)`` if absent)."""
    for param in operation(path, method).get("parameters", []):
        if param.get("in") == "header" and param.get("name", "").lower() == header.lower():
            schema = param.get("schema", {})
            return schema.get("enum"), bool(param.get("required")), schema.get("default")
    return None, False, None
