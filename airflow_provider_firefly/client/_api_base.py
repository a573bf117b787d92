"""What the blocking and the asyncio Firefly clients share (internal to the client package):
configuration, the token manager, URLs, headers, and how a request is built and its reply read.

:class:`~airflow_provider_firefly.client.api.FireflyClient` and
:class:`~airflow_provider_firefly.client.async_api.AsyncFireflyClient` only send: every rule
about what to send and how to read the answer is written here once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, TypedDict
from urllib.parse import urljoin, urlsplit

from airflow_provider_firefly.client.config import (
    FireflyCredentials,
    HttpSettings,
    TokenCacheSettings,
)
from airflow_provider_firefly.client.errors import (
    FireflyAuthError,
    FireflyConfigError,
    FireflyConflictError,
    FireflyValidationError,
)
from airflow_provider_firefly.client.http_base import HttpResponse
from airflow_provider_firefly.client.ims import mint_token
from airflow_provider_firefly.client.jobs import (
    JobHandle,
    JobStatus,
    parse_job_status,
    parse_submit_response,
)
from airflow_provider_firefly.client.operations import Operation, get_operation
from airflow_provider_firefly.client.pacing import TaskPacer
from airflow_provider_firefly.client.tokens import AccessToken, SharedTokenStore, TokenManager
from airflow_provider_firefly.client.transport import SyncTransport
from airflow_provider_firefly.client.transport_base import RequestOptions, build_user_agent

__all__ = ["ClientBase", "JobRef", "SubmitOptions", "is_url"]

log = logging.getLogger("airflow_provider_firefly.client")

JobRef = JobHandle | str


class SubmitOptions(TypedDict, total=False):
    """The keyword options of a job submission.

    :param model_version: the ``x-model-version`` header, checked against the operation's
        allowed versions.
    :param headers: extra headers for this submission.
    """

    model_version: str | None
    headers: Mapping[str, str] | None


def is_url(value: str) -> bool:
    """An http(s) URL, as opposed to a path or a job id (``urn:ff:jobs:...`` has a scheme too)."""
    return urlsplit(value).scheme.lower() in ("http", "https")


class ClientBase:
    """Everything the sync and async clients share: configuration, URLs, headers, parsing.

    Each subclass makes its ``transport`` (a plain attribute) in :meth:`_open`; it sends the
    Firefly requests and opens no connection before the first one.
    """

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
        :param user_agent: the ``User-Agent`` header; defaults to ``build_user_agent()``.
        :param token_manager: a ready token manager, shared by several clients.
        :param pacer: this task's share of the organisation's request budget; every Firefly
            request waits for it (see :mod:`airflow_provider_firefly.client.pacing`).
        """
        self.credentials = credentials
        self.pacer = pacer
        self.http = http or HttpSettings()
        self.token_cache = token_cache or TokenCacheSettings()
        self.shared_store = shared_store
        self.on_token = on_token
        self.user_agent = user_agent or build_user_agent()
        self._token_manager = token_manager
        # IMS requests go through their own (unpaced) transport, made at the first mint.
        self._token_transport: SyncTransport | None = None
        self._open()

    def _open(self) -> None:
        """Make ``self.transport``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(client_id={self.credentials.client_id!r}, "
            f"api_url={self.http.api_url!r})"
        )

    @property
    def token_manager(self) -> TokenManager:
        """The token manager (made on first use); its caches are shared by every client of the
        same credential."""
        if self._token_manager is None:
            self._token_manager = TokenManager(
                self.credentials,
                lambda: mint_token(self.credentials, self._minting_transport()),
                self.token_cache,
                shared_store=self.shared_store,
                on_token=self.on_token,
            )
        return self._token_manager

    def _minting_transport(self) -> SyncTransport:
        if self._token_transport is None:
            self._token_transport = SyncTransport(self.http, user_agent=self.user_agent)
        return self._token_transport

    def _close_token_transport(self) -> None:
        transport, self._token_transport = self._token_transport, None
        if transport is not None:
            transport.close()

    def url_for(self, path_or_url: str) -> str:
        """An absolute URL: full URLs (status URLs as returned) are kept as they are."""
        if is_url(path_or_url):
            return path_or_url
        return urljoin(self.http.api_url + "/", path_or_url.lstrip("/"))

    def _signed(
        self, method: str, path_or_url: str, options: RequestOptions, token: AccessToken
    ) -> tuple[str, RequestOptions]:
        """The absolute URL and the options of one attempt, with the token's headers."""
        url = self.url_for(path_or_url)
        if not self.http.may_send_token_to(url):
            host = urlsplit(url).hostname
            raise FireflyConfigError(
                f"refusing to send the Firefly token to {host!r}: only the connection's API "
                f"host ({self.http.api_host}) and Adobe's *.adobe.io hosts may receive it",
                field="api_url",
            )
        auth = {"Authorization": f"Bearer {token.value}", "x-api-key": self.credentials.client_id}
        signed: RequestOptions = {
            **options,
            "headers": {**(options.get("headers") or {}), **auth},
            "subject": options.get("subject") or f"{method} {urlsplit(url).path}",
        }
        return url, signed

    @staticmethod
    def _refresh_once(error: FireflyAuthError, attempt: int, subject: str | None) -> None:
        """Re-raise unless this is the first 401 of the call (then the caller refreshes)."""
        if attempt == 2 or error.status != 401:
            raise error
        log.info("%s: token refused (HTTP 401); refreshing it once", subject)

    def _status_url(self, job: JobRef) -> str:
        if isinstance(job, JobHandle):
            return job.status_url
        if is_url(job):
            return job
        return JobHandle.for_job_id(self.http.api_url, job).status_url

    def _cancel_url(self, job: JobRef) -> str:
        if isinstance(job, JobHandle) and job.cancel_url:
            return job.cancel_url
        if isinstance(job, JobHandle):
            job = job.job_id
        if is_url(job):
            return job.replace("/v3/status/", "/v3/cancel/")
        cancel = JobHandle.for_job_id(self.http.api_url, job).cancel_url
        assert cancel is not None
        return cancel

    @staticmethod
    def _submission(
        operation: str | Operation, body: Mapping[str, Any], options: SubmitOptions
    ) -> tuple[Operation, RequestOptions]:
        """The operation and the request options of a job submission (checked first)."""
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
        version = op.check_model_version(options.get("model_version"))
        if version:
            headers["x-model-version"] = version
        headers.update(options.get("headers") or {})
        request: RequestOptions = {
            "json_body": dict(body),
            "headers": headers,
            "idempotent": False,
            "subject": op.label,
        }
        return op, request

    def _accepted(self, op: Operation, response: HttpResponse) -> JobHandle:
        handle = parse_submit_response(
            response.json(), subject=op.label, api_url=self.http.api_url, headers=response.headers
        )
        log.info("%s accepted job %s", op.label, handle.job_id)
        return handle

    @staticmethod
    def _status_of(job: JobRef, response: HttpResponse) -> JobStatus:
        job_id = job.job_id if isinstance(job, JobHandle) else None
        return parse_job_status(response.json(), job_id=job_id)

    @staticmethod
    def _already_ended(error: FireflyConflictError) -> bool:
        """A cancel answered 409/410: the job had already ended (False, the cancel's answer)."""
        log.info("cancel: job already ended (%s)", error.error_code or error.status)
        return False
