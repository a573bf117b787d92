"""Adobe IMS emulation: ``POST /ims/token/v3`` and JWT-shaped access tokens.

Tokens look like IMS tokens (header.payload.signature, base64url) with the claims IMS clients
read: ``created_at`` and ``expires_in`` (milliseconds, as strings), ``type``, ``as``,
``client_id``. They are signed with HMAC-SHA256 by a per-emulator random key, so a forged,
altered, expired or revoked token is rejected.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import itertools
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from .config import EmulatorConfig


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def fingerprint(token: str) -> str:
    """A short non-reversible id of a token, for logs and counters."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class TokenInfo:
    token_id: str
    client_id: str
    scopes: tuple[str, ...]
    created_at_ms: int
    expires_in_ms: int
    seq: int


class TokenAuthority:
    """Issues and verifies tokens; remembers revocations."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self._revoked_ids: set[str] = set()
        self._revoked_below = 0
        self._last_seq = 0

    def issue(self, config: EmulatorConfig, client_id: str, scopes: tuple[str, ...]) -> str:
        with self._lock:
            seq = next(self._seq)
            self._last_seq = seq
        now_ms = int(time.time() * 1000)
        header = {
            "alg": "HS256",
            "typ": "JWT",
            "kid": "firefly-emulator-key",
            "x5u": "emulator.cer",
        }
        payload = {
            "id": f"{now_ms}_{uuid.uuid4()}_ue1",
            "type": "access_token",
            "client_id": client_id,
            "user_id": f"{client_id.upper()[:24]}@techacct.adobe.com",
            "as": config.ims_instance,
            "aa_id": f"{client_id.upper()[:24]}@techacct.adobe.com",
            "ctp": 0,
            "fg": "EMULATOR",
            "sid": f"{now_ms}_emulator",
            "moi": secrets.token_hex(4),
            "pac": f"{client_id}_emulator",
            "rtid": f"{now_ms}_emulator",
            "created_at": str(now_ms),
            "expires_in": str(round(config.token_lifetime * 1000)),
            "scope": ",".join(scopes),
            "seq": seq,
        }
        signing_input = (
            _b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64url(json.dumps(payload, separators=(",", ":")).encode())
        )
        sig = hmac.new(self._key, signing_input.encode(), hashlib.sha256).digest()
        return signing_input + "." + _b64url(sig)

    def verify(self, token: str) -> TokenInfo | None:
        """The token's claims when it is authentic, unexpired and not revoked."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        signing_input = (parts[0] + "." + parts[1]).encode()
        try:
            sig = _unb64url(parts[2])
            payload = json.loads(_unb64url(parts[1]))
        except (ValueError, binascii.Error):
            return None
        expected = hmac.new(self._key, signing_input, hashlib.sha256).digest()
        if not hmac.compare_digest(sig, expected) or not isinstance(payload, dict):
            return None
        try:
            info = TokenInfo(
                token_id=str(payload["id"]),
                client_id=str(payload["client_id"]),
                scopes=tuple(s for s in str(payload.get("scope", "")).split(",") if s),
                created_at_ms=int(payload["created_at"]),
                expires_in_ms=int(payload["expires_in"]),
                seq=int(payload["seq"]),
            )
        except (KeyError, ValueError, TypeError):
            return None
        if time.time() * 1000 >= info.created_at_ms + info.expires_in_ms:
            return None
        with self._lock:
            if info.seq < self._revoked_below or info.token_id in self._revoked_ids:
                return None
        return info

    def revoke(self, token: str | None = None) -> int:
        """Revoke one token (by value) or, with ``None``, every token issued so far."""
        with self._lock:
            if token is None:
                self._revoked_below = self._last_seq + 1
                return 1
        try:
            payload = json.loads(_unb64url(token.split(".")[1]))
            tid = str(payload["id"])
        except (ValueError, IndexError, KeyError, binascii.Error):
            return 0
        with self._lock:
            self._revoked_ids.add(tid)
        return 1


def parse_scopes(raw: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in raw.replace(" ", ",").split(",") if s.strip())


def ims_error(error: str, description: str) -> dict[str, Any]:
    return {"error": error, "error_description": description}


def token_request(
    config: EmulatorConfig, authority: TokenAuthority, params: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    """Validate a token request (already merged from query, body and Basic auth)."""
    grant = params.get("grant_type")
    if not grant:
        return 400, ims_error("invalid_request", "missing grant_type parameter")
    if grant != "client_credentials":
        return 400, ims_error("unsupported_grant_type", f"unsupported grant_type {grant}")
    client_id = params.get("client_id")
    if not client_id:
        return 400, ims_error("invalid_request", "missing client_id parameter")
    clients = config.clients()
    if client_id not in clients:
        return 400, ims_error("invalid_client", "invalid client_id parameter")
    secret = params.get("client_secret", "")
    if not any(hmac.compare_digest(secret.encode(), s.encode()) for s in clients[client_id]):
        return 400, ims_error("invalid_client", "invalid client_secret parameter")
    scope_raw = params.get("scope")
    if not scope_raw:
        return 400, ims_error("invalid_scope", "missing scope parameter")
    scopes = parse_scopes(scope_raw)
    bad = [s for s in scopes if s not in config.accepted_scopes]
    if bad or not scopes:
        return 400, ims_error("invalid_scope", f"invalid scope: {','.join(bad) or scope_raw}")
    token = authority.issue(config, client_id, scopes)
    return 200, {
        "access_token": token,
        "token_type": "bearer",
        "expires_in": int(config.token_lifetime),
    }
