"""HTTP transports: ``requests`` for blocking code, ``httpx`` for asyncio, one retry policy.

A transport sends one logical request, retries it as :class:`RetryPolicy` says, and either
returns a 2xx/3xx :class:`HttpResponse` or raises the typed error for the failure. It knows
nothing of tokens: the auth layer adds headers, and downloads of presigned URLs go through
:meth:`SyncTransport.stream_to` with no credentials at all.

Error messages name the method, host and path, never a query string: presigned URLs carry
their signature there.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import urlsplit

import requests
from requests.structures import CaseInsensitiveDict

from airflow_provider_firefly.client.config import HttpSettings
from airflow_provider_firefly.client.errors import (
    FireflyConnectionError,
    FireflyError,
    FireflyOutputExpiredError,
    FireflyTimeoutError,
    error_from_response,
)
from airflow_provider_firefly.client.retry import RetryPolicy

__all__ = [
    "AsyncTransport",
    "HttpResponse",
    "StreamResult",
    "SyncTransport",
    "check_response",
    "describe_url",
]

log = logging.getLogger("airflow_provider_firefly.client")

SinkFactory = Callable[[], AbstractContextManager[IO[bytes]]]


def describe_url(url: str) -> str:
    """``host[:port]/path`` without scheme, query or fragment: safe to log."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return f"{netloc}{parts.path}"


@dataclass(frozen=True)
class HttpResponse:
    """A finished response, independent of the HTTP library that fetched it."""

    status: int
    headers: Mapping[str, str]
    content: bytes
    url: str

    def json(self) -> Any:
        """The body as JSON; a :class:`FireflyError` (not a ``ValueError``) if it is not."""
        try:
            return json.loads(self.content or b"null")
        except ValueError:
            raise FireflyError(
                f"{describe_url(self.url)} answered HTTP {self.status} with a body that is not "
                "JSON",
                status=self.status,
                request_id=self.headers.get("x-request-id"),
            ) from None

    @property
    def request_id(self) -> str | None:
        return self.headers.get("x-request-id")


@dataclass(frozen=True)
class StreamResult:
    """What a streamed download wrote."""

    bytes_written: int
    content_type: str | None


def check_response(status: int, headers: Mapping[str, str], body: bytes, what: str) -> None:
    """Raise the typed error for a 4xx/5xx status."""
    if status >= 400:
        raise error_from_response(status, headers, body, what=what)


def _output_error(status: int, what: str) -> FireflyError:
    if status in (400, 403, 404, 410):
        return FireflyOutputExpiredError(
            f"{what} was refused (HTTP {status}): the presigned URL has expired or is invalid; "
            "Firefly output URLs live one hour, so fetch the job status again for fresh URLs",
            status=status,
        )
    return error_from_response(status, {}, b"", what=what)


def _innermost(error: BaseException) -> BaseException:
    seen = set()
    current: BaseException = error
    while id(current) not in seen:
        seen.add(id(current))
        nested = getattr(current, "reason", None)
        if isinstance(nested, BaseException):
            current = nested
            continue
        if current.args and isinstance(current.args[0], BaseException):
            current = current.args[0]
            continue
        if current.__cause__ is not None:
            current = current.__cause__
            continue
        break
    return current


def _chain(error: BaseException) -> list[BaseException]:
    """``error`` and every exception nested in it (``reason``, ``args[0]``, ``__cause__``)."""
    found: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not seen for seen in found):
        found.append(current)
        nested = getattr(current, "reason", None)
        if not isinstance(nested, BaseException):
            nested = current.args[0] if current.args else None
        if not isinstance(nested, BaseException):
            nested = current.__cause__
        current = nested
    return found


def _requests_error(
    error: requests.RequestException, what: str, read_timeout: float
) -> FireflyError:
    from urllib3.exceptions import NewConnectionError

    if isinstance(error, requests.exceptions.ConnectTimeout):
        return FireflyConnectionError(f"{what}: timed out connecting", request_sent=False)
    if isinstance(error, requests.exceptions.ReadTimeout):
        return FireflyTimeoutError(f"{what}: no response within {read_timeout:g} s")
    inner = _innermost(error)
    if isinstance(error, requests.exceptions.ConnectionError):
        # NewConnectionError (and its subclass NameResolutionError, a DNS failure) anywhere in
        # the chain means no connection was made, so nothing was sent.
        never_sent = any(
            isinstance(e, (NewConnectionError, ConnectionRefusedError)) for e in _chain(error)
        ) or ("Failed to establish a new connection" in str(inner))
        if never_sent:
            return FireflyConnectionError(
                f"{what}: could not connect ({type(inner).__name__})", request_sent=False
            )
    return FireflyConnectionError(f"{what}: connection failed ({type(inner).__name__})")


def _httpx_error(error: Exception, what: str, read_timeout: float) -> FireflyError:
    import httpx

    if isinstance(error, (httpx.ConnectTimeout, httpx.PoolTimeout)):
        return FireflyConnectionError(f"{what}: timed out connecting", request_sent=False)
    if isinstance(error, httpx.ConnectError):
        return FireflyConnectionError(
            f"{what}: could not connect ({type(_innermost(error)).__name__})", request_sent=False
        )
    if isinstance(error, httpx.TimeoutException):
        return FireflyTimeoutError(f"{what}: no response within {read_timeout:g} s")
    return FireflyConnectionError(f"{what}: connection failed ({type(error).__name__})")


