"""Local checks of operator parameters, with errors naming the parameter (no network).

Templated values arrive as strings after rendering (``"1024x1024"``, ``"[1, 2]"``, ``"3"``), so
the converters accept those forms too.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

from airflow_provider_firefly.client.limits import is_positive_number
from airflow_provider_firefly.operators._errors import bad_param

__all__ = [
    "as_bool",
    "as_int",
    "as_number",
    "as_seeds",
    "as_size",
    "as_str_list",
    "check_choice",
    "check_text",
    "check_timing",
    "check_variations",
]

_SIZE = re.compile(r"^\s*(\d+)\s*[xX*,\u00d7]\s*(\d+)\s*$")


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def as_int(
    op: str, param: str, value: Any, *, low: int | None = None, high: int | None = None
) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_param(op, param, f"must be an integer, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise bad_param(op, param, f"must be from {low} to {high}, got {value}")
    return value


def as_number(
    op: str, param: str, value: Any, *, low: float | None = None, high: float | None = None
) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise bad_param(op, param, f"must be a number, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise bad_param(op, param, f"must be a number, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise bad_param(op, param, f"must be from {low:g} to {high:g}, got {value:g}")
    return float(value)


def as_bool(op: str, param: str, value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise bad_param(op, param, f"must be True or False, got {value!r}")


def as_size(op: str, param: str, value: Any, *, high: int = 4096) -> dict[str, int] | None:
    """``(w, h)``, ``[w, h]``, ``{"width": w, "height": h}`` or ``"WxH"`` as the API's dict."""
    if value is None:
        return None
    value = _maybe_json(value)
    width: Any
    height: Any
    if isinstance(value, str):
        match = _SIZE.match(value)
        if not match:
            raise bad_param(op, param, f"must look like '2048x2048', got {value!r}")
        width, height = int(match.group(1)), int(match.group(2))
    elif isinstance(value, dict):
        if set(value) != {"width", "height"}:
            raise bad_param(
                op, param, f"as a dict needs exactly 'width' and 'height', got {sorted(value)}"
            )
        width, height = value["width"], value["height"]
    elif isinstance(value, (list, tuple)) and len(value) == 2:
        width, height = value
    else:
        raise bad_param(
            op, param, f"must be (width, height), {{'width', 'height'}} or 'WxH', got {value!r}"
        )
    for side in (width, height):
        if isinstance(side, bool) or not isinstance(side, int):
            raise bad_param(op, param, f"sides must be integers, got {value!r}")
        if not 1 <= side <= high:
            raise bad_param(
                op, param, f"sides must be from 1 to {high} pixels, got {width}x{height}"
            )
    return {"width": width, "height": height}


def as_seeds(
    op: str, param: str, value: Any, *, max_items: int, unique: bool = True
) -> list[int] | None:
    if value is None:
        return None
    value = _maybe_json(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        value = [int(value)]
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise bad_param(op, param, f"must be a non-empty list of integers, got {value!r}")
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int):
            raise bad_param(op, param, f"must hold integers only, got {item!r}")
    if len(value) > max_items:
        raise bad_param(
            op, param, f"has {len(value)} seeds; this operation takes at most {max_items}"
        )
    if unique and len(set(value)) != len(value):
        raise bad_param(op, param, f"must not repeat a seed, got {list(value)}")
    return list(value)


def check_variations(op: str, num_variations: int | None, seeds: list[int] | None) -> None:
    if num_variations is not None and seeds is not None and num_variations != len(seeds):
        raise bad_param(
            op,
            "seeds",
            f"has {len(seeds)} seed(s) but num_variations is {num_variations}",
            "give one seed per variation, or leave num_variations unset",
        )


def check_text(
    op: str, param: str, value: Any, *, max_len: int, required: bool = False
) -> str | None:
    if value is None:
        if required:
            raise bad_param(op, param, "is required")
        return None
    if not isinstance(value, str):
        raise bad_param(op, param, f"must be a string, got {type(value).__name__}")
    if not value.strip():
        if required:
            raise bad_param(op, param, "is empty", "give a non-empty text")
        raise bad_param(op, param, "is empty", "leave it unset instead")
    if len(value) > max_len:
        raise bad_param(
            op, param, f"has {len(value)} characters; Firefly accepts at most {max_len}"
        )
    return value


def check_choice(op: str, param: str, value: Any, choices: Iterable[Any]) -> Any:
    options: Sequence[Any] = list(choices)
    if value is None:
        return None
    if isinstance(value, str) and value not in options:
        # numeric enums arrive as strings from templates
        for option in options:
            if str(option) == value.strip():
                return option
    if value not in options:
        raise bad_param(
            op, param, f"is {value!r}; choose one of {', '.join(repr(o) for o in options)}"
        )
    return value


def as_str_list(op: str, param: str, value: Any) -> list[str] | None:
    if value is None:
        return None
    value = _maybe_json(value)
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise bad_param(op, param, f"must be a list of strings, got {value!r}")
    if not value:
        raise bad_param(op, param, "is empty", "leave it unset instead")
    return list(value)


def check_timing(
    op: str,
    *,
    job_timeout: object,
    max_poll_interval: object,
    poll_interval: object,
    expected_seconds: object,
    firefly_conn_id: object,
) -> None:
    """The waiting parameters of a job operator (and its connection id), at DAG parse."""
    for name, value in (("job_timeout", job_timeout), ("max_poll_interval", max_poll_interval)):
        if not is_positive_number(value):
            raise bad_param(op, name, f"must be a number of seconds above 0, got {value!r}")
    for name, value in (("poll_interval", poll_interval), ("expected_seconds", expected_seconds)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0
        ):
            raise bad_param(op, name, f"must be a number of seconds, 0 or more, got {value!r}")
    if not isinstance(firefly_conn_id, str) or not firefly_conn_id.strip():
        raise bad_param(op, "firefly_conn_id", "must be a connection id")
