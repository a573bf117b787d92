"""Job routes: ``GET /v3/status/{jobId}`` (with the result once succeeded) and
``PUT /v3/cancel/{jobId}``."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .ims import TokenInfo
from .jobs import DEFAULT_ERRORS, Job, OutputPlan, spelled
from .outputs import StoredOutput
from .responses import UNSAFE_MESSAGE, error, json_response
from .state import EmulatorState
from .validation import validation_body

_JOB_ID_RE = re.compile(r"^(urn:ff:jobs:[A-Za-z0-9_-]+:[0-9a-fA-F-]{36}|[0-9a-fA-F-]{36})$")


def _upscale_output(
    index: int, plan: OutputPlan, stored: StoredOutput, url: str, with_seed: bool
) -> dict[str, Any]:
    """One ``UpscaleBinaryOutput``. The spec's schema names no seed, but Adobe's seeds guide
    says every output carries the seed it used; ``upscale_output_seed=False`` gives the
    spec-literal shape."""
    out: dict[str, Any] = {
        "id": stored.output_id,
        "presignedUrl": url,
        "name": f"upscaled-{index}.{stored.extension}",
    }
    if with_seed:
        out["seed"] = plan.seed
    return out


def build_result(state: EmulatorState, job: Job) -> dict[str, Any]:
    """The ``result`` of a succeeded job, with output URLs signed now (objects are created on
    the first call and reused, so a re-signed URL names the same file)."""
    cfg = state.config
    path = job.route.split(" ", 1)[1]
    if job.stored is None:
        job.stored = [
            state.outputs.add(plan, cfg.output_padding_bytes, cfg.video_seconds)
            for plan in job.outputs
        ]
    signed = [
        (plan, stored, state.outputs.sign(state.output_base, stored, cfg.output_url_expiry))
        for plan, stored in zip(job.outputs, job.stored, strict=True)
    ]
    first = job.outputs[0]
    size = {"width": first.width, "height": first.height}
    body = job.request
    if path == "/v3/images/upscale":
        return {
            "version": "precise_upsampler_v1",
            "outputs": [
                _upscale_output(i, plan, stored, url, cfg.upscale_output_seed)
                for i, (plan, stored, url) in enumerate(signed)
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
    cfg = state.config
    payload: dict[str, Any] = {
        "jobId": job.job_id,
        "status": spelled(status, cfg.cancelled_spelling),
    }
    if status == "succeeded":
        with state.lock:
            # "once": the URLs signed at the first succeeded poll, on every later poll too
            # (expired ones stay expired); "every-poll": fresh signatures on each poll.
            if job.result is None or cfg.output_url_signing == "every-poll":
                job.result = build_result(state, job)
        payload["result"] = job.result
    elif status in ("pending", "running"):
        payload["progress"] = progress
    else:
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
