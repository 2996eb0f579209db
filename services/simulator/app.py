"""The Claude API simulator: an Anthropic-compatible server the real SDK is pointed at with `base_url`.

Load tests and service tests use it so that nothing ever reaches (or pays) the real API; it answers
deterministically from the request, bills tokens, caches prompts, rate-limits and fails on demand.
"""

from __future__ import annotations

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from services.shared.http_limits import install_request_limits
from services.shared.observability import NATIVE_TELEMETRY_OFF, install_observability
from services.shared.settings import get_service_settings
from services.simulator.config import SimulatorConfig
from services.simulator.control_api import control_router
from services.simulator.errors import install_error_handlers
from services.simulator.headers import AnthropicHeadersMiddleware
from services.simulator.messages_api import messages_router
from services.simulator.simulator import Simulator
from services.simulator.stats import StatsCollector

SERVICE_NAME = "claude-simulator"


def create_app(config: SimulatorConfig | None = None) -> FastAPI:
    """Each app has its own cache, limits, faults and counters, so tests never share simulator state."""
    config = config or SimulatorConfig()
    simulator = Simulator(config)
    app = FastAPI(
        title="Claude API simulator",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        telemetry=NATIVE_TELEMETRY_OFF,
    )
    app.state.simulator = simulator
    install_error_handlers(app)
    app.include_router(control_router(simulator, config.control_token.get_secret_value()))
    app.include_router(messages_router(simulator))
    # This instance's counters, registered per app (never globally), exported beside the process's metrics.
    own_metrics = CollectorRegistry(auto_describe=True)
    own_metrics.register(StatsCollector(simulator.stats))
    development = get_service_settings().development
    install_observability(app, SERVICE_NAME, {}, metrics_route=development, registries=[own_metrics])
    app.add_middleware(AnthropicHeadersMiddleware, limiter=simulator.limiter)
    install_request_limits(app)
    return app
