"""What one run measures (FULL, or QUICK for `--quick`), and the names every part shares.

The report's paths, the systems' and the message mixes' names, the units, and the terminal
that shows the run's progress live here, so that every other module can import them without
importing each other.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Sequence, Tuple

from rich.console import Console as Terminal

from bench.load import ACCOUNT_QUESTIONS, SMALL_TALK, Message
from bot.settings import PROJECT_ROOT

REPORTS = PROJECT_ROOT / "bench" / "reports"
REPORT = REPORTS / "performance.md"
QUICK_REPORT = REPORTS / "performance-quick.md"
TRAINING_REPORT = REPORTS / "training.md"
terminal = Terminal()

SMALL = "small talk"
ACCOUNT = "account questions"
MIXES: Dict[str, Sequence[Message]] = {SMALL: SMALL_TALK, ACCOUNT: ACCOUNT_QUESTIONS}
STOCK, PROJECT = "stock", "project"
PROD_ONE, PROD_TWO = "production, 1 replica", "production, 2 replicas"
# Latency "at turn n" is the median of turns n-2 .. n+2 of the one long conversation.
TURN_WINDOW = 2
# A figure of bench.training_time counts as this run's when written this recently.
TRAINING_FRESH = dt.timedelta(hours=1)
GB = 10**9
MIB = 2**20


@dataclass(frozen=True)
class Plan:
    """How much of everything one run measures."""

    quick: bool
    concurrencies: Tuple[int, ...]
    load_seconds: float
    turn_marks: Tuple[int, ...]
    production: bool
    production_seconds: float
    profile_seconds: float
    always_profile: bool = False

    @property
    def report(self) -> Path:
        return QUICK_REPORT if self.quick else REPORT


FULL = Plan(False, (1, 10, 50), 15.0, (5, 50, 200, 500), True, 12.0, 15.0)
QUICK = Plan(True, (1, 10), 6.0, (5, 50), False, 0.0, 0.0)
