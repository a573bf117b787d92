"""The access token record and the rules every token must keep, wherever it comes from.

Owns :class:`AccessToken` (a bearer token that never shows itself in ``repr``), its log-safe
fingerprint, and the limits a token's times must respect: :data:`MAX_TOKEN_LIFETIME` and
:data:`MAX_CLOCK_SKEW`. IMS replies (:mod:`.ims`), minted tokens (:mod:`.tokens`) and cache entries
(:mod:`.token_sealing`) are all checked against these, so each limit lives here only.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Final

from airflow_provider_firefly.client.errors import FireflyAuthError

__all__ = [
    "MAX_CLOCK_SKEW",
    "MAX_TOKEN_LIFETIME",
    "AccessToken",
    "check_minted_token",
    "finite_number",
    "issued_in_the_future",
    "token_fingerprint",
]

MAX_TOKEN_LIFETIME: Final = 48 * 3600.0
"""No IMS token lives longer than this (they live 24 h); anything longer is refused."""

MAX_CLOCK_SKEW: Final = 300.0
"""A token whose ``issued_at`` lies further than this in the future is refused."""

_FINGERPRINT_LENGTH = 12


def finite_number(value: object) -> float | None:
    """``value`` as a float when it is a finite JSON number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:  # a 400-digit integer from JSON
        return None
    return number if math.isfinite(number) else None


def issued_in_the_future(issued_at: float, now: float) -> bool:
    """Whether ``issued_at`` lies further ahead than :data:`MAX_CLOCK_SKEW` (a clock runs ahead)."""
    return issued_at > now + MAX_CLOCK_SKEW


def token_fingerprint(value: str) -> str:
    """A short SHA-256 prefix of a token: tells tokens apart in logs without revealing them."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:_FINGERPRINT_LENGTH]


def _iso(epoch: float) -> str:
    try:
        return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return repr(epoch)


@dataclass(frozen=True)
class AccessToken:
    """An IMS access token and when it expires.

    :param value: the bearer token; never shown by ``repr``: log :attr:`fingerprint` instead.
    :param expires_at: expiry, epoch seconds (computed from a timestamp taken *before* the IMS
        request, so latency errs on the safe side).
    :param issued_at: when it was minted, epoch seconds.
    """

    value: str = field(repr=False)
    expires_at: float
    issued_at: float

    @property
    def fingerprint(self) -> str:
        """A short hash of the token, safe to log."""
        return token_fingerprint(self.value)

    def expires_in(self, now: float | None = None) -> float:
        """Seconds left before expiry (negative once expired)."""
        return self.expires_at - (time.time() if now is None else now)

    def __repr__(self) -> str:
        return (
            f"AccessToken(fingerprint={self.fingerprint!r}, expires_at={_iso(self.expires_at)}, "
            f"issued_at={_iso(self.issued_at)})"
        )

    __str__ = __repr__


def check_minted_token(token: object, now: float) -> None:
    """Refuse a freshly minted token no caller could use; the message never contains the token.

    :raises FireflyAuthError: not an :class:`AccessToken`, an empty or malformed value, missing
        or inconsistent times, already expired, or living longer than :data:`MAX_TOKEN_LIFETIME`.
    """
    if not isinstance(token, AccessToken):
        raise FireflyAuthError(
            f"the IMS minter returned {type(token).__name__}, not an AccessToken"
        )
    value = token.value
    if not isinstance(value, str) or not value.strip():
        raise FireflyAuthError("IMS returned an empty access token")
    if not value.isprintable() or any(c.isspace() for c in value):
        raise FireflyAuthError(
            "IMS returned a malformed access token (whitespace or control characters)"
        )
    for name in ("expires_at", "issued_at"):
        if finite_number(getattr(token, name)) is None:
            raise FireflyAuthError(f"IMS returned an access token without a valid {name}")
    if token.expires_at <= now:
        raise FireflyAuthError(
            "IMS returned an access token that is already expired (check expires_in and "
            "this host's clock)"
        )
    if token.expires_at - now > MAX_TOKEN_LIFETIME:
        raise FireflyAuthError(
            f"IMS returned an access token valid for {(token.expires_at - now) / 3600:.0f} h, "
            f"more than the {MAX_TOKEN_LIFETIME / 3600:.0f} h any IMS token lives"
        )
    if issued_in_the_future(token.issued_at, now) or token.issued_at >= token.expires_at:
        raise FireflyAuthError("IMS returned an access token with an inconsistent issue time")
