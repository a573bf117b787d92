"""The final 429: what was tried, and how to stay inside the organisation's budget.

Both places that give up on a rate-limited request (the retry policy of
:mod:`~airflow_provider_firefly.client.retry` and the pacer of
:mod:`~airflow_provider_firefly.client.pacing`) raise the error built here, so the advice is
written once.
"""

from __future__ import annotations

from airflow_provider_firefly.client.errors import FireflyRateLimitError

__all__ = ["RATE_LIMIT_ADVICE", "exhausted_rate_limit"]

#: What a user can change when 429s outlast the retries: fewer tasks at once, each paced.
RATE_LIMIT_ADVICE = (
    "Adobe counts requests per organisation, so too many tasks share its budget: run Firefly "
    "tasks in a pool sized to the budget (e.g. `airflow pools set firefly 4 'Firefly API' "
    "--include-deferred` and pool='firefly' on the operators), or set the connection's "
    "requests_per_minute (and budget_slots to the pool's size) so each task paces its requests"
)


def exhausted_rate_limit(
    last: FireflyRateLimitError, *, tries: int, seconds: float
) -> FireflyRateLimitError:
    """A new :class:`~airflow_provider_firefly.client.errors.FireflyRateLimitError` for giving
    up after ``tries`` rate-limited tries over ``seconds``, keeping ``last``'s details.

    :param last: the 429 of the last try.
    :param tries: how many tries were made, the first included.
    :param seconds: how long the tries took, waits included.
    """
    plural = "try" if tries == 1 else "tries"
    return FireflyRateLimitError(
        f"{last.message}; gave up after {tries} {plural} over {seconds:.0f} s. {RATE_LIMIT_ADVICE}",
        retry_after=last.retry_after,
        limit_level=last.limit_level,
        status=last.status,
        error_code=last.error_code,
        request_id=last.request_id,
        job_id=last.job_id,
        tries=tries,
        elapsed=seconds,
    )
