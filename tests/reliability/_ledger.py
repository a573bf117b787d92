"""What the reliability suite saw, for the figures of ``docs/reliability.md``.

Tests append entries with :func:`record`; ``conftest.py`` adds the pass/fail outcome of every
test item and writes everything to ``test-artifacts/reliability/last-run.json`` at the end of
the session, which ``benchmarks/reliability_report.py`` turns into the figures.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
REPORT = Path(
    os.environ.get(
        "FIREFLY_RELIABILITY_REPORT", ROOT / "test-artifacts" / "reliability" / "last-run.json"
    )
)

ENTRIES: dict[str, list[dict[str, Any]]] = {
    "faults": [],
    "bad_inputs": [],
    "secrets": [],
    "concurrency": [],
    "hygiene": [],
    "properties": [],
}
ITEMS: dict[str, str] = {}
STARTED = time.time()


def record(section: str, **entry: Any) -> None:
    ENTRIES.setdefault(section, []).append(entry)


def write() -> Path:
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "started": STARTED,
        "finished": time.time(),
        "items": ITEMS,
        **ENTRIES,
    }
    REPORT.write_text(json.dumps(data, indent=1, default=str))
    return REPORT
