"""`python -m services.simulator`: serve the simulator, configured from `SIM_*` environment variables."""

from __future__ import annotations

from services.shared.observability import configure_logging
from services.shared.serving import serve
from services.shared.settings import get_service_settings
from services.simulator.app import create_app
from services.simulator.config import SimulatorConfig


def main() -> None:
    config = SimulatorConfig()
    configure_logging(get_service_settings().log_level)
    serve(create_app(config), config.host, config.port, "warning")


if __name__ == "__main__":
    main()
