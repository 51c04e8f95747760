"""NLU quality per language on two test sets, plus 5-fold cross-validation.

    python -m bench.nlu_quality            # both test sets with the trained model
    python -m bench.nlu_quality --cv       # also 5-fold cross-validation (slow)

Two test sets per language, neither ever used for training (tests/test_bench.py
guards it):
- held-out (tests/nlu/<lang>/test_nlu.yml): written beside the training data,
  so it resembles it;
- paraphrase (tests/nlu/<lang>/paraphrase.yml): written by someone who had not
  seen the training data, from the capability descriptions only: how the
  assistant does with people who don't talk like its training data.
Every example is parsed with the trained model and scored: intent accuracy,
macro-F1, out_of_scope recall and entity precision/recall/F1 per entity (exact
entity type and normalised value). Writes bench/reports/nlu.md and prints a summary.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple

from rich.console import Console
from rich.progress import track
from rich.table import Table

from bot import assistant
from bot.settings import PROJECT_ROOT

LANGUAGES = ("en", "es")
TEST_DIR = PROJECT_ROOT / "tests" / "nlu"
# Test set name -> its file in each language's folder of TEST_DIR.
TEST_SETS = {"held-out": "test_nlu.yml", "paraphrase": "paraphrase.yml"}
REPORT = PROJECT_ROOT / "bench" / "reports" / "nlu.md"
IGNORED_ENTITIES = {"language"}
# Entity types the test sets predate, so never annotate: scored on the development split
# only (bench/dev_split.py), not charged as false positives on the test sets.
UNANNOTATED_IN_TEST_SETS = {"device_filter"}
# Equal-width confidence bins for expected calibration error and the reliability table.
BINS = 10
TARGETS = {"intent_accuracy": 0.95, "entity_f1": 0.95, "oos_recall": 0.85}
console = Console()


def normalized(entity: str, value: object) -> str:
    """Compare values as the actions use them: ids in upper case, tags without separators,
    account names in any case (the actions match them case-insensitively)."""
    from bot.services.schemas import normalize_service_tag

    text = str(value)
    if entity == "account_name":
        return text.casefold()
    if entity == "service_tag":
        return normalize_service_tag(text)
    if entity == "invoice_number":
        return text.upper().replace(" ", "-")
    return text


def load_examples(path: Path) -> List[Tuple[str, str, Set[Tuple[str, str]]]]:
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    examples = []
    for message in data.intent_examples:
        gold = {
            (e["entity"], normalized(e["entity"], e.get("value")))
            for e in message.get("entities", [])
            if e["entity"] not in IGNORED_ENTITIES
        }
        examples.append((message.get("text"), message.get("intent"), gold))
    return examples


def f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def test_set(language: str, name: str) -> Path:
    """The file of test set `name` (a key of TEST_SETS) in `language`."""
    return TEST_DIR / language / TEST_SETS[name]


def reliability(
    confidences: List[float], correct: List[bool], bins: int = BINS
) -> Tuple[float, List[Dict[str, float]]]:
    """Expected calibration error and the reliability table (equal-width bins).

    ECE is the mean, weighted by how many messages fall in each bin, of the gap between
    a bin's accuracy and its mean confidence: 0 when a confidence of 0.7 is right 70% of
    the time.
    """
    rows = []
    ece = 0.0
    total = len(confidences)
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        inside = [
            i for i, c in enumerate(confidences) if low <= c < high or (b == bins - 1 and c == 1.0)
        ]
        if not inside:
            continue
        confidence = sum(confidences[i] for i in inside) / len(inside)
        accuracy = sum(correct[i] for i in inside) / len(inside)
        ece += abs(accuracy - confidence) * len(inside) / total
        rows.append(
            {"low": low, "high": high, "n": len(inside), "confidence": confidence,
             "accuracy": accuracy}
        )  # fmt: skip
    return ece, rows


def threshold_table(
    confidences: List[float], correct: List[bool], thresholds: Optional[List[float]] = None
) -> List[Dict[str, float]]:
    """Per fallback threshold: share of messages asked to clarify, accuracy of the rest."""
    rows = []
    for t in thresholds or [x / 100 for x in range(20, 85, 5)]:
        kept = [ok for c, ok in zip(confidences, correct, strict=True) if c >= t]
        rows.append(
            {
                "threshold": t,
                "clarified": 1 - len(kept) / len(confidences) if confidences else 0.0,
                "accuracy_kept": sum(kept) / len(kept) if kept else 1.0,
                "wrong_kept": sum(not ok for ok in kept) / len(confidences) if confidences else 0.0,
            }
        )
    return rows


def evaluate_language(
    agent: Any,
    language: str,
    path: Optional[Path] = None,
    ignored: Set[str] = IGNORED_ENTITIES | UNANNOTATED_IN_TEST_SETS,
) -> Dict[str, Any]:
    """Parse every example of `path` (default: the language's held-out set) and score it.

    `ignored`: entity types left out of the entity scores.
    """
    from sklearn.metrics import accuracy_score, f1_score

    examples = load_examples(path or test_set(language, "held-out"))
    gold_intents, predicted_intents = [], []
    tp: Counter = Counter()
    fp: Counter = Counter()
    fn: Counter = Counter()
    errors = []
    entity_errors = []
    confidences: List[float] = []
    rankings: List[Dict[str, float]] = []
    loop = asyncio.new_event_loop()
    for text, intent, gold in track(examples, description=f"parsing {language}", console=console):
        parsed = loop.run_until_complete(agent.parse_message(text))
        predicted = parsed["intent"]["name"]
        confidence = float(parsed["intent"].get("confidence") or 0.0)
        if predicted == "nlu_fallback":
            ranking = [r for r in parsed.get("intent_ranking", []) if r["name"] != "nlu_fallback"]
            if ranking:
                predicted, confidence = ranking[0]["name"], float(ranking[0]["confidence"])
        confidences.append(confidence)
        rankings.append(
            {
                r["name"]: float(r["confidence"])
                for r in parsed.get("intent_ranking", [])
                if r["name"] != "nlu_fallback"
            }
        )
        gold_intents.append(intent)
        predicted_intents.append(predicted)
        if predicted != intent:
            errors.append((text, intent, predicted))
        found = {
            (e["entity"], normalized(e["entity"], e.get("value")))
            for e in parsed.get("entities", [])
            if e["entity"] not in ignored
        }
        gold = {(entity, value) for entity, value in gold if entity not in ignored}
        if found != gold:
            entity_errors.append((text, sorted(gold - found), sorted(found - gold)))
        for entity, _ in found & gold:
            tp[entity] += 1
        for entity, _ in found - gold:
            fp[entity] += 1
        for entity, _ in gold - found:
            fn[entity] += 1
    loop.close()
    entities = {}
    for entity in sorted(set(tp) | set(fn) | set(fp)):
        precision = tp[entity] / (tp[entity] + fp[entity]) if tp[entity] + fp[entity] else 0.0
        recall = tp[entity] / (tp[entity] + fn[entity]) if tp[entity] + fn[entity] else 0.0
        entities[entity] = {
            "precision": precision,
            "recall": recall,
            "f1": f1(precision, recall),
            "support": tp[entity] + fn[entity],
        }
    all_tp, all_fp, all_fn = sum(tp.values()), sum(fp.values()), sum(fn.values())
    micro_p = all_tp / (all_tp + all_fp) if all_tp + all_fp else 0.0
    micro_r = all_tp / (all_tp + all_fn) if all_tp + all_fn else 0.0
    oos = [
        p == "out_of_scope"
        for g, p in zip(gold_intents, predicted_intents, strict=True)
        if g == "out_of_scope"
    ]
    correct = [g == p for g, p in zip(gold_intents, predicted_intents, strict=True)]
    ece, bins = reliability(confidences, correct)
    return {
        "examples": len(examples),
        "intent_accuracy": accuracy_score(gold_intents, predicted_intents),
        "intent_macro_f1": f1_score(
            gold_intents, predicted_intents, average="macro", zero_division=0
        ),
        "oos_recall": sum(oos) / len(oos) if oos else 0.0,
        "entity_f1": f1(micro_p, micro_r),
        "entities": entities,
        "errors": errors,
        "entity_errors": entity_errors,
        "ece": ece,
        "reliability": bins,
        "confidences": confidences,
        "correct": correct,
        "rankings": rankings,
        "gold": gold_intents,
    }


# The extractors that learn from the annotations (the language tag is not annotated), and
# the entity types each one is responsible for (None: all of them).
CV_EXTRACTORS: Dict[str, Optional[Set[str]]] = {
    "DIETClassifier": None,
    "RegexEntityExtractor": {
        "service_tag", "order_number", "service_request_number", "invoice_number", "email"
    },
}  # fmt: skip


def cross_validate(folds: int = 5) -> Dict[str, Any]:
    """`rasa test nlu --cross-validation` over all training data, both languages."""
    with tempfile.TemporaryDirectory() as out:
        command = [
            sys.executable,
            "-m",
            "rasa",
            "test",
            "nlu",
            "--nlu",
            "data/nlu",
            "--config",
            "config.yml",
            "--cross-validation",
            "--folds",
            str(folds),
            "--out",
            out,
        ]
        subprocess.run(command, cwd=PROJECT_ROOT, check=True)
        report = json.loads((Path(out) / "intent_report.json").read_text())
        result: Dict[str, Any] = {
            "accuracy": report["accuracy"],
            "macro_f1": report["macro avg"]["f1-score"],
            "entities": {},
        }
        for extractor, labels in CV_EXTRACTORS.items():
            path = Path(out) / f"{extractor}_report.json"
            if path.exists():
                result["entities"][extractor] = weighted_f1(json.loads(path.read_text()), labels)
        return result


def weighted_f1(report: Dict[str, Any], labels: Optional[Set[str]]) -> float:
    """Support-weighted F1 over the entity types an extractor is responsible for.

    Rasa scores every extractor against every annotated entity, so a regex
    extractor would be charged for the roles and plans it never looks for.
    """
    rows = {
        label: row
        for label, row in report.items()
        if isinstance(row, dict) and "support" in row and label != "no_entity"
        and not label.endswith(" avg") and (labels is None or label in labels)
    }  # fmt: skip
    support = sum(row["support"] for row in rows.values())
    return (
        sum(row["f1-score"] * row["support"] for row in rows.values()) / support if support else 0.0
    )


def summary_table(results: Dict[str, Dict[str, Any]], title: str) -> Table:
    """One row per language: examples, intent accuracy, macro-F1, OOS recall, entity F1."""
    table = Table(title=title)
    for column in (
        "language", "examples", "intent acc", "macro-F1", "oos recall", "entity F1", "ECE"
    ):  # fmt: skip
        table.add_column(column)
    for language, r in results.items():
        table.add_row(
            language,
            str(r["examples"]),
            f"{r['intent_accuracy']:.3f}",
            f"{r['intent_macro_f1']:.3f}",
            f"{r['oos_recall']:.3f}",
            f"{r['entity_f1']:.3f}",
            f"{r['ece']:.3f}" if "ece" in r else "—",
        )
    return table


def write_report(
    sets: Dict[str, Dict[str, Dict[str, Any]]], cv: Dict[str, Any], seconds: float
) -> None:
    """`sets`: test set name -> language -> the figures of `evaluate_language`."""
    lines = [
        "# NLU quality",
        "",
        "Produced by `make evaluate`. Two test sets per language, never used for training: "
        "held-out (`tests/nlu/<lang>/test_nlu.yml`, written beside the training data) and "
        "paraphrase (`tests/nlu/<lang>/paraphrase.yml`, written from the capability "
        "descriptions by someone who had not seen the training data).",
        "",
        "| test set | language | examples | intent accuracy | intent macro-F1 | oos recall "
        "| entity F1 | ECE |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, results in sets.items():
        for language, r in results.items():
            ece = f"{r['ece']:.3f}" if "ece" in r else "—"
            lines.append(
                f"| {name} | {language} | {r['examples']} | {r['intent_accuracy']:.3f} | "
                f"{r['intent_macro_f1']:.3f} | {r['oos_recall']:.3f} | {r['entity_f1']:.3f} | "
                f"{ece} |"
            )
    columns = [(name, language) for name, results in sets.items() for language in results]
    lines += [
        "",
        "Entity F1 per entity:",
        "",
        "| entity | " + " | ".join(f"{name} {language}" for name, language in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    names = sorted({e for res in sets.values() for r in res.values() for e in r["entities"]})
    for entity in names:
        cells = []
        for name, language in columns:
            e = sets[name][language]["entities"].get(entity)
            cells.append(f"{e['f1']:.3f} (n={e['support']})" if e else "—")
        lines.append(f"| {entity} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Confidence: the top intent's confidence after the ensemble (what FallbackClassifier "
        f"judges). ECE is the expected calibration error over {BINS} equal-width bins. "
        "Entity types the test sets do not annotate "
        f"({', '.join(sorted(UNANNOTATED_IN_TEST_SETS))}) are scored on the development "
        "split only. Reliability (accuracy / mean confidence, n) per confidence bin:",
        "",
        "| bin | " + " | ".join(f"{name} {language}" for name, language in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for b in range(BINS):
        low = b / BINS
        cells = []
        for name, language in columns:
            row = next(
                (
                    x
                    for x in sets[name][language].get("reliability", [])
                    if abs(x["low"] - low) < 1e-9
                ),
                None,
            )
            cells.append(
                f"{row['accuracy']:.2f} / {row['confidence']:.2f} ({row['n']})" if row else "—"
            )
        lines.append(f"| {low:.1f}–{low + 1 / BINS:.1f} | " + " | ".join(cells) + " |")
    if cv:
        lines += [
            "",
            f"5-fold cross-validation on the training data (both languages, "
            f"`make evaluate CV=1`): intent accuracy {cv['accuracy']:.3f}, "
            f"macro-F1 {cv['macro_f1']:.3f}"
            + "".join(
                f"; entity F1 ({extractor}) {f1:.3f}" for extractor, f1 in cv["entities"].items()
            )
            + ".",
        ]
    lines += [
        "",
        f"Targets: intent accuracy ≥ {TARGETS['intent_accuracy']:.0%} per language, "
        f"entity F1 ≥ {TARGETS['entity_f1']:.0%}, out_of_scope recall ≥ "
        f"{TARGETS['oos_recall']:.0%}. Evaluation took {seconds:.0f} s.",
        "",
    ]
    for name, results in sets.items():
        for language, r in results.items():
            if r["errors"]:
                lines += [f"Misclassified ({name}, {language}, first 15):", ""]
                lines += [f"- “{t}”: expected {g}, got {p}" for t, g, p in r["errors"][:15]]
                lines.append("")
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join(lines), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cv", action="store_true", help="also run 5-fold cross-validation")
    parser.add_argument("--model", type=Path, help="evaluate this model instead of models/")
    parser.add_argument("--no-report", action="store_true", help="print only (experiments)")
    args = parser.parse_args()
    started = time.monotonic()
    model = args.model or assistant.model_path()
    if args.model is None and assistant.model_is_stale() and assistant.train() != 0:
        console.print("[red]training failed[/red]")
        return 1
    import logging

    import structlog
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    # Rasa logs every parse at debug level through structlog; a report wants quiet.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    sets = {
        name: {
            language: evaluate_language(agent, language, test_set(language, name))
            for language in LANGUAGES
        }
        for name in TEST_SETS
    }
    cv = cross_validate() if args.cv else {}
    if not args.no_report:
        write_report(sets, cv, time.monotonic() - started)
    for name, results in sets.items():
        console.print(summary_table(results, f"NLU quality ({name})"))
    if cv:
        entities = ", ".join(f"{name} entity F1 {f1:.3f}" for name, f1 in cv["entities"].items())
        console.print(
            f"5-fold cross-validation: intent accuracy {cv['accuracy']:.3f}, "
            f"macro-F1 {cv['macro_f1']:.3f}, {entities}"
        )
    if not args.no_report:
        console.print(f"report written to {REPORT.relative_to(PROJECT_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