@dataclass(frozen=True)
class _Outgoing:
    """A request as both transports send it: label, headers and body bytes."""

    what: str
    headers: dict[str, str]
    data: bytes | None


def _outgoing(
    user_agent: str,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None,
    json_body: Any,
    content: bytes | None,
    what: str | None,
) -> _Outgoing:
    sent = {"User-Agent": user_agent, "Accept": "application/json"}
    sent.update(headers or {})
    data = content
    if json_body is not None:
        sent.setdefault("Content-Type", "application/json")
        data = json.dumps(json_body, separators=(",", ":")).encode()
    return _Outgoing(what or f"{method} {describe_url(url)}", sent, data)


class SyncTransport:
    """Blocking transport on a pooled ``requests.Session``.

    :param settings: timeouts and retry bounds.
    :param user_agent: sent with every request.
    :param policy: the retry policy; built from ``settings`` by default.
    :param session: an existing session to use (the caller then owns it).
    """

    def __init__(
        self,
        settings: HttpSettings,
        *,
        user_agent: str,
        policy: RetryPolicy | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.settings = settings
        self.policy = policy or RetryPolicy.from_settings(settings)
        self.user_agent = user_agent
        self._owns_session = session is None
        self.session = session or requests.Session()
        # Never pick up credentials from ~/.netrc for Adobe or presigned hosts.
        self.session.trust_env = False

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.settings.connect_timeout, self.settings.read_timeout)

    def request(
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
        out = _outgoing(
            self.user_agent,
            method,
            url,
            headers=headers,
            json_body=json_body,
            content=content,
            what=what,
        )

        def attempt() -> HttpResponse:
            try:
                response = self.session.request(
                    method,
                    url,
                    headers=out.headers,
                    params=params,
                    data=out.data,
                    timeout=self.timeout,
                    allow_redirects=False,
                )
            except requests.RequestException as error:
                raise _requests_error(error, out.what, self.settings.read_timeout) from None
            result = HttpResponse(
                response.status_code, response.headers, response.content, response.url
            )
            check_response(result.status, result.headers, result.content, out.what)
            return result

        return self.policy.call(attempt, out.what, idempotent=idempotent)

    def stream_to(
        self,
        url: str,
        open_sink: SinkFactory,
        *,
        chunk_size: int = 1 << 20,
        what: str | None = None,
    ) -> StreamResult:
        """Stream ``url`` into the writer that ``open_sink()`` returns, chunk by chunk.

        No credentials are sent. Each attempt reopens the sink, so a retried download
        overwrites a partial one. 400/403/404/410 raise :class:`FireflyOutputExpiredError`.
        """
        what = what or f"download {describe_url(url)}"

        def attempt() -> StreamResult:
            try:
                with self.session.get(
                    url,
                    headers={"User-Agent": self.user_agent},
                    stream=True,
                    timeout=self.timeout,
                    allow_redirects=True,
                ) as response:
                    if response.status_code >= 400:
                        raise _output_error(response.status_code, what)
                    written = 0
                    with open_sink() as sink:
                        for chunk in response.iter_content(chunk_size=chunk_size):
                            sink.write(chunk)
                            written += len(chunk)
                    return StreamResult(written, response.headers.get("Content-Type"))
            except requests.RequestException as error:
                raise _requests_error(error, what, self.settings.read_timeout) from None

        return self.policy.call(attempt, what, idempotent=True)

    def close(self) -> None:
        if self._owns_session:
            self.session.close()


class AsyncTransport:
    """Non-blocking transport on ``httpx.AsyncClient``, with the same policy and errors.

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
    ) -> None:
        """``http_client``: an ``httpx.AsyncClient`` to share; the caller keeps owning it."""
        self.settings = settings
        self.policy = policy or RetryPolicy.from_settings(settings)
        self.user_agent = user_agent
        self._client: Any = http_client
        self._owns_client = http_client is None

    def _http(self) -> Any:
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(
                    self.settings.read_timeout, connect=self.settings.connect_timeout
                ),
                trust_env=False,
                follow_redirects=False,
            )
        return self._client

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

        out = _outgoing(
            self.user_agent,
            method,
            url,
            headers=headers,
            json_body=json_body,
            content=content,
            what=what,
        )
        client = self._http()

        async def attempt() -> HttpResponse:
            try:
                response = await client.request(
                    method,
                    url,
                    headers=out.headers,
                    params=dict(params) if params else None,
                    content=out.data,
                )
            except httpx.HTTPError as error:
                raise _httpx_error(error, out.what, self.settings.read_timeout) from None
            result = HttpResponse(
                response.status_code,
                CaseInsensitiveDict(response.headers),
                response.content,
                str(response.url),
            )
            check_response(result.status, result.headers, result.content, out.what)
            return result

        return await self.policy.acall(attempt, out.what, idempotent=idempotent)

    async def aclose(self) -> None:
        if self._client is not None and self._owns_client:
            await self._client.aclose()
        self._client = None

    async def __aenter__(self) -> AsyncTransport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
