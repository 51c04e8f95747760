"""CLINC150 (Larson et al. 2019): the shipped NLU pipeline on 150 intents and out-of-scope queries.

    python -m bench.clinc150                # or: make bench-nlu               (15-25 minutes)
    python -m bench.clinc150 --with-stock   # or: make bench-nlu WITH_STOCK=1  (about an hour more)
    python -m bench.clinc150 --val-only --config other.yml   # explore a pipeline on val only

Reads the "full" split of ../shared/datasets/clinc150/data_full.json (only this benchmark
does; without it, it says so and exits 0). Trains NLU with `rasa train nlu` on train plus
oos_train (out-of-scope examples as the intent `out_of_scope`) into a cache under
var/bench/clinc150/, keyed on the config, the converted data, the custom components' code
and Rasa's version, so an unchanged pipeline is not trained twice. Every val and test
message is parsed by the trained model (bench.nlu_quality.evaluate_language), and the
model's own FallbackClassifier decides at each threshold of a sweep on val: nlu_fallback
counts as out-of-scope. The threshold is chosen on val alone, then test is scored once with
it. Writes bench/reports/clinc150.md: in-scope accuracy, macro-F1 over in-scope intents,
out-of-scope recall and precision with and without the threshold, training time, Larson et
al.'s Table 2 and stock Rasa's default pipeline on the same data (trained only with
--with-stock; otherwise the figures of the committed report, marked as such).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from bench.clinc150_scoring import (
    OUT_OF_SCOPE,
    TARGETS,
    THRESHOLDS,
    Example,
    Fallback,
    Parsed,
    choose,
    confusions,
    load_dataset,
    pipeline_fallback,
    score_with,
    subset,
    sweep,
    to_rasa_yaml,
)
from bench.stock_rasa import environment, template_dir
from bench.training_time import minutes
from bot.settings import PROJECT_ROOT

DATASET = PROJECT_ROOT.parent / "shared" / "datasets" / "clinc150" / "data_full.json"
REPORT = PROJECT_ROOT / "bench" / "reports" / "clinc150.md"
CACHE_DIR = PROJECT_ROOT / "var" / "bench" / "clinc150"
SHIPPED_CONFIG = PROJECT_ROOT / "config.yml"
# What a trained model depends on besides its config and data.
COMPONENT_CODE = PROJECT_ROOT / "bot" / "nlu"
# Larson et al. 2019, Table 2 (full data, out-of-scope examples trained as a class), as the
# issue and the dataset's README quote it: in-scope accuracy, out-of-scope recall (%).
PAPER = {"Rasa (Larson et al. 2019)": (91.5, 45.3), "BERT (Larson et al. 2019)": (96.9, 52.3)}
# The committed report carries its figures on this line, so that a run without the stock
# side can repeat stock's last measured figures.
FIGURES_MARK = "<!-- clinc150 figures: "
console = Console()


# --- training ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trained:
    """A trained NLU model and what training it cost."""

    model: Path
    seconds: float
    when: str  # UTC, ISO 8601, when it was trained
    load: float  # the machine's 1-minute load average when training ended
    # CPU seconds of the training process, all cores: unlike the wall clock, barely
    # changed by other work sharing the machine (None: not recorded).
    cpu_seconds: Optional[float] = None
    from_cache: bool = False


def cache_key(config: str, data: str) -> str:
    """A digest of everything the model depends on: config, data, components, Rasa.

    The config as YAML values, so that editing its comments does not retrain.
    """
    import rasa
    import yaml

    settings = json.dumps(yaml.safe_load(config), sort_keys=True)
    digest = hashlib.sha256(f"rasa {rasa.__version__}\n{settings}\0{data}\0".encode())
    for path in sorted(COMPONENT_CODE.rglob("*")):
        if path.is_file() and path.suffix in {".py", ".yml"}:
            digest.update(path.relative_to(PROJECT_ROOT).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<34}"),
        BarColumn(),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
        console=console,
    )


# tqdm's epoch bar in Rasa's log: "Epochs:  14%|█▎  | 3/22 [00:41<04:19, ...".
EPOCHS = re.compile(r"Epochs:\s+\d+%\|[^|]*\|\s*(\d+)/(\d+)")


def epoch_progress(log: str) -> Optional[Tuple[int, int]]:
    """The last (epoch, epochs) Rasa's log shows, if any."""
    found = EPOCHS.findall(log[-4000:])
    return (int(found[-1][0]), int(found[-1][1])) if found else None


