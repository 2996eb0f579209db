"""Stopping the local stack gives each process its drain time (a worker's WORKER_DRAIN_S) before SIGKILL."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from services.devstack.supervisor import SERVER_GRACE_S, STOP_MARGIN_S, Stack, stop_timeout_s
from services.worker.settings import WorkerSettings
from tests.stacks import on_stores

# Exits by itself this long after SIGTERM, as a worker still finishing its jobs does: longer than the
# 15 s the supervisor used to allow any process.
DRAINS_FOR_S = 17
TRAPS_SIGTERM = f"""
import signal, sys, time
def drain(*_):
    time.sleep({DRAINS_FOR_S})
    sys.exit(0)
signal.signal(signal.SIGTERM, drain)
print("ready", flush=True)
signal.pause()
"""


def test_a_worker_is_given_its_drain_time_plus_a_margin_and_a_server_its_graceful_shutdown() -> None:
    assert stop_timeout_s("worker-0", {"WORKER_DRAIN_S": "90"}) == 90 + STOP_MARGIN_S
    assert stop_timeout_s("worker-1", {}) == WorkerSettings.model_fields["worker_drain_s"].default + STOP_MARGIN_S
    assert stop_timeout_s("gateway", {"WORKER_DRAIN_S": "90"}) == SERVER_GRACE_S + STOP_MARGIN_S


def test_stop_waits_for_a_draining_worker_instead_of_killing_it(tmp_path: Path) -> None:
    stack = Stack(resolved=on_stores("redis://unused", "postgresql://unused", tmp_path))
    stack.env_used = {"WORKER_DRAIN_S": str(DRAINS_FOR_S + 3)}
    worker = subprocess.Popen([sys.executable, "-c", TRAPS_SIGTERM], stdout=subprocess.PIPE)
    assert worker.stdout is not None and worker.stdout.readline() == b"ready\n"
    stack.processes["worker-0"] = worker

    started = time.monotonic()
    stack.stop()

    assert worker.returncode == 0, "the worker finished draining and exited by itself, it was not killed"
    assert time.monotonic() - started >= DRAINS_FOR_S
    assert not stack.processes
