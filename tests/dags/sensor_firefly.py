"""Test DAG of tests/sensors/test_sensor_dag.py: FireflyJobSensor in its three modes.

Job ids and status URLs come from the run's conf (``dag.test(run_conf=...)``), rendered through
the sensor's templated fields; the connection ``ff_sensor`` from ``AIRFLOW_CONN_FF_SENSOR``.
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG

from airflow_provider_firefly.sensors.firefly import FireflyJobSensor

with DAG(
    dag_id="sensor_firefly",
    schedule=None,
    start_date=datetime.datetime(2026, 1, 1),
    catchup=False,
    tags=["firefly-tests"],
    default_args={"retries": 0},
) as the_dag:
    FireflyJobSensor(
        task_id="poke",
        job_id="{{ dag_run.conf['poke_job_id'] }}",
        firefly_conn_id="ff_sensor",
        mode="poke",
        poke_interval=0.5,
        timeout=120,
        deferrable=False,
    )
    FireflyJobSensor(
        task_id="reschedule",
        status_url="{{ dag_run.conf['reschedule_status_url'] }}",
        firefly_conn_id="ff_sensor",
        mode="reschedule",
        poke_interval=1,
        timeout=120,
        deferrable=False,
    )
    FireflyJobSensor(
        task_id="deferrable",
        status_url="{{ dag_run.conf['deferrable_status_url'] }}",
        firefly_conn_id="ff_sensor",
        deferrable=True,
        expected_seconds=1,
        poll_max_interval=2,
        timeout=120,
    )
    FireflyJobSensor(
        task_id="failed_job",
        job_id="{{ dag_run.conf['failed_job_id'] }}",
        firefly_conn_id="ff_sensor",
        mode="poke",
        poke_interval=0.5,
        timeout=120,
        deferrable=False,
    )
    FireflyJobSensor(
        task_id="deferrable_timeout",
        status_url="{{ dag_run.conf['slow_status_url'] }}",
        firefly_conn_id="ff_sensor",
        deferrable=True,
        expected_seconds=0.5,
        timeout=2,
    )
