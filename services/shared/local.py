"""Where each service listens in the local stack (`make run`): one place for the CLI, the supervisor and
the settings' defaults."""

from __future__ import annotations

from dataclasses import dataclass

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Ports:
    gateway: int = 8000
    chat: int = 8002
    saves: int = 8003
    simulator: int = 8004
    worker_metrics: int = 8005


LOCAL_PORTS = Ports()


@dataclass(frozen=True)
class Urls:
    gateway: str
    chat: str
    saves: str
    simulator: str


def urls(ports: Ports = LOCAL_PORTS, host: str = HOST) -> Urls:
    return Urls(
        gateway=f"http://{host}:{ports.gateway}",
        chat=f"http://{host}:{ports.chat}",
        saves=f"http://{host}:{ports.saves}",
        simulator=f"http://{host}:{ports.simulator}",
    )


LOCAL_URLS = urls()
