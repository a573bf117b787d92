"""Downloads of presigned output URLs: bounded, never wandering, never left half-written.

An output URL comes from a job status, which a server (or anyone who can plant a job record)
controls. So a download:

* goes only to ``https`` (plain ``http`` only when the connection's own API is plain http on
  loopback, the emulator, and then only to loopback);
* follows at most :data:`~.limits.MAX_REDIRECTS` redirects, each to ``https`` only: never a
  downgrade to http, never another scheme, whatever the API URL;
* saves at most the settings' ``max_output_bytes``, counted on decoded bytes (a 64 KiB gzip
  bomb counts as the 64 MiB it expands to), within the ``request_deadline``;
* sends no credential, and leaves no partial file behind (a local path is written to a
  temporary file and renamed; a writer factory's ``discard`` is called on failure).

A refusal is a :class:`FireflyDownloadRefusedError` naming the output (and the job, when the
caller passes its id); it is not retried.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO
from urllib.parse import urljoin, urlsplit

import requests

from airflow_provider_firefly.client.config import HttpSettings, is_loopback_host
from airflow_provider_firefly.client.errors import (
    FireflyDownloadRefusedError,
    FireflyOutputExpiredError,
)
from airflow_provider_firefly.client.http_clients import request_options
from airflow_provider_firefly.client.http_errors import output_error
from airflow_provider_firefly.client.limits import MAX_REDIRECTS, Deadline
from airflow_provider_firefly.client.transport import (
    StreamResult,
    SyncTransport,
    attempt_error,
    describe_url,
    iter_body,
)
from airflow_provider_firefly.client.watchdog import AttemptWatch

__all__ = ["download_to_path", "output_url_problem", "redirect_problem", "stream_download"]

SinkFactory = Callable[[], AbstractContextManager[IO[bytes]]]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})


def _plain(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "")


def output_url_problem(url: str, settings: HttpSettings) -> str | None:
    """Why ``url`` may not be downloaded at all, or None when it may."""
    scheme, host = _plain(url)
    if scheme == "https" and host:
        return None
    if scheme == "http" and settings.plain_http_allowed and is_loopback_host(host):
        return None
    if scheme == "https":
        return "the output URL has no host"
    return (
        f"the output URL uses {scheme or 'no'} scheme; only https outputs are fetched (plain "
        "http only from loopback when the connection's API URL is a local emulator)"
    )


def redirect_problem(target: str) -> str | None:
    """Why a redirect to ``target`` may not be followed, or None when it may (https only)."""
    scheme, host = _plain(target)
    if scheme != "https" or not host:
        return (
            f"the server redirected to a {scheme or 'relative'} URL on {host or 'no host'!r}; "
            "only redirects to https are followed"
        )
    return None


def stream_download(
    transport: SyncTransport,
    url: str,
    open_sink: SinkFactory,
    *,
    chunk_size: int = 1 << 20,
    subject: str | None = None,
    job_id: str | None = None,
) -> StreamResult:
    """Stream ``url`` into the writer ``open_sink()`` returns, under the rules above.

    Each attempt reopens the sink, so a retried download overwrites a partial one.
    400/403/404/410 raise :class:`FireflyOutputExpiredError`.
    """
    settings = transport.settings
    output = describe_url(url)
    subject = subject or f"download {output}"
    limit = settings.max_output_bytes

    def refused(reason: str) -> FireflyDownloadRefusedError:
        return FireflyDownloadRefusedError(reason, output=output, job_id=job_id)

    problem = output_url_problem(url, settings)
    if problem:
        raise refused(problem)

    def too_large() -> FireflyDownloadRefusedError:
        return refused(
            f"it is larger than max_output_bytes ({limit:,} bytes); raise the connection "
            "extra max_output_bytes if such outputs are expected"
        )

    def attempt() -> StreamResult:
        deadline = Deadline(settings.request_deadline, subject)
        current = url
        with AttemptWatch(deadline.remaining()) as watch:
            try:
                for _hop in range(MAX_REDIRECTS + 1):
                    with transport.session.get(
                        current,
                        headers={"User-Agent": transport.user_agent},
                        stream=True,
                        timeout=transport.timeout_within(deadline),
                        allow_redirects=False,
                        **request_options(current, settings),
                    ) as response:
                        location = response.headers.get("Location")
                        if response.status_code in _REDIRECTS and location:
                            reason = redirect_problem(urljoin(current, location))
                            if reason:
                                raise refused(reason)
                            current = urljoin(current, location)
                            continue
                        result = _save(response, open_sink, deadline, chunk_size)
                        if not watch.finish():
                            raise deadline.expired_error()
                        return result
            except (FireflyDownloadRefusedError, FireflyOutputExpiredError):
                raise
            except Exception as error:
                raise attempt_error(
                    error,
                    watch=watch,
                    deadline=deadline,
                    subject=subject,
                    url=current,
                    read_timeout=settings.read_timeout,
                ) from None
        raise refused(f"more than {MAX_REDIRECTS} redirects")

    def _save(
        response: requests.Response,
        sink_factory: SinkFactory,
        deadline: Deadline,
        size: int,
    ) -> StreamResult:
        if response.status_code >= 400:
            raise output_error(response.status_code, subject)
        declared = response.headers.get("Content-Length", "")
        encoded = response.headers.get("Content-Encoding", "identity") != "identity"
        if not encoded and declared.isdigit() and int(declared) > limit:
            raise too_large()
        written = 0
        with sink_factory() as sink:
            for chunk in iter_body(response, subject, settings.read_timeout, size):
                written += len(chunk)
                if written > limit:
                    raise too_large()
                sink.write(chunk)
                deadline.check()
        return StreamResult(written, response.headers.get("Content-Type"))

    return transport.policy.call(attempt, subject, idempotent=True)


def download_to_path(
    transport: SyncTransport,
    url: str,
    path: Path,
    *,
    chunk_size: int = 1 << 20,
    job_id: str | None = None,
) -> StreamResult:
    """Download to ``path`` through a temporary file in the same folder, renamed on success:
    ``path`` is either complete or untouched, and no temporary file survives a failure."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created like open() would (mode 0666 less the umask), unlike mkstemp's 0600.
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))

    def open_sink() -> AbstractContextManager[IO[bytes]]:
        return tmp.open("wb")

    try:
        result = stream_download(transport, url, open_sink, chunk_size=chunk_size, job_id=job_id)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return result
