"""Pieces of request bodies that several image operators build the same way.

Each function takes the operator's label (its class name, for error messages) and the rendered
parameter values, checks them and returns the API's JSON shape; nothing here makes a request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypedDict

from airflow_provider_firefly.operators._errors import bad_param
from airflow_provider_firefly.operators._params import (
    as_int,
    as_seeds,
    as_str_list,
    check_choice,
    check_variations,
)

if TYPE_CHECKING:
    from airflow_provider_firefly.operators._inputs import ImageInputs

__all__ = [
    "COMMON_FIELD_MAP",
    "content_class",
    "placement",
    "put",
    "style",
    "variations",
]

#: API body field → operator parameter, for the parameters most image operators share: a
#: schema error on ``numVariations`` is reported as ``num_variations``.
COMMON_FIELD_MAP: dict[str, str] = {
    "prompt": "prompt",
    "negativePrompt": "negative_prompt",
    "numVariations": "num_variations",
    "seeds": "seeds",
    "size": "size",
    "contentClass": "content_class",
    "promptBiasingLocaleCode": "locale",
    "image": "image",
    "mask": "mask",
    "mask.invert": "mask_invert",
    "placement": "placement",
    "style": "style_presets",
    "style.presets": "style_presets",
    "style.strength": "style_strength",
    "style.imageReference": "style_reference",
    "structure": "structure_reference",
    "structure.strength": "structure_strength",
    "structure.imageReference": "structure_reference",
}

_ALIGNMENTS = ("top", "bottom", "center", "left", "right")


def put(body: dict[str, Any], key: str, value: object) -> None:
    """Set ``body[key]`` unless the value is None (an unset parameter is left to Firefly)."""
    if value is not None:
        body[key] = value


def spec_limit(operation: str, field: str, keyword: str) -> int:
    """Adobe's ``keyword`` limit (``maxLength``, ``maximum``, ``maxItems`` ...) of the body field
    ``field`` of ``operation``, read from the shipped OpenAPI document: parameter checks take
    their bounds here, so they cannot disagree with the request schema."""
    from airflow_provider_firefly import schema
    from airflow_provider_firefly.client.operations import get_operation

    value = schema.body_limit(get_operation(operation).path, field, keyword)
    if value is None or value != int(value):
        raise LookupError(f"the Firefly spec gives no whole {keyword} for {field} of {operation}")
    return int(value)


class Bounds(TypedDict):
    """``low`` and ``high`` keywords of the numeric parameter checks."""

    low: int
    high: int


def spec_bounds(operation: str, field: str) -> Bounds:
    """The spec's ``minimum`` and ``maximum`` of a numeric body field of ``operation``, as the
    ``low``/``high`` keywords of :func:`~airflow_provider_firefly.operators._params.as_int`."""
    return Bounds(
        low=spec_limit(operation, field, "minimum"), high=spec_limit(operation, field, "maximum")
    )


def variations(label: str, operation: str, seeds: object, num_variations: object) -> dict[str, Any]:
    """``numVariations`` and ``seeds`` of an ``operation``'s body (each up to the spec's
    ``numVariations`` maximum, checked against each other), without the ones left unset."""
    high = spec_limit(operation, "numVariations", "maximum")
    seed_list = as_seeds(label, "seeds", seeds, max_items=high)
    count = as_int(label, "num_variations", num_variations, low=1, high=high)
    check_variations(label, count, seed_list)
    fields: dict[str, Any] = {}
    put(fields, "numVariations", count)
    put(fields, "seeds", seed_list)
    return fields


def content_class(label: str, value: object) -> str | None:
    """``content_class``: ``photo`` or ``art``."""
    choice: str | None = check_choice(label, "content_class", value, ("photo", "art"))
    return choice


def style(
    label: str,
    inputs: ImageInputs,
    presets: Sequence[str] | None,
    strength: object,
    reference: object,
) -> dict[str, Any] | None:
    """The ``style`` object from ``style_presets``, ``style_strength`` and ``style_reference``."""
    result: dict[str, Any] = {}
    put(result, "presets", as_str_list(label, "style_presets", presets))
    high = spec_limit("generate_images", "style.strength", "maximum")
    put(result, "strength", as_int(label, "style_strength", strength, low=1, high=high))
    ref = inputs.add("style_reference", reference, required=False)
    if ref is not None:
        result["imageReference"] = {"source": ref}
    return result or None


def placement(label: str, value: object) -> dict[str, Any] | None:
    """``placement``: a dict as the API takes, or an alignment shorthand like ``"top-left"``."""
    if value is None:
        return None
    if isinstance(value, dict):
        return value
    if not isinstance(value, str):
        raise bad_param(label, "placement", f"must be a dict or an alignment string, got {value!r}")
    parts = value.replace("_", "-").lower().split("-")
    vertical = next((v for v in parts if v in ("top", "bottom", "center")), "center")
    horizontal = next((h for h in parts if h in ("left", "right")), "center")
    if not parts or any(part not in _ALIGNMENTS for part in parts):
        raise bad_param(
            label,
            "placement",
            f"is {value!r}",
            "use a dict {'alignment': {...}, 'inset': {...}} or 'top-left', 'center', "
            "'bottom-right'...",
        )
    return {"alignment": {"horizontal": horizontal, "vertical": vertical}}
