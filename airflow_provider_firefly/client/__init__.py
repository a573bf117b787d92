"""The Firefly client: transport, IMS tokens and the API, with no Airflow dependency.

Names are imported on first use: Airflow reads this provider's metadata (which needs
:mod:`.config` and :mod:`.errors` only) in every process, and DAG files should not pay for
``requests``, ``httpx`` or ``cryptography`` unless a task really calls Firefly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_firefly.lazy_exports import lazy_exports

if TYPE_CHECKING:  # what the lazy names below resolve to, for type checkers and IDEs
    from airflow_provider_firefly.client.access_token import (
        MAX_TOKEN_LIFETIME as MAX_TOKEN_LIFETIME,
    )
    from airflow_provider_firefly.client.access_token import AccessToken as AccessToken
    from airflow_provider_firefly.client.access_token import token_fingerprint as token_fingerprint
    from airflow_provider_firefly.client.api import FireflyClient as FireflyClient
    from airflow_provider_firefly.client.api import PollPolicy as PollPolicy
    from airflow_provider_firefly.client.async_api import AsyncFireflyClient as AsyncFireflyClient
    from airflow_provider_firefly.client.config import DEFAULT_API_URL as DEFAULT_API_URL
    from airflow_provider_firefly.client.config import DEFAULT_IMS_URL as DEFAULT_IMS_URL
    from airflow_provider_firefly.client.config import DEFAULT_SCOPES as DEFAULT_SCOPES
    from airflow_provider_firefly.client.config import FireflyCredentials as FireflyCredentials
    from airflow_provider_firefly.client.config import HttpSettings as HttpSettings
    from airflow_provider_firefly.client.config import TokenCacheSettings as TokenCacheSettings
    from airflow_provider_firefly.client.errors import FireflyAccessError as FireflyAccessError
    from airflow_provider_firefly.client.errors import FireflyAuthError as FireflyAuthError
    from airflow_provider_firefly.client.errors import FireflyConfigError as FireflyConfigError
    from airflow_provider_firefly.client.errors import FireflyConflictError as FireflyConflictError
    from airflow_provider_firefly.client.errors import (
        FireflyConnectionError as FireflyConnectionError,
    )
    from airflow_provider_firefly.client.errors import (
        FireflyContentPolicyError as FireflyContentPolicyError,
    )
    from airflow_provider_firefly.client.errors import (
        FireflyDownloadRefusedError as FireflyDownloadRefusedError,
    )
    from airflow_provider_firefly.client.errors import FireflyError as FireflyError
    from airflow_provider_firefly.client.errors import (
        FireflyJobCancelledError as FireflyJobCancelledError,
    )
    from airflow_provider_firefly.client.errors import FireflyJobError as FireflyJobError
    from airflow_provider_firefly.client.errors import (
        FireflyJobFailedError as FireflyJobFailedError,
    )
    from airflow_provider_firefly.client.errors import (
        FireflyJobTimeoutError as FireflyJobTimeoutError,
    )
    from airflow_provider_firefly.client.errors import FireflyNotFoundError as FireflyNotFoundError
    from airflow_provider_firefly.client.errors import (
        FireflyOutputExpiredError as FireflyOutputExpiredError,
    )
    from airflow_provider_firefly.client.errors import (
        FireflyRateLimitError as FireflyRateLimitError,
    )
    from airflow_provider_firefly.client.errors import FireflyRequestError as FireflyRequestError
    from airflow_provider_firefly.client.errors import FireflyServerError as FireflyServerError
    from airflow_provider_firefly.client.errors import FireflyTimeoutError as FireflyTimeoutError
    from airflow_provider_firefly.client.errors import FireflyTLSError as FireflyTLSError
    from airflow_provider_firefly.client.errors import (
        FireflyValidationError as FireflyValidationError,
    )
    from airflow_provider_firefly.client.jobs import JobHandle as JobHandle
    from airflow_provider_firefly.client.jobs import JobOutput as JobOutput
    from airflow_provider_firefly.client.jobs import JobStatus as JobStatus
    from airflow_provider_firefly.client.operations import OPERATIONS as OPERATIONS
    from airflow_provider_firefly.client.operations import Operation as Operation
    from airflow_provider_firefly.client.shared_store import SharedTokenStore as SharedTokenStore
    from airflow_provider_firefly.client.token_cache import HostTokenCache as HostTokenCache
    from airflow_provider_firefly.client.token_registry import (
        clear_memory_cache as clear_memory_cache,
    )
    from airflow_provider_firefly.client.token_sealing import TokenCacheError as TokenCacheError
    from airflow_provider_firefly.client.token_sealing import decrypt_token as decrypt_token
    from airflow_provider_firefly.client.token_sealing import encrypt_token as encrypt_token
    from airflow_provider_firefly.client.tokens import TokenManager as TokenManager

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

__all__ = sorted(_LAZY)  # noqa: PLE0605
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
