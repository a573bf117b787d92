"""HTTP transports: ``requests`` for blocking code, ``httpx`` for asyncio, one retry policy.

The blocking one lives here; :class:`AsyncTransport` (in :mod:`.async_transport`) and the
shared types (in :mod:`.http_base`) are re-exported.

A transport sends one logical request, retries it as :class:`RetryPolicy` says, and either
returns a 2xx/3xx :class:`HttpResponse` or raises the typed error for the failure. It knows
nothing of tokens: the auth layer adds headers, and downloads of presigned URLs go through
:func:`~airflow_provider_firefly.client.downloads.stream_download` with no credentials at all.

Every attempt reads its reply in chunks under the bounds of :mod:`.limits`: at most
``MAX_JSON_BYTES`` kept, and the whole attempt, body included, within the settings'
``request_deadline`` (``read_timeout`` alone only bounds the gap between two bytes).

Error messages name the method, host and path, never a query string: presigned URLs carry
their signature there.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Iterator

import requests

from airflow_provider_firefly.client.async_transport import AsyncTransport
from airflow_provider_firefly.client.config import HttpSettings
from airflow_provider_firefly.client.http_base import (
    HttpResponse,
    StreamResult,
    body_for,
    check_response,
    describe_url,
)
from airflow_provider_firefly.client.http_clients import (
    harden_session,
    new_session,
    request_options,
)
from airflow_provider_firefly.client.http_errors import requests_error, urllib3_error
from airflow_provider_firefly.client.limits import Deadline
from airflow_provider_firefly.client.pacing import TaskPacer
from airflow_provider_firefly.client.retry import RetryPolicy
from airflow_provider_firefly.client.transport_base import RequestOptions, TransportBase
from airflow_provider_firefly.client.watchdog import AttemptWatch

if sys.version_info >= (3, 11):
    # At run time too (3.11+), so that documentation tools can read the signatures.
    from typing import Unpack

__all__ = [
    "AsyncTransport",
    "HttpResponse",
    "RequestOptions",
    "StreamResult",
    "SyncTransport",
    "attempt_error",
    "check_response",
    "describe_url",
    "iter_body",
]

log = logging.getLogger("airflow_provider_firefly.client")

#: Bytes asked of the socket per read; a read returns as soon as any bytes arrived.
_READ_CHUNK = 64 * 1024


def iter_body(
    response: requests.Response, subject: str, read_timeout: float, chunk_size: int = _READ_CHUNK
) -> Iterator[bytes]:
    """The decoded body of a streamed ``requests`` response, chunk by chunk.

    ``read1`` returns as soon as some bytes arrived (``iter_content`` would wait for a full
    chunk: a server trickling one byte a second could hold it for hours), and urllib3
    decompresses in bounded steps, so a gzip bomb never expands in one go. The caller counts
    the bytes and checks its deadline between chunks.
    """
    from urllib3.exceptions import HTTPError as Urllib3Error

    raw = response.raw
    try:
        while chunk := raw.read1(chunk_size, decode_content=True):
            yield chunk
    except (Urllib3Error, OSError) as error:
        raise urllib3_error(error, subject, read_timeout) from None


def attempt_error(
    error: Exception,
    *,
    watch: AttemptWatch,
    deadline: Deadline,
    subject: str,
    url: str,
    read_timeout: float,
) -> Exception:
    """The error of a failed blocking attempt: the deadline if it cut the attempt (whatever
    the broken socket raised), else the typed error of ``error``."""
    if watch.fired or deadline.remaining() == 0:
        return deadline.expired_error()
    if isinstance(error, requests.RequestException):
        return requests_error(error, subject, read_timeout, url)
    return error


class SyncTransport(TransportBase):
    """Blocking transport on a pooled ``requests.Session``.

    Takes the arguments of :class:`~.transport_base.TransportBase`, and:

    :param session: an existing session to use (the caller then owns it); it is made to keep
        no cookie and to ignore ``~/.netrc``, like the transport's own.

    Every attempt of :meth:`request` (retries included) waits for the pacer; downloads
    (:func:`~airflow_provider_firefly.client.downloads.stream_download`) are not paced.
    """

    def __init__(
        self,
        settings: HttpSettings,
        *,
        user_agent: str,
        policy: RetryPolicy | None = None,
        session: requests.Session | None = None,
        pacer: TaskPacer | None = None,
    ) -> None:
        super().__init__(settings, user_agent=user_agent, policy=policy, pacer=pacer)
        self._owns_session = session is None
        self.session = harden_session(session) if session is not None else new_session()

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.settings.connect_timeout, self.settings.read_timeout)

    def timeout_within(self, deadline: Deadline) -> tuple[float, float]:
        """Connect and read timeouts that also end by ``deadline`` (the headers must arrive
        before it too)."""
        left = deadline.remaining()
        if left is None:
            return self.timeout
        left = max(left, 0.001)
        return (min(self.settings.connect_timeout, left), min(self.settings.read_timeout, left))

    def request(
        self,
        method: str,
        url: str,
        *,
        policy: RetryPolicy | None = None,
        **options: Unpack[RequestOptions],
    ) -> HttpResponse:
        """Send with retries (``policy`` or the transport's); return a 2xx/3xx response or
        raise the typed error."""
        out = self.outgoing(method, url, options)
        params = options.get("params")
        read_timeout = self.settings.read_timeout

        def attempt() -> HttpResponse:
            deadline = Deadline(self.settings.request_deadline, out.subject)
            try:
                with (
                    AttemptWatch(deadline.remaining()) as watch,
                    self.session.request(
                        method,
                        url,
                        headers=out.headers,
                        params=params,
                        data=out.data,
                        timeout=self.timeout_within(deadline),
                        allow_redirects=False,
                        stream=True,
                        **request_options(url, self.settings),
                    ) as response,
                ):
                    body = body_for(response.status_code, deadline, out.subject)
                    for chunk in iter_body(response, out.subject, read_timeout):
                        if not body.add(chunk):
                            break
                    if not watch.finish():
                        raise deadline.expired_error()
                    result = HttpResponse(
                        response.status_code, response.headers, body.content(), response.url
                    )
            except Exception as error:
                raise attempt_error(
                    error,
                    watch=watch,
                    deadline=deadline,
                    subject=out.subject,
                    url=url,
                    read_timeout=read_timeout,
                ) from None
            check_response(result.status, result.headers, result.content, out.subject)
            return result

        paced = attempt if self.pacer is None else functools.partial(self.pacer.call, attempt)
        idempotent = options.get("idempotent", True)
        return (policy or self.policy).call(paced, out.subject, idempotent=idempotent)

    def close(self) -> None:
        if self._owns_session:
            self.session.close()
