"""Tell an ``ObjectStoragePath`` from other path-like values, without building its file system.

The one duck-type check the hook, the operators' inputs and outputs and lineage share; it
imports nothing, so a DAG file or the OpenLineage provider may use it without loading the hook.
"""

from __future__ import annotations

__all__ = ["is_object_storage_path"]


def is_object_storage_path(value: object) -> bool:
    """An ``ObjectStoragePath`` (or a look-alike with ``protocol``, ``open`` and ``fs``)."""
    if not (hasattr(value, "protocol") and hasattr(value, "open")):
        return False
    # Not hasattr(value, "fs"): that builds the file system, and raises ValueError for a
    # scheme no installed provider registers (s3:// without the Amazon provider).
    return hasattr(type(value), "fs") or "fs" in getattr(value, "__dict__", {})
