"""The operations table matches Adobe's OpenAPI document shipped in ``spec/``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import airflow_provider_firefly
from airflow_provider_firefly.client import FireflyConfigError
from airflow_provider_firefly.client.operations import OPERATIONS, get_operation

SPEC = Path(airflow_provider_firefly.__file__).parent / "spec" / "firefly-api.json"
METHODS = ("get", "put", "post", "delete", "patch")


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SPEC.read_text())
    return data


def _model_header(spec: dict[str, Any], path: str, method: str) -> dict[str, Any] | None:
    item = spec["paths"][path]
    for raw in item[method.lower()].get("parameters", []) + item.get("parameters", []):
        param = raw
        if "$ref" in raw:
            param = spec["components"]["parameters"][raw["$ref"].rsplit("/", 1)[-1]]
        if param.get("in") == "header" and param.get("name", "").lower() == "x-model-version":
            return dict(param)
    return None


def test_same_paths_and_methods(spec: dict[str, Any]) -> None:
    in_spec = {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in METHODS
    }
    in_table = {(op.method, op.path) for op in OPERATIONS.values()}
    assert len(OPERATIONS) == 14
    assert in_table == in_spec


def test_model_versions_match(spec: dict[str, Any]) -> None:
    for op in OPERATIONS.values():
        header = _model_header(spec, op.path, op.method)
        if header is None:
            assert op.model_versions == (), op.name
            assert not op.model_version_required, op.name
            continue
        schema = header["schema"]
        assert set(op.model_versions) == set(schema["enum"]), op.name
        assert op.model_version_required == bool(header.get("required")), op.name
        if "default" in schema:
            assert op.model_versions[0] == schema["default"], op.name


def test_job_submitting_operations(spec: dict[str, Any]) -> None:
    not_jobs = {"list_custom_models", "upload_image", "get_status", "cancel_job"}
    assert {n for n, op in OPERATIONS.items() if not op.submits_job} == not_jobs
    for op in OPERATIONS.values():
        if op.submits_job:
            assert op.method == "POST"
            responses = spec["paths"][op.path]["post"]["responses"]
            assert {"200", "202"} & set(responses), op.name


def test_lookup_and_model_version_checks() -> None:
    assert get_operation("expand_image").path == "/v3/images/expand-async"
    assert get_operation("/v3/images/expand-async").name == "expand_image"
    assert get_operation("v3/images/expand-async").name == "expand_image"
    with pytest.raises(FireflyConfigError) as info:
        get_operation("nope")
    assert info.value.field == "operation"
    video = OPERATIONS["generate_video"]
    assert video.check_model_version(None) == "video1_standard"
    assert OPERATIONS["generate_images"].check_model_version(None) is None
    assert OPERATIONS["generate_images"].check_model_version("image4_ultra") == "image4_ultra"
    with pytest.raises(FireflyConfigError, match="image3"):
        OPERATIONS["generate_images"].check_model_version("image9")
    with pytest.raises(FireflyConfigError, match="takes no x-model-version"):
        OPERATIONS["expand_image"].check_model_version("image3")
