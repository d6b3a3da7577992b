"""Benchmarks: `make bench` runs `python -m bench` (see bench/__main__.py)."""

import platform
from pathlib import Path


def cpu_model():
    """The processor's name, as the figures in docs/performance.md state their machine."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "?"
