"""Benchmarks behind ``mip6fast bench``: each compares the compiled engine with a plain-Python baseline
measured in the same process, and reports ratios (never asserted on by tests)."""
import os
import platform
import sys
import time
from typing import Callable, Optional


def measure(fn: Callable[[], object], seconds: float, ops_per_call: int = 1) -> float:
    """Operations per second of fn: the best of several timed runs, each long enough to swamp timer
    resolution, within about `seconds` of wall time."""
    n = 1
    while True:  # calibrate: a run of n calls lasting at least 10 ms (or a fifth of the budget)
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt >= min(0.01, seconds / 5) or n >= 1 << 30:
            break
        n *= 4 if dt < 0.002 else 2
    best = dt / n
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t0) / n)
    return ops_per_call / best


def result(name: str, value: float, unit: str, baseline: Optional[float] = None, **extra) -> dict:
    item = {"name": name, "value": round(value, 3), "unit": unit}
    if baseline is not None:
        item["baseline"] = round(baseline, 3)
        item["ratio"] = round(value / baseline, 2) if baseline else None
    item.update(extra)
    return item


def environment() -> dict:
    return {"python": sys.version.split()[0], "machine": platform.machine(), "cpus": os.cpu_count(),
            "platform": platform.platform()}
