"""Test DAG of tests/hooks/test_dag_run.py: FireflyHook inside real Airflow tasks.

The connections come from the test (``AIRFLOW_CONN_FF_SHARED`` and ``AIRFLOW_CONN_FF_E2E``
in the environment, ``ff_db`` in the metadata DB); paths from ``FF_DAG_WORKDIR``. Each task
returns only fingerprints and sizes, never a token or a secret.
"""

from __future__ import annotations

import datetime
import logging
import os
from typing import Any

from airflow.sdk import dag, task

log = logging.getLogger("ff_hook_dag")


def _token_from_variable_level(conn_id: str) -> dict[str, Any]:
    """What a task on another worker sees: an empty process cache, no host cache."""
    from airflow_provider_firefly.client.tokens import clear_memory_cache
    from airflow_provider_firefly.hooks.firefly import FireflyHook

    clear_memory_cache()  # dag.test() runs every task in this one process
    hook = FireflyHook(firefly_conn_id=conn_id)
    token = hook.get_access_token()
    # Logged on purpose: mask_secret must hide it (and the secret) in the task log.
    log.info("LEAK-CHECK token=%s secret=%s", token, hook.config.credentials.client_secret)
    manager = hook.client.token_manager
    from airflow.sdk._shared.secrets_masker import redact

    from airflow_provider_firefly.client import token_fingerprint

    return {
        "fingerprint": token_fingerprint(token),
        "stats": manager.stats,
        "masker_hides_token": token not in str(redact(f"<{token}>")),
        "repr": repr(hook),
        "client_repr": repr(hook.client),
        "manager_repr": repr(manager),
    }


@dag(
    dag_id="ff_hook_dag",
    schedule=None,
    start_date=datetime.datetime(2026, 1, 1),
    catchup=False,
    tags=["firefly-tests"],
)
def ff_hook_dag() -> None:
    @task
    def shared_first() -> dict[str, Any]:
        return _token_from_variable_level("ff_shared")

    @task
    def shared_second(first: dict[str, Any]) -> dict[str, Any]:
        return _token_from_variable_level("ff_shared")

    @task
    def db_connection() -> dict[str, Any]:
        from airflow_provider_firefly.hooks.firefly import FireflyHook

        hook = FireflyHook(firefly_conn_id="ff_db")
        ok, message = hook.test_connection()
        return {
            "ok": ok,
            "message": message,
            "api_url": hook.config.http.api_url,
            "max_attempts": hook.config.http.max_attempts,
        }

    @task
    def end_to_end() -> dict[str, Any]:
        from airflow.sdk import ObjectStoragePath

        from airflow_provider_firefly.client.errors import FireflyError
        from airflow_provider_firefly.hooks.firefly import FireflyHook

        work = os.environ["FF_DAG_WORKDIR"]
        hook = FireflyHook(firefly_conn_id="ff_e2e")
        source = ObjectStoragePath(f"file://{work}/input/source.png")
        upload_id = hook.upload_image(source)
        job = hook.submit(
            "generate_images",
            {
                "prompt": "a lighthouse at dawn",
                "numVariations": 1,
                "style": {"imageReference": {"source": {"uploadId": upload_id}}},
            },
        )
        status = hook.wait(job, timeout=60)
        output = status.outputs[0]
        local = hook.download(output, os.path.join(work, "out", "local.png"))
        remote = ObjectStoragePath(f"file://{work}/store/nested/remote.png")
        stored = hook.download(output, remote)
        error = ""
        try:
            hook.get_status("urn:ff:jobs:emu:00000000-0000-0000-0000-000000000000")
        except FireflyError as exc:
            error = f"{type(exc).__name__}: {exc}"
        return {
            "upload_id": upload_id,
            "job_id": status.job_id,
            "status": status.status,
            "local_bytes": local.bytes_written if hasattr(local, "bytes_written") else None,
            "local_size": os.path.getsize(os.path.join(work, "out", "local.png")),
            "remote_size": remote.stat().st_size,
            "stored": repr(stored),
            "error": error,
        }

    shared_second(shared_first())
    db_connection()
    end_to_end()


the_dag = ff_hook_dag()
