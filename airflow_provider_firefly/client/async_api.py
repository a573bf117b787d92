"""The asyncio Firefly client (``httpx``), for triggers: submit, status, cancel, generic calls.

It shares ``client._api_base`` with the blocking client: only the sending differs.
:meth:`AsyncFireflyClient.budgeted` is the one way to get a client whose requests share a
connection's :class:`~airflow_provider_firefly.client.request_budget.RequestBudget` and
connection pool with the other jobs of the event loop.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping
from typing import Any

from airflow_provider_firefly.client._api_base import ClientBase, JobRef, SubmitOptions
from airflow_provider_firefly.client.async_transport import (
    AsyncTransport,
    SharedAsyncTransport,
    connection_key,
)
from airflow_provider_firefly.client.errors import FireflyAuthError, FireflyConflictError
from airflow_provider_firefly.client.http_base import HttpResponse
from airflow_provider_firefly.client.jobs import JobHandle, JobStatus
from airflow_provider_firefly.client.operations import Operation
from airflow_provider_firefly.client.pacing import TaskPacer
from airflow_provider_firefly.client.request_budget import RequestBudget
from airflow_provider_firefly.client.retry import BudgetedRetryPolicy, RetryPolicy
from airflow_provider_firefly.client.transport_base import RequestOptions

if sys.version_info >= (3, 11):
    # At run time too (3.11+), so that documentation tools can read the signatures.
    from typing import Unpack

__all__ = ["AsyncFireflyClient"]


class AsyncFireflyClient(ClientBase):
    """Asyncio Firefly client (``httpx``) for triggers: status, cancel and generic calls.

    Takes the arguments of its base, ``client._api_base.ClientBase`` (below).
    Shares the token caches of :class:`~airflow_provider_firefly.client.api.FireflyClient`; a
    token is minted in a worker thread only on a cache miss, so the event loop never blocks.
    """

    transport: AsyncTransport

    def _open(self) -> None:
        self.transport = AsyncTransport(self.http, user_agent=self.user_agent, pacer=self.pacer)

    def budgeted(
        self, budget: RequestBudget | None, *, pacer: TaskPacer | None = None
    ) -> AsyncFireflyClient:
        """A new client of this one's connection (credentials, settings, caches, user agent)
        for a trigger: it sends through the event loop's connection pool of this API host and
        client id, shared with every other client of that connection, and waits for ``pacer``
        (default: this client's).

        With a ``budget``, every retry draws from it, a 503's ``retry-after`` pauses it, and a
        429 is raised at once for the caller to pause the whole budget
        (``client.retry.BudgetedRetryPolicy``); without one,
        the connection's retry policy applies. This client stays the caller's: it holds no
        connection unless it was used.
        """
        pacer = pacer or self.pacer
        client = AsyncFireflyClient(
            self.credentials,
            self.http,
            self.token_cache,
            shared_store=self.shared_store,
            on_token=self.on_token,
            user_agent=self.user_agent,
            token_manager=self._token_manager,
            pacer=pacer,
        )
        policy = (
            RetryPolicy.from_settings(self.http)
            if budget is None
            else BudgetedRetryPolicy.from_settings(self.http, budget=budget)
        )
        client.transport = SharedAsyncTransport(
            self.http,
            user_agent=self.user_agent,
            policy=policy,
            pool_key=connection_key(self.http, self.credentials.client_id),
            pacer=pacer,
        )
        return client

    async def get_access_token(self) -> str:
        return (await self.token_manager.aget_token()).value

    async def request(
        self, method: str, path_or_url: str, **options: Unpack[RequestOptions]
    ) -> HttpResponse:
        """An authenticated call; a 401 drops the token, refreshes it and retries once."""
        token = await self.token_manager.aget_token()
        for attempt in (1, 2):
            url, signed = self._signed(method, path_or_url, options, token)
            try:
                return await self.transport.request(method, url, **signed)
            except FireflyAuthError as error:
                self._refresh_once(error, attempt, signed.get("subject"))
                await asyncio.to_thread(self.token_manager.invalidate, token.value)
                token = await self.token_manager.aget_token(force_refresh=True)
        raise AssertionError("unreachable")  # pragma: no cover

    async def submit(
        self, operation: str | Operation, body: Mapping[str, Any], **options: Unpack[SubmitOptions]
    ) -> JobHandle:
        """Start a job (see :meth:`FireflyClient.submit`)."""
        op, request = self._submission(operation, body, options)
        return self._accepted(op, await self.request(op.method, op.path, **request))

    async def get_status(self, job: JobRef) -> JobStatus:
        """The job's current status (one request)."""
        url = self._status_url(job)
        return self._status_of(job, await self.request("GET", url, subject="GET /v3/status"))

    async def cancel(self, job: JobRef) -> bool:
        """Ask Firefly to cancel; False if the job had already ended."""
        try:
            await self.request("PUT", self._cancel_url(job), subject="PUT /v3/cancel")
        except FireflyConflictError as error:
            return self._already_ended(error)
        return True

    async def aclose(self) -> None:
        """Close pooled connections (the client opens new ones if used again)."""
        await self.transport.aclose()
        self._close_token_transport()

    async def __aenter__(self) -> AsyncFireflyClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
