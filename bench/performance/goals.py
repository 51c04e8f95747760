"""Issue 14's targets: each measured value against its limit, and what to change when missed.

`goals` holds the targets themselves; `findings_goals` applies them to a run's findings, and
`design_change` names the change aimed at the largest measured cost behind a missed one (from
the profile's areas, or the memory before and under load).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from bench.load import LoadResult, Sample
from bench.performance.findings import Findings, ProfileWindow
from bench.performance.plan import ACCOUNT, GB, MIB, PROJECT, SMALL, STOCK, TURN_WINDOW
from bench.performance.profile import OTHER_AREA, REMEDIES


@dataclass(frozen=True)
class Goal:
    """One of issue 14's targets: a measured value against its limit."""

    name: str
    measured: float
    limit: float
    at_most: bool
    unit: str
    detail: str = ""

    @property
    def measured_known(self) -> bool:
        return not math.isnan(self.measured)

    @property
    def met(self) -> bool:
        if not self.measured_known:
            return False
        return self.measured <= self.limit if self.at_most else self.measured >= self.limit

    def verdict(self) -> str:
        if not self.measured_known:
            return "not measured"
        if self.met:
            return "met"
        gap = abs(self.measured - self.limit)
        share = gap / self.limit * 100 if self.limit else math.inf
        side = "over" if self.at_most else "short"
        return f"missed: {_number(gap)} {self.unit} {side} ({share:.0f}%)"


def _number(value: float) -> str:
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.0f}"


def goals(
    stock_small: Optional[LoadResult],
    project_small: Optional[LoadResult],
    project_account: Optional[LoadResult],
    turn_latency: Dict[int, float],
    rasa_peak_bytes: Optional[int],
) -> List[Goal]:
    """Issue 14's targets at 10 conversations (2 cores), from what was measured.

    Args:
        stock_small, project_small, project_account: the load runs at 10 conversations.
        turn_latency: the project's latency (s) by turn; the target compares the last
            measured turn (500 in a full run) with turn 5.
        rasa_peak_bytes: the peak RSS of the project's Rasa process.
    """
    nan = math.nan
    stock_tp = stock_small.throughput if stock_small else nan
    small_tp = project_small.throughput if project_small else nan
    account_tp = project_account.throughput if project_account else nan
    ratio = small_tp / stock_tp if stock_tp else nan
    last = max(turn_latency) if turn_latency else 0
    first = turn_latency.get(5)
    growth = turn_latency[last] / first if first and last > 5 else nan
    return [
        Goal(
            "small talk at 10 conversations: throughput / stock's",
            ratio,
            2.0,
            False,
            "x",
            f"{small_tp:.1f} vs {stock_tp:.1f} msg/s",
        ),
        Goal(
            "small talk at 10 conversations: p95 latency",
            project_small.percentile(95) if project_small else nan,
            250.0,
            True,
            "ms",
        ),
        Goal(
            "account questions at 10 conversations: throughput >= stock's small talk",
            account_tp,
            stock_tp,
            False,
            "msg/s",
        ),
        Goal(
            f"latency at turn {last or 500} / turn 5",
            growth,
            1.2,
            True,
            "x",
            f"{first * 1000:.0f} -> {turn_latency[last] * 1000:.0f} ms" if first and last else "",
        ),
        Goal(
            "Rasa process peak memory (RSS)",
            rasa_peak_bytes / GB if rasa_peak_bytes else nan,
            1.0,
            True,
            "GB",
            f"{rasa_peak_bytes / MIB:.0f} MiB" if rasa_peak_bytes else "",
        ),
    ]


def latency_at_turns(samples: Sequence[Sample], marks: Sequence[int]) -> Dict[int, float]:
    """Median latency (s) of turns mark-TURN_WINDOW .. mark+TURN_WINDOW, for each mark."""
    by_turn = {s.turn: s.seconds for s in samples if not s.error}
    found = {}
    for mark in marks:
        around = [
            by_turn[t] for t in range(mark - TURN_WINDOW, mark + TURN_WINDOW + 1) if t in by_turn
        ]
        if around:
            found[mark] = statistics.median(around)
    return found


def findings_goals(findings: Findings) -> List[Goal]:
    def result(system: str, mix: str) -> Optional[LoadResult]:
        run = findings.run(system, mix, 10)
        return run.result if run else None

    return goals(
        result(STOCK, SMALL),
        result(PROJECT, SMALL),
        result(PROJECT, ACCOUNT),
        latency_at_turns(findings.turns.get(PROJECT, []), findings.plan.turn_marks),
        findings.memory.get("project: Rasa"),
    )


# --- what to change for a missed target -------------------------------------------------------


def _mib(count: Optional[int]) -> str:
    return f"{count / MIB:.0f}" if count else "-"


def _spot(spot: Optional[Tuple[str, float]]) -> str:
    return f"`{spot[0]}` ({spot[1]:.0%})" if spot else ""


def design_change(goal: Goal, findings: Findings) -> str:
    """The change aimed at the largest measured cost behind a missed target."""
    if goal.name.startswith("Rasa process"):
        idle = findings.idle_bytes.get(PROJECT, 0)
        peak = findings.memory.get("project: Rasa", 0)
        if idle >= 0.8 * peak:
            return (
                f"{_mib(idle)} of the {_mib(peak)} MiB are there before any load (the model and "
                f"the libraries): serve with fewer TensorFlow components in the model (a "
                f"smaller DIET, no second CountVectors featurizer) or load only the NLU and "
                f"policy parts serving needs."
            )
        return (
            f"the process grows from {_mib(idle)} MiB idle to {_mib(peak)} MiB under load: "
            f"bound what it keeps per conversation (the live trackers) by count and age."
        )
    window = _window_for(goal, findings.profile)
    if window is None or not window.areas:
        return "no profile of this load was taken; see the CPU table for the largest process."
    if goal.name.startswith("latency at turn"):
        new = next((w for w in findings.profile if w.name.startswith("one new conversation")), None)
        grown = _largest_growth(new, window) if new else window.areas[0][0]
        return (
            f"on the long conversation the area that grows most against a new one is "
            f"*{grown}*: {REMEDIES.get(grown, REMEDIES[OTHER_AREA])}."
        )
    changes: List[str] = []
    for area, share in window.areas[:2]:
        if share >= 0.2 or not changes:
            remedy = REMEDIES.get(area, REMEDIES[OTHER_AREA])
            spot = window.hotspots.get(area)
            where = f", mostly in {_spot(spot)}" if spot else ""
            changes.append(f"*{area}* takes {share:.0%} of Rasa's busy time{where}: {remedy}")
    return "; ".join(changes) + "."


def _window_for(goal: Goal, windows: List[ProfileWindow]) -> Optional[ProfileWindow]:
    wanted = {
        "small talk": "small talk",
        "account questions": "account questions",
        "latency at turn": "one conversation past",
    }
    for start, prefix in wanted.items():
        if goal.name.startswith(start):
            return next((w for w in windows if w.name.startswith(prefix)), None)
    return None


def _largest_growth(new: ProfileWindow, long: ProfileWindow) -> str:
    """The area whose busy samples per turn grew most from a new conversation to a long one."""
    before = {area: share * new.busy for area, share in new.areas}
    after = {area: share * long.busy for area, share in long.areas}
    return max(after, key=lambda area: after[area] - before.get(area, 0.0))
