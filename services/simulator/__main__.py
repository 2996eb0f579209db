"""`python -m services.simulator`: serve the simulator, configured from `SIM_*` environment variables."""

from __future__ import annotations

import uvicorn

from services.shared.observability import configure_logging
from services.shared.settings import get_service_settings
from services.simulator.app import create_app
from services.simulator.config import SimulatorConfig


def main() -> None:
    config = SimulatorConfig()
    configure_logging(get_service_settings().log_level)
    uvicorn.run(create_app(config), host=config.host, port=config.port, log_level="warning")


if __name__ == "__main__":
    main()
