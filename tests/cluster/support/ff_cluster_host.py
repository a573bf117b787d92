"""``[core] hostname_callable`` of the cluster tests: the simulated host a process runs on.

Every process of the test cluster runs on this machine, so ``socket.getfqdn()`` would give each
task instance the same ``hostname``. The fixture gives each "host" (worker, triggerer) its own
``FF_CLUSTER_HOST``, which Airflow then records on the task instances it runs.
"""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    """The simulated host name, else the real one."""
    return os.environ.get("FF_CLUSTER_HOST") or socket.getfqdn()
