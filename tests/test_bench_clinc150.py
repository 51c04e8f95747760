"""The CLINC150 benchmark's instrument: conversion, fallback decision, scores, threshold choice
and report, on small synthetic data (no training, no dataset needed)."""

from __future__ import annotations

import json

import pytest
from rasa.shared.nlu.training_data.loading import load_data

from bench import clinc150
from bench.clinc150_scoring import (
    OUT_OF_SCOPE,
    THRESHOLDS,
    Parsed,
    choose,
    confusions,
    decide,
    load_dataset,
    score,
    score_with,
    subset,
    sweep,
    to_rasa_yaml,
)

RAW = {
    "train": [["what's my balance?", "balance"], ['say "hola" in french: now', "translate"]],
    "val": [["balance please", "balance"]],
    "test": [["translate cat", "translate"]],
    "oos_train": [["how tall is everest", "oos"]],
    "oos_val": [["who won the game", "oos"]],
    "oos_test": [["tell me a riddle", "oos"], ["what is love", "oos"]],
}


@pytest.fixture
def dataset(tmp_path):
    path = tmp_path / "data_full.json"
    path.write_text(json.dumps(RAW))
    return path


def test_out_of_scope_examples_join_each_split_as_the_intent_out_of_scope(dataset):
    splits = load_dataset(dataset)
    assert splits["train"] == [
        ("what's my balance?", "balance"),
        ('say "hola" in french: now', "translate"),
        ("how tall is everest", OUT_OF_SCOPE),
    ]
    assert [intent for _, intent in splits["test"]] == ["translate", OUT_OF_SCOPE, OUT_OF_SCOPE]


def test_the_rasa_data_holds_every_example_as_written(dataset, tmp_path):
    examples = load_dataset(dataset)["train"]
    path = tmp_path / "train.yml"
    path.write_text(to_rasa_yaml(examples))
    loaded = load_data(str(path)).intent_examples
    assert sorted((m.get("text"), m.get("intent")) for m in loaded) == sorted(examples)


def test_a_subset_keeps_the_first_intents_and_out_of_scope():
    splits = {"train": [(f"{i} {n}", i) for i in ("c", "a", "b", OUT_OF_SCOPE) for n in range(5)]}
    trimmed = subset(splits, intents=2, per_intent=3)["train"]
    assert [intent for _, intent in trimmed] == ["a"] * 3 + ["b"] * 3 + [OUT_OF_SCOPE] * 3


@pytest.mark.parametrize(
    ("ranking", "fallback", "expected"),
    [
        ([("balance", 0.9), ("translate", 0.05)], None, "balance"),
        ([("balance", 0.3), ("translate", 0.2)], None, "balance"),
        ([("balance", 0.3), ("translate", 0.2)], (0.4, 0.0), OUT_OF_SCOPE),
        ([("balance", 0.5), ("translate", 0.45)], (0.4, 0.1), OUT_OF_SCOPE),  # ambiguous
        ([("balance", 0.5), ("translate", 0.45)], (0.4, 0.0), "balance"),
        ([(OUT_OF_SCOPE, 0.9), ("balance", 0.05)], (0.4, 0.1), OUT_OF_SCOPE),
        ([], None, OUT_OF_SCOPE),
    ],
)
def test_rasas_fallback_classifier_decides_and_its_fallback_is_out_of_scope(
    ranking, fallback, expected
):
    assert decide(ranking, fallback) == expected


def test_the_scores_are_larson_et_al_s_plus_macro_f1_and_oos_precision():
    gold = ["a", "a", "b", "b", OUT_OF_SCOPE, OUT_OF_SCOPE, OUT_OF_SCOPE, OUT_OF_SCOPE]
    said = ["a", OUT_OF_SCOPE, "b", "b", OUT_OF_SCOPE, OUT_OF_SCOPE, OUT_OF_SCOPE, "a"]
    s = score(gold, said)
    assert s.in_scope_accuracy == 3 / 4
    assert s.oos_recall == 3 / 4
    assert s.oos_precision == 3 / 4
    # a: precision 1/2, recall 1/2; b: 1 and 1. Out-of-scope is no class of its own here.
    assert s.macro_f1 == pytest.approx((0.5 + 1.0) / 2)
    assert s.examples == 8


def parsed_with_a_trade_off() -> Parsed:
    """In-scope messages answered with confidence 0.32 to 0.92, out-of-scope ones 0.12 to 0.62."""
    gold, rankings = [], []
    for i in range(7):
        confidence = 0.32 + i * 0.1
        gold.append("a")
        rankings.append([("a", confidence), ("b", confidence / 2)])
    for i in range(6):
        confidence = 0.12 + i * 0.1
        gold.append(OUT_OF_SCOPE)
        rankings.append([("a", confidence), ("b", confidence / 2)])
    return Parsed(gold=gold, rankings=rankings)


def test_the_threshold_is_the_best_in_scope_accuracy_that_reaches_the_recall_target():
    rows = sweep(parsed_with_a_trade_off(), [0.0])
    assert [r["threshold"] for r in rows] == THRESHOLDS
    best = choose(rows, oos_target=0.5)
    # Out-of-scope 0.12, 0.22 and 0.32 fall below 0.35 (recall 3/6), and one in-scope message.
    assert best["threshold"] == 0.35
    assert (best["in_scope_accuracy"], best["oos_recall"]) == (6 / 7, 0.5)


