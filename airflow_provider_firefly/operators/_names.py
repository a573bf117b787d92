"""Output file names: the ``output_name`` template, checked when the operator is built, and
filled with values that can only ever make one safe file-name component.

Placeholder values come from outside: a job id chosen by the server (``urn:ff:jobs:../../x``),
a run id chosen by a user, a seed from a reply. Each becomes one component with no path
separator, no ``..``, no NUL or control character and no leading dot, and the template itself
may hold no separator and no format spec that builds a huge name.
"""

from __future__ import annotations

import hashlib
import re
import string
from typing import Any

from airflow_provider_firefly.operators._errors import bad_param

__all__ = ["MAX_NAME_BYTES", "NAME_FIELDS", "check_output_name", "render_name", "safe_component"]

#: Placeholders ``output_name`` may use.
NAME_FIELDS = ("task_id", "map_index", "index", "seed", "ext", "job_id", "run_id", "dag_id")
#: Longest file name most file systems accept (bytes of UTF-8).
MAX_NAME_BYTES = 255
#: Widest a placeholder's format spec may pad (``{index:03d}`` is fine, ``{index:>2000000000}``
#: would build a 2 GB name).
MAX_SPEC_NUMBER = 32
#: Longest one placeholder value may be before it is clipped (with a digest, to stay unique).
MAX_VALUE_CHARS = 80
_UNSAFE_CHARS = re.compile(r"[/\\\x00-\x1f\x7f]")
_SPEC = re.compile(r"^[<>=^]?[+\- ]?#?0?\d*[,_]?(\.\d+)?[sdxXob]?$")
_SAMPLE = {
    "task_id": "task",
    "map_index": 0,
    "index": 0,
    "seed": 0,
    "ext": "png",
    "job_id": "job",
    "run_id": "run",
    "dag_id": "dag",
}


def _literal_problem(text: str) -> str | None:
    if _UNSAFE_CHARS.search(text):
        return "contains a path separator or a control character"
    return None


def check_output_name(operator: str, template: Any) -> None:
    """Refuse a template that could name a file outside ``output_dir`` or a huge name.

    Called when the operator is built (unless the value is still a Jinja template) and again
    on the rendered value before any job is submitted.
    """
    if not isinstance(template, str) or not template.strip():
        raise bad_param(operator, "output_name", "must be a non-empty string")
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as error:
        raise bad_param(
            operator, "output_name", f"is not a valid format string ({error})"
        ) from None
    fields = []
    for literal, name, spec, conversion in parts:
        problem = _literal_problem(literal)
        if problem:
            raise bad_param(
                operator,
                "output_name",
                f"{problem} ({template!r}): it names a file, not a path",
                "put folders in output_dir",
            )
        if name is None:
            continue
        if name not in NAME_FIELDS:
            raise bad_param(
                operator,
                "output_name",
                f"uses unknown placeholder {{{name}}}",
                f"use {', '.join('{' + n + '}' for n in NAME_FIELDS)}",
            )
        if conversion or (spec and (not _SPEC.match(spec) or _too_wide(spec))):
            raise bad_param(
                operator,
                "output_name",
                f"formats {{{name}}} with {('!' + conversion) if conversion else spec!r}",
                f"use a plain placeholder or a padding of at most {MAX_SPEC_NUMBER} such as "
                "{index:03d}",
            )
        fields.append(name)
    if "seed" not in fields and "index" not in fields:
        raise bad_param(
            operator,
            "output_name",
            "must contain {seed} or {index}, or several outputs would overwrite each other",
        )
    if template.startswith("."):
        raise bad_param(operator, "output_name", "must not start with a dot (a hidden file)")
    render_name(operator, template, _SAMPLE)  # e.g. a spec that does not fit the value's type


def _too_wide(spec: str) -> bool:
    return any(int(n) > MAX_SPEC_NUMBER for n in re.findall(r"\d+", spec))


def safe_component(value: Any) -> Any:
    """One safe file-name component from an untrusted value (integers stay integers)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value)
    clean = _UNSAFE_CHARS.sub("_", text).replace("..", "__")
    if clean.startswith("."):
        clean = "_" + clean[1:]
    if len(clean) > MAX_VALUE_CHARS:
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]
        clean = f"{clean[: MAX_VALUE_CHARS - 13]}-{digest}"
    return clean or "_"


def render_name(operator: str, template: str, fields: dict[str, Any]) -> str:
    """The file name for ``fields`` (each made a safe component first), checked as a whole."""
    try:
        name = template.format(**{k: safe_component(v) for k, v in fields.items()})
    except (ValueError, KeyError, IndexError, TypeError) as error:
        raise bad_param(
            operator, "output_name", f"cannot be filled in ({type(error).__name__}: {error})"
        ) from None
    if (
        not name
        or name in (".", "..")
        or name.startswith(".")
        or _UNSAFE_CHARS.search(name)
        or len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES
    ):
        raise bad_param(
            operator,
            "output_name",
            f"gives an unsafe or too long file name ({name[:80]!r}, {len(name)} characters)",
            f"keep names under {MAX_NAME_BYTES} bytes, without separators or a leading dot",
        )
    return name
