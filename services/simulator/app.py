"""The Claude API simulator: an Anthropic-compatible server the real SDK is pointed at with `base_url`.

Load tests and service tests use it so that nothing ever reaches (or pays) the real API; it answers
deterministically from the request, bills tokens, caches prompts, rate-limits and fails on demand.
"""

from __future__ import annotations

from fastapi import FastAPI

from services.shared.observability import install_observability
from services.simulator.config import SimulatorConfig
from services.simulator.control_api import control_router
from services.simulator.errors import install_error_handlers
from services.simulator.headers import AnthropicHeadersMiddleware
from services.simulator.messages_api import messages_router
from services.simulator.simulator import Simulator

SERVICE_NAME = "claude-simulator"


def create_app(config: SimulatorConfig | None = None) -> FastAPI:
    """Each app has its own cache, limits, faults and counters, so tests never share simulator state."""
    simulator = Simulator(config or SimulatorConfig())
    app = FastAPI(title="Claude API simulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.simulator = simulator
    install_error_handlers(app)
    # Routed before the shared observability routes so that this app's /metrics (which adds its counters) wins.
    app.include_router(control_router(simulator))
    app.include_router(messages_router(simulator))
    install_observability(app, SERVICE_NAME, {})
    app.add_middleware(AnthropicHeadersMiddleware, limiter=simulator.limiter)
    return app
