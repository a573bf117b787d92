"""``FireflyHook``: the ``firefly`` connection, an IMS token shared by every task, the Firefly API.

The hook adapts Airflow to the core client in :mod:`airflow_provider_firefly.client`: it reads
the connection (sync in tasks, async in triggers), masks every token it sees, optionally shares
the token through an Airflow Variable, and reads and writes ``ObjectStoragePath`` files.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import unquote, urlsplit

from airflow_provider_firefly.client.api import (
    AsyncFireflyClient,
    FireflyClient,
    PollPolicy,
)
from airflow_provider_firefly.client.errors import (
    FireflyAccessError,
    FireflyAuthError,
    FireflyConfigError,
    FireflyConnectionError,
    FireflyError,
    FireflyNotFoundError,
    FireflyValidationError,
)
from airflow_provider_firefly.client.jobs import JobHandle, JobOutput, JobStatus
from airflow_provider_firefly.client.transport import StreamResult
from airflow_provider_firefly.client.transport_base import build_user_agent
from airflow_provider_firefly.client.uploads import check_upload_size
from airflow_provider_firefly.compat import BaseHook
from airflow_provider_firefly.connection import (
    CONN_TYPE,
    DEFAULT_CONN_ID,
    EXTRA_FIELDS,
    HOOK_NAME,
    UI_FIELD_BEHAVIOUR,
    FireflyConnectionConfig,
    parse_connection,
)
from airflow_provider_firefly.hooks.storage_paths import is_object_storage_path

if TYPE_CHECKING:
    from airflow.sdk import Connection, ObjectStoragePath

__all__ = ["FireflyHook"]

_PROBE_JOB_ID = "urn:ff:jobs:connection-test:00000000-0000-0000-0000-000000000000"


def _mask(value: str) -> None:
    from airflow.sdk.log import mask_secret

    mask_secret(value)


def _mask_proxy(proxy_url: str | None) -> None:
    """Mask a proxy URL and its password (as written and percent-decoded): it may carry
    credentials, and an error or a log line may quote either form."""
    if not proxy_url:
        return
    _mask(proxy_url)
    password = urlsplit(proxy_url).password
    if password:
        _mask(password)
        _mask(unquote(password))


def _user_agent() -> str:
    from airflow import __version__ as airflow_version

    return build_user_agent(f"apache-airflow/{airflow_version}")


class FireflyHook(BaseHook):
    """Talk to Adobe Firefly with the credentials of a ``firefly`` connection.

    The IMS token is cached per process, per host (encrypted file, on by default) and, if the
    connection says so, across workers (Airflow Variable), so one token serves every task until
    it nears expiry. Every call is authenticated, retried on 429/5xx/network errors, and a 401
    refreshes the token once.

    :param firefly_conn_id: the connection id (type ``firefly``).
    """

    conn_name_attr = "firefly_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = CONN_TYPE
    hook_name = HOOK_NAME

    def __init__(self, firefly_conn_id: str = DEFAULT_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.firefly_conn_id = firefly_conn_id
        self._config: FireflyConnectionConfig | None = None
        #: A ``time.monotonic()`` time since which this task's pool slot has sent nothing (the
        #: task's start, set by the operator): the budget pacer's first request waits one
        #: spacing from it instead of from the client's creation. Set before the first request.
        self.quiet_since: float | None = None

    def __repr__(self) -> str:
        return f"FireflyHook(firefly_conn_id={self.firefly_conn_id!r})"

    # -- connection form, for Airflow < 3.2 (3.2+ reads get_provider_info) -------------------

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Legacy form fields (wtforms); kept identical to ``conn-fields`` by a test.

        Uses flask-appbuilder's Bootstrap widget and flask-babel's lazy labels when installed
        (the Airflow 2 UI), and wtforms' own widget and plain labels otherwise.
        """
        from wtforms import BooleanField, IntegerField, StringField

        try:
            from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
        except ImportError:
            BS3TextFieldWidget = None
        try:
            from flask_babel import lazy_gettext
        except ImportError:

            def lazy_gettext(label: str) -> str:
                return label

        kinds = {"boolean": BooleanField, "integer": IntegerField}
        widgets: dict[str, Any] = {}
        for name, field in EXTRA_FIELDS.items():
            kind = kinds.get(field.type, StringField)
            kwargs: dict[str, Any] = {"description": field.description}
            if kind is StringField and BS3TextFieldWidget is not None:
                kwargs["widget"] = BS3TextFieldWidget()
            if field.default is not None:
                kwargs["default"] = field.default
            widgets[name] = kind(lazy_gettext(field.label), **kwargs)
        return widgets

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Legacy form behaviour (snake_case keys); mirrors ``ui-field-behaviour``."""
        return {key.replace("-", "_"): value for key, value in UI_FIELD_BEHAVIOUR.items()}

    # -- configuration -----------------------------------------------------------------------

    @staticmethod
    def _config_from(conn: Connection, conn_id: str) -> FireflyConnectionConfig:
        config = parse_connection(
            conn_id, login=conn.login, password=conn.password, extra=conn.extra
        )
        _mask(config.credentials.client_secret)
        _mask_proxy(config.http.proxy_url)
        return config

    @property
    def config(self) -> FireflyConnectionConfig:
        """The validated connection settings (no network call), read once per hook.

        Read from the connection on first use in a task; a trigger's :meth:`aget_client` reads
        it without blocking first, so later reads need no sync I/O in the event loop."""
        if self._config is None:
            conn = self.get_connection(self.firefly_conn_id)
            self._config = self._config_from(conn, self.firefly_conn_id)
        return self._config

    def _client_kwargs(self, config: FireflyConnectionConfig) -> dict[str, Any]:
        shared_store = None
        if config.shared_token_cache:
            from airflow_provider_firefly.hooks.token_store import VariableTokenStore

            shared_store = VariableTokenStore()
        return {
            "credentials": config.credentials,
            "http": config.http,
            "token_cache": config.token_cache,
            "shared_store": shared_store,
            "on_token": _mask,
            "user_agent": _user_agent(),
            # This task's (or trigger run's) share of the organisation's budget, from now on.
            "pacer": config.task_pacer(quiet_since=self.quiet_since),
        }

    @cached_property
    def client(self) -> FireflyClient:
        """The blocking Firefly client for this connection."""
        return FireflyClient(**self._client_kwargs(self.config))

    def get_conn(self) -> FireflyClient:
        """The Firefly client (Airflow's conventional accessor)."""
        return self.client

    async def aget_client(self) -> AsyncFireflyClient:
        """An asyncio client, reading the connection without blocking (for triggers).

        The caller closes it (``async with await hook.aget_client() as client``).
        """
        conn = await self.aget_connection(self.firefly_conn_id)
        self._config = self._config_from(conn, self.firefly_conn_id)
        return AsyncFireflyClient(**self._client_kwargs(self._config))

    def get_access_token(self) -> str:
        """A valid IMS access token (masked in logs), minted only when no cache holds one."""
        return self.client.get_access_token()

    # -- Test button -------------------------------------------------------------------------

    def test_connection(self) -> tuple[bool, str]:
        """Mint (or reuse) a token and make one free authenticated call.

        Used by the UI's Test button and ``airflow connections test``. The probe asks for the
        status of a job that does not exist: a 404 proves the token and API key were accepted.
        Messages do not name the connection: the UI tests a copy under a random id.
        """
        try:
            config = self.config
        except FireflyConfigError as error:
            prefix = f"connection {self.firefly_conn_id!r}: "
            message = error.message
            return False, message[len(prefix) :] if message.startswith(prefix) else message
        # One probe outside any task and pool: it must not wait a task's budget share (a
        # minute with Adobe's default), or the UI's Test button would seem to hang.
        with FireflyClient(**{**self._client_kwargs(config), "pacer": None}) as client:
            return self._probe(client, config)

    @staticmethod
    def _probe(client: FireflyClient, config: FireflyConnectionConfig) -> tuple[bool, str]:
        try:
            client.get_access_token()
        except FireflyConfigError as error:
            return False, error.message
        except FireflyAuthError as error:
            return False, error.message
        except FireflyConnectionError as error:
            return False, (
                f"Could not reach Adobe IMS at {config.credentials.ims_url} ({error.message})"
            )
        except FireflyError as error:
            return False, f"IMS failed: {error}"
        try:
            client.get_status(_PROBE_JOB_ID)
        except FireflyNotFoundError:
            pass
        except FireflyValidationError:
            pass
        except FireflyAccessError as error:
            return False, (
                f"IMS issued a token but Firefly refused it ({error.message}); check the "
                "credential's Firefly API entitlement and scopes"
            )
        except FireflyConnectionError as error:
            return False, (
                f"Could not reach the Firefly API at {config.http.api_url} ({error.message})"
            )
        except FireflyError as error:
            return False, f"Firefly API call failed: {error}"
        return True, (
            f"Connected: IMS issued a token for client {config.credentials.client_id} and the "
            f"Firefly API at {config.http.api_url} accepted it."
        )

    # -- jobs --------------------------------------------------------------------------------

    def submit(
        self,
        operation: str,
        body: Mapping[str, Any],
        *,
        model_version: str | None = None,
        validate: bool = True,
    ) -> JobHandle:
        """Start a Firefly job (never retried where it may have been accepted).

        :param validate: check the body and ``x-model-version`` against the operation's schema
            first, so that a body Firefly would refuse costs no request (default True).
        """
        if validate:
            self.validate_body(operation, body, model_version=model_version)
        return self.client.submit(operation, body, model_version=model_version)

    def validate_body(
        self, operation: str, body: Mapping[str, Any], *, model_version: str | None = None
    ) -> None:
        """Raise :class:`FireflyValidationError` for a body Firefly would refuse (no request)."""
        from airflow_provider_firefly import schema
        from airflow_provider_firefly.client.operations import get_operation

        op = get_operation(operation)
        version = op.check_model_version(model_version)
        if not isinstance(body, Mapping):
            raise FireflyValidationError(
                f"{op.label}: the body must be a JSON object",
                errors=[{"loc": ["body"], "msg": "not an object", "type": "type_error"}],
            )
        errors = schema.validate_request(
            op.path,
            op.method,
            dict(body),
            model_version=version,
            own_hosts=frozenset({self.config.http.api_host.lower()}),
        )
        if errors:
            shown = "; ".join(
                f"{'.'.join(str(p) for p in e.get('loc', []))}: {e.get('msg', 'invalid')}"
                for e in errors[:10]
            )
            raise FireflyValidationError(
                f"{op.label}: the body would be rejected by Firefly ({shown}); nothing was sent",
                errors=[dict(e) for e in errors],
            )

    def get_status(self, job: JobHandle | str) -> JobStatus:
        """One status poll, on the status URL as Firefly returned it."""
        return self.client.get_status(job)

    def cancel(self, job: JobHandle | str) -> bool:
        """Cancel a job; False if it had already ended."""
        return self.client.cancel(job)

    def wait(
        self,
        job: JobHandle | str,
        *,
        timeout: float | None = None,
        poll: PollPolicy | None = None,
        expected_seconds: float = 15.0,
    ) -> JobStatus:
        """Poll until the job ends, logging progress; raises the typed error unless it succeeded.

        A 429 on a poll never ends the wait before ``timeout`` (the client pauses for its
        ``retry-after``); at ``timeout`` the job is cancelled and
        :class:`FireflyJobTimeoutError` is raised.
        """

        def report(status: JobStatus) -> None:
            progress = f" ({status.progress:.0f}%)" if status.progress is not None else ""
            self.log.info("Firefly job %s: %s%s", status.job_id, status.status, progress)

        return self.client.wait(
            job,
            timeout=timeout,
            poll=poll,
            expected_seconds=expected_seconds,
            on_status=report,
        )

    # -- storage -----------------------------------------------------------------------------

    def upload_image(
        self,
        source: bytes | str | os.PathLike[str] | BinaryIO | ObjectStoragePath,
        *,
        content_type: str | None = None,
    ) -> str:
        """Upload an image from bytes, a local path, a file or an ``ObjectStoragePath``."""
        if is_object_storage_path(source):
            path: Any = source
            if not path.exists():
                raise FireflyConfigError(f"image {path} does not exist", field="image")
            check_upload_size(path.stat().st_size, subject=f"image {path}")
            with path.open("rb") as handle:
                return self.client.upload_image(handle.read(), content_type=content_type)
        return self.client.upload_image(source, content_type=content_type)  # type: ignore[arg-type]

    def download(
        self,
        output: JobOutput | str,
        destination: str | os.PathLike[str] | ObjectStoragePath,
        *,
        job_id: str | None = None,
    ) -> StreamResult:
        """Stream an output to a local path or an ``ObjectStoragePath``, one chunk in memory.

        :param job_id: named in a refusal. A refused or failed download leaves no partial
            file, local or remote.
        """
        if is_object_storage_path(destination):
            target: Any = destination
            target.parent.mkdir(parents=True, exist_ok=True)
            return self.client.download(
                output,
                lambda: target.open("wb"),
                job_id=job_id,
                discard=lambda: target.unlink(missing_ok=True),
            )
        return self.client.download(output, destination, job_id=job_id)  # type: ignore[arg-type]

    def list_custom_models(self, *, page_size: int = 20) -> Iterator[dict[str, Any]]:
        """Every custom model the credential may use."""
        return self.client.list_custom_models(page_size=page_size)
