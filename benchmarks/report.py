"""Writing a benchmark's results: ``benchmarks/results/<name>.json`` (git-ignored) with the machine it ran on."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def cpus() -> int:
    """CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0


def load_average() -> float:
    """The one-minute load average (other work on the machine skews every figure; it is recorded with them)."""
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else 0.0


def machine() -> str:
    """One line naming the CPUs and the load, printed under every table."""
    return f"machine: {cpus()} CPUs, Python {platform.python_version()}, load average {load_average()} at the end"


def write_results(name: str, settings: dict[str, Any], rows: list[Any], **extra: Any) -> Path:
    """Write ``benchmarks/results/<name>.json`` and return its path.

    Args:
        name: The benchmark's name.
        settings: How it was run (counts, rates, durations).
        rows: Dataclass rows, one per measurement.
        extra: Further top-level fields (verdicts, notes).
    """
    path = RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "benchmark": name,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "cpus": cpus(),
        "load_average_at_end": load_average(),
        **settings,
        "rows": [asdict(row) if is_dataclass(row) and not isinstance(row, type) else row for row in rows],
        **extra,
    }
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return path


def shown(path: Path) -> str:
    """``path`` relative to the working directory when it is below it."""
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)
