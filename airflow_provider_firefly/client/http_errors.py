"""How each HTTP library's failures become the typed errors of the client.

One mapping per library (``requests``/``urllib3`` for blocking code, ``httpx`` for asyncio), so
the retry policy sees the same :class:`FireflyConnectionError` whichever library failed, and
knows whether the request may have reached the server.
"""

from __future__ import annotations

import requests

from airflow_provider_firefly.client.errors import (
    FireflyConnectionError,
    FireflyError,
    FireflyOutputExpiredError,
    FireflyTimeoutError,
    error_from_response,
)

__all__ = [
    "exception_chain",
    "httpx_error",
    "innermost",
    "output_error",
    "requests_error",
    "urllib3_error",
]


def output_error(status: int, what: str) -> FireflyError:
    """The error of a refused presigned-URL download: 400/403/404/410 mean it expired."""
    if status in (400, 403, 404, 410):
        return FireflyOutputExpiredError(
            f"{what} was refused (HTTP {status}): the presigned URL has expired or is invalid; "
            "Firefly output URLs live one hour, so fetch the job status again for fresh URLs",
            status=status,
        )
    return error_from_response(status, {}, b"", what=what)


def innermost(error: BaseException) -> BaseException:
    """The deepest exception nested in ``error`` (the one whose name says what happened)."""
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


def exception_chain(error: BaseException) -> list[BaseException]:
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


def requests_error(
    error: requests.RequestException, what: str, read_timeout: float
) -> FireflyError:
    from urllib3.exceptions import NewConnectionError

    if isinstance(error, requests.exceptions.ConnectTimeout):
        return FireflyConnectionError(f"{what}: timed out connecting", request_sent=False)
    if isinstance(error, requests.exceptions.ReadTimeout):
        return FireflyTimeoutError(f"{what}: no response within {read_timeout:g} s")
    inner = innermost(error)
    if isinstance(error, requests.exceptions.ConnectionError):
        # NewConnectionError (and its subclass NameResolutionError, a DNS failure) anywhere in
        # the chain means no connection was made, so nothing was sent.
        never_sent = any(
            isinstance(e, (NewConnectionError, ConnectionRefusedError))
            for e in exception_chain(error)
        ) or ("Failed to establish a new connection" in str(inner))
        if never_sent:
            return FireflyConnectionError(
                f"{what}: could not connect ({type(inner).__name__})", request_sent=False
            )
    return FireflyConnectionError(f"{what}: connection failed ({type(inner).__name__})")


def httpx_error(error: Exception, what: str, read_timeout: float) -> FireflyError:
    import httpx

    if isinstance(error, (httpx.ConnectTimeout, httpx.PoolTimeout)):
        return FireflyConnectionError(f"{what}: timed out connecting", request_sent=False)
    if isinstance(error, httpx.ConnectError):
        return FireflyConnectionError(
            f"{what}: could not connect ({type(innermost(error)).__name__})", request_sent=False
        )
    if isinstance(error, httpx.TimeoutException):
        return FireflyTimeoutError(f"{what}: no response within {read_timeout:g} s")
    return FireflyConnectionError(f"{what}: connection failed ({type(error).__name__})")


def urllib3_error(error: Exception, what: str, read_timeout: float) -> FireflyError:
    """A failure while reading a streamed ``requests`` body (urllib3 raises it unwrapped)."""
    from urllib3.exceptions import DecodeError, ReadTimeoutError

    if isinstance(error, ReadTimeoutError):
        return FireflyTimeoutError(f"{what}: no data within {read_timeout:g} s")
    if isinstance(error, DecodeError):
        return FireflyError(f"{what}: the reply's Content-Encoding could not be decoded")
    return FireflyConnectionError(
        f"{what}: connection failed while reading ({type(innermost(error)).__name__})"
    )
