"""Request validation: the spec's JSON schemas plus documented cross-field rules.

The implementation lives in :mod:`airflow_provider_firefly.schema`, shared with the operators.
"""

from __future__ import annotations

from airflow_provider_firefly.schema import (
    IMAGE3_SIZES,
    IMAGE4_SIZES,
    ErrorDetail,
    _convert,
    _walk_sources,
    cross_field_errors,
    domain_allowed,
    schema_errors,
    validation_body,
)

__all__ = [
    "IMAGE3_SIZES",
    "IMAGE4_SIZES",
    "ErrorDetail",
    "_convert",
    "_walk_sources",
    "cross_field_errors",
    "domain_allowed",
    "schema_errors",
    "validation_body",
]
