"""What the blocking and the asyncio transports share: their settings, one request's options,
and the one ``User-Agent`` header.

:class:`RequestOptions` is the one list of a request's keyword options; the transports and the
API clients all take it as ``**options``, so the sync and async signatures cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

import requests

from airflow_provider_firefly import __version__
from airflow_provider_firefly.client.config import HttpSettings
from airflow_provider_firefly.client.http_base import Outgoing, outgoing
from airflow_provider_firefly.client.pacing import TaskPacer
from airflow_provider_firefly.client.retry import RetryPolicy

__all__ = ["RequestOptions", "TransportBase", "build_user_agent"]


def build_user_agent(*products: str) -> str:
    """The ``User-Agent`` header: this package and its version, ``products`` (e.g. the hook's
    ``apache-airflow/3.1.0``), then the HTTP library."""
    ours = f"airflow-provider-firefly/{__version__}"
    return " ".join((ours, *products, f"python-requests/{requests.__version__}"))


class RequestOptions(TypedDict, total=False):
    """The keyword options of one request.

    :param headers: extra headers (the transport adds ``User-Agent``, ``Accept`` and
        ``Accept-Encoding``).
    :param json_body: a JSON value to send (sets ``Content-Type: application/json``).
    :param content: raw bytes to send instead.
    :param params: the query string.
    :param idempotent: False for a request that must not be repeated where the server may
        have acted on it (a billed job submission); True by default.
    :param subject: how errors and logs name the request (``"METHOD /path"`` by default).
    """

    headers: Mapping[str, str] | None
    json_body: Any
    content: bytes | None
    params: Mapping[str, Any] | None
    idempotent: bool
    subject: str | None


class TransportBase:
    """Settings, retry policy, pacer and user agent of a transport, and the request it sends.

    :param settings: timeouts, deadline, retry bounds.
    :param user_agent: sent with every request.
    :param policy: the retry policy; built from ``settings`` by default.
    :param pacer: the task's share of the request budget; every attempt waits for it (see
        :mod:`.pacing`).
    """

    def __init__(
        self,
        settings: HttpSettings,
        *,
        user_agent: str,
        policy: RetryPolicy | None = None,
        pacer: TaskPacer | None = None,
    ) -> None:
        self.settings = settings
        self.pacer = pacer
        self.policy = policy or RetryPolicy.from_settings(settings)
        self.user_agent = user_agent

    def outgoing(self, method: str, url: str, options: RequestOptions) -> Outgoing:
        """The headers and body to send for ``options``, and the request's name."""
        return outgoing(
            self.user_agent,
            method,
            url,
            headers=options.get("headers"),
            json_body=options.get("json_body"),
            content=options.get("content"),
            subject=options.get("subject"),
        )
