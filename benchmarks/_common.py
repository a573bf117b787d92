"""Shared helpers of the benchmarks: a spawned emulator and a table printer."""

from __future__ import annotations

import json
import os
import statistics
import sys
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def counters(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/_emulator/counters", timeout=10) as response:
        return dict(json.load(response))


def reset(url: str) -> None:
    request = urllib.request.Request(f"{url}/_emulator/reset", data=b"{}", method="POST")
    request.add_header("Content-Type", "application/json")
    urllib.request.urlopen(request, timeout=10).close()


def connection_env(url: str, conn_id: str = "firefly_default", **extra: Any) -> dict[str, str]:
    from airflow_provider_firefly.testing import airflow_connection

    return {f"AIRFLOW_CONN_{conn_id.upper()}": airflow_connection(url, **extra)}


def median_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


def machine() -> str:
    return f"{os.cpu_count()} cores, Python {sys.version.split()[0]}"
