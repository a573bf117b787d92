"""Typed errors for every way a Firefly or IMS call can fail, and the one builder of them.

Every error carries what a user needs to act (HTTP status, Adobe's ``error_code``, a message,
the request id) and never a token, a secret or a request body. The server texts in them are
read by ``client.server_text`` (re-exported here), which accepts any bytes: an empty 429 body,
HTML from a proxy or truncated JSON all become a clean error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_firefly.client.server_text import (
    MAX_FIELD,
    clip_server_text,
    header_value,
    parse_error_body,
    parse_retry_after,
    redact,
)

__all__ = [
    "FireflyAccessError",
    "FireflyAuthError",
    "FireflyConfigError",
    "FireflyConflictError",
    "FireflyConnectionError",
    "FireflyContentPolicyError",
    "FireflyDownloadRefusedError",
    "FireflyError",
    "FireflyJobCancelledError",
    "FireflyJobError",
    "FireflyJobFailedError",
    "FireflyJobTimeoutError",
    "FireflyNotFoundError",
    "FireflyOutputExpiredError",
    "FireflyRateLimitError",
    "FireflyRequestError",
    "FireflyServerError",
    "FireflyTLSError",
    "FireflyTimeoutError",
    "FireflyValidationError",
    "clip_server_text",
    "error_from_response",
    "parse_error_body",
    "parse_retry_after",
    "redact",
]


class FireflyError(Exception):
    """Base class of every error raised by this package.

    :param message: what went wrong and, where known, how to fix it.
    :param status: the HTTP status, when the error came from a response.
    :param error_code: Adobe's ``error_code`` (``"validation_error"``, ``"401013"``...) or IMS's
        ``error`` (``"invalid_client"``).
    :param request_id: Adobe's ``x-request-id``, worth quoting to Adobe support.
    :param job_id: the Firefly job the failure concerns, when the raiser knows it (give it
        here: errors are not changed after they are raised).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_code: str | None = None,
        request_id: str | None = None,
        job_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        # Codes and ids come from servers (IMS may echo a secret in ``error``): they reach
        # str() and repr(), so they are redacted and clipped like the message.
        self.error_code = clip_server_text(error_code, MAX_FIELD)
        self.request_id = clip_server_text(request_id, MAX_FIELD)
        self.job_id = clip_server_text(job_id, 300)

    def __str__(self) -> str:
        details = []
        if self.status is not None:
            details.append(f"HTTP {self.status}")
        if self.error_code:
            details.append(f"error_code={self.error_code}")
        if self.request_id:
            details.append(f"request_id={self.request_id}")
        return f"{self.message} ({', '.join(details)})" if details else self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments do not survive the default pickling; Airflow pickles exceptions
        # across processes (e.g. from the triggerer), so rebuild from the full state.
        return (_rebuild_error, (type(self), self.__dict__.copy()))


def _rebuild_error(cls: type[FireflyError], state: dict[str, Any]) -> FireflyError:
    error = cls.__new__(cls)
    Exception.__init__(error, state.get("message", ""))
    error.__dict__.update(state)
    return error


class FireflyConfigError(FireflyError, ValueError):
    """The connection or a parameter is wrong; raised before any network call.

    :param field: the connection field or operator parameter at fault.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class FireflyAuthError(FireflyError):
    """IMS refused the credentials, or Firefly refused a fresh token (HTTP 401)."""


class FireflyRequestError(FireflyError):
    """Firefly rejected the request itself (HTTP 400, 413, 415 and other client errors)."""


class FireflyValidationError(FireflyRequestError, ValueError):
    """Firefly (HTTP 422 or 400) or local checks rejected parameters.

    :param errors: pydantic-style entries ``{"loc": [...], "msg": ..., "type": ...}``.
    """

    def __init__(self, message: str, *, errors: list[dict[str, Any]] | None = None, **kw: Any):
        super().__init__(message, **kw)
        self.errors = errors or []

    @property
    def fields(self) -> list[str]:
        """Dotted names of the fields at fault, e.g. ``["body.seeds"]``."""
        return [".".join(str(p) for p in e.get("loc", [])) for e in self.errors]


class FireflyContentPolicyError(FireflyError):
    """Adobe's content policy refused the prompt or an input (HTTP 451)."""


