"""The OpenLineage methods of the job operators (the OpenLineage provider calls them).

Kept apart from ``base`` and importing nothing at module level: the OpenLineage code
(``operators.lineage``) loads only when the provider asks for a task's lineage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_firefly.operators._inputs import ImageInputs
    from airflow_provider_firefly.operators.request import FireflyRequest

__all__ = ["JobLineageMixin"]


class JobLineageMixin:
    """``get_openlineage_facets_on_complete`` / ``..._on_failure`` of ``FireflyBaseOperator``.

    Reads what ``execute`` kept: ``_job`` (the handle), ``_input_items`` (the classified image
    inputs), ``_sent`` (operation, model version, seeds) and ``_result`` (the XCom value).
    """

    _job: Any
    _input_items: list[Any]
    _sent: dict[str, Any]
    _result: dict[str, Any] | None

    if TYPE_CHECKING:  # provided by the operator

        def build_request(self, inputs: ImageInputs) -> FireflyRequest: ...

        def _own_hosts(self) -> frozenset[str]: ...

    def _lineage_inputs(self) -> list[Any]:
        if self._input_items:
            return self._input_items
        # after a deferral this is a fresh operator: classify the inputs again (no network)
        from airflow_provider_firefly.operators._inputs import ImageInputs

        inputs = ImageInputs(type(self).__name__, allowed_hosts=self._own_hosts())
        try:
            self.build_request(inputs)
        except Exception:
            return []
        return inputs.items

    def _api_host(self) -> str:
        hosts = self._own_hosts()
        return next(iter(hosts)) if hosts else ""

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Inputs, saved files and the ``fireflyJob`` run facet (see ``operators.lineage``)."""
        from airflow_provider_firefly.operators import lineage

        return lineage.job_lineage(
            self._job, self._lineage_inputs(), self._api_host(), self._sent, self._result
        )

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        """Inputs and, when a job was submitted, its ``fireflyJob`` run facet."""
        from airflow_provider_firefly.operators import lineage

        return lineage.failure_lineage(
            self._job, self._lineage_inputs(), self._api_host(), self._sent
        )
