"""Where a client may connect: base URLs, Adobe's hosts, loopback, proxies and CA files.

Checked when settings are built, so a bad or foreign endpoint fails with a
:class:`FireflyConfigError` naming the field and the fix, before any network call.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from pathlib import Path
from urllib.parse import urlsplit

from airflow_provider_firefly.client.errors import FireflyConfigError

__all__ = [
    "check_ca_bundle",
    "check_endpoint",
    "check_proxy_url",
    "is_adobe_host",
    "is_loopback_host",
    "normalize_base_url",
]

#: Hosts where Adobe serves IMS and Firefly; any other endpoint needs allow_custom_endpoints.
_ADOBE_DOMAINS = ("adobelogin.com", "adobe.io")

log = logging.getLogger("airflow_provider_firefly.client")


def normalize_base_url(value: str, *, field_name: str) -> str:
    """Check an https (or loopback http) base URL and drop a trailing slash."""
    if not isinstance(value, str) or not value.strip():
        raise FireflyConfigError(
            f"{field_name} must be a URL such as https://...", field=field_name
        )
    value = value.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise FireflyConfigError(
            f"{field_name} must be an absolute http(s) URL, got {value!r}", field=field_name
        )
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise FireflyConfigError(
            f"{field_name} must use https (plain http is only allowed for a local emulator on "
            f"127.0.0.1 or localhost), got {value!r}",
            field=field_name,
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise FireflyConfigError(
            f"{field_name} must not carry a query, fragment or user info: {value!r}",
            field=field_name,
        )
    try:
        _ = parts.port
    except ValueError:
        raise FireflyConfigError(
            f"{field_name} has an invalid port: {value!r}", field=field_name
        ) from None
    return value


def is_loopback_host(host: str | None) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1)."""
    if not host:
        return False
    host = host.lower().rstrip(".").strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_endpoint(url: str, *, field_name: str, allow_custom: bool) -> None:
    """Refuse an endpoint outside Adobe's domains and loopback unless ``allow_custom``.

    Whoever may edit a connection without seeing its password must not be able to point
    ``ims_url`` at their own host and receive the client secret on the next task.
    """
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    if is_loopback_host(host) or any(
        host == domain or host.endswith("." + domain) for domain in _ADOBE_DOMAINS
    ):
        return
    if not allow_custom:
        raise FireflyConfigError(
            f"{field_name} host {host!r} is not one of Adobe's (*.adobelogin.com, *.adobe.io) "
            f"or loopback; fix {field_name}, or, if this endpoint is really meant (a gateway "
            "of your own), set the connection extra allow_custom_endpoints to true",
            field=field_name,
        )
    log.warning(
        "%s points at %r, which is not an Adobe host: allowed by allow_custom_endpoints; the "
        "client credentials and tokens are sent there",
        field_name,
        host,
    )


def is_adobe_host(host: str | None) -> bool:
    """True for ``adobe.io`` and its subdomains, where Firefly answers."""
    if not host:
        return False
    host = host.lower().rstrip(".")
    return host == "adobe.io" or host.endswith(".adobe.io")


def check_proxy_url(value: str | None) -> str | None:
    """A proxy URL ``http(s)://[user:password@]host[:port]``; the password is never quoted."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    problem = "proxy_url must be a URL such as http://proxy.example.com:3128"
    if not isinstance(value, str):
        raise FireflyConfigError(problem, field="proxy_url")
    value = value.strip()
    parts = urlsplit(value)
    try:
        _ = parts.port
    except ValueError:
        raise FireflyConfigError(
            f"{problem} (its port is not a number)", field="proxy_url"
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FireflyConfigError(
            f"{problem} (http or https scheme and a host; got scheme {parts.scheme!r})",
            field="proxy_url",
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise FireflyConfigError(f"{problem} (no path or query)", field="proxy_url")
    return value


def check_ca_bundle(value: str | os.PathLike[str] | None) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise FireflyConfigError(
            "ca_bundle must be the path of a CA certificate file (PEM)", field="ca_bundle"
        )
    path = Path(value).expanduser()
    if not path.exists():
        raise FireflyConfigError(
            f"ca_bundle {str(path)!r} does not exist: give the path of the CA certificate (PEM) "
            "that signs your proxy's or gateway's certificates, readable on every worker and "
            "triggerer",
            field="ca_bundle",
        )
    return str(path)
