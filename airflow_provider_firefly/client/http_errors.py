"""How each HTTP library's failures become the typed errors of the client.

One mapping per library (``requests``/``urllib3`` for blocking code, ``httpx`` for asyncio), so
the retry policy sees the same :class:`FireflyConnectionError` whichever library failed, and
knows whether the request may have reached the server.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import requests

from airflow_provider_firefly.client.errors import (
    FireflyConnectionError,
    FireflyError,
    FireflyOutputExpiredError,
    FireflyTimeoutError,
    FireflyTLSError,
    error_from_response,
)

__all__ = [
    "exception_chain",
    "httpx_error",
    "innermost",
    "output_error",
    "requests_error",
    "tls_error",
    "urllib3_error",
]


def output_error(status: int, subject: str) -> FireflyError:
    """The error of a refused presigned-URL download: 400/403/404/410 mean it expired."""
    if status in (400, 403, 404, 410):
        return FireflyOutputExpiredError(
            f"{subject} was refused (HTTP {status}): the presigned URL has expired or is invalid; "
            "Firefly output URLs live one hour, so fetch the job status again for fresh URLs",
            status=status,
        )
    return error_from_response(status, {}, b"", subject=subject)


def innermost(error: BaseException) -> BaseException:
    """The deepest exception nested in ``error`` (the one whose name says what happened)."""
    return exception_chain(error)[-1]


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


def tls_error(error: BaseException, subject: str, url: str | None) -> FireflyTLSError | None:
    """The :class:`FireflyTLSError` for a certificate that failed verification, naming the host
    and the fix; None when ``error`` is something else."""
    import ssl

    failed = next(
        (e for e in exception_chain(error) if isinstance(e, ssl.SSLCertVerificationError)), None
    )
    if failed is None and "CERTIFICATE_VERIFY_FAILED" not in str(error):
        return None
    host = (urlsplit(url).hostname if url else None) or "the server"
    reason = getattr(failed, "verify_message", None) or "certificate verify failed"
    return FireflyTLSError(
        f"{subject}: the TLS certificate of {host} (or of a proxy in between) is not trusted "
        f"({reason}). If a company proxy or gateway re-signs TLS with a private CA, set the "
        "connection extra ca_bundle (or REQUESTS_CA_BUNDLE / SSL_CERT_FILE on every worker "
        "and triggerer) to that CA's certificate file (PEM); nothing was sent",
        host=host,
    )


def _proxy_error(subject: str, error: BaseException) -> FireflyConnectionError:
    return FireflyConnectionError(
        f"{subject}: the proxy refused or could not be reached "
        f"({type(innermost(error)).__name__}); "
        "check the connection extra proxy_url or HTTPS_PROXY/NO_PROXY (and the proxy's "
        "user and password)",
        request_sent=False,
    )


def requests_error(
    error: requests.RequestException, subject: str, read_timeout: float, url: str | None = None
) -> FireflyError:
    from urllib3.exceptions import NewConnectionError

    if isinstance(error, requests.exceptions.SSLError):
        found = tls_error(error, subject, url)
        if found is not None:
            return found
    if isinstance(error, requests.exceptions.ProxyError):
        return _proxy_error(subject, error)
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return FireflyConnectionError(f"{subject}: timed out connecting", request_sent=False)
    if isinstance(error, requests.exceptions.ReadTimeout):
        return FireflyTimeoutError(f"{subject}: no response within {read_timeout:g} s")
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
                f"{subject}: could not connect ({type(inner).__name__})", request_sent=False
            )
    return FireflyConnectionError(f"{subject}: connection failed ({type(inner).__name__})")


def httpx_error(
    error: Exception, subject: str, read_timeout: float, url: str | None = None
) -> FireflyError:
    import httpx

    found = tls_error(error, subject, url) if isinstance(error, httpx.ConnectError) else None
    if found is not None:
        return found
    if isinstance(error, httpx.ProxyError):
        return _proxy_error(subject, error)

    if isinstance(error, (httpx.ConnectTimeout, httpx.PoolTimeout)):
        return FireflyConnectionError(f"{subject}: timed out connecting", request_sent=False)
    if isinstance(error, httpx.ConnectError):
        return FireflyConnectionError(
            f"{subject}: could not connect ({type(innermost(error)).__name__})", request_sent=False
        )
    if isinstance(error, httpx.TimeoutException):
        return FireflyTimeoutError(f"{subject}: no response within {read_timeout:g} s")
    return FireflyConnectionError(f"{subject}: connection failed ({type(error).__name__})")


def urllib3_error(error: Exception, subject: str, read_timeout: float) -> FireflyError:
    """A failure while reading a streamed ``requests`` body (urllib3 raises it unwrapped)."""
    from urllib3.exceptions import DecodeError, ReadTimeoutError

    if isinstance(error, ReadTimeoutError):
        return FireflyTimeoutError(f"{subject}: no data within {read_timeout:g} s")
    if isinstance(error, DecodeError):
        return FireflyError(f"{subject}: the reply's Content-Encoding could not be decoded")
    return FireflyConnectionError(
        f"{subject}: connection failed while reading ({type(innermost(error)).__name__})"
    )
