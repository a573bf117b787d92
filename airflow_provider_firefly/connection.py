"""The ``firefly`` connection: its form fields, and how its values become client settings.

One table (:data:`EXTRA_FIELDS`) feeds the provider metadata that Airflow 3.2+ reads
(``conn-fields``), the legacy hook form methods of older Airflow, the docs, and the parser
below, so the four cannot disagree. Nothing here imports Airflow.

Values come from the connection's login (client id), password (client secret) and extra (JSON
object). Extra keys are read plain (``scopes``) or with the legacy prefix
(``extra__firefly__scopes``); unknown keys are refused, so a typo does not pass silently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from airflow_provider_firefly.client.config import (
    DEFAULT_API_URL,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_IMS_URL,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_READ_TIMEOUT,
    DEFAULT_SCOPES,
    FireflyCredentials,
    HttpSettings,
    TokenCacheSettings,
)
from airflow_provider_firefly.client.endpoints import is_loopback_host
from airflow_provider_firefly.client.errors import FireflyConfigError
from airflow_provider_firefly.client.limits import (
    ADOBE_DEFAULT_REQUESTS_PER_MINUTE,
    DEFAULT_MAX_OUTPUT_BYTES,
    DEFAULT_REQUEST_DEADLINE,
    is_positive_number,
)
from airflow_provider_firefly.client.pacing import TaskPacer, share_per_slot

__all__ = [
    "CONN_TYPE",
    "DEFAULT_CONN_ID",
    "EXTRA_FIELDS",
    "HOOK_NAME",
    "UI_FIELD_BEHAVIOUR",
    "FireflyConnectionConfig",
    "parse_connection",
]

#: The connection type (``conn_type``) of Firefly connections.
CONN_TYPE = "firefly"
#: The connection the hook, operators, sensor and trigger use unless told otherwise.
DEFAULT_CONN_ID = "firefly_default"
HOOK_NAME = "Adobe Firefly"
_PREFIX = f"extra__{CONN_TYPE}__"


@dataclass(frozen=True)
class ExtraField:
    """One custom field of the connection form, stored in ``Connection.extra``."""

    label: str
    description: str
    type: str  # JSON-schema type: string, boolean, number, integer
    default: Any = None

    def conn_field(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": [self.type, "null"]}
        if self.default is not None:
            schema["default"] = self.default
        return {"label": self.label, "description": self.description, "schema": schema}


# No field name may contain a word of Airflow's sensitive-field list ("token", "secret", "password",
# "proxy", "dsn", ...): Airflow would mask its value everywhere (logs, the connection API, and the
# form's default, which the 3.3 UI then shows as "***"). A test guards this. The one exception is
# proxy_url, which has no default and may carry the proxy's password: masked on purpose.
#: The connection's extra fields by key: label, help text, type, default and check of each.
EXTRA_FIELDS: dict[str, ExtraField] = {
    "scopes": ExtraField(
        "Scopes",
        "Comma-separated OAuth scopes asked of Adobe IMS; use those listed on the credential's "
        "Developer Console page.",
        "string",
        ",".join(DEFAULT_SCOPES),
    ),
    "ims_url": ExtraField(
        "IMS URL",
        "Adobe IMS base URL; tokens come from {ims_url}/ims/token/v3.",
        "string",
        DEFAULT_IMS_URL,
    ),
    "api_url": ExtraField(
        "Firefly API URL",
        "Firefly API base URL (the local emulator's URL in tests).",
        "string",
        DEFAULT_API_URL,
    ),
    "host_cache": ExtraField(
        "Share tokens on this host",
        "Cache the IMS token in an encrypted file so that every task on a worker host reuses "
        "one token (recommended).",
        "boolean",
        True,
    ),
    "cache_dir": ExtraField(
        "Token cache folder",
        "Folder of the host token cache; default ~/.cache/airflow-provider-firefly/tokens.",
        "string",
    ),
    "shared_cache": ExtraField(
        "Share tokens across workers",
        "Also keep the encrypted token in an Airflow Variable, so that workers on other hosts "
        "(Kubernetes pods) reuse it. Off by default: see the README's token caching section.",
        "boolean",
        False,
    ),
    "connect_timeout": ExtraField(
        "Connect timeout (s)",
        "Seconds to establish a connection.",
        "number",
        DEFAULT_CONNECT_TIMEOUT,
    ),
    "read_timeout": ExtraField(
        "Read timeout (s)",
        "Seconds to wait for each response.",
        "number",
        DEFAULT_READ_TIMEOUT,
    ),
    "request_deadline": ExtraField(
        "Request deadline (s)",
        "Total seconds one request attempt may take, body and downloads included: a server "
        "that trickles its reply is cut off here (read timeout only bounds each wait).",
        "number",
        DEFAULT_REQUEST_DEADLINE,
    ),
    "max_output_bytes": ExtraField(
        "Largest output (bytes)",
        "Largest output file saved, counted after decompression; a bigger download is refused "
        "and deleted. Default 2 GiB.",
        "integer",
        DEFAULT_MAX_OUTPUT_BYTES,
    ),
    "proxy_url": ExtraField(
        "Proxy URL",
        "Proxy for every request of this connection, e.g. http://user:password@proxy:3128 "
        "(masked like a password). Empty: HTTPS_PROXY/HTTP_PROXY/ALL_PROXY and NO_PROXY "
        "apply.",
        "string",
    ),
    "ca_bundle": ExtraField(
        "CA bundle",
        "Path of a CA certificate file (PEM) or folder to trust, e.g. the CA of a company "
        "proxy that re-signs TLS; must exist on every worker and triggerer. Empty: "
        "REQUESTS_CA_BUNDLE/SSL_CERT_FILE/SSL_CERT_DIR or the default store.",
        "string",
    ),
    "allow_custom_endpoints": ExtraField(
        "Allow non-Adobe endpoints",
        "Accept an IMS or API URL outside Adobe's hosts (*.adobelogin.com, *.adobe.io) and "
        "loopback, e.g. your own gateway. Each use is logged as a warning.",
        "boolean",
        False,
    ),
    "requests_per_minute": ExtraField(
        "Requests per minute",
        "Your organisation's Firefly request budget (Adobe's default is 4). Each task "
        "through this connection sends at most its share, requests_per_minute / budget_slots "
        "a minute, whichever worker or triggerer runs it. Empty: Adobe's default of 4 (no "
        "pacing for a loopback emulator). A 429 waits its retry-after and never fails a task.",
        "number",
    ),
    "budget_slots": ExtraField(
        "Budget slots (pool size)",
        "Slots of the Airflow pool (with include_deferred) that every Firefly task of this "
        "organisation runs in; each task paces its requests to requests_per_minute / "
        "budget_slots a minute. At most requests_per_minute. Empty: requests_per_minute "
        "slots (one request a minute per task).",
        "integer",
    ),
    "max_attempts": ExtraField(
        "Attempts per request",
        "Tries per request for 429, 5xx and network errors (a job is never submitted twice).",
        "integer",
        DEFAULT_MAX_ATTEMPTS,
    ),
}

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "port", "host"],
    "relabeling": {"login": "Client ID", "password": "Client secret"},
    "placeholders": {
        "login": "Client ID of an OAuth server-to-server credential",
        "password": "Client secret",
    },
}


@dataclass(frozen=True)
class FireflyConnectionConfig:
    """Everything a Firefly client needs, read from one connection."""

    conn_id: str
    credentials: FireflyCredentials
    http: HttpSettings
    token_cache: TokenCacheSettings
    shared_token_cache: bool
    requests_per_minute: float | None = None
    budget_slots: int | None = None

    def task_pacer(
        self, *, deadline: float | None = None, quiet_since: float | None = None
    ) -> TaskPacer | None:
        """A new pacer for one task (or one trigger run) of this connection; None without a
        budget. Its first request waits one spacing from ``quiet_since`` (a monotonic time:
        the task's start), or from now."""
        return TaskPacer.for_budget(
            self.requests_per_minute,
            self.budget_slots,
            deadline=deadline,
            quiet_since=quiet_since,
            name=self.conn_id,
        )


def _load_extra(conn_id: str, extra: str | dict[str, Any] | None) -> dict[str, Any]:
    if extra is None or extra == "":
        return {}
    if isinstance(extra, dict):
        return extra
    try:
        data = json.loads(extra)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        raise FireflyConfigError(
            f"connection {conn_id!r}: extra is not valid JSON; give a JSON object such as "
            '{"scopes": "openid,AdobeID,firefly_api,ff_apis"}',
            field="extra",
        ) from None
    if not isinstance(data, dict):
        raise FireflyConfigError(
            f"connection {conn_id!r}: extra must be a JSON object, got {type(data).__name__}",
            field="extra",
        )
    return data


def _short(value: Any) -> str:
    """``repr`` of a bad value, clipped: a 5000-digit number cannot even be turned into text."""
    try:
        text = repr(value)
    except ValueError:
        return "a number too long to show"
    return text if len(text) <= 60 else text[:57] + "..."


def _typed(conn_id: str, name: str, value: Any) -> Any:
    kind = EXTRA_FIELDS[name].type
    if value is None or value == "":
        return None
    problem = f"connection {conn_id!r}: extra field {name!r}"
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
            return value.strip().lower() in ("true", "1")
        raise FireflyConfigError(f"{problem} must be true or false, got {value!r}", field=name)
    if kind in ("number", "integer"):
        try:
            number = float(value) if kind == "number" else int(str(value), 10)
        except (TypeError, ValueError, OverflowError):  # OverflowError: a 400-digit number
            raise FireflyConfigError(
                f"{problem} must be a {kind}, got {_short(value)}", field=name
            ) from None
        if isinstance(value, bool):
            raise FireflyConfigError(f"{problem} must be a {kind}, got {value!r}", field=name)
        return number
    if not isinstance(value, str):
        raise FireflyConfigError(
            f"{problem} must be a string, got {type(value).__name__}", field=name
        )
    return value.strip()


def parse_connection(
    conn_id: str,
    *,
    login: str | None,
    password: str | None,
    extra: str | dict[str, Any] | None,
) -> FireflyConnectionConfig:
    """Validate a connection's values; every error names the connection and the field.

    No network call is made. An error never quotes the client secret, even when it was pasted
    into another field.
    """
    try:
        return _parse_connection(conn_id, login=login, password=password, extra=extra)
    except FireflyConfigError as error:
        if password and len(password) >= 6 and password in error.message:
            raise FireflyConfigError(
                error.message.replace(password, "***"), field=error.field
            ) from None
        raise


def _parse_connection(
    conn_id: str,
    *,
    login: str | None,
    password: str | None,
    extra: str | dict[str, Any] | None,
) -> FireflyConnectionConfig:
    raw = _load_extra(conn_id, extra)
    values: dict[str, Any] = {}
    for key, value in raw.items():
        name = key[len(_PREFIX) :] if key.startswith(_PREFIX) else key
        if name not in EXTRA_FIELDS:
            raise FireflyConfigError(
                f"connection {conn_id!r}: unknown extra field {key!r}; known fields: "
                f"{', '.join(EXTRA_FIELDS)}",
                field=key,
            )
        typed = _typed(conn_id, name, value)
        if typed is not None and (name not in values or not key.startswith(_PREFIX)):
            values[name] = typed

    def default(name: str) -> Any:
        return values.get(name, EXTRA_FIELDS[name].default)

    custom_endpoints = bool(default("allow_custom_endpoints"))
    try:
        credentials = FireflyCredentials(
            client_id=(login or "").strip(),
            client_secret=password or "",
            scopes=values.get("scopes") or DEFAULT_SCOPES,
            ims_url=default("ims_url"),
            allow_custom_endpoints=custom_endpoints,
        )
        http = HttpSettings(
            api_url=default("api_url"),
            connect_timeout=float(default("connect_timeout")),
            read_timeout=float(default("read_timeout")),
            max_attempts=int(default("max_attempts")),
            request_deadline=float(default("request_deadline")),
            max_output_bytes=int(default("max_output_bytes")),
            allow_custom_endpoints=custom_endpoints,
            proxy_url=values.get("proxy_url"),
            ca_bundle=values.get("ca_bundle"),
        )
        token_cache = TokenCacheSettings(
            host_cache=bool(default("host_cache")),
            cache_dir=values.get("cache_dir"),
        )
    except FireflyConfigError as error:
        where = f"connection {conn_id!r}"
        if error.field and error.field not in error.message:
            where += f", field {error.field!r}"
        raise FireflyConfigError(f"{where}: {error.message}", field=error.field) from None
    return FireflyConnectionConfig(
        conn_id=conn_id,
        credentials=credentials,
        http=http,
        token_cache=token_cache,
        shared_token_cache=bool(default("shared_cache")),
        **_budget(
            conn_id,
            values.get("requests_per_minute"),
            values.get("budget_slots"),
            local=is_loopback_host(http.api_host),
        ),
    )


def _budget(conn_id: str, value: float | None, slots: int | None, *, local: bool) -> dict[str, Any]:
    if value is None:
        if local:
            # A loopback server (the emulator) enforces no organisation budget unless told to.
            if slots is not None:
                raise FireflyConfigError(
                    f"connection {conn_id!r}: extra field 'budget_slots' needs "
                    "'requests_per_minute' (the organisation's budget it divides) as well",
                    field="budget_slots",
                )
            return {}
        value = ADOBE_DEFAULT_REQUESTS_PER_MINUTE
    if not is_positive_number(value) or value > 100_000:
        raise FireflyConfigError(
            f"connection {conn_id!r}: extra field 'requests_per_minute' must be above 0 "
            f"(Adobe's default budget is 4), got {value!r}",
            field="requests_per_minute",
        )
    try:
        share_per_slot(value, slots)
    except FireflyConfigError as error:
        raise FireflyConfigError(
            f"connection {conn_id!r}: extra field {error.message}", field=error.field
        ) from None
    return {"requests_per_minute": float(value), "budget_slots": slots}
