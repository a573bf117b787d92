"""The asyncio transport (``httpx``), with the policy, bounds and errors of the blocking one.

Used by the trigger; each attempt runs under ``asyncio.timeout`` of the settings'
``request_deadline`` (headers and body), and the body is inflated in bounded steps.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Mapping
from typing import Any

from requests.structures import CaseInsensitiveDict

from airflow_provider_firefly.client.config import HttpSettings
from airflow_provider_firefly.client.http_base import (
    HttpResponse,
    Outgoing,
    body_for,
    check_response,
    outgoing,
)
from airflow_provider_firefly.client.http_clients import new_async_client
from airflow_provider_firefly.client.http_errors import httpx_error
from airflow_provider_firefly.client.limits import Deadline, Inflater
from airflow_provider_firefly.client.pacing import TaskPacer
from airflow_provider_firefly.client.retry import RetryPolicy

__all__ = ["AsyncTransport"]


class AsyncTransport:
    """Non-blocking transport on ``httpx.AsyncClient``, with the same policy, bounds and errors.

    The client is created lazily inside the running event loop and must be closed with
    :meth:`aclose` (or ``async with``).
    """

    def __init__(
        self,
        settings: HttpSettings,
        *,
        user_agent: str,
        policy: RetryPolicy | None = None,
        http_client: Any = None,
        pacer: TaskPacer | None = None,
    ) -> None:
        """``http_client``: an ``httpx.AsyncClient`` to share; the caller keeps owning it.
        ``pacer``: the task's share of the request budget, awaited by every attempt."""
        self.settings = settings
        self.pacer = pacer
        self.policy = policy or RetryPolicy.from_settings(settings)
        self.user_agent = user_agent
        self._client: Any = http_client
        self._owns_client = http_client is None

    def _http(self) -> Any:
        if self._client is None:
            self._client = new_async_client(self.settings)
        return self._client

    @contextlib.asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        """Held while an attempt runs; a shared transport waits here for a pool slot (the
        wait is ours, so it does not count against the server's deadline)."""
        yield

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        idempotent: bool = True,
        what: str | None = None,
    ) -> HttpResponse:
        """Send with retries; return a 2xx/3xx response or raise the typed error."""
        import httpx

        out = outgoing(
            self.user_agent,
            method,
            url,
            headers=headers,
            json_body=json_body,
            content=content,
            what=what,
        )
        client = self._http()
        read_timeout = self.settings.read_timeout

        async def attempt() -> HttpResponse:
            async with self._slot():
                deadline = Deadline(self.settings.request_deadline, out.what)
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
                    raise httpx_error(error, out.what, read_timeout, url) from None
            check_response(result.status, result.headers, result.content, out.what)
            return result

        paced = attempt if self.pacer is None else functools.partial(self.pacer.acall, attempt)
        return await self.policy.acall(paced, out.what, idempotent=idempotent)

    @staticmethod
    async def _send(
        client: Any,
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
            body = body_for(response.status_code, deadline, out.what)
            inflater = Inflater(response.headers.get("Content-Encoding"), out.what)
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