def test_without_a_setting_that_reaches_the_target_the_best_sum_is_chosen():
    rows = [
        {"threshold": 0.1, "ambiguity": 0.0, "in_scope_accuracy": 0.95, "oos_recall": 0.1},
        {"threshold": 0.2, "ambiguity": 0.0, "in_scope_accuracy": 0.93, "oos_recall": 0.3},
        {"threshold": 0.3, "ambiguity": 0.0, "in_scope_accuracy": 0.80, "oos_recall": 0.4},
    ]
    assert choose(rows, oos_target=0.6)["threshold"] == 0.2


def test_the_commonest_mistakes_count_fallbacks_as_out_of_scope():
    parsed = parsed_with_a_trade_off()
    found = dict(((g, p), n) for g, p, n in confusions(parsed, (0.35, 0.0)))
    assert found == {("a", OUT_OF_SCOPE): 1, (OUT_OF_SCOPE, "a"): 3}
    assert score_with(parsed, None).oos_recall == 0.0


def test_rasas_epoch_bar_is_read_from_its_log():
    log = "INFO DIET\nEpochs:   0%|   | 0/22 [00:00<?]\rEpochs:  14%|█▎  | 3/22 [00:41<04:19]"
    assert clinc150.epoch_progress(log) == (3, 22)
    assert clinc150.epoch_progress("INFO nothing yet") is None


def side(accuracy: float, seconds: float) -> dict:
    scores = {
        "in_scope_accuracy": accuracy,
        "macro_f1": accuracy - 0.01,
        "oos_recall": 0.62,
        "oos_precision": 0.7,
        "examples": 5500,
    }
    rows = [{"threshold": t, "ambiguity": a, **scores} for a in (0.0, 0.08) for t in THRESHOLDS]
    return {
        "label": "project",
        "config": "config.yml",
        "training": {
            "seconds": seconds,
            "cpu_seconds": 1.5 * seconds,
            "when": "2026-12-03T17:30:00+00:00",
            "load": 2.0,
        },
        "pipeline_fallback": (0.5, 0.08),
        "chosen": (0.3, 0.0),
        "sweep": rows,
        "val": {"none": scores, "pipeline": scores, "chosen": scores},
        "test": {"none": scores, "pipeline": scores, "chosen": scores},
        "ece": {"val": 0.02, "test": 0.03},
        "val_parse_seconds": 30.0,
        "test_parse_seconds": 50.0,
        "confusions": [("balance", OUT_OF_SCOPE, 4)],
    }


def render(project: dict, stock: dict | None) -> str:
    return clinc150.render(
        project,
        stock,
        "not measured yet" if stock is None else "trained and measured in this run.",
        command="python -m bench.clinc150",
        counts={"train": 15100, "val": 3100, "test": 5500, "intents": 150},
        shipped_difference="The pipeline the assistant ships.",
    )


def test_the_report_gives_the_figures_the_targets_and_the_papers(tmp_path):
    text = render(side(0.951, 400.0), side(0.93, 3600.0))
    assert (
        "| project | chosen on val, 0.30 | 95.1 | 94.1 | 62.0 | 70.0 "
        "| 6 min 40 s (CPU 10 min 00 s) |" in text
    )
    assert "| stock Rasa | no threshold | 93.0 |" in text
    assert "| Rasa (Larson et al. 2019) | oos-train | 91.5 | — | 45.3 |" in text
    assert "95.1% and 62.0%, met" in text
    assert "11% of stock's CPU time, met" in text
    assert "| 0.30 | **95.1 / 62.0** | 95.1 / 62.0 |" in text


def test_a_run_without_stock_repeats_its_last_figures_and_never_invents_them(tmp_path):
    report = tmp_path / "clinc150.md"
    report.write_text(render(side(0.951, 400.0), None))
    assert "| stock Rasa | — | not measured yet |" in report.read_text()
    assert "stock's time is not measured yet" in report.read_text()
    assert clinc150.previous_figures(report)["stock"] is None
    report.write_text(render(side(0.951, 400.0), side(0.93, 3600.0)))
    earlier = clinc150.previous_figures(report)
    assert earlier["stock"]["training"]["seconds"] == 3600.0
    assert clinc150.previous_figures(tmp_path / "absent.md") is None


def test_without_the_dataset_the_benchmark_says_so_and_succeeds(tmp_path, capsys):
    assert clinc150.main(["--data", str(tmp_path / "absent.json")]) == 0
    assert "CLINC150 not found" in capsys.readouterr().out


def test_a_model_is_trained_again_when_the_pipeline_or_data_change_not_its_comments():
    config = "pipeline:\n  - name: DIETClassifier\n    epochs: 22\n"
    key = clinc150.cache_key(config, "nlu: []")
    assert clinc150.cache_key("# why 22\n" + config, "nlu: []") == key
    assert clinc150.cache_key(config.replace("22", "40"), "nlu: []") != key
    assert clinc150.cache_key(config, "nlu: [x]") != key
