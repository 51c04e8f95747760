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

from bench.nlu_quality import LANGUAGES, evaluate_language, summary_table
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
            language: evaluate_language(agent, language, folder / f"dev_{language}.yml")
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
    for language, r in results.items():
        for text, gold, predicted in r["errors"][: args.errors]:
            console.print(f"{language}: “{text}” expected {gold}, got {predicted}")
        for text, missed, extra in r["entity_errors"][: args.errors]:
            console.print(f"{language}: “{text}” missed {missed}, extra {extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
