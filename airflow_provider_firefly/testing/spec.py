"""Access to Adobe's OpenAPI document shipped as package data (never hand-copied)."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

SPEC_URI = "urn:firefly-emulator:firefly-api.json"


@functools.cache
def load_spec() -> dict[str, Any]:
    """The parsed ``airflow_provider_firefly/spec/firefly-api.json``."""
    text = (
        resources.files("airflow_provider_firefly")
        .joinpath("spec/firefly-api.json")
        .read_text(encoding="utf-8")
    )
    doc: dict[str, Any] = json.loads(text)
    return doc


@functools.cache
def _registry() -> Any:
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    resource = Resource.from_contents(load_spec(), default_specification=DRAFT202012)
    return Registry().with_resource(SPEC_URI, resource)


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


@functools.cache
def validator_for_pointer(pointer: str) -> Any:
    """A Draft 2020-12 validator for the schema at ``#<pointer>`` of the spec."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator({"$ref": f"{SPEC_URI}#{pointer}"}, registry=_registry())


def schema_validator(name: str) -> Any:
    """Validator for ``components.schemas.<name>``."""
    return validator_for_pointer("/components/schemas/" + _pointer(name))


def operation(path: str, method: str) -> dict[str, Any]:
    op: dict[str, Any] = load_spec()["paths"][path][method.lower()]
    return op


def request_validator(path: str, method: str, content_type: str = "application/json") -> Any:
    content = operation(path, method)["requestBody"]["content"]
    if content_type not in content or "schema" not in content[content_type]:
        return None
    return validator_for_pointer(
        "/"
        + _pointer("paths", path, method.lower(), "requestBody", "content", content_type, "schema")
    )


def response_validator(
    path: str, method: str, status: int, content_type: str = "application/json"
) -> Any:
    """Validator of the documented response schema, or ``None`` when the spec gives none."""
    responses = operation(path, method).get("responses", {})
    resp = responses.get(str(status))
    if not resp:
        return None
    content = resp.get("content") or {}
    if content_type not in content or "schema" not in content[content_type]:
        return None
    return validator_for_pointer(
        "/"
        + _pointer("paths", path, method.lower(), "responses", str(status), "content", content_type)
        + "/schema"
    )


def header_enum(path: str, method: str, header: str) -> tuple[list[str] | None, bool, Any]:
    """``(enum, required, default)`` of a header parameter (``(None, False, None)`` if absent)."""
    for param in operation(path, method).get("parameters", []):
        if param.get("in") == "header" and param.get("name", "").lower() == header.lower():
            schema = param.get("schema", {})
            return schema.get("enum"), bool(param.get("required")), schema.get("default")
    return None, False, None
