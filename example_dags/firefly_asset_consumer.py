"""Asset consumer: runs when ``firefly_asset_producer`` announces new campaign images.

Scheduled on the ``firefly_campaign_images`` asset. Its task reads the triggering asset events'
``extra`` (set by the Firefly operator or sensor that saved the images): the Firefly job ids,
the saved paths, how many outputs there were and their seeds, and returns one manifest. It
makes no Firefly request, so it runs the same whether the producer used Adobe or the local
emulator; the scheduler starts it after every producer run that saved images.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Asset, dag, task

CAMPAIGN_IMAGES = Asset("firefly_campaign_images")


def manifest(events: Any) -> dict[str, Any]:
    """One manifest of every triggering event of the campaign asset."""
    jobs: list[str] = []
    paths: list[str] = []
    for event in events:
        extra = event.extra or {}
        jobs.extend(extra.get("firefly_job_ids") or [])
        paths.extend(extra.get("saved_paths") or [])
    return {"job_ids": jobs, "saved_paths": paths, "count": len(paths)}


@dag(
    dag_id="firefly_asset_consumer",
    schedule=[CAMPAIGN_IMAGES],
    catchup=False,
    doc_md=__doc__,
    tags=["firefly", "example", "assets"],
)
def firefly_asset_consumer() -> None:
    @task
    def collect(*, triggering_asset_events: Any = None) -> dict[str, Any]:
        events = triggering_asset_events[CAMPAIGN_IMAGES] if triggering_asset_events else []
        result = manifest(events)
        for path in result["saved_paths"]:
            print(f"FIREFLY_CAMPAIGN_IMAGE {path}")
        return result

    collect()


firefly_asset_consumer()
