"""The benchmarks measure what they claim: held-out sets, enough of them, true reports."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter

import pytest
from rasa.shared.nlu.training_data.loading import load_data

from bench import nlu_quality, training_time
from bot.settings import PROJECT_ROOT


def plain(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())


def training_examples():
    """Every example the model is trained on (the YAML files under data/nlu)."""
    for path in sorted((PROJECT_ROOT / "data" / "nlu").rglob("*.yml")):
        yield from load_data(str(path)).intent_examples


@pytest.fixture(scope="module")
def training_texts():
    return {plain(m.get("text")) for m in training_examples()}


@pytest.mark.parametrize("test_set", nlu_quality.TEST_SETS)
@pytest.mark.parametrize("language", nlu_quality.LANGUAGES)
def test_test_examples_are_never_trained_on(language, test_set, training_texts):
    examples = nlu_quality.load_examples(nlu_quality.test_set(language, test_set))
    leaked = [text for text, _, _ in examples if plain(text) in training_texts]
    assert leaked == []


@pytest.mark.parametrize("test_set", nlu_quality.TEST_SETS)
@pytest.mark.parametrize("language", nlu_quality.LANGUAGES)
def test_every_intent_has_at_least_ten_test_examples(language, test_set):
    examples = nlu_quality.load_examples(nlu_quality.test_set(language, test_set))
    per_intent = Counter(intent for _, intent, _ in examples)
    trained = {m.get("intent") for m in training_examples()}
    assert set(per_intent) == trained
    assert min(per_intent.values()) >= 10, per_intent.most_common()[-3:]


@pytest.mark.parametrize(
    ("entity", "value", "expected"),
    [
        ("service_tag", "7xk-2m93", "7XK2M93"),
        ("invoice_number", "inv 10000004", "INV-10000004"),
        ("duration", "3 años", "3 años"),
        ("account_name", "Globex México", "globex méxico"),
    ],
)
def test_identifiers_are_compared_as_the_actions_use_them(entity, value, expected):
    assert nlu_quality.normalized(entity, value) == expected


def test_the_report_gives_every_figure(tmp_path, monkeypatch):
    monkeypatch.setattr(nlu_quality, "REPORT", tmp_path / "nlu.md")
    result = {
        "examples": 600,
        "intent_accuracy": 0.956,
        "intent_macro_f1": 0.957,
        "oos_recall": 1.0,
        "entity_f1": 0.98,
        "entities": {"plan": {"f1": 0.9, "support": 15}},
        "errors": [("pay it", "pay_invoice", "show_invoices")],
    }
    cv = {"accuracy": 0.97, "macro_f1": 0.968, "entities": {"DIETClassifier": 0.95}}
    nlu_quality.write_report({"held-out": {"en": result}}, cv, 42.0)
    report = (tmp_path / "nlu.md").read_text(encoding="utf-8")
    assert "| held-out | en | 600 | 0.956 | 0.957 | 1.000 | 0.980 |" in report
    assert "| plan | 0.900 (n=15) |" in report
    assert "intent accuracy 0.970, macro-F1 0.968; entity F1 (DIETClassifier) 0.950." in report
    assert "- “pay it”: expected pay_invoice, got show_invoices" in report


def test_the_training_report_says_whether_the_target_was_met(tmp_path, monkeypatch):
    monkeypatch.setattr(training_time, "REPORT", tmp_path / "training.md")
    when = dt.datetime(2026, 11, 27, 4, 30, tzinfo=dt.timezone.utc)
    training_time.write_report(273.4, True, when)
    report = (tmp_path / "training.md").read_text(encoding="utf-8")
    assert "| trained | 4 min 33 s | within 5 min 00 s |" in report
    training_time.write_report(301, True, when)
    assert "| 5 min 01 s | over 5 min 00 s |" in (tmp_path / "training.md").read_text()


def test_an_extractor_is_scored_only_on_the_entities_it_looks_for():
    report = {
        "service_tag": {"precision": 1, "recall": 1, "f1-score": 1.0, "support": 30},
        "email": {"precision": 1, "recall": 0.5, "f1-score": 0.5, "support": 10},
        "role": {"precision": 0, "recall": 0, "f1-score": 0.0, "support": 60},
        "no_entity": {"precision": 1, "recall": 1, "f1-score": 1.0, "support": 900},
        "micro avg": {"precision": 1, "recall": 0.3, "f1-score": 0.46, "support": 100},
    }
    regex = nlu_quality.CV_EXTRACTORS["RegexEntityExtractor"]
    assert nlu_quality.weighted_f1(report, regex) == (30 * 1.0 + 10 * 0.5) / 40
    assert nlu_quality.weighted_f1(report, None) == (30 * 1.0 + 10 * 0.5) / 100
