"""The asyncio transport (``httpx``), with the policy, bounds and errors of the blocking one.

Used by the trigger; each attempt runs under ``asyncio.timeout`` of the settings'
``request_deadline`` (headers and body), and the body is inflated in bounded steps.

:class:`SharedAsyncTransport` shares one ``httpx.AsyncClient`` (one connection pool, one TLS
context, one gate of :data:`MAX_IN_FLIGHT` requests) between every job polled through one
*connection* (API host and client id) in an event loop: building an ``httpx.AsyncClient``
costs about 27 ms of CPU and 0.9 MB (its TLS context), which a triggerer polling 1,000 jobs
must not pay 1,000 times, while a connection whose server hangs must not hold the slots that
the polls of other connections need.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sys
import weakref
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from requests.structures import CaseInsensitiveDict

from airflow_provider_firefly.client.config import HttpSettings
from airflow_provider_firefly.client.http_base import (
    HttpResponse,
    Outgoing,
    body_for,
    check_response,
)
from airflow_provider_firefly.client.http_clients import network_fingerprint, new_async_client
from airflow_provider_firefly.client.http_errors import httpx_error
from airflow_provider_firefly.client.limits import Deadline, Inflater
from airflow_provider_firefly.client.pacing import TaskPacer
from airflow_provider_firefly.client.retry import RetryPolicy
from airflow_provider_firefly.client.transport_base import RequestOptions, TransportBase

if sys.version_info >= (3, 11):
    # At run time too (3.11+), so that documentation tools can read the signatures.
    from typing import Unpack
if TYPE_CHECKING:
    import httpx

__all__ = ["MAX_IN_FLIGHT", "AsyncTransport", "SharedAsyncTransport", "connection_key"]


class AsyncTransport(TransportBase):
    """Non-blocking transport on ``httpx.AsyncClient``, with the same policy, bounds and errors.

    Takes the arguments of :class:`~.transport_base.TransportBase`, and ``http_client``: an
    ``httpx.AsyncClient`` to share (the caller keeps owning it). The client is created lazily
    inside the running event loop and must be closed with :meth:`aclose` (or ``async with``).
    """

    def __init__(
        self,
        settings: HttpSettings,
        *,
        user_agent: str,
        policy: RetryPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
        pacer: TaskPacer | None = None,
    ) -> None:
        super().__init__(settings, user_agent=user_agent, policy=policy, pacer=pacer)
        self._client: httpx.AsyncClient | None = http_client
        self._owns_client = http_client is None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = new_async_client(self.settings)
        return self._client

    @contextlib.asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        """Held while an attempt runs; a shared transport waits here for a pool slot (the
        wait is ours, so it does not count against the server's deadline)."""
        yield

    async def request(
        self, method: str, url: str, **options: Unpack[RequestOptions]
    ) -> HttpResponse:
        """Send with retries; return a 2xx/3xx response or raise the typed error."""
        import httpx

        out = self.outgoing(method, url, options)
        params = options.get("params")
        client = self._http()
        read_timeout = self.settings.read_timeout

        async def attempt() -> HttpResponse:
            async with self._slot():
                deadline = Deadline(self.settings.request_deadline, out.subject)
                try:
                    # The total deadline covers the headers as well as the body.
                    async with asyncio.timeout(deadline.remaining()):
                        result = await self._send(
                            client,
                            method=method,
                            url=url,
                            out=out,
                            params=params,
                            deadline=deadline,
                        )
                except TimeoutError:
                    raise deadline.expired_error() from None
                except httpx.HTTPError as error:
                    raise httpx_error(error, out.subject, read_timeout, url) from None
            check_response(result.status, result.headers, result.content, out.subject)
            return result

        paced = attempt if self.pacer is None else functools.partial(self.pacer.acall, attempt)
        idempotent = options.get("idempotent", True)
        return await self.policy.acall(paced, out.subject, idempotent=idempotent)

    @staticmethod
    async def _send(
        client: httpx.AsyncClient,
        *,
        method: str,
        url: str,
        out: Outgoing,
        params: Mapping[str, Any] | None,
        deadline: Deadline,
    ) -> HttpResponse:
        async with client.stream(
            method,
            url,
            headers=out.headers,
            params=dict(params) if params else None,
            content=out.data,
        ) as response:
            body = body_for(response.status_code, deadline, out.subject)
            inflater = Inflater(response.headers.get("Content-Encoding"), out.subject)
            async for raw in response.aiter_raw():
                if not all(body.add(chunk) for chunk in inflater.feed(raw)):
                    break
            return HttpResponse(
                response.status_code,
                CaseInsensitiveDict(response.headers),
                body.content(),
                str(response.url),
            )

    async def aclose(self) -> None:
        if self._client is not None and self._owns_client:
            await self._client.aclose()
        self._client = None

    async def __aenter__(self) -> AsyncTransport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


# -- one httpx client per connection per event loop --------------------------------------------

#: Requests in flight at once on one shared client. Beyond its pool size httpx queues requests
#: inside its connection pool, whose bookkeeping grows with the queue (1,000 queued polls cost
#: seconds of CPU); waiting on a semaphore instead costs nothing.
MAX_IN_FLIGHT = 64

#: (connection key, connect timeout, read timeout, (proxy, CA))
_PoolKey = tuple[str, float, float, tuple[str, str]]


class _Pool:
    """An ``httpx.AsyncClient``, the gate of its ``limit`` slots, and how many use it."""

    def __init__(self, client: httpx.AsyncClient, limit: int) -> None:
        self.client = client
        self.gate = asyncio.Semaphore(limit)
        self.users = 0


_POOLS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[_PoolKey, _Pool]] = (
    weakref.WeakKeyDictionary()
)


