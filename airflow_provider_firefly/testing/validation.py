"""The emulator's side of request validation: Adobe's 422 body and the strict size lists.

The schema checks and the documented cross-field rules live in
:mod:`airflow_provider_firefly.schema`, shared with the operators.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_firefly.schema import ErrorDetail

__all__ = ["IMAGE3_SIZES", "IMAGE4_SIZES", "strict_size_errors", "validation_body"]

#: Output sizes the spec lists (in prose) for Image 3 and Image 4 (``--strict-sizes``).
IMAGE3_SIZES = {
    (2048, 2048),
    (1024, 1024),
    (2304, 1792),
    (1792, 2304),
    (2688, 1536),
    (2688, 1512),
    (1344, 768),
    (1344, 756),
    (1152, 896),
    (896, 1152),
}
IMAGE4_SIZES = {(2048, 2048), (2304, 1792), (1792, 2304), (2688, 1536), (1440, 2560)}


def strict_size_errors(model_version: str, size: Any) -> list[ErrorDetail]:
    """An error when ``size`` is not in the documented list of ``model_version``."""
    if not isinstance(size, dict):
        return []
    allowed = IMAGE4_SIZES if model_version.startswith("image4") else IMAGE3_SIZES
    dims = (size.get("width"), size.get("height"))
    if dims in allowed:
        return []
    return [
        {
            "loc": ["body", "size"],
            "msg": f"size {dims[0]}x{dims[1]} is not supported",
            "type": "value_error",
        }
    ]


def validation_body(errors: list[ErrorDetail], message: str | None = None) -> dict[str, Any]:
    """Adobe's 422 body around pydantic-style ``errors``."""
    if message is None:
        n = len(errors)
        message = f"{n} validation error{'s' if n != 1 else ''} in request"
    return {"error_code": "validation_error", "message": message, "validation_errors": errors}
