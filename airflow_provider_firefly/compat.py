"""Every difference between the Airflow 3 minors the provider supports (3.0 to 3.3), in one place.

The rest of the package imports these names from here instead of guessing where a release keeps
them. Each choice is made once, by the running Airflow's version (no ``try: import`` fallbacks
that could hide a broken install), and each says which release moved the name. Found by running
the Airflow-facing tests on 3.0.6, 3.1.8, 3.2.2 and 3.3.2 (``scripts/test-airflow-minor``).
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any

from airflow import __version__ as AIRFLOW_VERSION

__all__ = [
    "AIRFLOW_VERSION",
    "AIRFLOW_V_3_1_PLUS",
    "AIRFLOW_V_3_2_PLUS",
    "AirflowSensorTimeout",
    "BaseHook",
    "conf",
]


def _minor(version: str) -> tuple[int, int]:
    """``(major, minor)`` of an Airflow version string such as ``3.1.8`` or ``3.2.0rc1``."""
    match = re.match(r"(\d+)\.(\d+)", version)
    if match is None:  # pragma: no cover - Airflow always has a numeric version
        raise RuntimeError(f"cannot read the Airflow version {version!r}")
    return int(match.group(1)), int(match.group(2))


AIRFLOW_V_3_1_PLUS = _minor(AIRFLOW_VERSION) >= (3, 1)
AIRFLOW_V_3_2_PLUS = _minor(AIRFLOW_VERSION) >= (3, 2)

if TYPE_CHECKING:  # type-check against the newest Airflow's names
    from airflow.sdk import BaseHook
    from airflow.sdk.configuration import conf
    from airflow.sdk.exceptions import AirflowSensorTimeout
else:
    if AIRFLOW_V_3_1_PLUS:
        from airflow.sdk import BaseHook
    else:
        # 3.0: the Task SDK has no BaseHook yet, and airflow.hooks.base's has no async
        # aget_connection (added to airflow.sdk.BaseHook in 3.1), which triggers need.
        from airflow.hooks.base import BaseHook as _CoreBaseHook

        class BaseHook(_CoreBaseHook):
            """Airflow 3.0's ``BaseHook`` with 3.1's ``aget_connection``."""

            @classmethod
            async def aget_connection(cls, conn_id: str) -> Any:
                """The connection, read in a worker thread so the event loop keeps running."""
                return await asyncio.to_thread(cls.get_connection, conn_id)

    if AIRFLOW_V_3_2_PLUS:
        from airflow.sdk.configuration import conf
        from airflow.sdk.exceptions import AirflowSensorTimeout
    else:
        # 3.0 and 3.1: the Task SDK has neither its own configuration nor this exception yet.
        from airflow.configuration import conf
        from airflow.exceptions import AirflowSensorTimeout
