"""The operator's settings: where it watches, how often it re-asserts, and the Redis budget it writes."""

from __future__ import annotations

from pydantic import Field

from services.llm.settings import BudgetSettings
from services.shared.settings import ServiceSettings, loader

GROUP = "estimator.dev"
VERSION = "v1alpha1"
PLURAL = "llmbudgets"
KIND = "LLMBudget"
# What the chart puts on the worker HPA and Deployment: the values to go back to when a budget is deleted.
DEFAULT_MAX_REPLICAS = f"{GROUP}/default-max-replicas"
DEFAULT_MAX_JOBS = f"{GROUP}/default-max-jobs"
MAX_JOBS_ENV = "WORKER_MAX_JOBS"


class OperatorSettings(ServiceSettings, BudgetSettings):
    """`LLM_BUDGET_PREFIX` must be the services' own: the operator writes the hash they read."""

    watch_namespace: str = Field(
        default="default", description="the namespace whose LLMBudgets, HPAs and Deployments the operator manages"
    )
    operator_interval_s: float = Field(
        default=60.0, gt=0, description="how often the operator re-asserts every LLMBudget (drift is put back)"
    )
    operator_worker_container: str = Field(
        default="worker", description="the container of the worker Deployment that gets WORKER_MAX_JOBS"
    )


get_settings = loader(OperatorSettings)
