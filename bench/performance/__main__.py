"""`python -m bench.performance`: one run in order (`measure`), then the report (`main`).

`measure` is the benchmark's sequence: the stock bot, then the project's stack (load, the long
conversation, Rasa's cold start, the profile when a target is missed), then production mode.
`main` turns the flags into a Plan and writes the report, the plots and the verdicts.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

from bench import performance
from bench.performance.findings import Findings
from bench.performance.goals import findings_goals
from bench.performance.measure import (
    measure_load,
    measure_turns,
    profile_project,
    project_training,
    stock_training,
)
from bench.performance.plan import ACCOUNT, FULL, PROJECT, QUICK, SMALL, STOCK, Plan, terminal
from bench.performance.plots import plots
from bench.performance.production import measure_production
from bench.performance.report import render
from bench.performance.systems import MemorySampler, project_system, restart_rasa, stock_system
from bench.stock_rasa import stock_bot
from bot import assistant
from bot.settings import PROJECT_ROOT


def measure(plan: Plan, reuse_training: bool, workdir: Path) -> Findings:
    findings = Findings(plan)
    began = time.monotonic()
    with MemorySampler() as sampler:
        if assistant.model_is_stale():
            with terminal.status("the project's model is stale: training it (make train)..."):
                if assistant.train() != 0:
                    raise RuntimeError("training the project's model failed")
            findings.notes.append("The project's model was stale and was trained first.")
        with terminal.status("stock Rasa: the cached `rasa init` bot (or building it)..."):
            bot = stock_bot()
        findings.training[STOCK] = stock_training(bot)
        findings.training[PROJECT] = project_training(plan, reuse_training)

        with stock_system(bot, sampler, findings) as stock:
            measure_load(stock, (SMALL,), sampler, findings)
            measure_turns(stock, findings)

        with project_system(workdir / "project", sampler, findings) as (project, stack):
            measure_load(project, (SMALL, ACCOUNT), sampler, findings)
            long_talker = project.conversations(1)[0]
            measure_turns(replace(project, conversations=lambda _: [long_talker]), findings)
            if not plan.quick:
                with terminal.status("project: restarting Rasa alone until its first answer..."):
                    command = assistant.serve_command(
                        stack.settings, assistant.model_path(), stack.workdir / "endpoints.yml"
                    )
                    seconds = restart_rasa(
                        stack, command, lambda pid: sampler.watch("project: Rasa", pid)
                    )
                findings.cold_start.append(
                    ("project: Rasa alone (the rest up) until its first answer", seconds)
                )
            findings.memory = dict(sampler.peaks)
            every = findings_goals(findings)
            missed = [g for g in every if not g.met]
            if plan.always_profile or (missed and not plan.quick):
                sampler.forget("project: Rasa")  # the profiled process is not the one measured
                profile_project(stack, project, findings, missed or every, long_talker)
            elif missed:
                findings.profile_note = (
                    "Quick mode takes no profile: `make bench` (the full run) profiles the "
                    "Rasa process when a target is missed."
                )
            sampler.forget("project: ")

        if plan.production:
            try:
                measure_production(workdir / "production", sampler, findings)
            except Exception as exc:  # reported: the rest of the run still stands
                findings.production = f"failed: {type(exc).__name__}: {str(exc)[:1500]}"
        else:
            findings.production = "not measured in quick mode"
        findings.memory = dict(sampler.peaks)
    findings.seconds = time.monotonic() - began
    return findings


def _interrupt(*_: Any) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] = sys.argv[1:]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.performance",
        description=(performance.__doc__ or "").split("\n")[0],
    )
    parser.add_argument("--quick", action="store_true", help="1 and 10 conversations, short runs")
    parser.add_argument(
        "--reuse-training",
        action="store_true",
        help="the project's training time from bench.training_time, if written in the last hour",
    )
    parser.add_argument("--seconds", type=float, help="seconds of each load run")
    parser.add_argument("--no-production", action="store_true", help="skip production mode")
    parser.add_argument(
        "--profile", action="store_true", help="profile Rasa even when every target is met"
    )
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.seconds:
        plan = replace(plan, load_seconds=args.seconds)
    if args.no_production:
        plan = replace(plan, production=False)
    if args.profile:
        plan = replace(plan, always_profile=True, profile_seconds=plan.profile_seconds or 6.0)
    command = "python -m bench.performance " + " ".join(argv)
    # A SIGTERM unwinds like Ctrl-C, so that every process started here is stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    with tempfile.TemporaryDirectory(prefix="bench-performance-") as workdir:
        (Path(workdir) / "project").mkdir()
        (Path(workdir) / "production").mkdir()
        findings = measure(plan, args.reuse_training, Path(workdir))
    report = plan.report
    pictures = plots(findings, report.stem)
    report.write_text(render(findings, pictures, command.strip()), encoding="utf-8")
    terminal.print(f"report: {report.relative_to(PROJECT_ROOT)} ({findings.seconds / 60:.1f} min)")
    for goal in findings_goals(findings):
        colour = "green" if goal.met else "red"
        terminal.print(f"[{colour}]{goal.name}: {goal.verdict()}[/{colour}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
