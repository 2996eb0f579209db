"""What every benchmark needs: an isolated Redis DB and PostgreSQL database, and a machine description.

Benchmarks run on shared, noisy machines, so each report says which machine it ran on and how busy it
was, and compares against a baseline measured in the same run.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

from tests.stores import isolated_stores

__all__ = ["isolated_stores", "machine"]
"""`isolated_stores` is the test suite's own, so a benchmark and a test run never share a store."""


def machine() -> str:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{platform.node()} — {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, load {load}"
