"""``GET /v3/custom-models``: the organisation's custom models, paginated with ``_links``."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from airflow_provider_firefly.schema import CUSTOM_MODEL_PUBLISHED_STATES

from .ims import TokenInfo
from .responses import json_response, request_id
from .state import EmulatorState


def default_custom_models() -> list[dict[str, Any]]:
    base = {
        "version": "1",
        "size": 1048576,
        "mediaType": "application/vnd.adobe.firefly.custommodel",
        "baseModel": {"name": "firefly_image", "version": "3"},
    }
    models = []
    for i, (name, mode, state) in enumerate(
        [
            ("Emulator Mascot", "subject", "published"),
            ("Emulator Watercolour", "style", "published"),
            ("Emulator Draft", "style", "unpublished"),
        ]
    ):
        asset = f"urn:aaid:sc:VA6C2:{uuid.UUID(int=i + 1)}"
        models.append(
            base
            | {
                "assetName": name.lower().replace(" ", "-") + ".ffcm",
                "displayName": name,
                "etag": f'"{i + 1}"',
                "trainingMode": mode,
                "assetId": asset,
                "createdDate": f"2026-01-0{i + 1}T00:00:00Z",
                "modifiedDate": f"2026-02-0{i + 1}T00:00:00Z",
                "publishedState": state,
                "samplePrompt": f"a picture in the {name} style",
                "conceptId": f"concept-{i + 1}",
            }
        )
    return models


async def custom_models(state: EmulatorState, request: Request, token: TokenInfo) -> Response:
    rid = request.headers.get("x-request-id") or request_id()
    headers = {"x-request-id": rid}
    q = request.query_params
    sort_by = q.get("sortBy", "modifiedDate")
    key = sort_by.lstrip("-")
    if key not in ("assetName", "createdDate", "modifiedDate"):
        return json_response(
            400, {"reason": "invalid_parameter", "message": f"invalid sortBy {sort_by}"}, headers
        )
    published = q.get("publishedState", "published")
    if published not in CUSTOM_MODEL_PUBLISHED_STATES:
        return json_response(
            400,
            {"reason": "invalid_parameter", "message": f"invalid publishedState {published}"},
            headers,
        )
    try:
        start = int(q.get("start", "0"))
        limit = int(q.get("limit", "20"))
    except ValueError:
        return json_response(
            400,
            {"reason": "invalid_parameter", "message": "start and limit must be integers"},
            headers,
        )
    if not 1 <= limit <= 50 or start < 0:
        return json_response(
            400,
            {"reason": "invalid_parameter", "message": "limit must be 1..50, start >= 0"},
            headers,
        )
    models = (
        state.config.custom_models
        if state.config.custom_models is not None
        else default_custom_models()
    )
    if published != "all":
        models = [m for m in models if m.get("publishedState") == published]
    models = sorted(models, key=lambda m: str(m.get(key, "")), reverse=sort_by.startswith("-"))
    page = models[start : start + limit]
    base = f"{state.base_url}/v3/custom-models"
    query = f"sortBy={sort_by}&publishedState={published}"
    links: dict[str, Any] = {
        "page": {
            "href": f"{base}?start={start}&limit={limit}&{query}",
            "rel": "page",
            "templated": False,
        },
    }
    if start + limit < len(models):
        links["next"] = {
            "href": f"{base}?start={start + limit}&limit={limit}&{query}",
            "rel": "next",
            "templated": False,
        }
    return json_response(
        200, {"custom_models": page, "_links": links, "total_count": len(models)}, headers
    )
