"""``airflow dags test <consumer>`` whose run consumed the asset events already in the DB.

``dag.test()`` creates a manual run with no triggering events; the scheduler would have given an
asset-triggered run the queued events (``DagRun.consumed_asset_events``). This wraps the run
creation ``dag.test()`` calls to attach every event of the consumer's scheduling assets, then
runs the real CLI, so the consumer's tasks read ``triggering_asset_events`` as in production.
"""

from __future__ import annotations

import sys
from typing import Any


def main(dag_id: str) -> None:
    from airflow.models import dagrun as dagrun_module
    from airflow.models.asset import AssetEvent, DagScheduleAssetReference
    from sqlalchemy import select

    create = dagrun_module.get_or_create_dagrun

    def with_asset_events(**kwargs: Any) -> Any:
        session = kwargs["session"]
        run = create(**kwargs)
        assets = select(DagScheduleAssetReference.asset_id).where(
            DagScheduleAssetReference.dag_id == dag_id
        )
        events = session.scalars(select(AssetEvent).where(AssetEvent.asset_id.in_(assets))).all()
        run.consumed_asset_events.extend(events)
        session.commit()
        print(f"CONSUMER_RUN_EVENTS {len(events)}", flush=True)
        return run

    dagrun_module.get_or_create_dagrun = with_asset_events  # type: ignore[assignment]
    from airflow.__main__ import main as airflow_main

    sys.argv = ["airflow", "dags", "test", dag_id]
    airflow_main()


if __name__ == "__main__":
    main(sys.argv[1])
