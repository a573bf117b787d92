"""Errors that name the operator parameter at fault (imported only when raising)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["bad_param", "body_errors"]


def bad_param(operator: str, param: str, problem: str, fix: str = "") -> Exception:
    """A :class:`FireflyConfigError` for one parameter: ``Op: parameter 'x' <problem>; <fix>``."""
    from airflow_provider_firefly.client.errors import FireflyConfigError

    text = f"{operator}: parameter {param!r} {problem}"
    if fix:
        text += f"; {fix}"
    return FireflyConfigError(text, field=param)


def param_for(loc: Sequence[Any], field_map: Mapping[str, str]) -> str:
    """The operator parameter behind an API location such as ``["body", "style", "strength"]``.

    ``field_map`` maps dotted API paths (``"style.strength"``) to parameter names; the longest
    matching prefix wins, list indexes are ignored, and an unmapped path is shown
    as ``body.<path>``.
    """
    parts = [str(p) for p in loc if not isinstance(p, int)]
    if parts and parts[0] == "body":
        parts = parts[1:]
    for end in range(len(parts), 0, -1):
        key = ".".join(parts[:end])
        if key in field_map:
            return field_map[key]
    return "body." + ".".join(parts) if parts else "body"


def body_errors(
    operator: str, errors: list[dict[str, Any]], field_map: Mapping[str, str]
) -> Exception:
    """A :class:`FireflyValidationError` listing each error under its parameter name."""
    from airflow_provider_firefly.client.errors import FireflyValidationError

    lines = []
    renamed = []
    for error in errors[:10]:
        loc = list(error.get("loc", []))
        param = param_for(loc, field_map)
        api = ".".join(str(p) for p in loc)
        lines.append(f"parameter {param!r}: {error.get('msg', 'invalid')} (API field {api})")
        renamed.append({**error, "param": param})
    more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
    return FireflyValidationError(
        f"{operator}: the request would be rejected by Firefly: " + "; ".join(lines) + more,
        errors=renamed,
    )
