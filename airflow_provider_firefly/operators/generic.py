"""``FireflyOperator``: any Firefly job operation, given its name or path and a JSON body."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_firefly.operators.base import FireflyBaseOperator, FireflyRequest

if TYPE_CHECKING:
    from airflow_provider_firefly.client.operations import Operation
    from airflow_provider_firefly.operators._inputs import ImageInputs

__all__ = ["FireflyOperator", "schema_keys"]


def schema_keys(op: Operation) -> frozenset[str]:
    """Top-level body keys the operation's request schema names (empty: unknown)."""
    from airflow_provider_firefly import schema

    spec = schema.load_spec()

    def resolve(node: Any) -> Any:
        for _ in range(20):
            ref = node.get("$ref") if isinstance(node, dict) else None
            if not isinstance(ref, str) or not ref.startswith("#/"):
                return node
            current: Any = spec
            for part in ref[2:].split("/"):
                current = current[part.replace("~1", "/").replace("~0", "~")]
            node = current
        return node

    def names(node: Any, depth: int) -> set[str]:
        node = resolve(node)
        if depth > 8 or not isinstance(node, dict):
            return set()
        found = set(node.get("properties", {}))
        for key in ("allOf", "anyOf", "oneOf"):
            for sub in node.get(key, []):
                found |= names(sub, depth + 1)
        return found

    try:
        content = schema.operation(op.path, op.method)["requestBody"]["content"]
        return frozenset(names(content["application/json"]["schema"], 0))
    except (KeyError, TypeError):
        return frozenset()


class FireflyOperator(FireflyBaseOperator):
    """Run any Firefly job operation with a body written as the API documents it.

    The body is checked against the operation's request schema before it is sent, and the job
    is waited for (or deferred), its outputs saved and the same XCom value returned as by the
    typed operators.

    :param operation: an operation name (``"expand_image"``, ``"generate_video"``...) or its
        path (``"/v3/images/expand-async"``).
    :param body: the JSON body (a dict, or a JSON string, e.g. from a ``.json`` template).
        Templated.
    :param model_version: the ``x-model-version`` header, where the operation takes one.
    :param images: optional ``{"name": image}``: each image (local path, storage URL,
        ObjectStoragePath, upload id, URL) is uploaded if needed, and every string
        ``"@image:name"`` in the body becomes its ``{"uploadId": ...}`` / ``{"url": ...}``.
    """

    template_fields: Sequence[str] = (
        *FireflyBaseOperator.template_fields,
        "body",
        "operation",
        "model_version",
        "images",
    )
    template_fields_renderers = {"body": "json"}

    def __init__(
        self,
        *,
        operation: str,
        body: dict[str, Any] | str,
        model_version: str | None = None,
        images: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.operation = operation
        self.body = body
        self.model_version = model_version
        self.images = images

    def build_request(self, inputs: ImageInputs) -> FireflyRequest:
        try:
            op = self._operation(str(self.operation))
        except ValueError as error:
            raise self._bad("operation", str(error)) from None
        if not op.submits_job:
            raise self._bad(
                "operation",
                f"{op.name} starts no job",
                "use FireflyUploadImageOperator or FireflyListCustomModelsOperator",
            )
        body: Any = self.body
        if isinstance(body, str):
            try:
                body = json.loads(body)
            except ValueError as error:
                raise self._bad("body", f"is not valid JSON ({error})") from None
        if not isinstance(body, dict) or not body:
            raise self._bad("body", "must be a non-empty JSON object")
        sources: dict[str, dict[str, Any]] = {}
        if self.images is not None:
            if not isinstance(self.images, dict):
                raise self._bad("images", "must be a dict of name → image")
            for name, image in self.images.items():
                source = inputs.add(f"images[{name}]", image)
                assert source is not None
                sources[str(name)] = source
        body = self._substitute(body, sources)
        self._warn_unknown_keys(op, body)
        field_map = {key: f"body.{key}" for key in body}
        return FireflyRequest(op.name, body, self.model_version, field_map=field_map)

    def _warn_unknown_keys(self, op: Operation, body: dict[str, Any]) -> None:
        """A typo such as ``numVariation`` is not an error to the schema (extra keys are
        allowed) but would run silently with the default: say so."""
        known = schema_keys(op)
        unknown = sorted(str(k) for k in body if known and k not in known)
        if unknown:
            self.log.warning(
                "%s: body key(s) %s are not part of %s and will be ignored by Firefly (known: %s)",
                self._label,
                ", ".join(repr(k) for k in unknown),
                op.label,
                ", ".join(sorted(known)),
            )

    def _substitute(self, value: Any, sources: dict[str, dict[str, Any]]) -> Any:
        if isinstance(value, str) and value.startswith("@image:"):
            name = value[len("@image:") :].strip()
            if name not in sources:
                raise self._bad("body", f"refers to image {name!r}, which images does not name")
            return sources[name]
        if isinstance(value, dict):
            return {k: self._substitute(v, sources) for k, v in value.items()}
        if isinstance(value, list):
            return [self._substitute(v, sources) for v in value]
        return value
