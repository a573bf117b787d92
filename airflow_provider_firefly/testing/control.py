"""``/_emulator/`` control and inspection routes (JSON, no authentication)."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .jobs import Job, spelled
from .responses import json_response
from .state import EmulatorState, ScriptedResponse

PREFIX = "/_emulator"


def job_summary(job: Job, cancelled_spelling: str = "cancelled") -> dict[str, Any]:
    status, progress = job.status()
    return {
        "jobId": job.job_id,
        "route": job.route,
        "clientId": job.client_id,
        "status": spelled(status, cancelled_spelling),
        "progress": progress,
        "created": job.created,
        "duration": job.duration,
        "modelVersion": job.model_version,
        "outputs": len(job.outputs),
        "request": job.request,
    }


def _bad(message: str) -> Response:
    return json_response(400, {"error": "bad_request", "message": message})


def script_from_payload(state: EmulatorState, data: dict[str, Any]) -> int:
    """Apply a ``POST /_emulator/script`` payload; returns the queue length of the route."""
    route = str(data.get("route", "*"))
    if data.get("clear"):
        state.scripts.clear(route)
    raw = data.get("responses")
    if raw is None and "response" in data:
        raw = [data["response"]] * int(data.get("times", 1))
    responses = [ScriptedResponse.from_dict(r) for r in (raw or [])]
    return state.scripts.add(route, responses)


async def handle(state: EmulatorState, request: Request) -> Response:
    path = request.url.path[len(PREFIX) :].rstrip("/") or "/"
    method = request.method
    data: dict[str, Any] = {}
    if method in ("POST", "PUT", "DELETE"):
        raw = await request.body()
        if raw.strip():
            try:
                parsed = json.loads(raw)
            except ValueError:
                return _bad("body must be JSON")
            if not isinstance(parsed, dict):
                return _bad("body must be a JSON object")
            data = parsed
    try:
        if path == "/health":
            return json_response(200, {"status": "ok", "url": state.base_url})
        if path == "/counters" and method == "GET":
            return json_response(200, state.counters.snapshot())
        if path == "/requests" and method == "GET":
            return json_response(200, {"requests": state.requests.entries()})
        if path == "/reset" and method == "POST":
            state.reset()
            return json_response(200, {"reset": True})
        if path == "/config":
            if method == "POST":
                state.config.update(**data)
            return json_response(200, state.config.as_dict())
        if path == "/script":
            if method == "DELETE":
                state.scripts.clear(data.get("route"))
                return json_response(200, {"pending": state.scripts.pending()})
            if method == "POST":
                queued = script_from_payload(state, data)
                return json_response(200, {"queued": queued, "pending": state.scripts.pending()})
            return json_response(200, {"pending": state.scripts.pending()})
        if path == "/revoke" and method == "POST":
            token = data.get("token")
            n = state.authority.revoke(str(token) if token else None)
            return json_response(200, {"revoked": "all" if not token else n})
        if path == "/jobs" and method == "GET":
            return json_response(
                200,
                {
                    "jobs": [
                        job_summary(j, state.config.cancelled_spelling) for j in state.jobs.all()
                    ]
                },
            )
        if path.startswith("/jobs/"):
            job_id = path[len("/jobs/") :]
            if method == "POST":
                job = state.jobs.force(
                    job_id,
                    status=data.get("status"),
                    error_code=data.get("error_code"),
                    message=data.get("message"),
                    duration=data.get("duration"),
                )
            else:
                job = state.jobs.get(job_id)
            if job is None:
                return json_response(404, {"error": "not_found", "message": f"no job {job_id}"})
            return json_response(200, job_summary(job, state.config.cancelled_spelling))
    except (TypeError, ValueError) as exc:
        return _bad(str(exc))
    return json_response(
        404, {"error": "not_found", "message": f"no control route {method} {path}"}
    )
