"""Mint an access token at Adobe IMS (OAuth server-to-server, client-credentials grant)."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlencode

from airflow_provider_firefly.client.access_token import (
    MAX_TOKEN_LIFETIME,
    AccessToken,
    finite_number,
)
from airflow_provider_firefly.client.config import FireflyCredentials
from airflow_provider_firefly.client.errors import (
    FireflyAuthError,
    FireflyError,
    FireflyRequestError,
)
from airflow_provider_firefly.client.transport import SyncTransport

__all__ = ["mint_token", "validate_token_reply"]


def _credential_hint(credentials: FireflyCredentials, code: str | None, message: str) -> str:
    lowered = message.lower()
    if code == "invalid_client" and "secret" in lowered:
        return (
            "IMS rejected the client secret: copy the current secret from the credential's "
            "Adobe Developer Console page into the connection's Client secret (it may have been "
            "rotated)"
        )
    if code == "invalid_client":
        return (
            f"IMS does not know client id {credentials.client_id!r}: check the connection's "
            "Client ID against the Developer Console credential (OAuth server-to-server)"
        )
    if code == "invalid_scope":
        return (
            f"IMS refused the scopes {credentials.scope_string!r}: set the connection's scopes "
            "to those listed on the credential's Developer Console page"
        )
    return f"IMS rejected the token request ({code or 'no error code'}: {message})"


def _scrub(error: FireflyError, secret: str) -> None:
    """Remove ``secret`` from an error's message, code and request id (in place, before the
    error leaves this module); shorter values could be anything."""
    if len(secret) < 6:
        return
    if secret in error.message:
        error.message = error.message.replace(secret, "***")
        error.args = (error.message,)
    for name in ("error_code", "request_id"):
        value = getattr(error, name, None)
        if isinstance(value, str) and secret in value:
            setattr(error, name, value.replace(secret, "***"))


def validate_token_reply(data: object, *, requested_at: float) -> AccessToken:
    """Check an IMS reply and turn it into an :class:`AccessToken`.

    A reply without a usable token or lifetime is an error, never cached.
    """
    if not isinstance(data, dict):
        raise FireflyAuthError("IMS answered with something other than a JSON object")
    token = data.get("access_token")
    if not isinstance(token, str) or not token.strip():
        raise FireflyAuthError("IMS answered without an access_token")
    token_type = data.get("token_type", "bearer")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise FireflyAuthError(f"IMS issued a token of unsupported type {token_type!r}")
    lifetime = data.get("expires_in")
    if isinstance(lifetime, str):
        try:
            lifetime = float(lifetime)
        except ValueError:
            lifetime = None
    seconds = finite_number(lifetime)
    if seconds is None or not 0 < seconds <= MAX_TOKEN_LIFETIME:
        raise FireflyAuthError(
            f"IMS answered with an unusable expires_in ({str(lifetime)[:40]!r}); expected seconds "
            f"between 1 and {MAX_TOKEN_LIFETIME:.0f}"
        )
    return AccessToken(value=token, expires_at=requested_at + seconds, issued_at=requested_at)


def mint_token(
    credentials: FireflyCredentials,
    transport: SyncTransport,
    *,
    clock: Callable[[], float] = time.time,
) -> AccessToken:
    """Ask IMS for a new token with the client id, secret and scopes in the form body.

    Outages (5xx, 429, timeouts) are retried by the transport's policy; credential errors raise
    :class:`FireflyAuthError` at once with the likely fix.
    """
    form = {
        "grant_type": "client_credentials",
        "client_id": credentials.client_id,
        "client_secret": credentials.client_secret,
        "scope": credentials.scope_string,
    }
    requested_at = clock()
    try:
        response = transport.request(
            "POST",
            credentials.token_url,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            content=urlencode(form).encode(),
            idempotent=True,
            subject="IMS token request",
        )
    except FireflyError as error:
        # A server or proxy may echo the form back: the secret must not reach the message.
        _scrub(error, credentials.client_secret)
        refused = isinstance(error, FireflyRequestError) and error.status in (400, 401, 403)
        if not refused and not isinstance(error, FireflyAuthError):
            raise
        raise FireflyAuthError(
            _credential_hint(credentials, error.error_code, error.message),
            status=error.status,
            error_code=error.error_code,
            request_id=error.request_id,
        ) from None
    try:
        data = response.json()
    except FireflyError as error:
        raise FireflyAuthError(
            f"IMS gave an unusable token reply: {error.message}",
            status=response.status,
        ) from None
    return validate_token_reply(data, requested_at=requested_at)