def train(
    config: Path, examples: Sequence[Example], label: str, cache: Path = CACHE_DIR
) -> Trained:
    """`rasa train nlu` with `config` on `examples`, timed; the cached model when the key holds.

    Raises RuntimeError (with the end of Rasa's log) when training fails.
    """
    data = to_rasa_yaml(examples)
    # Rasa writes its default pipeline into a config without one: train from a copy.
    config_text = config.read_text(encoding="utf-8")
    folder = cache / f"{label}-{cache_key(config_text, data)}"
    record = folder / "training.json"
    if record.exists() and (folder / "nlu.tar.gz").exists():
        saved = json.loads(record.read_text())
        return Trained(folder / "nlu.tar.gz", **saved, from_cache=True)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / "config.yml").write_text(config_text, encoding="utf-8")
    (folder / "train.yml").write_text(data, encoding="utf-8")
    command = [
        sys.executable, "-m", "rasa", "train", "nlu",
        "--config", str(folder / "config.yml"),
        "--nlu", str(folder / "train.yml"),
        "--out", str(folder),
        "--fixed-model-name", "nlu",
    ]  # fmt: skip
    log = folder / "train.log"
    with _progress() as progress, open(log, "w") as out:
        task = progress.add_task(f"{label}: training NLU", total=None, note="")
        started = time.monotonic()
        cpu_before = _children_cpu()
        # From the project root, so that the project's components (bot.nlu) import.
        # A training cache of its own, emptied afterwards: nothing comes from an earlier run.
        env = {**environment(), "RASA_CACHE_DIRECTORY": str(folder / "rasa-cache")}
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
        while process.poll() is None:
            time.sleep(1)
            epochs = epoch_progress(log.read_text(errors="replace"))
            if epochs:
                progress.update(task, completed=epochs[0], total=epochs[1],
                                note=f"epoch {epochs[0]}/{epochs[1]}")  # fmt: skip
        seconds = time.monotonic() - started
        cpu_seconds = _children_cpu() - cpu_before
    shutil.rmtree(folder / "rasa-cache", ignore_errors=True)
    if process.returncode != 0 or not (folder / "nlu.tar.gz").exists():
        raise RuntimeError(f"training failed ({process.returncode}):\n{log.read_text()[-3000:]}")
    when = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    trained = Trained(folder / "nlu.tar.gz", seconds, when, os.getloadavg()[0], cpu_seconds)
    saved = {k: v for k, v in asdict(trained).items() if k not in {"model", "from_cache"}}
    record.write_text(json.dumps(saved, indent=2))
    return trained


