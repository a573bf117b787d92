"""The Firefly client: transport, IMS tokens and the API, with no Airflow dependency.

Names are imported on first use: Airflow reads this provider's metadata (which needs
:mod:`.config` and :mod:`.errors` only) in every process, and DAG files should not pay for
``requests``, ``httpx`` or ``cryptography`` unless a task really calls Firefly.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_firefly.client.access_token import (
        MAX_TOKEN_LIFETIME,
        AccessToken,
        token_fingerprint,
    )
    from airflow_provider_firefly.client.api import (
        FireflyClient,
        PollPolicy,
    )
    from airflow_provider_firefly.client.async_api import AsyncFireflyClient
    from airflow_provider_firefly.client.config import (
        DEFAULT_API_URL,
        DEFAULT_IMS_URL,
        DEFAULT_SCOPES,
        FireflyCredentials,
        HttpSettings,
        TokenCacheSettings,
    )
    from airflow_provider_firefly.client.errors import (
        FireflyAccessError,
        FireflyAuthError,
        FireflyConfigError,
        FireflyConflictError,
        FireflyConnectionError,
        FireflyContentPolicyError,
        FireflyDownloadRefusedError,
        FireflyError,
        FireflyJobCancelledError,
        FireflyJobError,
        FireflyJobFailedError,
        FireflyJobTimeoutError,
        FireflyNotFoundError,
        FireflyOutputExpiredError,
        FireflyRateLimitError,
        FireflyRequestError,
        FireflyServerError,
        FireflyTimeoutError,
        FireflyTLSError,
        FireflyValidationError,
    )
    from airflow_provider_firefly.client.jobs import (
        JobHandle,
        JobOutput,
        JobStatus,
    )
    from airflow_provider_firefly.client.operations import (
        OPERATIONS,
        Operation,
    )
    from airflow_provider_firefly.client.shared_store import SharedTokenStore
    from airflow_provider_firefly.client.token_cache import HostTokenCache
    from airflow_provider_firefly.client.token_registry import clear_memory_cache
    from airflow_provider_firefly.client.token_sealing import (
        TokenCacheError,
        decrypt_token,
        encrypt_token,
    )
    from airflow_provider_firefly.client.tokens import TokenManager

_LAZY: dict[str, str] = {
    "AsyncFireflyClient": "airflow_provider_firefly.client.async_api",
    "FireflyClient": "airflow_provider_firefly.client.api",
    "PollPolicy": "airflow_provider_firefly.client.api",
    "DEFAULT_API_URL": "airflow_provider_firefly.client.config",
    "DEFAULT_IMS_URL": "airflow_provider_firefly.client.config",
    "DEFAULT_SCOPES": "airflow_provider_firefly.client.config",
    "FireflyCredentials": "airflow_provider_firefly.client.config",
    "HttpSettings": "airflow_provider_firefly.client.config",
    "TokenCacheSettings": "airflow_provider_firefly.client.config",
    "FireflyAccessError": "airflow_provider_firefly.client.errors",
    "FireflyAuthError": "airflow_provider_firefly.client.errors",
    "FireflyConfigError": "airflow_provider_firefly.client.errors",
    "FireflyConflictError": "airflow_provider_firefly.client.errors",
    "FireflyConnectionError": "airflow_provider_firefly.client.errors",
    "FireflyContentPolicyError": "airflow_provider_firefly.client.errors",
    "FireflyDownloadRefusedError": "airflow_provider_firefly.client.errors",
    "FireflyError": "airflow_provider_firefly.client.errors",
    "FireflyJobCancelledError": "airflow_provider_firefly.client.errors",
    "FireflyJobError": "airflow_provider_firefly.client.errors",
    "FireflyJobFailedError": "airflow_provider_firefly.client.errors",
    "FireflyJobTimeoutError": "airflow_provider_firefly.client.errors",
    "FireflyNotFoundError": "airflow_provider_firefly.client.errors",
    "FireflyOutputExpiredError": "airflow_provider_firefly.client.errors",
    "FireflyRateLimitError": "airflow_provider_firefly.client.errors",
    "FireflyRequestError": "airflow_provider_firefly.client.errors",
    "FireflyServerError": "airflow_provider_firefly.client.errors",
    "FireflyTimeoutError": "airflow_provider_firefly.client.errors",
    "FireflyTLSError": "airflow_provider_firefly.client.errors",
    "FireflyValidationError": "airflow_provider_firefly.client.errors",
    "JobHandle": "airflow_provider_firefly.client.jobs",
    "JobOutput": "airflow_provider_firefly.client.jobs",
    "JobStatus": "airflow_provider_firefly.client.jobs",
    "OPERATIONS": "airflow_provider_firefly.client.operations",
    "Operation": "airflow_provider_firefly.client.operations",
    "AccessToken": "airflow_provider_firefly.client.access_token",
    "MAX_TOKEN_LIFETIME": "airflow_provider_firefly.client.access_token",
    "token_fingerprint": "airflow_provider_firefly.client.access_token",
    "HostTokenCache": "airflow_provider_firefly.client.token_cache",
    "TokenCacheError": "airflow_provider_firefly.client.token_sealing",
    "decrypt_token": "airflow_provider_firefly.client.token_sealing",
    "encrypt_token": "airflow_provider_firefly.client.token_sealing",
    "SharedTokenStore": "airflow_provider_firefly.client.shared_store",
    "TokenManager": "airflow_provider_firefly.client.tokens",
    "clear_memory_cache": "airflow_provider_firefly.client.token_registry",
}

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_IMS_URL",
    "DEFAULT_SCOPES",
    "MAX_TOKEN_LIFETIME",
    "OPERATIONS",
    "AccessToken",
    "AsyncFireflyClient",
    "FireflyAccessError",
    "FireflyAuthError",
    "FireflyClient",
    "FireflyConfigError",
    "FireflyConflictError",
    "FireflyConnectionError",
    "FireflyContentPolicyError",
    "FireflyCredentials",
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
    "HostTokenCache",
    "HttpSettings",
    "JobHandle",
    "JobOutput",
    "JobStatus",
    "Operation",
    "PollPolicy",
    "SharedTokenStore",
    "TokenCacheError",
    "TokenCacheSettings",
    "TokenManager",
    "clear_memory_cache",
    "decrypt_token",
    "encrypt_token",
    "token_fingerprint",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
