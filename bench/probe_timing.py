"""Does the time of a "not found" tell another account's object from a missing one?

    python -m bench.probe_timing          # or: make bench
    python -m bench.probe_timing --requests 500 --postgres postgresql+psycopg2://...

Starts the account services the way the test suite does (their own process, a freshly
migrated and seeded database: SQLite, and PostgreSQL when it answers at `--postgres`),
then asks, as one signed-in person over one kept-alive connection, for objects of
three kinds in shuffled order: their own account's (for scale), another account's
(the probe) and a nonexistent one (the miss). Reports each kind's median, p95 and
mean latency as the client sees it, and for probe vs miss the difference of medians
and how often a probe is slower than a miss picked at random (50% = indistinguishable).
Writes bench/reports/probe_timing.md. Exits 1 when, for some object, a probe is slower
than a miss more often than the target allows (or less often: either way time would tell).
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import importlib
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import httpx
from rich.console import Console
from rich.table import Table

from bot.settings import PROJECT_ROOT

REPORT = PROJECT_ROOT / "bench" / "reports" / "probe_timing.md"
DEFAULT_POSTGRES = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
# How often a probe may be slower than a miss: 50% is a coin toss. With 300 answers of
# each kind the share's own noise is about +-5% (95%); the audit write inside the request
# made it about 90%. Absolute differences of medians are reported but not judged: on a
# shared 2-core machine they wander by a few ms from run to run for every kind alike.
TARGET_SLOWER = (0.40, 0.60)
KINDS = ("own", "foreign", "missing")
console = Console()


@dataclass(frozen=True)
class Target:
    """One object type, asked for as one person: their own id, another account's, none."""

    name: str
    email: str
    path: str  # "{id}" where the identifier goes
    ids: Dict[str, str]  # kind -> identifier


TARGETS = [
    Target(
        "invoice",
        "ana.admin@acme.example",
        "/invoices/{id}",
        {"own": "INV-10000001", "foreign": "INV-20000001", "missing": "INV-29999999"},
    ),
    Target(
        "device",
        "ana.admin@acme.example",
        "/devices/{id}",
        {"own": "7XK2M93", "foreign": "MX4R8T2", "missing": "ZZ9ZZ99"},
    ),
    Target(
        "order",
        "lena.buyer@initech.example",
        "/orders/{id}",
        {"own": "300000001", "foreign": "100000001", "missing": "199999999"},
    ),
]


