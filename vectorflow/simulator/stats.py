"""Latency and error bookkeeping for the fleet simulator."""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field

OPERATIONS = ("enroll", "poll", "heartbeat")


def percentile(sorted_values: list[float], q: float) -> float:
    """Return the q-th percentile (0-100) of already sorted values, nearest-rank."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass
class Summary:
    """Counts and latency percentiles (milliseconds) of one operation."""

    operation: str
    count: int
    errors: int
    p50: float
    p90: float
    p99: float
    max: float

    def as_row(self) -> list[str]:
        def ms(value: float) -> str:
            return "-" if math.isnan(value) else f"{value:.1f}"

        return [self.operation, str(self.count), str(self.errors),
                ms(self.p50), ms(self.p90), ms(self.p99), ms(self.max)]


@dataclass
class Stats:
    """Request latencies, errors and agent-side counters, shared by every simulated agent."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    counters: Counter = field(default_factory=Counter)

    def observe(self, operation: str, seconds: float) -> None:
        """Record one successful request's latency."""
        self.latencies[operation].append(seconds * 1000.0)

    def error(self, operation: str, kind: str) -> None:
        """Record one failed request (``kind`` is an HTTP status or an exception name)."""
        self.errors[operation][kind] += 1

    def count(self, name: str, n: int = 1) -> None:
        """Increase an agent-side counter (pipelines started, push messages...)."""
        self.counters[name] += n

    def summary(self, operation: str) -> Summary:
        """Return the count, errors and latency percentiles of one operation."""
        values = sorted(self.latencies.get(operation, ()))
        errors = sum(self.errors.get(operation, Counter()).values())
        return Summary(operation, len(values) + errors, errors, percentile(values, 50),
                       percentile(values, 90), percentile(values, 99),
                       values[-1] if values else math.nan)

    def total_errors(self, operations: tuple[str, ...] = OPERATIONS) -> int:
        """Return the number of failed enroll, poll and heartbeat requests (or of ``operations``)."""
        return sum(sum(self.errors[op].values()) for op in operations if op in self.errors)

    def reset(self) -> None:
        """Forget every sample (to measure one window of a longer run)."""
        self.latencies.clear()
        self.errors.clear()
        self.counters.clear()

    def report(self, title: str = "") -> str:
        """Return a plain-text table of every operation, errors by kind and counters."""
        header = ["operation", "requests", "errors", "p50 ms", "p90 ms", "p99 ms", "max ms"]
        rows = [self.summary(op).as_row() for op in OPERATIONS
                if op in self.latencies or op in self.errors]
        lines = [title] if title else []
        lines.append(format_table(header, rows))
        for op, kinds in sorted(self.errors.items()):
            if kinds:
                text = ", ".join(f"{k} x{n}" for k, n in kinds.most_common())
                lines.append(f"{op} errors: {text}")
        if self.counters:
            lines.append("agents: " + ", ".join(f"{k} {v}" for k, v in sorted(self.counters.items())))
        return "\n".join(lines)


def format_table(header: list[str], rows: list[list[str]]) -> str:
    """Return a Markdown table (readable as plain text too)."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)] if rows else [
        len(h) for h in header]
    def line(cells):
        return "| " + " | ".join(str(c).rjust(w) if i else str(c).ljust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths))) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep] + [line(r) for r in rows])
