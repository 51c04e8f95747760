"""How long a full training of the assistant takes (target: at most 5 minutes on 2 cores).

    python -m bench.training_time        # or: make bench

Trains NLU and dialogue from scratch (`rasa train --force`, so nothing comes from
Rasa's cache) into a temporary folder, the same command `make train` runs, and
writes bench/reports/training.md. Exits 1 when the run fails or misses the target.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

from bot import assistant
from bot.settings import PROJECT_ROOT

TARGET_SECONDS = 300
REPORT = PROJECT_ROOT / "bench" / "reports" / "training.md"
console = Console()


def minutes(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60} min {whole % 60:02d} s"


def write_report(seconds: float, ok: bool, when: dt.datetime) -> None:
    import rasa

    verdict = "within" if seconds <= TARGET_SECONDS else "over"
    lines = [
        "# Training time",
        "",
        "Produced by `make bench` (`python -m bench.training_time`): a full training of NLU",
        "and dialogue with `rasa train --force` (no cached components), as `make train` runs it.",
        "",
        "| when (UTC) | cores | Python | Rasa | result | time | target |",
        "|---|---|---|---|---|---|---|",
        f"| {when:%Y-%m-%d %H:%M} | {os.cpu_count()} | {platform.python_version()} | "
        f"{rasa.__version__} | {'trained' if ok else 'FAILED'} | {minutes(seconds)} | "
        f"{verdict} {minutes(TARGET_SECONDS)} |",
        "",
    ]
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join(lines), encoding="utf-8")


def main() -> int:
    when = dt.datetime.now(dt.timezone.utc)
    with tempfile.TemporaryDirectory() as out:
        command = [*assistant.train_command(Path(out), "bench"), "--force"]
        console.print("training from scratch (Rasa prints its progress)...")
        started = time.monotonic()
        ok = subprocess.call(command, cwd=PROJECT_ROOT) == 0
        seconds = time.monotonic() - started
    write_report(seconds, ok, when)
    colour = "green" if ok and seconds <= TARGET_SECONDS else "red"
    console.print(
        f"[{colour}]full training: {minutes(seconds)} "
        f"(target {minutes(TARGET_SECONDS)})[/{colour}]; report: {REPORT.relative_to(PROJECT_ROOT)}"
    )
    return 0 if ok and seconds <= TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