def _children_cpu() -> float:
    """User and system CPU seconds of this process's finished children."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- one side: train, sweep on val, score test once ---------------------------------------


def parse_split(agent: Any, examples: Sequence[Example], label: str, path: Path) -> Parsed:
    """Parse every example with the model (bench.nlu_quality's loop, with its progress bar)."""
    from bench.nlu_quality import evaluate_language

    path.write_text(to_rasa_yaml(examples), encoding="utf-8")
    result = evaluate_language(agent, label, path, ignored=set())
    rankings = [sorted(r.items(), key=lambda item: -item[1]) for r in result["rankings"]]
    return Parsed(gold=list(result["gold"]), rankings=rankings)


def measure(
    label: str, config: Path, splits: Dict[str, List[Example]], *, val_only: bool = False
) -> Dict[str, Any]:
    """Train `config` on train, choose the threshold on val, then (unless `val_only`) score
    test once. Returns the figures as plain values (they go into the report as JSON)."""
    import structlog
    from rasa.core.agent import Agent

    from bench.nlu_quality import reliability

    trained = train(config, splits["train"], label)
    agent = Agent.load(str(trained.model))
    # Rasa logs every parse at debug level through structlog; a benchmark wants quiet.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    own = pipeline_fallback(agent)
    side: Dict[str, Any] = {
        "label": label,
        "config": _shown(config),
        "training": {k: v for k, v in asdict(trained).items() if k != "model"},
        "pipeline_fallback": own,
        "ece": {},
    }
    splits_to_score = ["val"] if val_only else ["val", "test"]
    with tempfile.TemporaryDirectory(prefix="clinc150-") as tmp:
        for split in splits_to_score:
            started = time.monotonic()
            parsed = parse_split(
                agent, splits[split], f"{label} {split}", Path(tmp) / f"{split}.yml"
            )
            side[f"{split}_parse_seconds"] = time.monotonic() - started
            tops = [r[0][1] if r else 0.0 for r in parsed.rankings]
            right = [
                bool(r) and r[0][0] == g for r, g in zip(parsed.rankings, parsed.gold, strict=True)
            ]
            side["ece"][split] = reliability(tops, right)[0]
            if split == "val":
                # The threshold is chosen here, from val alone, before test is parsed.
                rows = sweep(parsed, sorted({0.0, own[1] if own else 0.0}))
                best = choose(rows)
                side["sweep"] = rows
                side["chosen"] = (best["threshold"], best["ambiguity"])
            side[split] = {
                "none": asdict(score_with(parsed, None)),
                "pipeline": asdict(score_with(parsed, own)) if own else None,
                "chosen": asdict(score_with(parsed, side["chosen"])),
            }
            if split == "test":
                side["confusions"] = confusions(parsed, side["chosen"])
    return side


def _shown(path: Path) -> str:
    try:
        return path.resolve().relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return "the `rasa init` template's config.yml (no pipeline: Rasa's default)"


# --- the report ----------------------------------------------------------------------------


def previous_figures(report: Path = REPORT) -> Optional[Dict[str, Any]]:
    """The figures a report wrote on its FIGURES_MARK line, if it has one."""
    if not report.exists():
        return None
    for line in report.read_text(encoding="utf-8").splitlines():
        if line.startswith(FIGURES_MARK) and line.endswith(" -->"):
            figures: Dict[str, Any] = json.loads(line[len(FIGURES_MARK) : -len(" -->")])
            return figures
    return None


def _pct(value: float) -> str:
    return f"{100 * value:.1f}"


def _fallback(fallback: Fallback) -> str:
    if fallback is None:
        return "none"
    threshold, ambiguity = fallback
    return f"{threshold:.2f}" + (f" (ambiguity {ambiguity:.2f})" if ambiguity else "")


def _rows(side: Dict[str, Any], name: str, split: str) -> List[str]:
    rows = []
    for key, what in (
        ("none", "no threshold"),
        ("pipeline", f"its own, {_fallback(side['pipeline_fallback'])}"),
        ("chosen", f"chosen on val, {_fallback(side['chosen'])}"),
    ):
        s = side[split][key]
        if s is None:
            continue
        rows.append(
            f"| {name} | {what} | {_pct(s['in_scope_accuracy'])} | {_pct(s['macro_f1'])} | "
            f"{_pct(s['oos_recall'])} | {_pct(s['oos_precision'])} | "
            f"{_training(side['training'])} |"
        )
    return rows


def render(
    project: Dict[str, Any],
    stock: Optional[Dict[str, Any]],
    stock_note: str,
    *,
    command: str,
    counts: Dict[str, int],
    shipped_difference: str,
) -> str:
    """The report: figures on test, targets, the sweep on val, what was trained and how."""
    import platform

    import rasa

    now = dt.datetime.now(dt.timezone.utc)
    chosen = project["test"]["chosen"]
    lines = [
        f"# CLINC150: the project's NLU pipeline on {counts['intents']} intents and "
        "out-of-scope queries",
        "",
        f"Produced by `make bench-nlu` (`{command}`), {now:%Y-%m-%d %H:%M} UTC, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, Rasa {rasa.__version__}. "
        f'Data: the "full" split of CLINC150 (Larson et al. 2019), '
        f"{counts['train']} training examples (train + oos_train), {counts['val']} val "
        f"(val + oos_val), {counts['test']} test (test + oos_test); out-of-scope examples are "
        "the intent `out_of_scope`. Trained with `rasa train nlu` on train only; the "
        "threshold is chosen on val; test is scored once.",
        "",
        "## Test (scored once)",
        "",
        "In-scope accuracy: share of the in-scope test messages given their intent (an "
        f"out-of-scope answer is wrong). Macro-F1 over the {counts['intents']} in-scope "
        "intents, every test "
        "message counted. Out-of-scope recall and precision: of the out-of-scope messages, "
        "the share answered out-of-scope; of the out-of-scope answers, the share right. "
        "Out-of-scope answer: the intent `out_of_scope` or the FallbackClassifier's "
        "`nlu_fallback`. Figures in %.",
        "",
        "| system | fallback threshold | in-scope accuracy | in-scope macro-F1 "
        "| OOS recall | OOS precision | NLU training |",
        "|---|---|---|---|---|---|---|",
        *_rows(project, "project", "test"),
    ]
    if stock:
        lines += _rows(stock, "stock Rasa", "test")
    else:
        lines.append("| stock Rasa | — | not measured yet | | | | |")
    for name, (accuracy, recall) in PAPER.items():
        lines.append(f"| {name} | oos-train | {accuracy:.1f} | — | {recall:.1f} | — | — |")
    lines += ["", f"Stock Rasa: {stock_note}", ""]
    lines += _targets(project, stock, chosen)
    lines += _sweep_section(project)
    lines += [
        "## What was trained",
        "",
        f"- **project**: `{project['config']}`. {shipped_difference}",
        "- **stock Rasa**: the config.yml of `rasa init`'s template, which has no pipeline, so "
        "Rasa trains its default one (DIETClassifier 100 epochs, FallbackClassifier 0.3 / "
        "ambiguity 0.1; its ResponseSelector has no responses to learn here).",
        "",
        f"Training time: `rasa train nlu` from scratch (a fresh training cache), wall clock on "
        f"this machine; the project's model was trained {_when(project['training'])}. "
        "Other people's work shared the two cores, so the time is an upper bound. Parsing "
        f"val and test took {project['val_parse_seconds']:.0f} s and "
        f"{project['test_parse_seconds']:.0f} s (one message at a time, as the server does).",
        "",
        f"Calibration of the top intent's confidence (expected calibration error, "
        f"bench.nlu_quality.reliability): val {project['ece']['val']:.3f}, "
        f"test {project['ece']['test']:.3f}.",
        "",
        "Commonest mistakes on test at the chosen threshold (project; expected → answered: "
        "messages):",
        "",
        *[f"- {gold} → {predicted}: {n}" for gold, predicted, n in project["confusions"]],
        "",
        FIGURES_MARK
        + json.dumps({"project": project, "stock": stock}, separators=(",", ":"))
        + " -->",
        "",
    ]
    return "\n".join(lines)


def _training(training: Dict[str, Any]) -> str:
    """Wall clock, and CPU time when it was recorded."""
    cpu = training.get("cpu_seconds")
    return minutes(training["seconds"]) + (f" (CPU {minutes(cpu)})" if cpu else "")


def _when(training: Dict[str, Any]) -> str:
    when = training["when"].replace("T", " ")[:16]
    cached = " (cached: this run reused it)" if training.get("from_cache") else ""
    return f"{when} UTC{cached}, load average {training['load']:.1f} when it ended"


def _targets(
    project: Dict[str, Any], stock: Optional[Dict[str, Any]], chosen: Dict[str, Any]
) -> List[str]:
    accuracy_met = chosen["in_scope_accuracy"] >= TARGETS["in_scope_accuracy"]
    recall_met = chosen["oos_recall"] >= TARGETS["oos_recall"]
    ours = project["training"]
    if stock:
        theirs = stock["training"]
        # CPU time when both runs recorded it: other people's work on the machine moves
        # the wall clock far more.
        what = "cpu_seconds" if ours.get("cpu_seconds") and theirs.get("cpu_seconds") else "seconds"
        share = ours[what] / theirs[what]
        time_verdict = (
            f"{_training(ours)} against stock's {_training(theirs)}: {share:.0%} of stock's "
            f"{'CPU' if what == 'cpu_seconds' else 'wall-clock'} time, "
            + ("met" if share <= TARGETS["training_share_of_stock"] else "**missed**")
        )
    else:
        time_verdict = (
            f"{_training(ours)}; stock's time is not measured yet, so this is not checked"
        )
    return [
        "## Targets (issue 15)",
        "",
        f"- in-scope accuracy ≥ {TARGETS['in_scope_accuracy']:.0%} with out-of-scope recall ≥ "
        f"{TARGETS['oos_recall']:.0%} (test, threshold chosen on val): "
        f"{_pct(chosen['in_scope_accuracy'])}% and {_pct(chosen['oos_recall'])}%, "
        + ("met" if accuracy_met and recall_met else "**missed**"),
        f"- trained in at most {TARGETS['training_share_of_stock']:.0%} of stock Rasa's time: "
        + time_verdict,
        "",
    ]


def _sweep_section(side: Dict[str, Any]) -> List[str]:
    ambiguities = sorted({row["ambiguity"] for row in side["sweep"]})
    header = " | ".join(f"ambiguity {a:.2f}: in-scope acc / OOS recall" for a in ambiguities)
    lines = [
        "## The threshold, chosen on val",
        "",
        f"Each threshold of the FallbackClassifier (Rasa's own class, applied to the "
        f"model's ranking) without an ambiguity rule and with the pipeline's own. The rule: "
        f"the best val in-scope accuracy among the settings whose val out-of-scope recall "
        f"reaches the target ({TARGETS['oos_recall']:.0%}); when none does, the best sum of "
        f"the two. Chosen: **{_fallback(side['chosen'])}**. Val, in %:",
        "",
        f"| threshold | {header} |",
        "|---|" + "---|" * len(ambiguities),
    ]
    by_key = {(r["threshold"], r["ambiguity"]): r for r in side["sweep"]}
    for threshold in THRESHOLDS:
        cells = []
        for a in ambiguities:
            row = by_key[(threshold, a)]
            mark = "**" if (threshold, a) == tuple(side["chosen"]) else ""
            cells.append(
                f"{mark}{_pct(row['in_scope_accuracy'])} / {_pct(row['oos_recall'])}{mark}"
            )
        lines.append(f"| {threshold:.2f} | " + " | ".join(cells) + " |")
    lines.append("")
    return lines


# --- entry point ---------------------------------------------------------------------------


def summary(sides: Dict[str, Dict[str, Any]], split: str) -> Any:
    from rich.table import Table

    table = Table(title=f"CLINC150 {split}")
    for column in ("system", "threshold", "in-scope acc", "macro-F1", "OOS recall",
                   "OOS precision", "training"):  # fmt: skip
        table.add_column(column)
    for name, side in sides.items():
        for key in ("none", "pipeline", "chosen"):
            s = side[split].get(key)
            if s is None:
                continue
            fallback = {"none": None, "pipeline": side["pipeline_fallback"],
                        "chosen": side.get("chosen")}[key]  # fmt: skip
            table.add_row(
                name, _fallback(fallback).replace(" (ambiguity ", "/").rstrip(")"),
                _pct(s["in_scope_accuracy"]), _pct(s["macro_f1"]), _pct(s["oos_recall"]),
                _pct(s["oos_precision"]), f"{side['training']['seconds']:.0f} s",
            )  # fmt: skip
    return table


def main(argv: Sequence[str] = sys.argv[1:]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--with-stock", action="store_true", help="also train stock Rasa (~1 h)")
    parser.add_argument("--config", type=Path, default=SHIPPED_CONFIG, help="the project side")
    parser.add_argument("--data", type=Path, default=DATASET)
    parser.add_argument("--report", type=Path, help=f"default: {REPORT.relative_to(PROJECT_ROOT)}")
    parser.add_argument(
        "--val-only",
        action="store_true",
        help="explore a pipeline: train and sweep val, never touch test",
    )
    parser.add_argument(
        "--subset",
        type=int,
        nargs=2,
        metavar=("INTENTS", "PER_INTENT"),
        help="a smoke run on a few intents (no report unless --report)",
    )
    args = parser.parse_args(argv)
    if not args.data.exists():
        console.print(
            f"[yellow]CLINC150 not found at {args.data}: benchmark skipped. "
            "Put data_full.json of clinc/oos-eval there (or pass --data).[/yellow]"
        )
        return 0
    splits = load_dataset(args.data)
    if args.subset:
        splits = subset(splits, *args.subset)
    command = "python -m bench.clinc150 " + " ".join(argv)
    started = time.monotonic()
    sides = {"project": measure("project", args.config, splits, val_only=args.val_only)}
    if args.val_only:
        console.print(summary(sides, "val"))
        console.print(f"val-only run in {minutes(time.monotonic() - started)}")
        return 0
    if args.with_stock:
        with tempfile.TemporaryDirectory(prefix="clinc150-stock-") as tmp:
            # A copy: Rasa writes the default pipeline into a config that has none.
            config = Path(tmp) / "config.yml"
            shutil.copy(template_dir() / "config.yml", config)
            sides["stock"] = measure("stock", config, splits)
        stock_note = "trained and measured in this run."
    report = args.report or (None if args.subset else REPORT)
    if not args.with_stock:
        # Stock's last figures from the report this run replaces (a smoke run has none).
        earlier = previous_figures(report) if report else None
        if earlier and earlier.get("stock"):
            sides["stock"] = earlier["stock"]
            stock_note = (
                f"not trained in this run; figures of the run that trained it "
                f"({_when(sides['stock']['training'])}). `make bench-nlu WITH_STOCK=1` "
                "measures it again (about an hour on 2 cores)."
            )
        else:
            stock_note = (
                "not measured yet: `make bench-nlu WITH_STOCK=1` trains it (about an hour on "
                "2 cores: the issue estimates 35 s per DIET epoch on this data, 100 epochs)."
            )
    for split in ("val", "test"):
        console.print(summary(sides, split))
    if report:
        text = render(
            sides["project"],
            sides.get("stock"),
            stock_note,
            command=command.strip(),
            counts={
                **{split: len(examples) for split, examples in splits.items()},
                "intents": len({i for _, i in splits["train"] if i != OUT_OF_SCOPE}),
            },
            shipped_difference=shipped_difference(args.config),
        )
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(text, encoding="utf-8")
        console.print(f"report: {report} ({minutes(time.monotonic() - started)} in all)")
    return 0


def shipped_difference(config: Path) -> str:
    """How the benchmarked pipeline differs from the one the assistant ships."""
    if config.resolve() == SHIPPED_CONFIG.resolve():
        return (
            "The pipeline the assistant ships, unchanged. Its components about account "
            "entities (EntityJoiner, KnownPhraseExtractor, PlaceRegionExtractor, "
            "ClosedValueFilter, the language entity) find nothing to do on CLINC150."
        )
    return f"Not the shipped config.yml: see the comments at the top of `{_shown(config)}`."


if __name__ == "__main__":
    raise SystemExit(main())
