"""The HTTP library objects of the client, built in one place with one set of rules.

* **No cookies.** Firefly and IMS need none, and a cookie set for one organisation must never
  ride along with the next organisation's request on a shared session or pool: every jar here
  refuses to store anything.
* **No credentials from the environment.** ``~/.netrc`` must never add an ``Authorization``
  header to a presigned-URL or IMS request, so the libraries' ``trust_env`` is off.
* **No automatic redirects.** API calls never follow them; downloads follow them by hand
  (:mod:`airflow_provider_firefly.client.downloads`), checking every hop.
"""

from __future__ import annotations

from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import requests

from airflow_provider_firefly.client.config import HttpSettings

__all__ = ["harden_session", "new_async_client", "new_session", "no_cookie_jar"]


def no_cookie_jar() -> CookieJar:
    """A cookie jar that stores nothing (``Set-Cookie`` is read and dropped)."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


def harden_session(session: requests.Session) -> requests.Session:
    """Make ``session`` keep no cookie and read nothing from the environment; returns it."""
    session.trust_env = False
    session.cookies.clear()
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    return session


def new_session() -> requests.Session:
    """A ``requests.Session`` that keeps no cookie and reads nothing from the environment."""
    return harden_session(requests.Session())


def new_async_client(settings: HttpSettings, *, max_connections: int | None = None) -> Any:
    """An ``httpx.AsyncClient`` with the settings' timeouts, keeping no cookie."""
    import httpx

    limits = (
        httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        if max_connections
        else httpx.Limits()
    )
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
        limits=limits,
        trust_env=False,
        follow_redirects=False,
        # A CookieJar is used as it is; an httpx.Cookies would be copied into a default jar.
        cookies=no_cookie_jar(),
    )
