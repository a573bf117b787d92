"""Adobe's OpenAPI document (shipped in ``spec/``) and request validation against it.

Shared by the operators (to reject a bad request before any network call, with an error that
names the operator parameter) and by the emulator (to answer 422 as Adobe does). Nothing heavy
is imported at module level: ``jsonschema`` and ``referencing`` load on the first validation.

Errors are reported pydantic-style, as Adobe's services do::

    {"loc": ["body", "seeds"], "msg": "ensure this value has at most 4 items",
     "type": "value_error.list.max_items", "ctx": {"limit_value": 4}}
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

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


# ---------------------------------------------------------------------------------------------
# Errors

ErrorDetail = dict[str, Any]

_TYPE_NAMES = {
    "integer": "integer",
    "number": "float",
    "string": "str",
    "boolean": "bool",
    "array": "list",
    "object": "dict",
}


def _loc(prefix: str, path: Any) -> list[str | int]:
    return [prefix, *list(path)]


def _convert(error: Any, prefix: str) -> Iterator[ErrorDetail]:
    kind = error.validator
    value = error.validator_value
    loc = _loc(prefix, error.absolute_path)
    if kind == "required":
        present = error.instance if isinstance(error.instance, dict) else {}
        for name in value:
            if name not in present:
                yield {"loc": [*loc, name], "msg": "field required", "type": "value_error.missing"}
        return
    if kind == "type":
        names = value if isinstance(value, list) else [value]
        tname = _TYPE_NAMES.get(str(names[0]), str(names[0]))
        msg = {
            "dict": "value is not a valid dict",
            "list": "value is not a valid list",
            "str": "str type expected",
            "integer": "value is not a valid integer",
            "float": "value is not a valid float",
            "bool": "value could not be parsed to a boolean",
        }.get(tname, f"value is not a valid {tname}")
        yield {"loc": loc, "msg": msg, "type": f"type_error.{tname}"}
        return
    if kind == "enum":
        permitted = ", ".join(repr(v) for v in value)
        yield {
            "loc": loc,
            "msg": f"value is not a valid enumeration member; permitted: {permitted}",
            "type": "type_error.enum",
            "ctx": {"enum_values": list(value)},
        }
        return
    table: dict[str, tuple[str, str]] = {
        "maxLength": (
            "ensure this value has at most {} characters",
            "value_error.any_str.max_length",
        ),
        "minLength": (
            "ensure this value has at least {} characters",
            "value_error.any_str.min_length",
        ),
        "maximum": ("ensure this value is less than or equal to {}", "value_error.number.not_le"),
        "minimum": (
            "ensure this value is greater than or equal to {}",
            "value_error.number.not_ge",
        ),
        "exclusiveMaximum": ("ensure this value is less than {}", "value_error.number.not_lt"),
        "exclusiveMinimum": ("ensure this value is greater than {}", "value_error.number.not_gt"),
        "maxItems": ("ensure this value has at most {} items", "value_error.list.max_items"),
        "minItems": ("ensure this value has at least {} items", "value_error.list.min_items"),
    }
    if kind in table:
        msg, etype = table[kind]
        yield {"loc": loc, "msg": msg.format(value), "type": etype, "ctx": {"limit_value": value}}
        return
    if kind == "uniqueItems":
        yield {
            "loc": loc,
            "msg": "the list has duplicated items",
            "type": "value_error.list.unique_items",
        }
        return
    if kind == "additionalProperties":
        yield {"loc": loc, "msg": "extra fields not permitted", "type": "value_error.extra"}
        return
    if kind in ("oneOf", "anyOf") and error.context:
        best = min(error.context, key=lambda e: len(list(e.absolute_path)))
        yield from _convert(best, prefix)
        return
    yield {"loc": loc, "msg": str(error.message), "type": "value_error"}


def schema_errors(validator: Any, instance: Any, prefix: str = "body") -> list[ErrorDetail]:
    out: list[ErrorDetail] = []
    errors = sorted(
        validator.iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path]
    )
    for err in errors:
        out.extend(_convert(err, prefix))
    return out


def validation_body(errors: list[ErrorDetail], message: str | None = None) -> dict[str, Any]:
    if message is None:
        n = len(errors)
        message = f"{n} validation error{'s' if n != 1 else ''} in request"
    return {"error_code": "validation_error", "message": message, "validation_errors": errors}


# ---------------------------------------------------------------------------------------------
# Cross-field rules


def _walk_sources(
    obj: Any, loc: list[str | int]
) -> Iterator[tuple[dict[str, Any], list[str | int]]]:
    """Yield every ``{"uploadId"|"url": ...}`` object reached through a ``source`` key."""
    if isinstance(obj, dict):
        for key, val in obj.items():
            if key == "source" and isinstance(val, dict):
                yield val, [*loc, key]
            else:
                yield from _walk_sources(val, [*loc, key])
    elif isinstance(obj, list):
        for i, val in enumerate(obj):
            yield from _walk_sources(val, [*loc, i])


_UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)


def domain_allowed(url: str, allowed: tuple[str, ...], own_hosts: set[str]) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        return False
    if host in own_hosts:
        return True
    return any(host == d or host.endswith("." + d) for d in allowed)


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


def cross_field_errors(
    op_path: str,
    body: dict[str, Any],
    *,
    model_version: str | None,
    upload_exists: Callable[[str], bool],
    allowed_domains: tuple[str, ...],
    own_hosts: set[str],
    strict_sizes: bool = False,
) -> list[ErrorDetail]:
    """Documented rules the JSON schemas cannot express (notes §3.0, §3.2, §7)."""
    errs: list[ErrorDetail] = []
    seeds = body.get("seeds")
    nvar = body.get("numVariations")
    if isinstance(seeds, list):
        if len(set(map(repr, seeds))) != len(seeds):
            errs.append(
                {
                    "loc": ["body", "seeds"],
                    "msg": "the list has duplicated items",
                    "type": "value_error.list.unique_items",
                }
            )
        if isinstance(nvar, int) and nvar != len(seeds):
            errs.append(
                {
                    "loc": ["body", "seeds"],
                    "msg": f"number of seeds ({len(seeds)}) must equal numVariations ({nvar})",
                    "type": "value_error",
                }
            )
    if op_path == "/v4/images/generate-async":
        if isinstance(nvar, int) and nvar < 1:
            errs.append(
                {
                    "loc": ["body", "numVariations"],
                    "msg": "ensure this value is greater than or equal to 1",
                    "type": "value_error.number.not_ge",
                    "ctx": {"limit_value": 1},
                }
            )
        blobs = body.get("referenceBlobs")
        if blobs and body.get("aspectRatio") not in (None, "auto"):
            errs.append(
                {
                    "loc": ["body", "aspectRatio"],
                    "msg": "aspectRatio must be absent or 'auto' when referenceBlobs is not empty",
                    "type": "value_error",
                }
            )
    if op_path == "/v3/images/generate-async" and model_version:
        custom = model_version.endswith("_custom")
        if custom and not body.get("customModelId"):
            errs.append(
                {
                    "loc": ["body", "customModelId"],
                    "msg": f"field required for x-model-version {model_version}",
                    "type": "value_error.missing",
                }
            )
        if custom and body.get("negativePrompt"):
            errs.append(
                {
                    "loc": ["body", "negativePrompt"],
                    "msg": "negativePrompt is not supported for custom models",
                    "type": "value_error",
                }
            )
        if model_version == "image4_custom" and "visualIntensity" in body:
            errs.append(
                {
                    "loc": ["body", "visualIntensity"],
                    "msg": "visualIntensity is not supported for image4_custom",
                    "type": "value_error",
                }
            )
        if model_version != "image4_custom" and "upsamplerType" in body:
            errs.append(
                {
                    "loc": ["body", "upsamplerType"],
                    "msg": "upsamplerType is only supported for image4_custom",
                    "type": "value_error",
                }
            )
        size = body.get("size")
        if strict_sizes and isinstance(size, dict):
            allowed = IMAGE4_SIZES if model_version.startswith("image4") else IMAGE3_SIZES
            dims = (size.get("width"), size.get("height"))
            if dims not in allowed:
                errs.append(
                    {
                        "loc": ["body", "size"],
                        "msg": f"size {dims[0]}x{dims[1]} is not supported",
                        "type": "value_error",
                    }
                )
    if op_path == "/v3/videos/generate":
        conditions = (body.get("image") or {}).get("conditions") or []
        if not body.get("prompt") and not conditions:
            errs.append(
                {"loc": ["body", "prompt"], "msg": "field required", "type": "value_error.missing"}
            )
    for source, loc in _walk_sources(body, ["body"]):
        has_upload = "uploadId" in source
        has_url = "url" in source
        if has_upload == has_url:
            errs.append(
                {
                    "loc": loc,
                    "msg": "exactly one of 'uploadId' or 'url' must be given",
                    "type": "value_error",
                }
            )
            continue
        if has_upload:
            uid = source["uploadId"]
            if not isinstance(uid, str) or not _UUID_RE.match(uid):
                errs.append(
                    {
                        "loc": [*loc, "uploadId"],
                        "msg": "value is not a valid uuid",
                        "type": "type_error.uuid",
                    }
                )
            elif not upload_exists(uid):
                errs.append(
                    {
                        "loc": [*loc, "uploadId"],
                        "msg": f"upload id {uid} not found or expired",
                        "type": "value_error",
                    }
                )
        elif isinstance(source["url"], str) and not domain_allowed(
            source["url"], allowed_domains, own_hosts
        ):
            errs.append(
                {
                    "loc": [*loc, "url"],
                    "msg": "url domain is not in the list of allowed domains",
                    "type": "value_error.url.host",
                }
            )
    return errs


# ---------------------------------------------------------------------------------------------
# One call for clients (the operators)

#: Hosts Firefly fetches ``{"url": ...}`` inputs from: the spec's list plus the usage notes'.
DEFAULT_ALLOWED_URL_DOMAINS: tuple[str, ...] = (
    "amazonaws.com",
    "windows.net",
    "dropboxusercontent.com",
    "storage.googleapis.com",
    "frontdoor.prod.azure.cxp.adobe.com",
    "assets.frame.io",
    "adobe.io",
)


#: ``publishedState`` values of ``GET /v3/custom-models``.
CUSTOM_MODEL_PUBLISHED_STATES: tuple[str, ...] = (
    "all",
    "ready",
    "published",
    "unpublished",
    "queued",
    "training",
    "failed",
    "cancelled",
)


def validate_request(
    path: str,
    method: str,
    body: dict[str, Any],
    *,
    model_version: str | None = None,
    own_hosts: frozenset[str] | set[str] = frozenset(),
    allowed_domains: tuple[str, ...] = DEFAULT_ALLOWED_URL_DOMAINS,
) -> list[ErrorDetail]:
    """Every error Firefly's request validation would report for ``body``, without a request.

    Schema errors first; the cross-field rules only when the schema passes (as the emulator
    does). Upload ids are only checked for their format (whether they exist is Adobe's to say).
    """
    validator = request_validator(path, method)
    errors = schema_errors(validator, body) if validator is not None else []
    if not errors:
        errors = cross_field_errors(
            path,
            body,
            model_version=model_version,
            upload_exists=lambda _uid: True,
            allowed_domains=allowed_domains,
            own_hosts=set(own_hosts),
        )
    return errors
