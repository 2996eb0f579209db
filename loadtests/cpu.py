"""CPU used by each part of a benchmark phase, in cores (1.0 = one core busy the whole phase).

On a small machine k6 and the services share the same cores, so a latency number means little without
knowing who had the CPU while it was measured.
"""

from __future__ import annotations

import resource
import time

import psutil


def _machine_seconds() -> float:
    times = psutil.cpu_times()
    return float(times.user + times.system)


def _process_seconds(pid: int) -> float | None:
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return None
    return float(times.user + times.system)


def _children_seconds() -> float:
    """CPU of this process's children once waited for: after a phase, that is the k6 that ran it."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class CpuClock:
    def __init__(self, parts: dict[str, list[int]]) -> None:
        self.parts = parts
        self.started = time.monotonic()
        self.first = {pid: _process_seconds(pid) for pids in parts.values() for pid in pids}
        self.children = _children_seconds()
        self.machine = _machine_seconds()

    def cores(self) -> dict[str, float]:
        seconds = max(time.monotonic() - self.started, 1e-6)
        used: dict[str, float] = {}
        for name, pids in self.parts.items():
            total = 0.0
            for pid in pids:
                first, last = self.first.get(pid), _process_seconds(pid)
                if first is not None and last is not None:
                    total += last - first
            used[name] = total / seconds
        used["k6"] = (_children_seconds() - self.children) / seconds
        used["whole machine"] = (_machine_seconds() - self.machine) / seconds
        return used