class FireflyAccessError(FireflyError):
    """HTTP 403: not entitled, quota exhausted, wrong scope or API key.

    :param access_error: the ``x-access-error`` header (``quota_exhausted``,
        ``user_non_entitled``, ``user_profile_denied``, ``invalid_ims_scope``), if sent.
    """

    def __init__(self, message: str, *, access_error: str | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.access_error = clip_server_text(access_error, MAX_FIELD)


class FireflyNotFoundError(FireflyError):
    """HTTP 404, e.g. an unknown job id."""


class FireflyConflictError(FireflyError):
    """HTTP 409/410 from cancel: the job already finished, was cancelled or timed out."""


class FireflyRateLimitError(FireflyError):
    """HTTP 429 that outlasted the retry budget.

    :param retry_after: seconds Adobe asked to wait, when it said.
    :param limit_level: ``x-access-rate-limit-level`` (``org`` or ``account``).
    :param tries: on the final error, how many tries of the request were rate limited before
        the client gave up; None on a single 429 (which may still be retried).
    :param elapsed: on the final error, the seconds those tries took, waits included.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        limit_level: str | None = None,
        tries: int | None = None,
        elapsed: float | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after
        self.limit_level = clip_server_text(limit_level, MAX_FIELD)
        self.tries = tries
        self.elapsed = elapsed


class FireflyServerError(FireflyError):
    """HTTP 5xx (or 408) that outlasted the retry budget.

    :param retry_after: seconds the server asked to wait (503 may carry it).
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class FireflyConnectionError(FireflyError):
    """The server could not be reached or the connection broke.

    :param request_sent: False only when the request certainly never reached the server
        (connection refused, DNS failure, connect timeout), which makes even a job submission
        safe to retry.
    """

    def __init__(self, message: str, *, request_sent: bool = True, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.request_sent = request_sent


class FireflyTLSError(FireflyConnectionError):
    """A server's (or proxy's) TLS certificate is not trusted. Nothing was sent, and no retry
    can cure it: the fix is a CA (the ``ca_bundle`` extra or ``REQUESTS_CA_BUNDLE``).

    :param host: the host whose certificate failed.
    """

    def __init__(self, message: str, *, host: str | None = None, **kw: Any) -> None:
        kw.setdefault("request_sent", False)
        super().__init__(message, **kw)
        self.host = host


class FireflyTimeoutError(FireflyConnectionError):
    """The server did not answer in time (read timeout)."""


class FireflyJobError(FireflyError):
    """A job ended without success.

    :param job_id: the Firefly job id.
    :param job_status: the terminal status reported by Firefly.
    """

    def __init__(self, message: str, *, job_status: str | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.job_status = job_status


class FireflyJobFailedError(FireflyJobError):
    """The job's status is ``failed``."""


class FireflyJobCancelledError(FireflyJobError):
    """The job was cancelled (``cancelled``/``canceled``)."""


class FireflyJobTimeoutError(FireflyJobError):
    """The job timed out at Adobe (status ``timeout``) or outlived the caller's deadline."""


class FireflyOutputExpiredError(FireflyError):
    """A presigned output URL expired (or was refused) before it could be downloaded."""


class FireflyDownloadRefusedError(FireflyError):
    """The client refused to fetch or keep an output: a redirect to another scheme, a
    non-https output URL, or more bytes than ``max_output_bytes``. Not retried: polling again
    gives the same answer.

    :param output: the output as ``host/path`` (never the presigned query).
    :param job_id: the job whose output it is, when the caller knows it.
    """

    def __init__(self, reason: str, *, output: str, job_id: str | None = None, **kw: Any) -> None:
        job = f" of Firefly job {job_id}" if job_id else ""
        super().__init__(f"download of output {output}{job} refused: {reason}", job_id=job_id, **kw)
        self.output = output
        self.reason = reason


_HINTS = {
    401: "the access token was refused; it is refreshed once automatically",
    413: "the request or upload is too large",
    415: "wrong Content-Type for this operation",
}


def error_from_response(
    status: int, headers: Mapping[str, str], body: bytes | str | None, *, subject: str
) -> FireflyError:
    """Build the typed error for a non-success Firefly response.

    :param subject: the operation, for the message, e.g. ``"POST /v3/images/generate-async"``.
    """
    parsed = parse_error_body(body)
    code = parsed.get("error_code")
    message = parsed.get("message") or _HINTS.get(status) or "no details given"
    if status == 413 and not parsed.get("message"):
        from airflow_provider_firefly.client.limits import MAX_UPLOAD_TEXT

        message += f" (Firefly accepts uploads up to {MAX_UPLOAD_TEXT})"
    request_id = header_value(headers, "x-request-id")
    common: dict[str, Any] = {"status": status, "error_code": code, "request_id": request_id}
    text = f"{subject} failed: {message}"
    if status in (400, 422) and (parsed.get("validation_errors") or code == "validation_error"):
        errors = parsed.get("validation_errors", [])
        if errors:
            listed = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '?'}: {e['msg']}" for e in errors[:10]
            )
            text = f"{subject} was rejected: {listed}"
        return FireflyValidationError(text, errors=errors, **common)
    if status == 401:
        return FireflyAuthError(text, **common)
    if status == 403:
        access = header_value(headers, "x-access-error")
        if access:
            text += f" (x-access-error: {access})"
        return FireflyAccessError(text, access_error=access, **common)
    if status == 404:
        return FireflyNotFoundError(text, **common)
    if status in (409, 410):
        return FireflyConflictError(text, **common)
    if status == 429:
        return FireflyRateLimitError(
            f"{subject} was rate limited by Adobe: {message}",
            retry_after=parse_retry_after(header_value(headers, "retry-after")),
            limit_level=header_value(headers, "x-access-rate-limit-level"),
            **common,
        )
    if status == 451:
        return FireflyContentPolicyError(
            f"{subject} was refused by Adobe's content policy: {message}", **common
        )
    if status == 408 or status >= 500:
        return FireflyServerError(
            text, retry_after=parse_retry_after(header_value(headers, "retry-after")), **common
        )
    return FireflyRequestError(text, **common)
