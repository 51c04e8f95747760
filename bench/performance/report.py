"""The markdown report: bench/reports/performance.md (performance-quick.md for `--quick`).

One function per section, in the report's order; `render` puts them together under the
machine, the command and what the two systems are.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
import platform
from pathlib import Path
from typing import Dict, List

import psutil

from bench.load import ACCOUNT_QUESTIONS, SMALL_TALK
from bench.performance.findings import Findings, Run
from bench.performance.goals import (
    _mib,
    _number,
    _spot,
    design_change,
    findings_goals,
    latency_at_turns,
)
from bench.performance.plan import ACCOUNT, MIB, PROJECT, SMALL, STOCK, TURN_WINDOW
from bench.performance.profile import SAMPLE_EVERY


def _ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1000:.0f}"


LOAD_HEADER = (
    "| system | mix | conversations | turns each | answered | errors | msg/s | p50 | p95 | p99 "
    "| max |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
)


def _run_row(run: Run) -> str:
    r = run.result
    each = len(r.samples) / r.concurrency + 1  # the warm-up turn included
    return (
        f"| {run.system} | {run.mix} | {r.concurrency} | {each:.0f} | {len(r.answered)} | "
        f"{r.errors} | "
        f"{r.throughput:.1f} | {r.percentile(50):.0f} | {r.percentile(95):.0f} | "
        f"{r.percentile(99):.0f} | {max(r.answered, default=math.nan) * 1000:.0f} |"
    )


def render(findings: Findings, pictures: Dict[str, str], command: str) -> str:
    import rasa

    plan = findings.plan
    now = dt.datetime.now(dt.timezone.utc)
    memory_total = psutil.virtual_memory().total / 2**30
    cpu = _cpu_model()
    lines = [
        "# Performance: the project's full stack against stock Rasa"
        + (" (quick run)" if plan.quick else ""),
        "",
        f"Measured {now:%Y-%m-%d %H:%M} UTC on {cpu}, {os.cpu_count()} cores, "
        f"{memory_total:.0f} GiB, Python {platform.python_version()}, Rasa {rasa.__version__}: "
        f"`{command}`, {findings.seconds / 60:.1f} minutes in all. One system at a time on this "
        f"machine; the load generator (bench/load.py, one asyncio process) shares its cores.",
        "",
        "- **project**: the development stack (`tests/e2e/conftest.running_stack`): the portal "
        "channel with a bearer token per conversation, each conversation a different seeded "
        "buyer of Acme (bench/load_people.py); the action server calling the account services; "
        "the project's SQL tracker store on SQLite and the Redis lock store; "
        "models/assistant.tar.gz.",
        "- **stock**: `rasa init --no-prompt` of the same Rasa, untouched, served by `rasa run` "
        "on the REST channel only; its endpoints.yml configures nothing, so Rasa's defaults "
        "apply: **an in-memory tracker store** and lock store, and no action server (the "
        "template's bot runs no custom action). Each conversation is a different sender.",
        "",
    ]
    lines += _targets_section(findings)
    lines += _load_section(findings, pictures)
    lines += _cpu_section(findings)
    lines += _turns_section(findings, pictures)
    lines += _start_section(findings)
    lines += _memory_section(findings)
    lines += _production_section(findings)
    lines += _profile_section(findings)
    if findings.notes:
        lines += ["## Notes", "", *[f"- {note}" for note in findings.notes], ""]
    return "\n".join(lines)


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.machine()


def _targets_section(findings: Findings) -> List[str]:
    lines = [
        "## Targets (issue 14, 2 cores)",
        "",
        "| target | measured | limit | verdict |",
        "|---|---|---|---|",
    ]
    for goal in findings_goals(findings):
        measured = f"{_number(goal.measured)} {goal.unit}" if goal.measured_known else "-"
        if goal.detail:
            measured += f" ({goal.detail})"
        limit = f"{'at most' if goal.at_most else 'at least'} {_number(goal.limit)} {goal.unit}"
        verdict = "**met**" if goal.met else f"**{goal.verdict()}**"
        lines.append(f"| {goal.name} | {measured} | {limit} | {verdict} |")
    lines += [
        "",
        "1 GB is taken as 10^9 bytes (954 MiB)."
        + (
            f" Quick mode's last turn is {max(findings.plan.turn_marks)}, not 500."
            if findings.plan.quick
            else ""
        ),
        "",
    ]
    return lines


def _load_section(findings: Findings, pictures: Dict[str, str]) -> List[str]:
    plan = findings.plan
    lines = [
        "## Closed-loop load",
        "",
        f"N conversations at once, each sending its next message as soon as the previous one "
        f"is answered, for {plan.load_seconds:.0f} s after one warm-up turn per conversation "
        f"(not counted: it starts the session). Throughput counts answered messages; an "
        f"error is a status other than 200, a failed request, an empty answer, or (account "
        f"questions) an answer without the expected account data. Latency in ms, answered "
        f"messages only. *Turns each*: messages per conversation, on average; a conversation's "
        f"turns get slower as it grows (see latency by turn), most of all stock's. Small talk: "
        f"{', '.join(repr(m.text) for m in SMALL_TALK)}; account "
        f"questions: {', '.join(repr(m.text) for m in ACCOUNT_QUESTIONS)}.",
        "",
        *LOAD_HEADER,
    ]
    lines += [_run_row(run) for run in findings.runs if not run.system.startswith("production")]
    lines.append("")
    if "load" in pictures:
        lines += [f"![throughput and latency by concurrency]({pictures['load']})", ""]
    lines += [
        "### Ratios project / stock",
        "",
        "| conversations | small talk msg/s | small talk p50 | small talk p95 "
        "| account questions msg/s / stock small talk msg/s |",
        "|---|---|---|---|---|",
    ]
    for concurrency in plan.concurrencies:
        stock = findings.run(STOCK, SMALL, concurrency)
        small = findings.run(PROJECT, SMALL, concurrency)
        account = findings.run(PROJECT, ACCOUNT, concurrency)
        if not (stock and small):
            continue
        s, p = stock.result, small.result
        account_ratio = (
            f"{account.result.throughput / s.throughput:.2f}" if account and s.throughput else "-"
        )
        lines.append(
            f"| {concurrency} | {p.throughput / s.throughput:.2f} | "
            f"{p.percentile(50) / s.percentile(50):.2f} | "
            f"{p.percentile(95) / s.percentile(95):.2f} | "
            f"{account_ratio} |"
        )
    lines.append("")
    failing = [run for run in findings.runs if run.result.errors or run.result.warmup_errors]
    if failing:
        lines += ["### Errors", ""]
        for run in failing:
            kinds = ", ".join(f"{k} x{n}" for k, n in run.result.error_kinds().items())
            first = "; ".join(run.result.first_errors() + run.result.warmup_errors[:2])
            lines.append(
                f"- {run.system}, {run.mix}, {run.result.concurrency} conversations: "
                f"{kinds or 'warm-up only'} ({len(run.result.warmup_errors)} in warm-up). "
                f"First: {first}"
            )
        lines.append("")
    else:
        lines += ["No errors in any run (warm-up turns included).", ""]
    return lines


def _cpu_section(findings: Findings) -> List[str]:
    lines = [
        "## CPU per answered message",
        "",
        "CPU time (user + system) each process used during the run, divided by the answered "
        "messages, in ms; a process's workers are counted with it. On 2 cores a system whose "
        "total is T ms can answer at most 2000 / T messages a second, and one Rasa process, "
        "whose turns run on one event loop (one core), at most 1000 / its own ms. *Other "
        "work*: cores busy on average with anything else on the machine meanwhile (PostgreSQL, "
        "Redis, other programs); more than a few tenths means the figures were disturbed.",
        "",
        "| system | mix | conversations | per process (ms) | total ms | other work (cores) |",
        "|---|---|---|---|---|---|",
    ]
    for run in findings.runs:
        per = run.cpu_ms_per_message()
        parts = ", ".join(f"{label} {ms:.1f}" for label, ms in per.items())
        lines.append(
            f"| {run.system} | {run.mix} | {run.result.concurrency} | {parts} | "
            f"{sum(per.values()):.1f} | {run.other_cores:.2f} |"
        )
    return lines + [""]


def _turns_section(findings: Findings, pictures: Dict[str, str]) -> List[str]:
    plan = findings.plan
    marks = plan.turn_marks
    lines = [
        "## Latency by turn of one conversation",
        "",
        f"One conversation sends small talk, one message at a time, until turn "
        f"{max(marks) + TURN_WINDOW}; latency at turn n is the median of turns n-{TURN_WINDOW} "
        f"to n+{TURN_WINDOW}, in ms.",
        "",
        "| turn | " + " | ".join(sorted(findings.turns)) + " | project / stock |",
        "|---|" + "---|" * len(findings.turns) + "---|",
    ]
    at = {name: latency_at_turns(samples, marks) for name, samples in findings.turns.items()}
    for mark in marks:
        cells = [_ms(at[name].get(mark, math.nan)) for name in sorted(at)]
        stock, project = at.get(STOCK, {}).get(mark), at.get(PROJECT, {}).get(mark)
        ratio = f"{project / stock:.2f}" if stock and project else "-"
        lines.append(f"| {mark} | " + " | ".join(cells) + f" | {ratio} |")
    for name in sorted(at):
        if 5 in at[name] and len(at[name]) > 1:
            last = max(at[name])
            lines.append("")
            lines.append(f"{name}: turn {last} / turn 5 = {at[name][last] / at[name][5]:.2f}.")
    errors = {n: sum(1 for s in samples if s.error) for n, samples in findings.turns.items()}
    if any(errors.values()):
        lines.append(f"Errors in the long conversation: {errors}.")
    lines.append("")
    if "turns" in pictures:
        lines += [f"![latency by turn]({pictures['turns']})", ""]
    return lines


def _start_section(findings: Findings) -> List[str]:
    lines = [
        "## Cold start, training and model size",
        "",
        '| cold start (process start until the first answer to "hello") | seconds |',
        "|---|---|",
    ]
    lines += [f"| {what} | {seconds:.1f} |" for what, seconds in findings.cold_start]
    if findings.plan.quick:
        lines.append("| project: Rasa alone | not measured in quick mode |")
    lines += ["", "| system | full training | model size | how |", "|---|---|---|---|"]
    for name, figure in findings.training.items():
        took = f"{figure.seconds / 60:.1f} min ({figure.seconds:.0f} s)" if figure.seconds else "-"
        lines.append(f"| {name} | {took} | {figure.model_bytes / MIB:.1f} MiB | {figure.how} |")
    return lines + [""]


def _memory_section(findings: Findings) -> List[str]:
    runs = findings.runs
    lines = [
        "## Peak memory (RSS, MiB)",
        "",
        "Sampled every 0.2 s; a process's children (workers) are added to it. Whole run: the "
        "peak over everything the benchmark did with that system (start, load, long "
        "conversation). PostgreSQL and Redis are the machine's shared servers and not counted.",
        "",
        f"| process | whole run | peak during the load runs at "
        f"{' / '.join(str(c) for c in findings.plan.concurrencies)} conversations |",
        "|---|---|---|",
    ]
    for label, peak in findings.memory.items():
        system, _, part = label.partition(": ")
        groups: Dict[str, List[str]] = {}
        for run in runs:
            if run.system.startswith(system) and part in run.memory:
                group = f"{_layout(run.system, system)}{run.mix}"
                groups.setdefault(group, []).append(_mib(run.memory[part]))
        during = "; ".join(f"{group}: {' / '.join(peaks)}" for group, peaks in groups.items())
        lines.append(f"| {label} | {_mib(peak)} | {during} |")
    if findings.idle_bytes:
        idle = ", ".join(f"{name} {_mib(n)} MiB" for name, n in findings.idle_bytes.items())
        lines += [
            "",
            f"Rasa right after its first answer (model loaded, no load yet): {idle}. The stock "
            f"Rasa is watched from its start, model loading included; the project's processes "
            f"from the moment its stack is up"
            + (
                ", and its Rasa again from the start of its restart."
                if not findings.plan.quick
                else "."
            ),
        ]
    return lines + [""]


def _layout(system: str, watched_as: str) -> str:
    """ "1 replica: " for "production, 1 replica" watched as "production"; else nothing."""
    rest = system.removeprefix(watched_as).lstrip(", ")
    return f"{rest}: " if rest else ""


def _production_section(findings: Findings) -> List[str]:
    lines = ["## Production mode (nginx, 1 and 2 Rasa replicas)", "", findings.production, ""]
    runs = [run for run in findings.runs if run.system.startswith("production")]
    if runs:
        lines += [
            *LOAD_HEADER,
            *[_run_row(run) for run in runs],
            "",
        ]
    return lines


def _profile_section(findings: Findings) -> List[str]:
    missed = [g for g in findings_goals(findings) if not g.met and g.measured_known]
    if not missed and not findings.profile:
        return ["## Profile", "", "Every target is met: no profile taken.", ""]
    lines = ["## Where the time goes" + (" (missed targets)" if missed else ""), ""]
    if findings.profile_note:
        lines += [findings.profile_note, ""]
    run = findings.run(PROJECT, SMALL, 10)
    if run:
        per = run.cpu_ms_per_message()
        total = sum(per.values())
        biggest = max((k for k in per if k != "load generator"), key=per.__getitem__)
        stock = findings.run(STOCK, SMALL, 10)
        spent = ", ".join(f"{k} {v:.1f}" for k, v in per.items())
        lines.append(
            f"At 10 conversations of small talk the project spends {total:.1f} ms of CPU per "
            f"answered message across its processes ({spent}); the largest is {biggest}. "
            f"Rasa's {per.get('Rasa', 0):.1f} ms on its one event loop allow at most "
            f"{1000 / max(per.get('Rasa', 0), 0.001):.0f} messages a second."
        )
        if stock and stock.result.throughput:
            wanted = 2 * stock.result.throughput
            lines.append(
                f"Twice stock's throughput ({wanted:.1f} msg/s) needs at most "
                f"{1000 / wanted:.1f} ms of Rasa's time per message (one process), and at "
                f"most {(os.cpu_count() or 1) * 1000 / wanted:.1f} ms of CPU per message in "
                f"all on {os.cpu_count()} cores."
            )
        lines.append("")
    if findings.profile:
        lines += [
            "The project's Rasa process was restarted under a stack sampler "
            "(bench/performance/profile.py `serve_profiled`: "
            f"every {SAMPLE_EVERY * 1000:.0f} ms it records every Python "
            "thread's stack; py-spy is not installed here) and loaded as the missed targets "
            "were. Shares are of the samples in which the event loop (Rasa's main thread) "
            "was busy; waiting for the action server or the database is idle time and not "
            "counted. Areas are the step of Rasa's message processing on the stack.",
            "",
        ]
        for window in findings.profile:
            lines += [
                f"### {window.name}",
                "",
                f"{window.busy} busy of {window.samples} main-thread samples in "
                f"{window.seconds:.0f} s ({window.busy / max(1, window.samples):.0%} busy); "
                f"{window.other_threads} busy samples in other Python threads.",
                "",
                "| area of the turn | share of busy time | mostly in (share of the area) |",
                "|---|---|---|",
                *[
                    f"| {area} | {share:.0%} | {_spot(window.hotspots.get(area))} |"
                    for area, share in window.areas
                ],
                "",
                "| function (time with it on the stack) | share |",
                "|---|---|",
                *[f"| `{name}` | {share:.0%} |" for name, share in window.inclusive],
                "",
                "| function running when sampled | share |",
                "|---|---|",
                *[f"| `{name}` | {share:.0%} |" for name, share in window.own],
                "",
            ]
    if missed:
        lines += ["### Design changes that would meet the missed targets", ""]
    for goal in missed:
        lines.append(f"- **{goal.name}** ({goal.verdict()}): {design_change(goal, findings)}")
    return lines + [""]
