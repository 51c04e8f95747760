"""The PNG plots beside the report: load by concurrency, and latency by turn."""

from __future__ import annotations

import statistics
from typing import Dict

from bench.performance.findings import Findings
from bench.performance.plan import REPORTS


def plots(findings: Findings, stem: str) -> Dict[str, str]:
    """PNG plots beside the report; returns their file names by kind."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made: Dict[str, str] = {}
    series = sorted({(run.system, run.mix) for run in findings.runs})
    if series:
        figure, (left, middle, right) = plt.subplots(1, 3, figsize=(15, 4.5))
        for system, mix in series:
            runs = [r for r in findings.runs if (r.system, r.mix) == (system, mix)]
            runs.sort(key=lambda r: r.result.concurrency)
            xs = [r.result.concurrency for r in runs]
            style = "--" if system.startswith("production") else "-"
            label = f"{system}: {mix}"
            left.plot(xs, [r.result.throughput for r in runs], style, marker="o", label=label)
            middle.plot(xs, [r.result.percentile(50) for r in runs], style, marker="o", label=label)
            right.plot(xs, [r.result.percentile(95) for r in runs], style, marker="o", label=label)
        for axis, title in (
            (left, "throughput (answered msg/s)"),
            (middle, "p50 latency (ms)"),
            (right, "p95 latency (ms)"),
        ):
            axis.set_title(title)
            axis.set_xlabel("concurrent conversations")
            axis.set_xscale("log")
            axis.set_xticks(findings.plan.concurrencies)
            axis.set_xticklabels([str(c) for c in findings.plan.concurrencies])
            axis.grid(alpha=0.3)
        middle.set_yscale("log")
        right.set_yscale("log")
        right.axhline(250, color="grey", linestyle=":", label="target p95 (project, 10)")
        left.set_ylim(bottom=0)
        left.legend(fontsize=7)
        figure.tight_layout()
        made["load"] = f"{stem}_load.png"
        figure.savefig(REPORTS / made["load"], dpi=100)
        plt.close(figure)
    if findings.turns:
        figure, axis = plt.subplots(figsize=(10, 4))
        for system, samples in sorted(findings.turns.items()):
            points = [(s.turn, s.seconds * 1000) for s in samples if not s.error]
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            line = axis.plot(xs, ys, linewidth=0.5, alpha=0.4)[0]
            rolling = [statistics.median(ys[max(0, i - 4) : i + 5]) for i in range(len(ys))]
            axis.plot(
                xs, rolling, color=line.get_color(), linewidth=2, label=f"{system} (median of 9)"
            )
        for mark in findings.plan.turn_marks:
            axis.axvline(mark, color="grey", linestyle=":", linewidth=0.8)
        axis.set_title("latency by turn of one conversation (small talk)")
        axis.set_xlabel("turn")
        axis.set_ylabel("ms")
        axis.grid(alpha=0.3)
        axis.legend()
        figure.tight_layout()
        made["turns"] = f"{stem}_turns.png"
        figure.savefig(REPORTS / made["turns"], dpi=100)
        plt.close(figure)
    return made
