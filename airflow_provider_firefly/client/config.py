"""Validated settings of a Firefly client: credentials, endpoints, timeouts, retries, token cache.

Everything here is checked on construction, so a bad value fails with a :class:`FireflyConfigError`
that names the field, before any network call. Nothing here imports Airflow.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit

from airflow_provider_firefly.client.endpoints import (
    check_ca_bundle,
    check_endpoint,
    check_proxy_url,
    is_adobe_host,
    is_loopback_host,
    normalize_base_url,
)
from airflow_provider_firefly.client.errors import FireflyConfigError
from airflow_provider_firefly.client.limits import (
    DEFAULT_MAX_OUTPUT_BYTES,
    DEFAULT_REQUEST_DEADLINE,
    is_positive_number,
    is_real_number,
)

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_IMS_URL",
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_MAX_RETRY_TIME",
    "DEFAULT_MAX_RETRY_WAIT",
    "DEFAULT_READ_TIMEOUT",
    "DEFAULT_SCOPES",
    "FireflyCredentials",
    "HttpSettings",
    "TokenCacheSettings",
    "check_endpoint",
    "default_cache_dir",
    "is_adobe_host",
    "is_loopback_host",
    "normalize_base_url",
    "parse_scopes",
]

DEFAULT_IMS_URL = "https://ims-na1.adobelogin.com"
DEFAULT_API_URL = "https://firefly-api.adobe.io"
DEFAULT_SCOPES: tuple[str, ...] = (
    "openid",
    "AdobeID",
    "session",
    "additional_info",
    "read_organizations",
    "firefly_api",
    "ff_apis",
)

# Defaults of HttpSettings, the connection form and the retry policy. Whole numbers where the
# value is whole, so the connection form shows "10", not "10.0".
#: Seconds to establish a connection.
DEFAULT_CONNECT_TIMEOUT = 10
#: Seconds to wait for each response (downloads: between chunks).
DEFAULT_READ_TIMEOUT = 60
#: Attempts per request, the first included.
DEFAULT_MAX_ATTEMPTS = 5
#: No retry starts a wait that would end later than this after the first try.
DEFAULT_MAX_RETRY_TIME = 300.0
#: Cap of a single wait between attempts, ``retry-after`` included.
DEFAULT_MAX_RETRY_WAIT = 120.0

_SCOPE_RE = re.compile(r"^[A-Za-z0-9_.:/-]+$")
_AMBIGUOUS_URL_CHARS = re.compile(r"[\x00-\x20\x7f\\]")


def parse_scopes(value: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """Scopes from a comma- or space-separated string or a list; the default when empty."""
    if value is None:
        return DEFAULT_SCOPES
    if isinstance(value, str):
        items = [s for s in re.split(r"[,\s]+", value) if s]
    elif isinstance(value, (list, tuple)):
        items = []
        for item in value:
            if not isinstance(item, str):
                raise FireflyConfigError(
                    f"scopes must be strings, got {type(item).__name__}", field="scopes"
                )
            items.extend(s for s in re.split(r"[,\s]+", item) if s)
    else:
        raise FireflyConfigError(
            "scopes must be a comma-separated string such as "
            f"'{','.join(DEFAULT_SCOPES)}', got {type(value).__name__}",
            field="scopes",
        )
    if not items:
        return DEFAULT_SCOPES
    for scope in items:
        if not _SCOPE_RE.match(scope):
            raise FireflyConfigError(
                f"scope {scope!r} has characters IMS does not allow; use a comma-separated list "
                f"such as '{','.join(DEFAULT_SCOPES)}'",
                field="scopes",
            )
    return tuple(dict.fromkeys(items))


def _positive(value: float, name: str, *, upper: float | None = None) -> float:
    if not is_real_number(value):
        raise FireflyConfigError(f"{name} must be a number of seconds", field=name)
    if not is_positive_number(value) or (upper is not None and value > upper):
        bound = f" and at most {upper:g}" if upper is not None else ""
        raise FireflyConfigError(f"{name} must be above 0{bound}, got {value!r}", field=name)
    return float(value)


@dataclass(frozen=True)
class FireflyCredentials:
    """An OAuth server-to-server credential and the IMS that mints its tokens.

    :param client_id: the Developer Console client id (also sent as ``x-api-key``).
    :param client_secret: the client secret; never shown by ``repr``.
    :param scopes: scopes asked of IMS.
    :param ims_url: IMS base URL; the token endpoint is ``{ims_url}/ims/token/v3``.
    :param allow_custom_endpoints: accept an ``ims_url`` outside Adobe's hosts and loopback.
    """

    client_id: str
    client_secret: str = field(repr=False)
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    ims_url: str = DEFAULT_IMS_URL
    allow_custom_endpoints: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.client_id, str) or not self.client_id.strip():
            raise FireflyConfigError(
                "client_id is empty: set the connection's Client ID (login) to the Developer "
                "Console client id",
                field="client_id",
            )
        if self.client_id != self.client_id.strip() or any(c.isspace() for c in self.client_id):
            raise FireflyConfigError("client_id must not contain whitespace", field="client_id")
        if not isinstance(self.client_secret, str) or not self.client_secret:
            raise FireflyConfigError(
                "client_secret is empty: set the connection's Client secret (password)",
                field="client_secret",
            )
        object.__setattr__(self, "scopes", parse_scopes(self.scopes))
        object.__setattr__(self, "ims_url", normalize_base_url(self.ims_url, field_name="ims_url"))
        check_endpoint(
            self.ims_url, field_name="ims_url", allow_custom=bool(self.allow_custom_endpoints)
        )

    @property
    def token_url(self) -> str:
        return f"{self.ims_url}/ims/token/v3"

    @property
    def scope_string(self) -> str:
        return ",".join(self.scopes)

    @property
    def secret_fingerprint(self) -> str:
        """A hash of the secret: tells secrets apart without revealing them."""
        return hashlib.sha256(self.client_secret.encode()).hexdigest()

    @property
    def cache_key(self) -> str:
        """Identifies a token: IMS, client id, scopes and the secret's hash.

        A rotated secret gets a new key, so tokens minted with the old one are never reused.
        """
        material = "|".join(
            [self.ims_url, self.client_id, ",".join(sorted(self.scopes)), self.secret_fingerprint]
        )
        return hashlib.sha256(material.encode()).hexdigest()


def default_cache_dir() -> Path:
    """``$AIRFLOW_PROVIDER_FIREFLY_CACHE_DIR``, else ``$XDG_CACHE_HOME`` or ``~/.cache``."""
    explicit = os.environ.get("AIRFLOW_PROVIDER_FIREFLY_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "airflow-provider-firefly" / "tokens"


@dataclass(frozen=True)
class TokenCacheSettings:
    """How tokens are cached and refreshed.

    :param host_cache: share tokens between processes of one host through encrypted files.
    :param cache_dir: folder of the host cache (created 0700); see ``default_cache_dir()``.
    :param lock_timeout: longest wait for the host cache lock before minting without it.
    :param refresh_window: start refreshing proactively this long before expiry (Adobe advises a
        new token every 23 h of 24); each process picks a random point in the window.
    :param hard_margin: never use a token with less than this left.
    """

    host_cache: bool = True
    cache_dir: Path | None = None
    lock_timeout: float = 10.0
    refresh_window: float = 3600.0
    hard_margin: float = 300.0

    def __post_init__(self) -> None:
        _positive(self.lock_timeout, "lock_timeout", upper=600)
        _positive(self.refresh_window, "refresh_window", upper=86400)
        _positive(self.hard_margin, "hard_margin", upper=self.refresh_window)
        if self.cache_dir is not None and not isinstance(self.cache_dir, Path):
            object.__setattr__(self, "cache_dir", Path(str(self.cache_dir)).expanduser())

    @property
    def resolved_cache_dir(self) -> Path:
        return self.cache_dir if self.cache_dir is not None else default_cache_dir()


@dataclass(frozen=True)
class HttpSettings:
    """Where Firefly is and how patiently to talk to it.

    :param api_url: Firefly base URL.
    :param connect_timeout: seconds to establish a connection.
    :param read_timeout: seconds to wait for each response (downloads: between chunks).
    :param max_attempts: attempts per request, the first included.
    :param max_retry_time: give up retrying once this much time has passed since the first try.
    :param max_retry_wait: cap of a single wait, even if ``retry-after`` asks for more.
    :param request_deadline: total seconds one request attempt may take, body included (a
        server trickling one byte a second is cut off here; downloads included).
    :param max_output_bytes: largest output file saved, counted on decoded bytes.
    :param allow_custom_endpoints: accept an ``api_url`` outside Adobe's hosts and loopback.
    :param proxy_url: the proxy of every request (``http://[user:password@]host:port``),
        overriding ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``/``NO_PROXY``; never shown.
    :param ca_bundle: a CA certificate file (PEM) or folder to trust instead of the default
        store, overriding ``REQUESTS_CA_BUNDLE``/``SSL_CERT_FILE``/``SSL_CERT_DIR``.
    """

    api_url: str = DEFAULT_API_URL
    connect_timeout: float = float(DEFAULT_CONNECT_TIMEOUT)
    read_timeout: float = float(DEFAULT_READ_TIMEOUT)
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    max_retry_time: float = DEFAULT_MAX_RETRY_TIME
    max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT
    request_deadline: float = DEFAULT_REQUEST_DEADLINE
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES
    allow_custom_endpoints: bool = field(default=False, compare=False)
    proxy_url: str | None = field(default=None, repr=False)
    ca_bundle: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "api_url", normalize_base_url(self.api_url, field_name="api_url"))
        object.__setattr__(self, "proxy_url", check_proxy_url(self.proxy_url))
        object.__setattr__(self, "ca_bundle", check_ca_bundle(self.ca_bundle))
        check_endpoint(
            self.api_url, field_name="api_url", allow_custom=bool(self.allow_custom_endpoints)
        )
        _positive(self.connect_timeout, "connect_timeout", upper=600)
        _positive(self.read_timeout, "read_timeout", upper=3600)
        _positive(self.request_deadline, "request_deadline", upper=86400)
        if (
            isinstance(self.max_output_bytes, bool)
            or not isinstance(self.max_output_bytes, int)
            or not 1 <= self.max_output_bytes <= 1 << 40
        ):
            raise FireflyConfigError(
                "max_output_bytes must be a whole number of bytes from 1 to 1 TiB "
                f"(default {DEFAULT_MAX_OUTPUT_BYTES:,}, 2 GiB), got {self.max_output_bytes!r}",
                field="max_output_bytes",
            )
        _positive(self.max_retry_time, "max_retry_time", upper=86400)
        _positive(self.max_retry_wait, "max_retry_wait", upper=3600)
        if (
            isinstance(self.max_attempts, bool)
            or not isinstance(self.max_attempts, int)
            or not 1 <= self.max_attempts <= 20
        ):
            raise FireflyConfigError(
                f"max_attempts must be a whole number from 1 to 20, got {self.max_attempts!r}",
                field="max_attempts",
            )

    @cached_property
    def api_host(self) -> str:
        return (urlsplit(self.api_url).hostname or "").lower()

    @cached_property
    def _api_scheme(self) -> str:
        return urlsplit(self.api_url).scheme

    @property
    def plain_http_allowed(self) -> bool:
        """True when the API itself is plain http on loopback (the emulator): only then may
        outputs be fetched over plain http, and only from loopback."""
        return self._api_scheme == "http" and is_loopback_host(self.api_host)

    def may_send_token_to(self, url: str) -> bool:
        """Whether a URL may receive the bearer token.

        Only the configured API host and, when that is Adobe's, other ``*.adobe.io`` hosts over
        https: never presigned output URLs or any other host.
        """
        # urlsplit and urllib3 (what requests connects to) disagree on some URLs: with
        # ``https://evil.example\@x.adobe.io/`` urlsplit sees x.adobe.io and requests connects
        # to evil.example. Refuse anything that could be read two ways.
        if not url.isascii() or _AMBIGUOUS_URL_CHARS.search(url):
            return False
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if not host or "@" in parts.netloc:
            return False
        if host == self.api_host:
            return parts.scheme == self._api_scheme
        return is_adobe_host(self.api_host) and is_adobe_host(host) and parts.scheme == "https"
