"""Apache Airflow provider for Adobe Firefly.

The package is layered so that data flows one way:

* :mod:`airflow_provider_firefly.client`: HTTP transport with one retry policy, the IMS token
  manager and its caches, and the Firefly API client. It does not import Airflow.
* :mod:`airflow_provider_firefly.hooks`: the Airflow surface (connection, hook).
* :mod:`airflow_provider_firefly.testing`: a local Firefly + IMS emulator for tests and demos.
"""

from __future__ import annotations

__version__ = "0.1.0.dev0"

__all__ = ["__version__"]
