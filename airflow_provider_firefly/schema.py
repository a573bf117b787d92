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
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

#: The registry key of the shipped spec; every ``$ref`` of a validator resolves against it.
_SPEC_URI = "urn:airflow-provider-firefly:firefly-api.json"


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
    return Registry().with_resource(_SPEC_URI, resource)


@functools.cache
def _validator_for_pointer(pointer: str) -> Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator({"$ref": f"{_SPEC_URI}#{pointer}"}, registry=_registry())


def validator_at(*parts: str) -> Validator:
    """A Draft 2020-12 validator for the schema at ``parts`` of the spec (one JSON-pointer
    token each, unescaped: ``validator_at("components", "schemas", "AsyncResult")``)."""
    escaped = (p.replace("~", "~0").replace("/", "~1") for p in parts)
    return _validator_for_pointer("/" + "/".join(escaped))


def operation(path: str, method: str) -> dict[str, Any]:
    """The spec's operation object of ``method path``."""
    op: dict[str, Any] = load_spec()["paths"][path][method.lower()]
    return op


def request_validator(
    path: str, method: str, content_type: str = "application/json"
) -> Validator | None:
    """Validator of the documented request body, or ``None`` when the spec gives none."""
    content = operation(path, method)["requestBody"]["content"]
    if content_type not in content or "schema" not in content[content_type]:
        return None
    return validator_at(
        "paths", path, method.lower(), "requestBody", "content", content_type, "schema"
    )


def body_limit(path: str, field: str, keyword: str) -> int | float | None:
    """The spec's ``keyword`` (``maxLength``, ``maximum``, ``maxItems`` ...) of the body property
    ``field`` of ``POST path`` (dotted for a nested one: ``"style.strength"``), or ``None`` when
    the spec sets none.

    The one source of Adobe's size and count limits for local parameter checks: a check that
    reads its bound here cannot disagree with the request schema.
    """
    node = operation(path, "POST")["requestBody"]["content"]["application/json"]["schema"]
    for name in field.split("."):
        node = _resolve(_resolve(node).get("properties", {}).get(name, {}))
    value = _resolve(node).get(keyword)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _resolve(node: Any) -> dict[str, Any]:
    """``node`` with local ``$ref``s followed (the spec only refers within itself)."""
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        target: Any = load_spec()
        for token in node["$ref"].removeprefix("#/").split("/"):
            target = target[token.replace("~1", "/").replace("~0", "~")]
        node = target
    return node if isinstance(node, dict) else {}


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


_TYPE_MESSAGES = {
    "dict": "value is not a valid dict",
    "list": "value is not a valid list",
    "str": "str type expected",
    "integer": "value is not a valid integer",
    "float": "value is not a valid float",
    "bool": "value could not be parsed to a boolean",
}

#: JSON-schema limit keyword -> (pydantic message, pydantic error type).
_LIMITS: dict[str, tuple[str, str]] = {
    "maxLength": ("ensure this value has at most {} characters", "value_error.any_str.max_length"),
    "minLength": ("ensure this value has at least {} characters", "value_error.any_str.min_length"),
    "maximum": ("ensure this value is less than or equal to {}", "value_error.number.not_le"),
    "minimum": ("ensure this value is greater than or equal to {}", "value_error.number.not_ge"),
    "exclusiveMaximum": ("ensure this value is less than {}", "value_error.number.not_lt"),
    "exclusiveMinimum": ("ensure this value is greater than {}", "value_error.number.not_gt"),
    "maxItems": ("ensure this value has at most {} items", "value_error.list.max_items"),
    "minItems": ("ensure this value has at least {} items", "value_error.list.min_items"),
}

UNIQUE_ITEMS = "value_error.list.unique_items"


def _convert_limit(kind: str, value: Any, loc: list[str | int]) -> list[ErrorDetail]:
    msg, etype = _LIMITS[kind]
    return [{"loc": loc, "msg": msg.format(value), "type": etype, "ctx": {"limit_value": value}}]


def _convert(error: Any, prefix: str) -> Iterator[ErrorDetail]:
    kind = error.validator
    value = error.validator_value
    loc: list[str | int] = [prefix, *list(error.absolute_path)]
    if kind == "required":
        present = error.instance if isinstance(error.instance, dict) else {}
        for name in value:
            if name not in present:
                yield {"loc": [*loc, name], "msg": "field required", "type": "value_error.missing"}
    elif kind == "type":
        names = value if isinstance(value, list) else [value]
        tname = _TYPE_NAMES.get(str(names[0]), str(names[0]))
        msg = _TYPE_MESSAGES.get(tname, f"value is not a valid {tname}")
        yield {"loc": loc, "msg": msg, "type": f"type_error.{tname}"}
    elif kind == "enum":
        permitted = ", ".join(repr(v) for v in value)
        yield {
            "loc": loc,
            "msg": f"value is not a valid enumeration member; permitted: {permitted}",
            "type": "type_error.enum",
            "ctx": {"enum_values": list(value)},
        }
    elif kind in _LIMITS:
        yield from _convert_limit(kind, value, loc)
    elif kind == "uniqueItems":
        yield {"loc": loc, "msg": "the list has duplicated items", "type": UNIQUE_ITEMS}
    elif kind == "additionalProperties":
        yield {"loc": loc, "msg": "extra fields not permitted", "type": "value_error.extra"}
    elif kind in ("oneOf", "anyOf") and error.context:
        best = min(error.context, key=lambda e: len(list(e.absolute_path)))
        yield from _convert(best, prefix)
    else:
        yield {"loc": loc, "msg": str(error.message), "type": "value_error"}


