"""Firefly operation handlers: submit (10 job-creating operations), status, cancel, uploads,
custom models and output downloads."""

from __future__ import annotations

import json
import math
import random
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from airflow_provider_firefly.schema import CUSTOM_MODEL_PUBLISHED_STATES

from . import spec
from .ims import TokenInfo
from .jobs import Job, OutputPlan
from .media import PngImage, mp4_video, png_dimensions
from .outputs import s3_error_xml
from .responses import error, html_413, json_response, request_id
from .state import EmulatorState, Upload
from .validation import cross_field_errors, schema_errors, validation_body


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

UPLOAD_CONTENT_TYPES = ("image/jpeg", "image/png", "image/webp", "image/tiff", "image/jxl")
UNSAFE_MESSAGE = "The prompt did not pass content policy checks."
_JOB_ID_RE = re.compile(r"^(urn:ff:jobs:[A-Za-z0-9_-]+:[0-9a-fA-F-]{36}|[0-9a-fA-F-]{36})$")

_V4_MEGAPIXELS = {"1MP": 1.0, "2.4MP": 2.4, "4MP": 4.0}
_V4_RATIOS = {"1:1": (1, 1), "4:3": (4, 3), "3:4": (3, 4), "16:9": (16, 9), "9:16": (9, 16)}


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _bad_body(op: OperationInfo, code: str, message: str) -> Response:
    if op.bad_json_code == "validation":
        return json_response(400, {"error_code": "validation_error", "message": message})
    return error(400, code, message)


def _v4_size(body: dict[str, Any]) -> tuple[int, int]:
    mp = _V4_MEGAPIXELS.get(str(body.get("resolutionLevel", "2.4MP")), 2.4)
    rw, rh = _V4_RATIOS.get(str(body.get("aspectRatio", "1:1")), (1, 1))
    unit = math.sqrt(mp * 1_000_000 / (rw * rh))
    return max(64, round(unit * rw / 64) * 64), max(64, round(unit * rh / 64) * 64)


def _source_dims(state: EmulatorState, source: Any) -> tuple[int, int] | None:
    if not isinstance(source, dict):
        return None
    if "uploadId" in source:
        with state.lock:
            up = state.uploads.get(str(source["uploadId"]))
        return up.dimensions if up else None
    url = source.get("url")
    if isinstance(url, str):
        match = re.match(r"^/outputs/([0-9a-f-]{36})\.", urlsplit(url).path)
        if match:
            out = state.outputs.get(match.group(1))
            if out:
                return out.plan.width, out.plan.height
    return None


def _seeds(
    body: dict[str, Any], default_n: int = 1, defaults: list[int] | None = None
) -> list[int]:
    seeds = body.get("seeds")
    if isinstance(seeds, list) and seeds:
        return [int(s) for s in seeds]
    n = int(body.get("numVariations") or default_n)
    if defaults:
        return defaults[:n]
    rng = random.Random()  # noqa: S311 - not crypto
    return [rng.randrange(1, 2**31 - 1) for _ in range(n)]


