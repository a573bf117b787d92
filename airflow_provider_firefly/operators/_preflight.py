"""Every local check of a job operator before it pays: no Firefly request is made here.

Loaded when a task runs (it imports the schema, the operation table and the input and output
checks), never when a DAG file is parsed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airflow_provider_firefly import schema
from airflow_provider_firefly.client.operations import Operation, get_operation
from airflow_provider_firefly.operators._destination import preflight, resolve_output_dir
from airflow_provider_firefly.operators._errors import bad_param, body_errors
from airflow_provider_firefly.operators._inputs import ImageInputs
from airflow_provider_firefly.operators._names import check_output_name
from airflow_provider_firefly.operators.request import FireflyRequest

__all__ = ["check_body", "prepare"]


def check_body(label: str, request: FireflyRequest, own_hosts: frozenset[str]) -> Operation:
    """Check the body and ``x-model-version`` against the shipped OpenAPI document.

    Returns the operation, for the caller's polling and deferral."""
    op = get_operation(request.operation)
    try:
        version = op.check_model_version(request.model_version)
    except ValueError as error:
        raise bad_param(label, "model_version", str(error)) from None
    errors = schema.validate_request(
        op.path, op.method, request.body, model_version=version, own_hosts=own_hosts
    )
    if errors:
        raise body_errors(label, errors, request.field_map)
    return op


def prepare(
    label: str,
    build_request: Callable[[ImageInputs], FireflyRequest],
    *,
    output_dir: Any,
    output_name: str | None,
    own_hosts: frozenset[str],
) -> tuple[FireflyRequest, ImageInputs, Operation]:
    """The request, its image inputs (not yet uploaded) and its operation, once the parameters,
    the inputs, the body and the output folder passed every check."""
    destination = resolve_output_dir(label, output_dir)
    if output_name is not None:
        check_output_name(label, output_name)  # as rendered
    inputs = ImageInputs(label, allowed_hosts=own_hosts)
    request = build_request(inputs)
    op = check_body(label, request, own_hosts)
    preflight(label, destination)  # after the cheap checks, before anything is paid
    return request, inputs, op
