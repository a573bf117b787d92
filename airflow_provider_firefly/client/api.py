"""The Firefly API client: authenticated calls, jobs, uploads, downloads, custom models.

:class:`FireflyClient` (blocking, ``requests``) and
:class:`~airflow_provider_firefly.client.async_api.AsyncFireflyClient` (asyncio, ``httpx``,
re-exported here) share one base (``client._api_base``) that builds every request and reads every
reply, one retry policy and one token manager; only the sending differs.

Typical use::

    client = FireflyClient(FireflyCredentials("my-client-id", "my-secret"))
    job = client.generate_images({"prompt": "a lighthouse at dawn", "numVariations": 2})
    status = client.wait(job, timeout=600)
    for output in status.outputs:
        client.download(output, f"/tmp/lighthouse-{output.seed}.png")
"""

from __future__ import annotations

import logging
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from typing import IO, Any, BinaryIO

from airflow_provider_firefly.client._api_base import ClientBase, JobRef, SubmitOptions
from airflow_provider_firefly.client.async_api import AsyncFireflyClient
from airflow_provider_firefly.client.downloads import download_to_path, stream_download
from airflow_provider_firefly.client.errors import (
    FireflyAuthError,
    FireflyConfigError,
    FireflyConflictError,
    FireflyError,
    FireflyValidationError,
)
from airflow_provider_firefly.client.jobs import JobHandle, JobOutput, JobStatus
from airflow_provider_firefly.client.limits import MAX_MODEL_PAGES, MAX_UPLOAD_BYTES
from airflow_provider_firefly.client.operations import OPERATIONS, Operation, get_operation
from airflow_provider_firefly.client.polling import PollPolicy, wait_for_job
from airflow_provider_firefly.client.retry import RetryPolicy
from airflow_provider_firefly.client.submit_methods import SubmitMethods
from airflow_provider_firefly.client.transport import (
    HttpResponse,
    RequestOptions,
    StreamResult,
    SyncTransport,
)
from airflow_provider_firefly.client.uploads import UPLOAD_TYPES, read_upload, sniff_image_type

if sys.version_info >= (3, 11):
    # At run time too (3.11+), so that documentation tools can read the signatures.
    from typing import Unpack

__all__ = [
    "MAX_UPLOAD_BYTES",
    "AsyncFireflyClient",
    "FireflyClient",
    "PollPolicy",
    "sniff_image_type",
]

log = logging.getLogger("airflow_provider_firefly.client")


class FireflyClient(SubmitMethods, ClientBase):
    """Blocking Firefly client (``requests``), safe to share between threads.

    Takes the arguments of its base, ``client._api_base.ClientBase`` (below).
    """

    transport: SyncTransport

    def _open(self) -> None:
        self.transport = SyncTransport(self.http, user_agent=self.user_agent, pacer=self.pacer)

    def get_access_token(self) -> str:
        """A valid IMS access token, from the caches when possible."""
        return self.token_manager.get_token().value

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        policy: RetryPolicy | None = None,
        **options: Unpack[RequestOptions],
    ) -> HttpResponse:
        """An authenticated call; a 401 drops the token, refreshes it and retries once.

        :param policy: a retry policy for this call instead of the transport's.
        """
        token = self.token_manager.get_token()
        for attempt in (1, 2):
            url, signed = self._signed(method, path_or_url, options, token)
            try:
                return self.transport.request(method, url, policy=policy, **signed)
            except FireflyAuthError as error:
                self._refresh_once(error, attempt, signed.get("subject"))
                self.token_manager.invalidate(token.value)
                token = self.token_manager.get_token(force_refresh=True)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- jobs ---------------------------------------------------------------------------------

    def submit(
        self, operation: str | Operation, body: Mapping[str, Any], **options: Unpack[SubmitOptions]
    ) -> JobHandle:
        """Start a job. Never retried where Adobe may have accepted it (no double billing).

        :param options: ``model_version`` and extra ``headers`` (``SubmitOptions``).
        """
        op, request = self._submission(operation, body, options)
        return self._accepted(op, self.request(op.method, op.path, **request))

    def get_status(self, job: JobRef, *, wait_out_rate_limits: bool = True) -> JobStatus:
        """The job's current status (one request), polling the status URL as returned.

        :param wait_out_rate_limits: False raises a 429 at once (for a caller with its own
            schedule, like :meth:`wait`) instead of retrying it within the retry budget.
        """
        policy = None
        if not wait_out_rate_limits:
            policy = replace(self.transport.policy, hand_back_rate_limits=True)
        url = self._status_url(job)
        return self._status_of(
            job, self.request("GET", url, subject="GET /v3/status", policy=policy)
        )

    def cancel(self, job: JobRef) -> bool:
        """Ask Firefly to cancel; False if the job had already finished or been cancelled."""
        try:
            self.request("PUT", self._cancel_url(job), subject="PUT /v3/cancel")
        except FireflyConflictError as error:
            return self._already_ended(error)
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
            subject=op.label,
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
                subject=op.label,
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
        """Close pooled connections (the client opens new ones if used again)."""
        self.transport.close()
        self._close_token_transport()

    def __enter__(self) -> FireflyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
