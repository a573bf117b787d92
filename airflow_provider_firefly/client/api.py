"""The Firefly API client: authenticated calls, jobs, uploads, downloads, custom models.

:class:`FireflyClient` (blocking, ``requests``) and :class:`AsyncFireflyClient` (asyncio,
``httpx``) share one base that builds every request and reads every reply, one retry policy
and one token manager; only the sending differs.

Typical use::

    client = FireflyClient(FireflyCredentials("my-client-id", "my-secret"))
    job = client.generate_images({"prompt": "a lighthouse at dawn", "numVariations": 2})
    status = client.wait(job, timeout=600)
    for output in status.outputs:
        client.download(output, f"/tmp/lighthouse-{output.seed}.png")
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import IO, Any, BinaryIO
from urllib.parse import urljoin, urlsplit

import requests

from airflow_provider_firefly import __version__
from airflow_provider_firefly.client.config import (
    FireflyCredentials,
    HttpSettings,
    TokenCacheSettings,
)
from airflow_provider_firefly.client.downloads import download_to_path, stream_download
from airflow_provider_firefly.client.errors import (
    FireflyAuthError,
    FireflyConfigError,
    FireflyConflictError,
    FireflyError,
    FireflyValidationError,
)
from airflow_provider_firefly.client.ims import mint_token
from airflow_provider_firefly.client.jobs import (
    JobHandle,
    JobOutput,
    JobStatus,
    parse_job_status,
    parse_submit_response,
)
from airflow_provider_firefly.client.limits import MAX_MODEL_PAGES, MAX_UPLOAD_BYTES
from airflow_provider_firefly.client.operations import OPERATIONS, Operation, get_operation
from airflow_provider_firefly.client.pacing import TaskPacer
from airflow_provider_firefly.client.polling import PollPolicy, wait_for_job
from airflow_provider_firefly.client.retry import RetryPolicy
from airflow_provider_firefly.client.submit_methods import SubmitMethods
from airflow_provider_firefly.client.tokens import AccessToken, SharedTokenStore, TokenManager
from airflow_provider_firefly.client.transport import (
    AsyncTransport,
    HttpResponse,
    StreamResult,
    SyncTransport,
)
from airflow_provider_firefly.client.uploads import UPLOAD_TYPES, read_upload, sniff_image_type

__all__ = [
    "MAX_UPLOAD_BYTES",
    "AsyncFireflyClient",
    "FireflyClient",
    "PollPolicy",
    "sniff_image_type",
]

log = logging.getLogger("airflow_provider_firefly.client")

JobRef = JobHandle | str


def _is_url(value: str) -> bool:
    """An http(s) URL, as opposed to a path or a job id (``urn:ff:jobs:...`` has a scheme too)."""
    return urlsplit(value).scheme.lower() in ("http", "https")


def _default_user_agent() -> str:
    return f"airflow-provider-firefly/{__version__} python-requests/{requests.__version__}"


class _ClientBase:
    """Everything the sync and async clients share: configuration, URLs, headers, parsing."""

    def __init__(
        self,
        credentials: FireflyCredentials,
        http: HttpSettings | None = None,
        token_cache: TokenCacheSettings | None = None,
        *,
        shared_store: SharedTokenStore | None = None,
        on_token: Callable[[str], None] | None = None,
        user_agent: str | None = None,
        token_manager: TokenManager | None = None,
        pacer: TaskPacer | None = None,
    ) -> None:
        """A client; nothing is sent until the first request.

        :param credentials: the IMS OAuth server-to-server credentials.
        :param http: endpoints, timeouts and retry budget; defaults to Adobe's endpoints.
        :param token_cache: where access tokens are cached between processes.
        :param shared_store: a store shared by many processes (the hook passes Airflow Variables).
        :param on_token: called with each new access token (the hook masks it in Airflow's logs).
        :param user_agent: the ``User-Agent`` header; defaults to this package and its version.
        :param token_manager: a ready token manager, shared by several clients.
        :param pacer: this task's share of the organisation's request budget; every Firefly
            request waits for it (see :mod:`airflow_provider_firefly.client.pacing`).
        """
        self.credentials = credentials
        # This task's share of the organisation's budget: every Firefly request waits for it.
        self.pacer = pacer
        self.http = http or HttpSettings()
        self.token_cache = token_cache or TokenCacheSettings()
        self.shared_store = shared_store
        self.on_token = on_token
        self.user_agent = user_agent or _default_user_agent()
        if token_manager is not None:
            self.__dict__["token_manager"] = token_manager

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(client_id={self.credentials.client_id!r}, "
            f"api_url={self.http.api_url!r})"
        )

    @cached_property
    def _token_transport(self) -> SyncTransport:
        return SyncTransport(self.http, user_agent=self.user_agent)

    @cached_property
    def token_manager(self) -> TokenManager:
        """The token manager; its caches are shared by every client of the same credential."""
        return TokenManager(
            self.credentials,
            lambda: mint_token(self.credentials, self._token_transport),
            self.token_cache,
            shared_store=self.shared_store,
            on_token=self.on_token,
        )

    def url_for(self, path_or_url: str) -> str:
        """An absolute URL: full URLs (status URLs as returned) are kept as they are."""
        if _is_url(path_or_url):
            return path_or_url
        return urljoin(self.http.api_url + "/", path_or_url.lstrip("/"))

    def _auth_headers(self, url: str, token: AccessToken) -> dict[str, str]:
        if not self.http.may_send_token_to(url):
            host = urlsplit(url).hostname
            raise FireflyConfigError(
                f"refusing to send the Firefly token to {host!r}: only the connection's API "
                f"host ({self.http.api_host}) and Adobe's *.adobe.io hosts may receive it",
                field="api_url",
            )
        return {"Authorization": f"Bearer {token.value}", "x-api-key": self.credentials.client_id}

    def _target(self, method: str, path_or_url: str, what: str | None) -> tuple[str, str]:
        url = self.url_for(path_or_url)
        return url, what or f"{method} {urlsplit(url).path}"

    @staticmethod
    def _refresh_once(error: FireflyAuthError, attempt: int, what: str) -> None:
        """Re-raise unless this is the first 401 of the call (then the caller refreshes)."""
        if attempt == 2 or error.status != 401:
            raise error
        log.info("%s: token refused (HTTP 401); refreshing it once", what)

    def _status_url(self, job: JobRef) -> str:
        if isinstance(job, JobHandle):
            return job.status_url
        if _is_url(job):
            return job
        return JobHandle.for_job_id(self.http.api_url, job).status_url

    def _cancel_url(self, job: JobRef) -> str:
        if isinstance(job, JobHandle) and job.cancel_url:
            return job.cancel_url
        if isinstance(job, JobHandle):
            job = job.job_id
        if _is_url(job):
            return job.replace("/v3/status/", "/v3/cancel/")
        cancel = JobHandle.for_job_id(self.http.api_url, job).cancel_url
        assert cancel is not None
        return cancel

    @staticmethod
    def _submit_request(
        operation: str | Operation, body: Mapping[str, Any], model_version: str | None
    ) -> tuple[Operation, dict[str, str]]:
        op = operation if isinstance(operation, Operation) else get_operation(operation)
        if not op.submits_job:
            raise FireflyConfigError(
                f"{op.name} does not start a job; call its own method", field="operation"
            )
        if not isinstance(body, Mapping) or not body:
            raise FireflyValidationError(
                f"{op.label} needs a non-empty JSON object body",
                errors=[{"loc": ["body"], "msg": "body is empty", "type": "value_error"}],
            )
        headers: dict[str, str] = {}
        version = op.check_model_version(model_version)
        if version:
            headers["x-model-version"] = version
        return op, headers


class FireflyClient(SubmitMethods, _ClientBase):
    """Blocking Firefly client (``requests``), safe to share between threads."""

    @cached_property
    def transport(self) -> SyncTransport:
        return SyncTransport(self.http, user_agent=self.user_agent, pacer=self.pacer)

    def get_access_token(self) -> str:
        """A valid IMS access token, from the caches when possible."""
        return self.token_manager.get_token().value

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        json_body: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        idempotent: bool = True,
        what: str | None = None,
        policy: RetryPolicy | None = None,
    ) -> HttpResponse:
        """An authenticated call; a 401 drops the token, refreshes it and retries once.

        :param policy: a retry policy for this call instead of the transport's.
        """
        url, what = self._target(method, path_or_url, what)
        token = self.token_manager.get_token()
        for attempt in (1, 2):
            try:
                return self.transport.request(
                    method,
                    url,
                    headers={**(headers or {}), **self._auth_headers(url, token)},
                    json_body=json_body,
                    content=content,
                    params=params,
                    idempotent=idempotent,
                    what=what,
                    policy=policy,
                )
            except FireflyAuthError as error:
                self._refresh_once(error, attempt, what)
                self.token_manager.invalidate(token.value)
                token = self.token_manager.get_token(force_refresh=True)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- jobs ---------------------------------------------------------------------------------

    def submit(
        self,
        operation: str | Operation,
        body: Mapping[str, Any],
        *,
        model_version: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> JobHandle:
        """Start a job. Never retried where Adobe may have accepted it (no double billing)."""
        op, sent = self._submit_request(operation, body, model_version)
        response = self.request(
            op.method,
            op.path,
            json_body=dict(body),
            headers={**sent, **(headers or {})},
            idempotent=False,
            what=op.label,
        )
        handle = parse_submit_response(
            response.json(), what=op.label, api_url=self.http.api_url, headers=response.headers
        )
        log.info("%s accepted job %s", op.label, handle.job_id)
        return handle

    def get_status(self, job: JobRef, *, wait_out_rate_limits: bool = True) -> JobStatus:
        """The job's current status (one request), polling the status URL as returned.

        :param wait_out_rate_limits: False raises a 429 at once (for a caller with its own
            schedule, like :meth:`wait`) instead of retrying it within the retry budget.
        """
        url = self._status_url(job)
        policy = None
        if not wait_out_rate_limits:
            policy = replace(self.transport.policy, hand_back_rate_limits=True)
        response = self.request("GET", url, what="GET /v3/status", policy=policy)
        job_id = job.job_id if isinstance(job, JobHandle) else None
        return parse_job_status(response.json(), job_id=job_id)

    def cancel(self, job: JobRef) -> bool:
        """Ask Firefly to cancel; False if the job had already finished or been cancelled."""
        try:
            self.request("PUT", self._cancel_url(job), what="PUT /v3/cancel")
        except FireflyConflictError as error:
            log.info("cancel: job already ended (%s)", error.error_code or error.status)
            return False
        return True

    def wait(
        self,
        job: JobRef,
        *,
        timeout: float | None = None,
        poll: PollPolicy | None = None,
        expected_seconds: float = 15.0,
        on_status: Callable[[JobStatus], None] | None = None,
        cancel_on_timeout: bool = True,
        sleep: Callable[[float], None] = time.sleep,
    ) -> JobStatus:
        """Poll until the job ends; raise the typed error unless it succeeded.

        :param timeout: seconds before giving up with :class:`FireflyJobTimeoutError`; the job
            is then cancelled unless ``cancel_on_timeout`` is False. A rate-limited poll is
            waited out until then (see ``client.polling.wait_for_job``).
        :param poll: the schedule; give it ``requests_per_minute`` to stay in the budget.
        """
        if self.pacer is not None and timeout is not None:
            # the pacer's 429 retries must not outlast the wait's deadline
            self.pacer.give_up_after(timeout)
        return wait_for_job(
            job,
            # 429s come back at once: the loop waits them out within its own deadline.
            lambda ref: self.get_status(ref, wait_out_rate_limits=False),
            job_id=job.job_id if isinstance(job, JobHandle) else job,
            timeout=timeout,
            poll=poll or PollPolicy(),
            expected_seconds=expected_seconds,
            on_status=on_status,
            on_timeout=self._cancel_quietly if cancel_on_timeout else None,
            sleep=sleep,
        )

    def _cancel_quietly(self, job: JobRef) -> None:
        job_id = job.job_id if isinstance(job, JobHandle) else job
        try:
            cancelled = self.cancel(job)
            log.warning(
                "Firefly job %s: deadline passed; cancel %s",
                job_id,
                "requested" if cancelled else "not needed",
            )
        except FireflyError as error:
            log.warning("Firefly job %s: deadline passed; cancel failed: %s", job_id, error)

    def run(
        self,
        operation: str | Operation,
        body: Mapping[str, Any],
        *,
        model_version: str | None = None,
        timeout: float | None = 3600.0,
        poll: PollPolicy | None = None,
    ) -> JobStatus:
        """Submit, then wait: the whole job in one call."""
        op = operation if isinstance(operation, Operation) else get_operation(operation)
        handle = self.submit(op, body, model_version=model_version)
        return self.wait(handle, timeout=timeout, poll=poll, expected_seconds=op.expected_seconds)

    # -- storage -----------------------------------------------------------------------------

    def upload_image(
        self,
        source: bytes | str | os.PathLike[str] | BinaryIO,
        *,
        content_type: str | None = None,
    ) -> str:
        """Upload an image (bytes, a local path or a binary file) and return its upload id.

        The type is sniffed from the bytes when not given; more than 15 MB or an unsupported
        type is refused before any request.
        """
        data = read_upload(source)
        sniffed = sniff_image_type(data[:32])
        content_type = content_type or sniffed
        if content_type not in UPLOAD_TYPES:
            raise FireflyValidationError(
                "image must be PNG, JPEG, WEBP, TIFF or JXL"
                + (f", got {content_type!r}" if content_type else ""),
                errors=[{"loc": ["image"], "msg": "unsupported type", "type": "type_error"}],
            )
        op = OPERATIONS["upload_image"]
        response = self.request(
            op.method,
            op.path,
            content=data,
            headers={"Content-Type": content_type},
            what=op.label,
        )
        payload = response.json()
        images = payload.get("images") if isinstance(payload, dict) else None
        if not images or not isinstance(images[0], dict) or not images[0].get("id"):
            raise FireflyError(f"{op.label} answered without an upload id")
        upload_id = str(images[0]["id"])
        log.info("uploaded %d bytes (%s) as %s", len(data), content_type, upload_id)
        return upload_id

    def download(
        self,
        output: JobOutput | str,
        destination: str | os.PathLike[str] | Callable[[], AbstractContextManager[IO[bytes]]],
        *,
        chunk_size: int = 1 << 20,
        job_id: str | None = None,
        discard: Callable[[], None] | None = None,
    ) -> StreamResult:
        """Stream an output to a local path (written atomically) or to a writer factory.

        No credentials are sent to the presigned URL; https only, redirects checked, at most
        ``max_output_bytes`` saved (see ``client.downloads``). Memory use is one chunk.

        :param job_id: named in a refusal (:class:`FireflyDownloadRefusedError`).
        :param discard: with a writer factory, called when the download fails, to delete
            what the writer wrote (a local path is cleaned up without it).
        """
        url = output.url if isinstance(output, JobOutput) else output
        if not callable(destination):
            return download_to_path(
                self.transport, url, Path(destination), chunk_size=chunk_size, job_id=job_id
            )
        try:
            return stream_download(
                self.transport, url, destination, chunk_size=chunk_size, job_id=job_id
            )
        except BaseException:
            if discard is not None:
                discard()
            raise

    def list_custom_models(
        self, *, page_size: int = 20, sort_by: str | None = None, published_state: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every custom model the credential can use, fetched page by page."""
        if not 1 <= page_size <= 50:
            # The spec caps ``limit`` at 50; Adobe answers 400 above it.
            raise FireflyConfigError("page_size must be from 1 to 50", field="page_size")
        op = OPERATIONS["list_custom_models"]
        start = 0
        seen_next: set[str] = set()
        for _page in range(MAX_MODEL_PAGES):
            params: dict[str, Any] = {"start": start, "limit": page_size}
            if sort_by:
                params["sortBy"] = sort_by
            if published_state:
                params["publishedState"] = published_state
            # The spec makes x-request-id required on this route (Adobe support traces it).
            payload = self.request(
                op.method,
                op.path,
                params=params,
                headers={"x-request-id": str(uuid.uuid4())},
                what=op.label,
            ).json()
            models = payload.get("custom_models") if isinstance(payload, dict) else None
            if not isinstance(models, list):
                return
            yield from (m for m in models if isinstance(m, dict))
            start += len(models)
            total = payload.get("total_count")
            links = payload.get("_links") if isinstance(payload.get("_links"), dict) else {}
            following = links.get("next")
            more = (isinstance(total, int) and start < total) or bool(following)
            if not models or not more:
                return
            # A server that keeps sending the same ``next`` would page for ever.
            marker = repr(following)[:2048] if following else f"start={start}"
            if marker in seen_next:
                raise FireflyError(
                    f"{op.label}: the server sent the same next page twice; stopped paging"
                )
            seen_next.add(marker)
        raise FireflyError(
            f"{op.label}: more than {MAX_MODEL_PAGES} pages of custom models; stopped paging "
            "(a server that never ends its list?)"
        )

    def close(self) -> None:
        """Close pooled connections."""
        for name in ("transport", "_token_transport"):
            transport = self.__dict__.pop(name, None)
            if transport is not None:
                transport.close()

    def __enter__(self) -> FireflyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncFireflyClient(_ClientBase):
    """Asyncio Firefly client (``httpx``) for triggers: status, cancel and generic calls.

    Shares the token caches of :class:`FireflyClient`; a token is minted in a worker thread
    only on a cache miss, so the event loop never blocks.
    """

    @cached_property
    def transport(self) -> AsyncTransport:
        return AsyncTransport(self.http, user_agent=self.user_agent, pacer=self.pacer)

    def use_transport(self, transport: AsyncTransport) -> None:
        """Send through ``transport`` from now on (e.g. one sharing a rate budget and a
        connection pool with other clients); the current one is dropped unclosed only if it
        was never used. A transport that can bind to a connection (a shared one) is bound
        to this client's id, so its pool is shared with this connection's clients only."""
        current = self.__dict__.get("transport")
        if current is not None and current is not transport and current._client is not None:
            raise RuntimeError("use_transport() must be called before the first request")
        bind = getattr(transport, "bind_connection", None)
        if callable(bind):
            bind(self.credentials.client_id)
        if transport.pacer is None:
            transport.pacer = self.pacer
        self.__dict__["transport"] = transport

    async def get_access_token(self) -> str:
        return (await self.token_manager.aget_token()).value

    async def request(
        self,
        method: str,
        path_or_url: str,
        *,
        json_body: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        idempotent: bool = True,
        what: str | None = None,
    ) -> HttpResponse:
        """An authenticated call; a 401 drops the token, refreshes it and retries once."""
        url, what = self._target(method, path_or_url, what)
        token = await self.token_manager.aget_token()
        for attempt in (1, 2):
            try:
                return await self.transport.request(
                    method,
                    url,
                    headers={**(headers or {}), **self._auth_headers(url, token)},
                    json_body=json_body,
                    content=content,
                    params=params,
                    idempotent=idempotent,
                    what=what,
                )
            except FireflyAuthError as error:
                self._refresh_once(error, attempt, what)
                await asyncio.to_thread(self.token_manager.invalidate, token.value)
                token = await self.token_manager.aget_token(force_refresh=True)
        raise AssertionError("unreachable")  # pragma: no cover

    async def submit(
        self,
        operation: str | Operation,
        body: Mapping[str, Any],
        *,
        model_version: str | None = None,
    ) -> JobHandle:
        """Start a job (see :meth:`FireflyClient.submit`)."""
        op, sent = self._submit_request(operation, body, model_version)
        response = await self.request(
            op.method, op.path, json_body=dict(body), headers=sent, idempotent=False, what=op.label
        )
        return parse_submit_response(
            response.json(), what=op.label, api_url=self.http.api_url, headers=response.headers
        )

    async def get_status(self, job: JobRef) -> JobStatus:
        """The job's current status (one request)."""
        response = await self.request("GET", self._status_url(job), what="GET /v3/status")
        job_id = job.job_id if isinstance(job, JobHandle) else None
        return parse_job_status(response.json(), job_id=job_id)

    async def cancel(self, job: JobRef) -> bool:
        """Ask Firefly to cancel; False if the job had already ended."""
        try:
            await self.request("PUT", self._cancel_url(job), what="PUT /v3/cancel")
        except FireflyConflictError as error:
            log.info("cancel: job already ended (%s)", error.error_code or error.status)
            return False
        return True

    async def aclose(self) -> None:
        transport = self.__dict__.pop("transport", None)
        if transport is not None:
            await transport.aclose()
        token_transport = self.__dict__.pop("_token_transport", None)
        if token_transport is not None:
            token_transport.close()

    async def __aenter__(self) -> AsyncFireflyClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
