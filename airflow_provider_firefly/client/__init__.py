"""The Firefly client: transport, IMS tokens and the API, with no Airflow dependency."""

from __future__ import annotations

from airflow_provider_firefly.client.api import AsyncFireflyClient, FireflyClient, PollPolicy
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
    FireflyValidationError,
)
from airflow_provider_firefly.client.jobs import JobHandle, JobOutput, JobStatus
from airflow_provider_firefly.client.operations import OPERATIONS, Operation

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_IMS_URL",
    "DEFAULT_SCOPES",
    "OPERATIONS",
    "AsyncFireflyClient",
    "FireflyAccessError",
    "FireflyAuthError",
    "FireflyClient",
    "FireflyConfigError",
    "FireflyConflictError",
    "FireflyConnectionError",
    "FireflyContentPolicyError",
    "FireflyCredentials",
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
    "FireflyTimeoutError",
    "FireflyValidationError",
    "HttpSettings",
    "JobHandle",
    "JobOutput",
    "JobStatus",
    "Operation",
    "PollPolicy",
    "TokenCacheSettings",
]
