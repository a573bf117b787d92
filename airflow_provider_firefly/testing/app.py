"""The ASGI application: routing, counters, scripted faults, gateway, then the handlers."""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from . import control, custom_models, downloads, job_routes, operations, uploads
from .gateway import authenticate, rate_limit
from .ims import TokenInfo, token_request
from .responses import error, json_response, request_id
from .scripted_reply import build_reply
from .scripts import ScriptedResponse
from .state import EmulatorState

Handler = Callable[[EmulatorState, Request, dict[str, str]], Awaitable[Response]]


class _Drop:
    """Sentinel: close the connection without answering."""


DROP = _Drop()


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    regex: re.Pattern[str]
    kind: str  # "ims" | "firefly" | "output"
    handler: Callable[..., Awaitable[Response]]

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"


def _compile(template: str) -> re.Pattern[str]:
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    return re.compile(f"^{pattern}$")


async def _ims(state: EmulatorState, request: Request, params: dict[str, str]) -> Response:
    merged: dict[str, str] = dict(parse_qsl(request.url.query))
    mtype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if mtype == "application/x-www-form-urlencoded":
        merged.update(parse_qsl((await request.body()).decode("utf-8", "replace")))
    elif mtype == "multipart/form-data":
        form = await request.form()
        merged.update({k: v for k, v in form.items() if isinstance(v, str)})
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("basic "):
        try:
            user, _, pwd = base64.b64decode(auth[6:].strip()).decode().partition(":")
        except (ValueError, binascii.Error):
            user, pwd = "", ""
        merged.setdefault("client_id", user)
        merged.setdefault("client_secret", pwd)
    status, body = token_request(state.config, state.authority, merged)
    if status == 200:
        state.counters.inc("ims_tokens_issued")
    return json_response(status, body, {"cache-control": "no-store", "pragma": "no-cache"})


def _with_token(
    fn: Callable[..., Awaitable[Response]], *fixed: str
) -> Callable[..., Awaitable[Response]]:
    async def run(
        state: EmulatorState, request: Request, params: dict[str, str], token: TokenInfo
    ) -> Response:
        return await fn(state, request, token, *fixed, *params.values())

    return run


def build_routes() -> list[Route]:
    routes = [Route("POST", "/ims/token/v3", _compile("/ims/token/v3"), "ims", _ims)]
    for path in operations.SUBMIT_OPERATIONS:
        routes.append(
            Route("POST", path, _compile(path), "firefly", _with_token(operations.submit, path))
        )
    routes += [
        Route(
            "GET",
            "/v3/status/{jobId}",
            _compile("/v3/status/{jobId}"),
            "firefly",
            _with_token(job_routes.status),
        ),
        Route(
            "PUT",
            "/v3/cancel/{jobId}",
            _compile("/v3/cancel/{jobId}"),
            "firefly",
            _with_token(job_routes.cancel),
        ),
        Route(
            "POST",
            "/v2/storage/image",
            _compile("/v2/storage/image"),
            "firefly",
            _with_token(uploads.upload),
        ),
        Route(
            "GET",
            "/v3/custom-models",
            _compile("/v3/custom-models"),
            "firefly",
            _with_token(custom_models.custom_models),
        ),
    ]
    output_re = _compile("/outputs/{outputId}")

    async def _output(state: EmulatorState, request: Request, params: dict[str, str]) -> Response:
        return await downloads.output(state, request, params["outputId"])

    routes.append(Route("GET", "/outputs/{outputId}", output_re, "output", _output))
    routes.append(Route("HEAD", "/outputs/{outputId}", output_re, "output", _output))
    return routes


def _reshapes(script: ScriptedResponse) -> bool:
    """Whether a processed reply is changed by the script (else it is sent as it is)."""
    return script.status is not None or bool(script.headers) or script.streams


async def _sleep(delay: float) -> bool:
    """Sleep; ``False`` when cancelled (server shutting down): the caller drops the request."""
    try:
        await asyncio.sleep(delay)
    except asyncio.CancelledError:
        return False
    return True


async def _drop(send: Send) -> None:
    """Abort the TCP connection without sending a response (uvicorn h11 protocol)."""
    cycle: Any = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:  # pragma: no cover - other servers: half a response, then close
        raise ConnectionAbortedError("emulator: scripted drop")
    cycle.disconnected = True
    transport.abort()


class EmulatorApp:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.routes = build_routes()

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        path_matched = False
        for route in self.routes:
            m = route.regex.match(path)
            if m:
                path_matched = True
                if route.method == method:
                    return route, m.groupdict(), True
        return None, {}, path_matched

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        path: str = scope["path"]
        if path == control.PREFIX or path.startswith(control.PREFIX + "/"):
            response = await control.handle(self.state, request)
            await response(scope, receive, send)
            return
        route, params, path_matched = self.match(request.method, path)
        self.state.requests.record(
            request.method,
            path,
            scope.get("query_string", b""),
            request.headers.items(),
            route.key if route else None,
        )
        if route is None:
            if path_matched:
                resp = error(405, "method_not_allowed", f"Method {request.method} not allowed.")
            else:
                resp = error(404, "not_found", f"No route {request.method} {path}.")
            await resp(scope, receive, send)
            return
        state = self.state
        state.counters.request(route.key, request.headers.items())
        if route.kind == "ims":
            # Every token request counts, scripted replies included: it is what Adobe would see.
            state.counters.inc("ims_token_requests")
        result = await self._dispatch(route, request, params)
        if result is DROP:
            state.counters.inc("dropped_connections")
            state.counters.response(route.key, 0)
            await _drop(send)
            return
        assert isinstance(result, Response)
        if "x-request-id" not in result.headers and route.kind != "output":
            result.headers["x-request-id"] = request.headers.get("x-request-id") or request_id()
        state.counters.response(route.key, result.status_code)
        await result(scope, receive, send)

    async def _dispatch(
        self, route: Route, request: Request, params: dict[str, str]
    ) -> Response | _Drop:
        state = self.state
        script = state.scripts.take(route.key)
        if script is None:
            return await self._handle(route, request, params)
        processed = await self._handle(route, request, params) if script.processed else None
        state.counters.inc("scripted_responses")
        if script.delay > 0 and not await _sleep(script.delay):
            return DROP
        if script.drop:
            return DROP
        if processed is not None and not (script.merge_patch is not None or _reshapes(script)):
            return processed
        return build_reply(
            script,
            processed,
            request.method,
            on_abort=lambda: state.counters.inc("scripted_streams_aborted"),
        )

    async def _handle(self, route: Route, request: Request, params: dict[str, str]) -> Response:
        state = self.state
        if route.kind != "firefly":
            return await route.handler(state, request, params)
        token = authenticate(state, request)
        if isinstance(token, Response):
            return token
        limited = rate_limit(state, token.client_id)
        if limited is not None:
            return limited
        return await route.handler(state, request, params, token)