def percentile(values: List[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def slower_share(probes: List[float], misses: List[float]) -> float:
    """P(a probe takes longer than a miss), ties counting half (the AUC of the two samples)."""
    wins = 0.0
    ordered = sorted(misses)
    for value in probes:
        below = bisect.bisect_left(ordered, value)
        ties = bisect.bisect_right(ordered, value) - below
        wins += below + ties / 2
    return wins / (len(probes) * len(misses))


def measure(base_url: str, token: str, target: Target, count: int) -> Dict[str, List[float]]:
    """`count` answers of each kind, shuffled, in milliseconds."""
    plan = [kind for kind in KINDS for _ in range(count)]
    random.Random(9).shuffle(plan)
    times: Dict[str, List[float]] = {kind: [] for kind in KINDS}
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        for kind in KINDS * 20:  # warm up the connection, the pool and the caches
            client.get(target.path.format(id=target.ids[kind]))
        for kind in plan:
            started = time.perf_counter()
            response = client.get(target.path.format(id=target.ids[kind]))
            elapsed = (time.perf_counter() - started) * 1000
            expected = 200 if kind == "own" else 404
            if response.status_code != expected:
                raise RuntimeError(f"{target.name} {kind}: {response.status_code} {response.text}")
            times[kind].append(elapsed)
    return times


@dataclass
class Row:
    backend: str
    target: str
    stats: Dict[str, Tuple[float, float, float]]  # kind -> (median, p95, mean)
    slower: float

    @property
    def median_gap(self) -> float:
        return self.stats["foreign"][0] - self.stats["missing"][0]

    @property
    def p95_gap(self) -> float:
        return self.stats["foreign"][1] - self.stats["missing"][1]

    @property
    def within(self) -> bool:
        return TARGET_SLOWER[0] <= self.slower <= TARGET_SLOWER[1]


def run_backend(harness: Any, backend: str, url: str, count: int) -> List[Row]:
    running = harness.start_services(backend, url)
    rows = []
    try:
        for target in TARGETS:
            times = measure(running.base_url, running.token(target.email), target, count)
            stats = {
                kind: (
                    statistics.median(values),
                    percentile(values, 0.95),
                    statistics.fmean(values),
                )
                for kind, values in times.items()
            }
            rows.append(
                Row(backend, target.name, stats, slower_share(times["foreign"], times["missing"]))
            )
    finally:
        harness.stop_services(running)
    return rows


def postgres_database(harness: Any, admin_url: str) -> Optional[Tuple[str, str]]:
    """(scratch database name, its URL), or None when PostgreSQL does not answer."""
    from sqlalchemy.engine import make_url

    from bot.services.db import create_engine

    try:
        engine = create_engine(admin_url)
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:  # not reachable: the report says so
        console.print(f"[yellow]PostgreSQL skipped: {exc.__class__.__name__}[/yellow]")
        return None
    name = f"premier_bench_{uuid.uuid4().hex[:10]}"
    harness.admin_sql(admin_url, f'CREATE DATABASE "{name}"')
    return name, make_url(admin_url).set(database=name).render_as_string(hide_password=False)


class Harness:
    """The test suite's way of starting the services (tests/conftest.py), used as a library."""

    def __init__(self) -> None:
        # Imported by name: the harness is test code, outside what bench/ is type-checked with.
        self._conftest = importlib.import_module("tests.conftest")

    def start_services(self, backend: str, url: str) -> Any:
        return self._conftest.start_services(backend, url)

    def stop_services(self, running: Any) -> None:
        self._conftest.stop_services(running)

    def admin_sql(self, admin_url: str, statement: str) -> None:
        from bot.services.db import create_engine

        engine = create_engine(admin_url).execution_options(isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.exec_driver_sql(statement)
        engine.dispose()


def write_report(rows: List[Row], count: int, when: dt.datetime) -> None:
    lines = [
        "# Probe timing: another account's object vs a missing one",
        "",
        "Produced by `make bench` (`python -m bench.probe_timing`). The services run in their",
        "own process on a freshly seeded database; one signed-in person asks, over one",
        f"kept-alive connection and in shuffled order, {count} times each for an object of their",
        "own account (scale), of another account (the probe, audited) and a nonexistent one",
        "(the miss). Latency as the client sees it, in ms. *probe slower* is how often a probe",
        "takes longer than a miss picked at random: 50% means the two cannot be told apart.",
        "",
        f"{when:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, Python {platform.python_version()}."
        f" Target: probe slower {TARGET_SLOWER[0]:.0%}-{TARGET_SLOWER[1]:.0%} of the time.",
        "",
        "| backend | object | own median / p95 | probe median / p95 | miss median / p95 "
        "| probe - miss (median, p95) | probe slower | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        cell = {kind: f"{row.stats[kind][0]:.2f} / {row.stats[kind][1]:.2f}" for kind in KINDS}
        lines.append(
            f"| {row.backend} | {row.target} | {cell['own']} | {cell['foreign']} "
            f"| {cell['missing']} | {row.median_gap:+.2f}, {row.p95_gap:+.2f} "
            f"| {row.slower:.0%} | {'within' if row.within else 'OVER'} |"
        )
    lines += [
        "",
        "Before the fix (2026-12-01, this bench on the previous code, 300 of each kind) the",
        "probe's audit row was written inside the request: a probe was slower than a miss",
        "90-93% of the time on SQLite (medians +24 to +29 ms on a busy machine; 21 against",
        "14 ms when quiet) and 69-72% on PostgreSQL (+6 to +8 ms); the review had measured 19",
        "against 10 ms. Now both answers run the same two queries, and the probe's row is",
        "queued for the services' audit writer (`bot/services/audit.py` `AuditWriter`), which",
        "writes it on its own clock once the answer has gone, and at shutdown.",
        "",
    ]
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join(lines), encoding="utf-8")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="answers of each kind")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="an admin URL, or ''")
    args = parser.parse_args(argv)
    when = dt.datetime.now(dt.timezone.utc)
    harness = Harness()
    rows: List[Row] = []
    with tempfile.TemporaryDirectory() as folder:
        console.print("SQLite: starting the services and measuring...")
        rows += run_backend(
            harness, "sqlite", f"sqlite:///{Path(folder) / 'bench.db'}", args.requests
        )
    scratch = postgres_database(harness, args.postgres) if args.postgres else None
    if scratch:
        name, url = scratch
        console.print("PostgreSQL: starting the services and measuring...")
        try:
            rows += run_backend(harness, "postgresql", url, args.requests)
        finally:
            harness.admin_sql(args.postgres, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    write_report(rows, args.requests, when)

    table = Table(title="probe vs miss (ms)")
    for column in (
        "backend",
        "object",
        "probe median",
        "miss median",
        "Δ median",
        "Δ p95",
        "slower",
    ):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row.backend,
            row.target,
            f"{row.stats['foreign'][0]:.2f}",
            f"{row.stats['missing'][0]:.2f}",
            f"{row.median_gap:+.2f}",
            f"{row.p95_gap:+.2f}",
            f"{row.slower:.0%}",
            style=None if row.within else "red",
        )
    console.print(table)
    console.print(f"report: {REPORT.relative_to(PROJECT_ROOT)}")
    return 0 if rows and all(row.within for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
