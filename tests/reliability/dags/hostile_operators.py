"""DAGs of tests/reliability/test_hostile_operators.py, run with ``airflow dags test`` against an
emulator whose replies the test scripts.

* ``ff_hostile``: six tasks in a fixed order (each runs after the previous one, whatever its
  outcome), so that the scripted replies reach the task they are meant for: a plain task (its
  name uses every placeholder), a templated ``output_name`` that renders to ``../../escape``, a
  job id that climbs out of ``output_dir``, an ``s3://`` output_dir without the Amazon
  provider, an output_dir under a regular file, and an output URL that redirects to plain http.
* ``etl__daily`` (task ``gen``) and ``etl`` (task ``daily__gen``): the two task instances whose
  job records shared a key before keys were digests (run with ``airflow tasks test`` and one
  run id).
* ``ff_hostile_kill``: one task, killed by the test after Firefly accepted its job, then run
  again in the same run (``airflow tasks test``).
"""

from __future__ import annotations

import datetime
import os

from airflow.sdk import DAG

from airflow_provider_firefly.operators import FireflyGenerateImagesOperator

OUT = os.environ.get("FF_HOSTILE_OUT", "/tmp/ff-hostile-out")
BLOCKER = os.environ.get("FF_HOSTILE_BLOCKER", "/tmp/ff-hostile-blocker")
RESUBMIT = os.environ.get("FF_HOSTILE_RESUBMIT") == "1"
START = datetime.datetime(2026, 1, 1)
FAST = {"size": (32, 32), "expected_seconds": 0.1, "poll_interval": 0.1, "job_timeout": 60}


def gen(task_id: str, **kw: object) -> FireflyGenerateImagesOperator:
    kw.setdefault("output_dir", OUT)
    return FireflyGenerateImagesOperator(
        task_id=task_id, prompt="a lighthouse", trigger_rule="all_done", **FAST, **kw
    )


with DAG(
    dag_id="ff_hostile",
    schedule=None,
    start_date=START,
    catchup=False,
    params={"prefix": "../../escape"},
) as hostile:
    (
        gen("every_placeholder", output_name="{dag_id}-{task_id}-{run_id}-{job_id}-{seed}.{ext}")
        >> gen("templated_name", output_name="{{ params.prefix }}-{seed}.{ext}")
        >> gen("climbing_job_id", output_name="{job_id}-{seed}.{ext}")
        >> gen("s3_without_provider", output_dir="s3://ff-hostile-bucket/out")
        >> gen("parent_is_a_file", output_dir=BLOCKER + "/out")
        >> gen("redirect_to_http")
    )

with DAG(dag_id="etl__daily", schedule=None, start_date=START, catchup=False) as etl_daily:
    gen("gen")

with DAG(dag_id="etl", schedule=None, start_date=START, catchup=False) as etl:
    gen("daily__gen")

with DAG(dag_id="ff_hostile_kill", schedule=None, start_date=START, catchup=False) as kill:
    gen("gen", resubmit_unanswered=RESUBMIT)