def schema_errors(validator: Validator, instance: Any, prefix: str = "body") -> list[ErrorDetail]:
    out: list[ErrorDetail] = []
    errors = sorted(
        validator.iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path]
    )
    for err in errors:
        out.extend(_convert(err, prefix))
    return out


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


#: A check of ``size`` for an ``x-model-version``: its errors (the emulator's strict sizes).
SizeCheck = Callable[[str, Any], list[ErrorDetail]]


def _error(loc: list[str | int], msg: str, kind: str = "value_error") -> ErrorDetail:
    return {"loc": loc, "msg": msg, "type": kind}


def cross_field_errors(
    op_path: str,
    body: dict[str, Any],
    *,
    model_version: str | None,
    upload_exists: Callable[[str], bool],
    allowed_domains: tuple[str, ...],
    own_hosts: set[str],
    check_size: SizeCheck | None = None,
) -> list[ErrorDetail]:
    """Rules Adobe documents that the JSON schemas cannot express.

    ``check_size`` adds a rule on Image 3/4 ``size`` at its place in the list (the supported
    sizes are prose in the spec, so only the emulator checks them, and only when asked).
    """
    errs: list[ErrorDetail] = []
    seeds = body.get("seeds")
    nvar = body.get("numVariations")
    if isinstance(seeds, list):
        if len(set(map(repr, seeds))) != len(seeds):
            errs.append(_error(["body", "seeds"], "the list has duplicated items", UNIQUE_ITEMS))
        if isinstance(nvar, int) and nvar != len(seeds):
            msg = f"number of seeds ({len(seeds)}) must equal numVariations ({nvar})"
            errs.append(_error(["body", "seeds"], msg))
    if op_path == "/v4/images/generate-async":
        # The spec gives Image 5's numVariations a maximum but no minimum; Adobe documents 1.
        if isinstance(nvar, int) and nvar < 1:
            errs.extend(_convert_limit("minimum", 1, ["body", "numVariations"]))
        if body.get("referenceBlobs") and body.get("aspectRatio") not in (None, "auto"):
            msg = "aspectRatio must be absent or 'auto' when referenceBlobs is not empty"
            errs.append(_error(["body", "aspectRatio"], msg))
    if op_path == "/v3/images/generate-async" and model_version:
        custom = model_version.endswith("_custom")
        if custom and not body.get("customModelId"):
            msg = f"field required for x-model-version {model_version}"
            errs.append(_error(["body", "customModelId"], msg, "value_error.missing"))
        if custom and body.get("negativePrompt"):
            msg = "negativePrompt is not supported for custom models"
            errs.append(_error(["body", "negativePrompt"], msg))
        if model_version == "image4_custom" and "visualIntensity" in body:
            msg = "visualIntensity is not supported for image4_custom"
            errs.append(_error(["body", "visualIntensity"], msg))
        if model_version != "image4_custom" and "upsamplerType" in body:
            msg = "upsamplerType is only supported for image4_custom"
            errs.append(_error(["body", "upsamplerType"], msg))
        if check_size is not None:
            errs.extend(check_size(model_version, body.get("size")))
    if op_path == "/v3/videos/generate":
        conditions = (body.get("image") or {}).get("conditions") or []
        if not body.get("prompt") and not conditions:
            errs.append(_error(["body", "prompt"], "field required", "value_error.missing"))
    for source, loc in _walk_sources(body, ["body"]):
        errs.extend(_source_errors(source, loc, upload_exists, allowed_domains, own_hosts))
    return errs


def _source_errors(
    source: dict[str, Any],
    loc: list[str | int],
    upload_exists: Callable[[str], bool],
    allowed_domains: tuple[str, ...],
    own_hosts: set[str],
) -> list[ErrorDetail]:
    """The rules of one ``{"uploadId"|"url": ...}`` input."""
    has_upload = "uploadId" in source
    if has_upload == ("url" in source):
        return [_error(loc, "exactly one of 'uploadId' or 'url' must be given")]
    if has_upload:
        uid = source["uploadId"]
        if not isinstance(uid, str) or not _UUID_RE.match(uid):
            return [_error([*loc, "uploadId"], "value is not a valid uuid", "type_error.uuid")]
        if not upload_exists(uid):
            return [_error([*loc, "uploadId"], f"upload id {uid} not found or expired")]
        return []
    if isinstance(source["url"], str) and not domain_allowed(
        source["url"], allowed_domains, own_hosts
    ):
        msg = "url domain is not in the list of allowed domains"
        return [_error([*loc, "url"], msg, "value_error.url.host")]
    return []


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
