"""The HTTP library objects of the client, built in one place with one set of rules.

* **No cookies.** Firefly and IMS need none, and a cookie set for one organisation must never
  ride along with the next organisation's request on a shared session or pool: every jar here
  refuses to store anything.
* **No credentials from the environment.** ``~/.netrc`` must never add an ``Authorization``
  header to a presigned-URL or IMS request: ``requests`` runs with ``trust_env`` off (it would
  read ``.netrc``), and the proxy and CA variables are read here instead; httpx reads ``.netrc``
  only through an explicit ``NetRCAuth``, never used.
* **Proxies and private CAs, the standard way.** ``HTTPS_PROXY``, ``HTTP_PROXY``,
  ``ALL_PROXY`` and ``NO_PROXY`` choose the proxy of each URL; ``REQUESTS_CA_BUNDLE``,
  ``CURL_CA_BUNDLE``, ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` the trusted CAs, for the sync and
  the async paths alike. The connection extras ``proxy_url`` and ``ca_bundle`` override them.
* **No automatic redirects.** API calls never follow them; downloads follow them by hand
  (:mod:`airflow_provider_firefly.client.downloads`), checking every hop.
"""

from __future__ import annotations

import os
import ssl
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.utils import get_environ_proxies

from airflow_provider_firefly.client.config import HttpSettings
from airflow_provider_firefly.client.watchdog import WatchedAdapter

__all__ = [
    "CA_ENV_VARS",
    "ca_source",
    "harden_session",
    "network_fingerprint",
    "new_async_client",
    "new_session",
    "no_cookie_jar",
    "proxy_for",
    "request_options",
]

#: Where the trusted CAs come from when the connection names none, first found wins.
CA_ENV_VARS = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")


def no_cookie_jar() -> CookieJar:
    """A cookie jar that stores nothing (``Set-Cookie`` is read and dropped)."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


def harden_session(session: requests.Session) -> requests.Session:
    """Make ``session`` keep no cookie, read nothing from the environment and let
    :class:`~.watchdog.AttemptWatch` enforce deadlines; returns it."""
    session.trust_env = False
    session.cookies.clear()
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    for prefix in ("https://", "http://"):
        session.mount(prefix, WatchedAdapter())
    return session


def new_session() -> requests.Session:
    """A ``requests.Session`` that keeps no cookie and reads nothing from the environment."""
    return harden_session(requests.Session())


def proxy_for(url: str, settings: HttpSettings) -> str | None:
    """The proxy of ``url``: the connection's ``proxy_url``, else the environment's
    (``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``, skipped for hosts in ``NO_PROXY``)."""
    if settings.proxy_url:
        return settings.proxy_url
    proxies = get_environ_proxies(url)
    scheme = urlsplit(url).scheme.lower()
    found = proxies.get(scheme) or proxies.get("all")
    return found or None


def ca_source(settings: HttpSettings) -> str | None:
    """The CA file or folder to trust: ``ca_bundle``, else the first CA variable set, else
    None (the library's default trust store)."""
    if settings.ca_bundle:
        return settings.ca_bundle
    for name in CA_ENV_VARS:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def request_options(url: str, settings: HttpSettings) -> dict[str, Any]:
    """``proxies`` and ``verify`` for one ``requests`` call to ``url``."""
    proxy = proxy_for(url, settings)
    ca = ca_source(settings)
    return {
        "proxies": {"http": proxy, "https": proxy} if proxy else {},
        "verify": ca if ca else True,
    }


def network_fingerprint(settings: HttpSettings) -> tuple[str, str]:
    """What makes two async clients' networks differ (proxy, CA): part of a pool's key."""
    return (settings.proxy_url or "", ca_source(settings) or "")


def _ssl_context(ca: str | None) -> ssl.SSLContext | bool:
    if not ca:
        return True
    if os.path.isdir(ca):
        return ssl.create_default_context(capath=ca)
    return ssl.create_default_context(cafile=ca)


def new_async_client(settings: HttpSettings, *, max_connections: int | None = None) -> Any:
    """An ``httpx.AsyncClient`` with the settings' timeouts, proxy and CAs, keeping no cookie.

    httpx's own ``trust_env`` picks the environment's proxies per URL (``NO_PROXY``
    included); with a connection ``proxy_url`` the environment is ignored.
    """
    import httpx

    limits = (
        httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        if max_connections
        else httpx.Limits()
    )
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
        limits=limits,
        proxy=settings.proxy_url or None,
        trust_env=not settings.proxy_url,
        verify=_ssl_context(ca_source(settings)),
        follow_redirects=False,
        # A CookieJar is used as it is; an httpx.Cookies would be copied into a default jar.
        cookies=no_cookie_jar(),
    )