def connection_key(settings: HttpSettings, client_id: str | None) -> str:
    """What one pool and one gate are shared by: the API host and the client id."""
    return f"{settings.api_url}|{client_id or ''}"


def _pool_key(settings: HttpSettings, key: str) -> _PoolKey:
    return (key, settings.connect_timeout, settings.read_timeout, network_fingerprint(settings))


def _lease(settings: HttpSettings, key: str) -> _Pool:
    loop = asyncio.get_running_loop()
    pools = _POOLS.get(loop)
    if pools is None:
        pools = _POOLS[loop] = {}
    pool_key = _pool_key(settings, key)
    pool = pools.get(pool_key)
    if pool is None or pool.client.is_closed:
        client = new_async_client(settings, max_connections=MAX_IN_FLIGHT)
        pool = pools[pool_key] = _Pool(client, MAX_IN_FLIGHT)
    pool.users += 1
    return pool


async def _release(settings: HttpSettings, key: str, pool: _Pool) -> None:
    loop = asyncio.get_running_loop()
    pools = _POOLS.get(loop, {})
    pool_key = _pool_key(settings, key)
    if pools.get(pool_key) is not pool:
        await pool.client.aclose()
        return
    pool.users -= 1
    if pool.users <= 0:
        del pools[pool_key]
        await pool.client.aclose()


class SharedAsyncTransport(AsyncTransport):
    """:class:`AsyncTransport` on an ``httpx.AsyncClient`` shared in the event loop by every
    transport of the same connection.

    :param pool_key: what the pool is shared by, normally :func:`connection_key` (API host
        and client id, as :meth:`AsyncFireflyClient.budgeted` gives it); by default the API
        URL alone.

    The shared client is closed when its last user closes its transport. Headers (token,
    user agent) are per request and no cookie is kept, so sharing the pool shares no
    credential.
    """

    def __init__(
        self,
        settings: HttpSettings,
        *,
        user_agent: str,
        policy: RetryPolicy | None = None,
        pool_key: str | None = None,
        pacer: TaskPacer | None = None,
    ) -> None:
        super().__init__(settings, user_agent=user_agent, policy=policy, pacer=pacer)
        self.pool_key = pool_key
        self._pool: _Pool | None = None
        self._leased_key = ""

    def _http(self) -> httpx.AsyncClient:
        if self._pool is None:
            self._leased_key = self.pool_key or connection_key(self.settings, None)
            self._pool = _lease(self.settings, self._leased_key)
            self._client = self._pool.client
        return self._pool.client

    @contextlib.asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        pool = self._pool
        if pool is None:
            yield
            return
        async with pool.gate:
            yield

    async def aclose(self) -> None:
        pool, self._pool = self._pool, None
        self._client = None
        if pool is not None:
            await _release(self.settings, self._leased_key, pool)
