"""What a run found: filled in while it measures, then read by the verdicts and the report.

Plain data, apart from the one look-up `Findings.run`: the modules that measure write it,
goals.py and report.py read it, and none of them needs the others for that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from bench.load import LoadResult, Sample
from bench.performance.plan import Plan


@dataclass
class Run:
    """One closed-loop load run and what every process of its system used meanwhile."""

    system: str
    mix: str
    result: LoadResult
    cpu: Dict[str, float]  # CPU seconds per process (its children included)
    memory: Dict[str, int]  # peak RSS in bytes per process (its children included)
    # Cores busy on average with work of no measured process (another program's tests, the
    # databases): what else competed for the machine meanwhile.
    other_cores: float = 0.0

    def cpu_ms_per_message(self) -> Dict[str, float]:
        answered = max(1, len(self.result.answered))
        return {label: seconds * 1000 / answered for label, seconds in self.cpu.items()}


@dataclass
class Training:
    seconds: Optional[float]
    model_bytes: int
    how: str


@dataclass
class ProfileWindow:
    """Where the Rasa process's main thread (its event loop) spent one window of time."""

    name: str
    seconds: float
    samples: int
    busy: int
    areas: List[Tuple[str, float]]  # area of a turn -> share of busy samples
    inclusive: List[Tuple[str, float]]  # function -> share of busy samples with it on the stack
    own: List[Tuple[str, float]]  # function running at the sample -> share of busy samples
    other_threads: int  # samples of other Python threads that were not waiting
    # Per area: the function most of its samples go through, below its entry point
    # (the entry point and the wrappers every sample of the area shares are left out).
    hotspots: Dict[str, Tuple[str, float]] = field(default_factory=dict)


@dataclass
class Findings:
    plan: Plan
    runs: List[Run] = field(default_factory=list)
    turns: Dict[str, List[Sample]] = field(default_factory=dict)
    cold_start: List[Tuple[str, float]] = field(default_factory=list)
    training: Dict[str, Training] = field(default_factory=dict)
    memory: Dict[str, int] = field(default_factory=dict)
    # RSS of each system's Rasa right after its first answer (model loaded, no load yet).
    idle_bytes: Dict[str, int] = field(default_factory=dict)
    production: str = ""  # why production mode was not measured, or how it was
    profile: List[ProfileWindow] = field(default_factory=list)
    profile_note: str = ""
    notes: List[str] = field(default_factory=list)
    seconds: float = 0.0

    def run(self, system: str, mix: str, concurrency: int) -> Optional[Run]:
        for run in self.runs:
            if (run.system, run.mix, run.result.concurrency) == (system, mix, concurrency):
                return run
        return None
