"""Tune the NLU pipeline on a development split of the training data, never on the test set.

    python -m bench.dev_split                      # config.yml
    python -m bench.dev_split --config other.yml   # compare a candidate pipeline

Holds out a stratified 20% of each language's training examples (fixed seed), trains
NLU only on the other 80% with the given config, and reports training time, intent
accuracy and entity F1 per language on the held-back part. The held-out sets under
tests/nlu stay untouched, so choosing between pipelines here does not flatter the
figures `make evaluate` reports.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.nlu_quality import (
    IGNORED_ENTITIES,
    LANGUAGES,
    evaluate_language,
    reliability,
    summary_table,
    threshold_table,
)
from bot.settings import PROJECT_ROOT

DATA_DIR = PROJECT_ROOT / "data" / "nlu"
console = Console()


def split(folder: Path, seed: int) -> None:
    """Write train.yml (both languages) and dev_<lang>.yml into `folder`."""
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLWriter
    from rasa.shared.nlu.training_data.loading import load_data

    train_parts = []
    for language in LANGUAGES:
        data = load_data(str(DATA_DIR / language))
        train, dev = data.train_test_split(train_frac=0.8, random_seed=seed)
        train_parts.append(train)
        RasaYAMLWriter().dump(folder / f"dev_{language}.yml", dev)
    merged = train_parts[0].merge(*train_parts[1:])
    RasaYAMLWriter().dump(folder / "train.yml", merged)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=PROJECT_ROOT / "config.yml")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--errors", type=int, default=0, help="print this many errors")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        split(folder, args.seed)
        command = [
            sys.executable, "-m", "rasa", "train", "nlu",
            "--config", str(args.config.resolve()),
            "--nlu", str(folder / "train.yml"),
            "--out", str(folder / "models"),
            "--fixed-model-name", "dev",
        ]  # fmt: skip
        console.print(f"training NLU on 80% with {args.config.name}...")
        started = time.monotonic()
        if subprocess.call(command, cwd=PROJECT_ROOT) != 0:
            console.print("[red]training failed[/red]")
            return 1
        seconds = time.monotonic() - started
        import structlog
        from rasa.core.agent import Agent

        agent = Agent.load(str(folder / "models" / "dev.tar.gz"))
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
        results = {
            language: evaluate_language(
                agent, language, folder / f"dev_{language}.yml", ignored=IGNORED_ENTITIES
            )
            for language in LANGUAGES
        }
    console.print(
        summary_table(results, f"dev split ({args.config.name}, NLU training {seconds:.0f} s)")
    )
    entities = Table(title="entity F1 per entity (dev split)")
    entities.add_column("entity")
    for language in results:
        entities.add_column(language)
    for name in sorted({e for r in results.values() for e in r["entities"]}):
        cells = [results[language]["entities"].get(name) for language in results]
        entities.add_row(name, *(f"{c['f1']:.3f} (n={c['support']})" if c else "—" for c in cells))
    console.print(entities)
    # The reliability curve and what each fallback threshold would do, both languages
    # pooled: the threshold in config.yml is chosen from this table, never from the tests.
    confidences = [c for r in results.values() for c in r["confidences"]]
    correct = [ok for r in results.values() for ok in r["correct"]]
    ece, bins = reliability(confidences, correct)
    curve = Table(title=f"reliability (dev split, both languages): ECE {ece:.3f}")
    for column in ("confidence", "n", "mean confidence", "accuracy"):
        curve.add_column(column)
    for row in bins:
        curve.add_row(
            f"{row['low']:.1f}–{row['high']:.1f}",
            str(row["n"]),
            f"{row['confidence']:.3f}",
            f"{row['accuracy']:.3f}",
        )
    console.print(curve)
    thresholds = Table(title="fallback threshold (dev split, both languages)")
    for column in ("threshold", "asked to clarify", "accuracy of the rest", "wrong, not asked"):
        thresholds.add_column(column)
    for row in threshold_table(confidences, correct):
        thresholds.add_row(
            f"{row['threshold']:.2f}",
            f"{row['clarified']:.3f}",
            f"{row['accuracy_kept']:.3f}",
            f"{row['wrong_kept']:.3f}",
        )
    console.print(thresholds)
    # What sharpening the ensemble's distribution would do to calibration (the ranking
    # holds the top 10 intents; the rest is too small to matter once sharpened).
    from bot.nlu.intent_ensemble import sharpened

    rankings = [r for res in results.values() for r in res["rankings"]]
    sharpening = Table(title="sharpness of the ensemble (dev split, both languages)")
    for column in ("sharpness", "ECE", "threshold 0.45: asked", "0.50", "0.55", "0.60"):
        sharpening.add_column(column)
    for exponent in (1.0, 1.25, 1.5, 1.75, 2.0, 2.5):
        tops = []
        for ranking in rankings:
            dist = sharpened(ranking, exponent) if ranking else {}
            tops.append(max(dist.values()) if dist else 0.0)
        ece_s, _ = reliability(tops, correct)
        asked = {
            row["threshold"]: row["clarified"]
            for row in threshold_table(tops, correct, [0.45, 0.5, 0.55, 0.6])
        }
        sharpening.add_row(
            f"{exponent:.2f}", f"{ece_s:.3f}", *(f"{asked[t]:.3f}" for t in (0.45, 0.5, 0.55, 0.6))
        )
    console.print(sharpening)
    for language, r in results.items():
        for text, gold, predicted in r["errors"][: args.errors]:
            console.print(f"{language}: “{text}” expected {gold}, got {predicted}")
        for text, missed, extra in r["entity_errors"][: args.errors]:
            console.print(f"{language}: “{text}” missed {missed}, extra {extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
