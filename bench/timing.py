"""Timing helpers shared by the benchmarks: medians of repeated batches on one core."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

REPEATS = 7


def pin_one_core() -> None:
    """Run on one core, as the targets are stated (the machine has two, and is noisy)."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})


def _batch(fn: Callable[[], object], seconds: float) -> int:
    """Calls of ``fn`` that take about ``seconds``."""
    n = 1
    while True:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        took = time.perf_counter() - start
        if took > seconds / 4:
            return max(1, int(n * seconds / took))
        n *= 4


def rate(fn: Callable[[], object], seconds: float = 0.4) -> float:
    """Median calls per second over REPEATS timed batches."""
    per_batch = _batch(fn, seconds)
    rates = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(per_batch):
            fn()
        rates.append(per_batch / (time.perf_counter() - start))
    return statistics.median(rates)


def interleaved_rates(
    fns: dict[str, Callable[[], object]], seconds: float = 0.2
) -> dict[str, float]:
    """Median calls per second of each function, their batches taken in turn (a slow spell
    of a noisy machine then hits them all alike, so their ratios hold)."""
    sizes = {name: _batch(fn, seconds) for name, fn in fns.items()}
    rates: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(REPEATS):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(sizes[name]):
                fn()
            rates[name].append(sizes[name] / (time.perf_counter() - start))
    return {name: statistics.median(values) for name, values in rates.items()}


def report(title: str, baselines: dict[str, float], figures: list[tuple[str, float, str]]) -> None:
    """Print the baselines, then each figure with its ratio to the named baseline."""
    print(f"{title}; median of {REPEATS}")
    for name, value in baselines.items():
        print(f"  baseline {name:<40} {value:>12,.0f} /s")
    for label, value, base in figures:
        print(f"  {label:<49} {value:>12,.0f} /s  {value / baselines[base]:6.2f}x {base}")
