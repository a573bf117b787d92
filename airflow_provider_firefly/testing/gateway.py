"""Adobe I/O gateway checks in front of every Firefly route."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from .ims import TokenInfo
from .ratelimit import retry_after_value
from .responses import error, gateway_401, json_response
from .state import EmulatorState


def authenticate(state: EmulatorState, request: Request) -> TokenInfo | Response:
    """The caller's token, or the gateway's error response.

    Order: missing ``x-api-key`` (403 ``403000``), then the bearer token (401 ``401013``),
    then the key matching the token's client (403 ``403003``), then required scopes.
    """
    api_key = request.headers.get("x-api-key")
    if not api_key:
        return json_response(403, {"error_code": "403000", "message": "Api Key is required"})
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return gateway_401()
    info = state.authority.verify(token.strip())
    if info is None:
        return gateway_401()
    if api_key != info.client_id:
        return json_response(403, {"error_code": "403003", "message": "Api Key is invalid"})
    missing = [s for s in state.config.required_scopes if s not in info.scopes]
    if missing:
        return error(
            403,
            "access_error",
            f"Missing required IMS scope: {','.join(missing)}",
            {"x-access-error": "invalid_ims_scope"},
        )
    return info


def rate_limit(state: EmulatorState, org: str) -> Response | None:
    cfg = state.config
    wait = state.ratelimiter.hit(org, cfg.rate_limit, cfg.rate_limit_window)
    if wait is None:
        return None
    state.counters.inc("rate_limited")
    headers = {
        "retry-after": retry_after_value(wait, cfg.retry_after_format),
        "x-access-rate-limit-level": cfg.rate_limit_level,
    }
    if cfg.rate_limit_empty_body:
        return Response(b"", status_code=429, headers=headers)
    return error(429, "rate_limited", "Too many requests. Retry later.", headers)
