"""Job-creating operations: ``POST`` of the 10 submit routes (validation, content policy, the
accept reply). Status, cancel, uploads, custom models and downloads have their own modules."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from airflow_provider_firefly.schema import cross_field_errors, request_validator, schema_errors

from .ims import TokenInfo
from .jobs import Job
from .planning import plan_outputs
from .responses import UNSAFE_MESSAGE, error, json_response, request_media_type
from .spec import header_enum
from .state import EmulatorState
from .validation import strict_size_errors, validation_body


@dataclass(frozen=True)
class OperationInfo:
    path: str
    #: Accept reply: "accept" (202 jobId/statusUrl/cancelUrl), "links" (v4/upscale),
    #: "job" (composites: 202 AsyncJobResponse).
    reply: str
    multipart: bool = False
    #: Error body kind for 400 on bad JSON: "api" (ApiError codes) or "validation".
    bad_json_code: str = "api"


SUBMIT_OPERATIONS: dict[str, OperationInfo] = {
    p.path: p
    for p in (
        OperationInfo("/v3/images/generate-async", "accept", multipart=True),
        OperationInfo("/v4/images/generate-async", "links"),
        OperationInfo("/v3/images/generate-similar-async", "accept", multipart=True),
        OperationInfo("/v3/images/expand-async", "accept", multipart=True),
        OperationInfo("/v3/images/fill-async", "accept", multipart=True),
        OperationInfo("/v3/images/generate-object-composite-async", "accept", multipart=True),
        OperationInfo("/v3/images/precise-composite", "job"),
        OperationInfo("/v3/images/adaptive-composite", "job"),
        OperationInfo("/v3/images/upscale", "links", bad_json_code="validation"),
        OperationInfo("/v3/videos/generate", "accept"),
    )
}


def _bad_body(op: OperationInfo, code: str, message: str) -> Response:
    if op.bad_json_code == "validation":
        return json_response(400, {"error_code": "validation_error", "message": message})
    return error(400, code, message)


def _unsafe(state: EmulatorState, body: dict[str, Any]) -> bool:
    words = [w for w in state.config.blocked_words if w]
    prompt = body.get("prompt")
    if not words or not isinstance(prompt, str):
        return False
    pattern = r"\b(" + "|".join(re.escape(w) for w in words) + r")\b"
    return re.search(pattern, prompt, re.IGNORECASE) is not None


def _urls(state: EmulatorState, job_id: str) -> tuple[str, str]:
    base = state.status_base
    return f"{base}/v3/status/{job_id}", f"{base}/v3/cancel/{job_id}"


async def _read_json(request: Request, op: OperationInfo) -> Any:
    """The JSON body, or a ``Response`` for empty/unparsable/multipart-broken bodies."""
    mtype = request_media_type(request)
    if mtype == "multipart/form-data" and op.multipart:
        form = await request.form()
        part = form.get("request")
        if part is None:
            return json_response(
                422,
                validation_body(
                    [
                        {
                            "loc": ["body", "request"],
                            "msg": "field required",
                            "type": "value_error.missing",
                        }
                    ]
                ),
            )
        raw = part if isinstance(part, str) else (await part.read()).decode("utf-8", "replace")
    else:
        raw_bytes = await request.body()
        if not raw_bytes.strip():
            return _bad_body(op, "empty_input_body", "Request body is empty.")
        raw = raw_bytes.decode("utf-8", "replace")
    try:
        return json.loads(raw)
    except ValueError:
        return _bad_body(op, "bad_request", "Request body is not valid JSON.")


def _check_model_version(request: Request, path: str) -> tuple[str | None, Response | None]:
    enum, required, default = header_enum(path, "POST", "x-model-version")
    value = request.headers.get("x-model-version")
    if enum is None:
        return value, None
    if value is None:
        if required:
            err: dict[str, Any] = {
                "loc": ["header", "x-model-version"],
                "msg": "field required",
                "type": "value_error.missing",
            }
            return None, json_response(422, validation_body([err]))
        return default, None
    if value not in enum:
        if path == "/v3/images/upscale":
            msg = f"Invalid x-model-version: {value}. Only 'precise_upsampler_v1' is supported."
            return None, json_response(422, {"error_code": "validation_error", "message": msg})
        permitted = ", ".join(repr(v) for v in enum)
        err = {
            "loc": ["header", "x-model-version"],
            "msg": f"value is not a valid enumeration member; permitted: {permitted}",
            "type": "type_error.enum",
            "ctx": {"enum_values": list(enum)},
        }
        return None, json_response(422, validation_body([err]))
    return value, None


async def submit(state: EmulatorState, request: Request, token: TokenInfo, path: str) -> Response:
    op = SUBMIT_OPERATIONS[path]
    mtype = request_media_type(request)
    accepted = (
        ("application/json", "multipart/form-data") if op.multipart else ("application/json",)
    )
    if mtype not in accepted:
        return error(
            415,
            "invalid_content_type",
            f"Content-Type must be one of {', '.join(accepted)}; got {mtype or 'none'}.",
        )
    model_version, problem = _check_model_version(request, path)
    if problem is not None:
        state.counters.inc("validation_errors")
        return problem
    body = await _read_json(request, op)
    if isinstance(body, Response):
        return body
    body_validator = request_validator(path, "POST")
    errors = schema_errors(body_validator, body)
    if not errors and isinstance(body, dict):
        errors = cross_field_errors(
            path,
            body,
            model_version=model_version,
            upload_exists=state.upload_exists,
            allowed_domains=state.config.allowed_url_domains,
            own_hosts=state.own_hosts,
            check_size=strict_size_errors if state.config.strict_sizes else None,
        )
    if errors:
        state.counters.inc("validation_errors")
        return json_response(422, validation_body(errors))
    assert isinstance(body, dict)
    cfg = state.config
    unsafe = _unsafe(state, body)
    if unsafe and cfg.content_policy_stage == "submit":
        state.counters.inc("content_policy_rejections")
        return json_response(451, {"error_code": "prompt_unsafe", "message": UNSAFE_MESSAGE})
    job = Job(
        job_id=state.jobs.new_id(cfg.job_tag),
        route=f"POST {path}",
        client_id=token.client_id,
        created=time.time(),
        duration=cfg.job_duration,
        pending_fraction=cfg.pending_fraction,
        outputs=plan_outputs(state, path, body),
        request=body,
        model_version=model_version,
        cancel_delay=cfg.cancel_delay,
        unsafe_at_poll=cfg.content_policy_stage if unsafe else None,
    )
    if unsafe:
        job.error_code, job.message = "prompt_unsafe", UNSAFE_MESSAGE
    state.jobs.add(job)
    state.counters.inc("jobs_submitted")
    status_url, cancel_url = _urls(state, job.job_id)
    link = f'<{status_url}>; rel="status", <{cancel_url}>; rel="cancel"'
    if op.reply == "links":
        payload: dict[str, Any] = {
            "links": {"result": {"href": status_url}, "cancel": {"href": cancel_url}},
            "progress": 0,
        }
        status = 200 if path == "/v4/images/generate-async" else 202
        return json_response(status, payload, {"link": link})
    if op.reply == "job":
        payload = {
            "status": "pending",
            "jobId": job.job_id,
            "statusUrl": status_url,
            "cancelUrl": cancel_url,
        }
        return json_response(202, payload, {"link": link})
    payload = {"jobId": job.job_id, "statusUrl": status_url, "cancelUrl": cancel_url}
    return json_response(202, payload, {"link": link})
