"""Rules written once: Adobe's limits read from the spec, and the one positive-number check."""

from __future__ import annotations

import math

import pytest

from airflow_provider_firefly import schema
from airflow_provider_firefly.client.limits import is_positive_number, is_real_number


@pytest.mark.parametrize(
    ("path", "field", "keyword", "expected"),
    [
        ("/v3/images/generate-async", "prompt", "maxLength", 1024),
        ("/v3/images/generate-async", "numVariations", "maximum", 4),
        ("/v3/images/generate-async", "seeds", "maxItems", 4),
        ("/v4/images/generate-async", "prompt", "maxLength", 1500),
        ("/v4/images/generate-async", "seeds", "maxItems", 1),
        ("/v3/images/precise-composite", "numVariations", "maximum", 3),
        ("/v3/images/generate-async", "visualIntensity", "minimum", 2),
        ("/v3/images/generate-async", "structure.strength", "maximum", 100),
        ("/v3/images/precise-composite", "blend", "maximum", 1),
        ("/v3/videos/generate", "bitRateFactor", "maximum", 63),
        ("/v3/videos/generate", "prompt", "maxLength", None),
        ("/v3/images/generate-async", "style.no-such-field", "maximum", None),
        ("/v3/images/generate-async", "no-such-field", "maxLength", None),
    ],
)
def test_body_limit_reads_the_spec(path: str, field: str, keyword: str, expected: object) -> None:
    assert schema.body_limit(path, field, keyword) == expected


def test_body_limit_agrees_with_the_validation_error() -> None:
    limit = schema.body_limit("/v3/images/generate-async", "prompt", "maxLength")
    errors = schema.validate_request("/v3/images/generate-async", "POST", {"prompt": "x" * 1025})
    assert errors[0]["ctx"] == {"limit_value": limit}


@pytest.mark.parametrize("value", [1, 0.5, 10**9, 1e-9])
def test_positive_numbers(value: object) -> None:
    assert is_positive_number(value)
    assert is_real_number(value)


@pytest.mark.parametrize(
    "value", [0, -1, -0.1, True, False, math.nan, math.inf, -math.inf, "3", None, [1]]
)
def test_not_positive_numbers(value: object) -> None:
    assert not is_positive_number(value)


def test_real_numbers_include_infinity_but_not_nan_or_bool() -> None:
    assert is_real_number(math.inf)
    assert is_real_number(-2)
    assert not is_real_number(math.nan)
    assert not is_real_number(True)