def plan_outputs(state: EmulatorState, path: str, body: dict[str, Any]) -> list[OutputPlan]:
    if path == "/v3/videos/generate":
        sizes = body.get("sizes") or [{"width": 1920, "height": 1080}]
        w, h = int(sizes[0]["width"]), int(sizes[0]["height"])
        return [OutputPlan("video", w, h, s) for s in _seeds(body)]
    if path == "/v4/images/generate-async":
        w, h = _v4_size(body)
        return [OutputPlan("image", w, h, s) for s in _seeds(body)]
    if path in ("/v3/images/precise-composite", "/v3/images/adaptive-composite"):
        bg = ((body.get("background") or {}).get("image") or {}).get("source")
        w, h = _source_dims(state, bg) or (1024, 1024)
        return [OutputPlan("image", w, h, s) for s in _seeds(body, 1, [333, 222, 111])]
    if path == "/v3/images/upscale":
        w, h = _source_dims(state, (body.get("image") or {}).get("source")) or (1024, 1024)
        f = int(body.get("upscaleFactor", 2))
        return [OutputPlan("image", w * f, h * f, s) for s in _seeds(body)]
    size = body.get("size") or {"width": 2048, "height": 2048}
    w, h = int(size["width"]), int(size["height"])
    return [OutputPlan("image", w, h, s) for s in _seeds(body)]


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
    mtype = _media_type(request)
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
    enum, required, default = spec.header_enum(path, "POST", "x-model-version")
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
    mtype = _media_type(request)
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
    body_validator = spec.request_validator(path, "POST")
    errors = schema_errors(body_validator, body)
    if not errors and isinstance(body, dict):
        errors = cross_field_errors(
            path,
            body,
            model_version=model_version,
            upload_exists=state.upload_exists,
            allowed_domains=state.config.allowed_url_domains,
            own_hosts=state.own_hosts,
            strict_sizes=state.config.strict_sizes,
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


# ---------------------------------------------------------------------------------------------
# Results


def _build_result(state: EmulatorState, job: Job) -> dict[str, Any]:
    cfg = state.config
    path = job.route.split(" ", 1)[1]
    signed = []
    for plan in job.outputs:
        stored = state.outputs.add(plan, cfg.output_padding_bytes, cfg.video_seconds)
        signed.append(
            (plan, stored, state.outputs.sign(state.output_base, stored, cfg.output_url_expiry))
        )
    first = job.outputs[0]
    size = {"width": first.width, "height": first.height}
    body = job.request
    if path == "/v3/images/upscale":
        return {
            "version": "precise_upsampler_v1",
            "outputs": [
                {"id": stored.output_id, "presignedUrl": url, "name": f"upscaled-{i}.png"}
                for i, (_, stored, url) in enumerate(signed)
            ],
        }
    if path == "/v3/videos/generate":
        return {
            "size": size,
            "outputs": [{"seed": p.seed, "video": {"url": u}} for p, _, u in signed],
        }
    result: dict[str, Any] = {
        "size": size,
        "outputs": [{"seed": p.seed, "image": {"url": u}} for p, _, u in signed],
    }
    if path in ("/v3/images/generate-async", "/v3/images/generate-object-composite-async"):
        result["contentClass"] = body.get("contentClass", "photo")
    if path in ("/v3/images/generate-async", "/v4/images/generate-async"):
        result["promptHasDeniedWords"] = False
        result["promptHasBlockedArtists"] = False
    if path == "/v4/images/generate-async":
        reasoner = (body.get("modelSpecificPayload") or {}).get("prompt_reasoner")
        if reasoner == "quality":
            result["altText"] = f"An image of {str(body.get('prompt', ''))[:120]}"
    return result


def job_payload(state: EmulatorState, job: Job) -> dict[str, Any]:
    status, progress = job.status()
    payload: dict[str, Any] = {"jobId": job.job_id, "status": status}
    if status == "succeeded":
        with state.lock:
            if job.result is None:
                job.result = _build_result(state, job)
        payload["result"] = job.result
    elif status in ("pending", "running"):
        payload["progress"] = progress
    else:
        from .jobs import DEFAULT_ERRORS

        default = DEFAULT_ERRORS.get(status, ("runtime_error", "The job failed."))
        payload["error_code"] = job.error_code or default[0]
        payload["message"] = job.message or default[1]
    return payload


def _find_job(state: EmulatorState, job_id: str, token: TokenInfo) -> Job | Response:
    if not _JOB_ID_RE.match(job_id):
        err = {
            "loc": ["parameters", "jobId"],
            "msg": "invalid job identifier format",
            "type": "value_error",
        }
        return json_response(422, validation_body([err]))
    job = state.jobs.get(job_id)
    if job is None or job.client_id != token.client_id:
        return error(404, "unknown_job_id", "The job id is unknown.")
    return job


async def status(state: EmulatorState, request: Request, token: TokenInfo, job_id: str) -> Response:
    state.counters.inc("status_polls")
    job = _find_job(state, job_id, token)
    if isinstance(job, Response):
        return job
    if job.unsafe_at_poll == "poll-451":
        return json_response(451, {"error_code": "prompt_unsafe", "message": UNSAFE_MESSAGE})
    return json_response(200, job_payload(state, job))


async def cancel(state: EmulatorState, request: Request, token: TokenInfo, job_id: str) -> Response:
    job = _find_job(state, job_id, token)
    if isinstance(job, Response):
        return job
    current, _ = job.status()
    if current in ("cancelled", "cancel_pending"):
        return error(409, "job_already_canceled", "The job was already canceled.")
    if current == "succeeded":
        return error(409, "job_completed", "The job was already completed.")
    if current == "failed":
        return error(409, "job_cancel_failed", "The job failed to cancel.")
    if current == "timeout":
        return error(410, "job_timeout", "The job timed out.")
    state.jobs.force(job_id, status="cancel")
    state.counters.inc("jobs_cancelled")
    return json_response(200, {})


# ---------------------------------------------------------------------------------------------
# Uploads and custom models


async def upload(state: EmulatorState, request: Request, token: TokenInfo) -> Response:
    mtype = _media_type(request)
    if mtype not in UPLOAD_CONTENT_TYPES:
        return error(
            415,
            "invalid_content_type",
            f"Content-Type must be one of {', '.join(UPLOAD_CONTENT_TYPES)}; "
            f"got {mtype or 'none'}.",
        )
    limit = state.config.upload_max_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return html_413()
    size = 0
    head = b""
    async for chunk in request.stream():
        size += len(chunk)
        if len(head) < 64:
            head += chunk[: 64 - len(head)]
        if size > limit:
            return html_413()
    if size == 0:
        return json_response(
            400, {"error_code": "empty_input_body", "message": "Request body is empty."}
        )
    up = Upload(str(uuid.uuid4()), token.client_id, mtype, size, png_dimensions(head), time.time())
    with state.lock:
        state.uploads[up.upload_id] = up
    state.counters.inc("uploads")
    return json_response(200, {"images": [{"id": up.upload_id}]})


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


# ---------------------------------------------------------------------------------------------
# Outputs


async def output(state: EmulatorState, request: Request, name: str) -> Response:
    state.counters.inc("output_requests")
    if request.headers.get("authorization") or request.headers.get("x-api-key"):
        state.counters.inc("authorization_sent_to_outputs")
    rid = request_id()
    path = request.url.path
    problem = state.outputs.check(path, dict(request.query_params))
    xml = "application/xml"
    if problem is not None:
        code, _, detail = problem.partition(":")
        if detail == "expired":
            msg = "Request has expired"
            extra = {"X-Amz-Expires": request.query_params.get("X-Amz-Expires", "")}
        elif code == "SignatureDoesNotMatch":
            msg = "The request signature we calculated does not match the signature you provided."
            extra = {}
        else:
            msg = "Access Denied"
            extra = {}
        return Response(s3_error_xml(code, msg, rid, extra), status_code=403, media_type=xml)
    output_id = name.rsplit(".", 1)[0]
    stored = state.outputs.get(output_id)
    if stored is None:
        return Response(
            s3_error_xml("NoSuchKey", "The specified key does not exist.", rid), 404, media_type=xml
        )
    state.counters.inc("output_downloads")
    plan = stored.plan
    headers = {"x-amz-request-id": rid, "etag": f'"{output_id}"', "accept-ranges": "none"}
    if plan.kind == "video":
        data = await anyio.to_thread.run_sync(
            mp4_video, plan.width, plan.height, plan.seed, stored.video_seconds
        )
        headers["content-length"] = str(len(data))
        if request.method == "HEAD":
            return Response(b"", 200, headers=headers, media_type=stored.media_type)
        return Response(data, 200, headers=headers, media_type=stored.media_type)
    image = await anyio.to_thread.run_sync(
        PngImage, plan.width, plan.height, plan.seed, stored.padding
    )
    headers["content-length"] = str(image.size)
    if request.method == "HEAD":
        return Response(b"", 200, headers=headers, media_type=stored.media_type)
    return StreamingResponse(image.iter_bytes(), 200, headers=headers, media_type=stored.media_type)
