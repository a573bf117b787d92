"""Access to Adobe's OpenAPI document shipped as package data (never hand-copied).

The implementation lives in :mod:`airflow_provider_firefly.schema`, shared with the operators.
"""

from __future__ import annotations

from airflow_provider_firefly.schema import (
    SPEC_URI,
    _pointer,
    _registry,
    header_enum,
    load_spec,
    operation,
    request_validator,
    response_validator,
    schema_validator,
    validator_for_pointer,
)

__all__ = [
    "SPEC_URI",
    "_pointer",
    "_registry",
    "header_enum",
    "load_spec",
    "operation",
    "request_validator",
    "response_validator",
    "schema_validator",
    "validator_for_pointer",
]
