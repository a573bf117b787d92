"""DAG of tests/compat/test_sensor_modes.py: FireflyJobSensor in its three modes, one after another.

A linear chain, so the order (and so the timing) is the same on every Airflow minor: each sensor
waits for a job submitted just before it, which the emulator keeps running for a few seconds.
``COMPAT_SENSOR_MODES`` (comma-separated) picks the modes.
"""

from __future__ import annotations

import datetime
import os

from airflow.sdk import DAG, task

from airflow_provider_firefly.sensors.firefly import FireflyJobSensor


@task
def submit(name: str) -> str:
    from airflow_provider_firefly.hooks.firefly import FireflyHook

    return FireflyHook().submit("generate_images", {"prompt": f"{name} lighthouse"}).status_url


with DAG(
    dag_id="compat_sensor",
    schedule=None,
    start_date=datetime.datetime(2026, 1, 1),
    catchup=False,
    tags=["firefly-tests"],
    default_args={"retries": 0},
) as the_dag:
    chain = []
    for mode in os.environ.get("COMPAT_SENSOR_MODES", "reschedule,poke,deferrable").split(","):
        url = submit.override(task_id=f"submit_{mode}")(mode)
        sensor = FireflyJobSensor(
            task_id=mode,
            status_url=url,
            mode="poke" if mode == "deferrable" else mode,
            deferrable=mode == "deferrable",
            poke_interval=1,
            expected_seconds=1,
            poll_max_interval=1,
            timeout=120,
        )
        if chain:
            chain[-1] >> url
        url >> sensor
        chain.append(sensor)
