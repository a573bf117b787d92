"""Apache Airflow provider for Adobe Firefly.

The package is layered so that data flows one way (``docs/architecture.md`` has the map):

* :mod:`airflow_provider_firefly.client`: the HTTP transports with one retry policy, the IMS
  token manager and its caches, and the blocking and asyncio Firefly API clients. It does not
  import Airflow.
* The Airflow surface: :mod:`~airflow_provider_firefly.connection` (the ``firefly`` connection),
  :mod:`~airflow_provider_firefly.hooks`, :mod:`~airflow_provider_firefly.operators`,
  :mod:`~airflow_provider_firefly.triggers` and :mod:`~airflow_provider_firefly.sensors`.
* :mod:`airflow_provider_firefly.schema`: Adobe's OpenAPI document (shipped in ``spec/``) and the
  request checks the operators run before any network call.
* :mod:`airflow_provider_firefly.testing`: a local Firefly + IMS emulator for tests and demos.
"""

from __future__ import annotations

__version__ = "0.1.0.dev0"

__all__ = ["__version__"]
