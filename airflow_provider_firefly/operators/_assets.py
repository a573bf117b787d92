"""What a Firefly task attaches to the asset events of its ``outlets``.

A downstream DAG scheduled on an asset reads these from ``triggering_asset_events``: which jobs
made the images, where they were saved and how many there are. Only plain values go in (no
presigned URL: an asset event is stored for good, an output URL is a bearer link).
"""

from __future__ import annotations

from typing import Any

__all__ = ["asset_extra", "attach_to_outlets"]


def asset_extra(result: dict[str, Any]) -> dict[str, Any]:
    """The asset-event ``extra`` of a finished job's XCom value (no URL, no token)."""
    return {
        "firefly_job_ids": [result.get("job_id")],
        "operation": result.get("operation"),
        "model_version": result.get("model_version"),
        "saved_paths": list(result.get("saved_paths") or []),
        "count": len(result.get("outputs") or []),
        "seeds": list(result.get("seeds") or []),
    }


def attach_to_outlets(outlets: Any, context: Any, result: dict[str, Any], log: Any) -> int:
    """Add :func:`asset_extra` to the event of every ``Asset`` outlet; returns how many.

    Asset aliases are left alone: which asset an alias stands for is the DAG author's choice
    (``outlet_events[alias].add(Asset(...), extra=...)`` in their own task).
    """
    if not outlets or not context:
        return 0
    from airflow.sdk import Asset

    try:
        events = context["outlet_events"]
    except (KeyError, TypeError):
        return 0
    extra = asset_extra(result)
    count = 0
    for outlet in outlets:
        if not isinstance(outlet, Asset):
            continue
        try:
            events[outlet].extra.update(extra)
        except Exception as error:  # an accessor Airflow does not offer must not lose the result
            log.warning("Could not attach the Firefly job to asset %s: %s", outlet.uri, error)
            continue
        count += 1
    if count:
        log.info("Asset event extra of %d outlet(s): %d saved file(s)", count, extra["count"])
    return count
