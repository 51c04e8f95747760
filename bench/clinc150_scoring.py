"""CLINC150's data and scoring: the conversion to Rasa's data, the fallback decision, the
figures of Larson et al. (2019), the threshold sweep and the rule that chooses on val.

No training and no model here (bench/clinc150.py runs those): everything takes plain
rankings, so the tests check it on small synthetic data.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

OUT_OF_SCOPE = "out_of_scope"
FALLBACK = "nlu_fallback"
# The dataset's splits: in-scope examples, and the out-of-scope examples that go with them.
SPLITS = {"train": "oos_train", "val": "oos_val", "test": "oos_test"}
# Thresholds of the sweep on val; each with no ambiguity rule and with the pipeline's own.
THRESHOLDS = [round(x / 100, 2) for x in range(0, 95, 5)]
# Issue 15's targets.
TARGETS = {"in_scope_accuracy": 0.94, "oos_recall": 0.60, "training_share_of_stock": 0.25}

Example = Tuple[str, str]  # (text, intent)

# --- the data ----------------------------------------------------------------------------


def load_dataset(path: Path) -> Dict[str, List[Example]]:
    """train, val and test, each with its out-of-scope examples as `out_of_scope`."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {
        split: [
            (text, OUT_OF_SCOPE if intent == "oos" else intent)
            for text, intent in raw[split] + raw[oos]
        ]
        for split, oos in SPLITS.items()
    }


def subset(
    splits: Dict[str, List[Example]], intents: int, per_intent: int
) -> Dict[str, List[Example]]:
    """The first `intents` in-scope intents (by name) and out_of_scope, at most `per_intent`
    examples of each in every split: a smoke run of the whole benchmark in a minute."""
    kept = sorted({i for _, i in splits["train"] if i != OUT_OF_SCOPE})[:intents]
    kept.append(OUT_OF_SCOPE)
    trimmed: Dict[str, List[Example]] = {}
    for split, examples in splits.items():
        seen: Counter = Counter()
        trimmed[split] = []
        for text, intent in examples:
            if intent in kept and seen[intent] < per_intent:
                seen[intent] += 1
                trimmed[split].append((text, intent))
    return trimmed


def to_rasa_yaml(examples: Iterable[Example]) -> str:
    """Rasa's YAML NLU training data, written by Rasa's own writer."""
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLWriter
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    messages = [Message.build(text=text, intent=intent) for text, intent in examples]
    return RasaYAMLWriter().dumps(TrainingData(training_examples=messages))


# --- scoring -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parsed:
    """A split as the model parsed it: gold intents and rankings before any fallback."""

    gold: List[str]
    rankings: List[List[Tuple[str, float]]]  # best first


@dataclass(frozen=True)
class Scores:
    in_scope_accuracy: float
    macro_f1: float  # over the in-scope intents
    oos_recall: float
    oos_precision: float
    examples: int


Fallback = Optional[Tuple[float, float]]  # (threshold, ambiguity_threshold); None: no fallback


def decide(ranking: Sequence[Tuple[str, float]], fallback: Fallback) -> str:
    """The intent Rasa's own FallbackClassifier leaves, nlu_fallback read as out-of-scope."""
    from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier
    from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY
    from rasa.shared.nlu.training_data.message import Message

    if not ranking:
        return OUT_OF_SCOPE
    if fallback is None:
        return ranking[0][0]
    intents = [{"name": name, "confidence": confidence} for name, confidence in ranking]
    message = Message(data={INTENT: intents[0], INTENT_RANKING_KEY: intents})
    threshold, ambiguity = fallback
    FallbackClassifier({"threshold": threshold, "ambiguity_threshold": ambiguity}).process(
        [message]
    )
    name = message.get(INTENT)["name"]
    return OUT_OF_SCOPE if name == FALLBACK else name


def score(gold: Sequence[str], predicted: Sequence[str]) -> Scores:
    """Larson et al.'s figures: accuracy on in-scope examples (out-of-scope predictions are
    wrong), recall on out-of-scope ones; plus macro-F1 over in-scope intents (every example
    counts, so an out-of-scope message taken for an intent lowers that intent's precision)
    and the precision of out-of-scope predictions."""
    from sklearn.metrics import f1_score

    pairs = list(zip(gold, predicted, strict=True))
    in_scope = [g == p for g, p in pairs if g != OUT_OF_SCOPE]
    oos = [p == OUT_OF_SCOPE for g, p in pairs if g == OUT_OF_SCOPE]
    said_oos = [g == OUT_OF_SCOPE for g, p in pairs if p == OUT_OF_SCOPE]
    labels = sorted({g for g in gold if g != OUT_OF_SCOPE})
    return Scores(
        in_scope_accuracy=sum(in_scope) / len(in_scope) if in_scope else 0.0,
        macro_f1=float(f1_score(gold, predicted, labels=labels, average="macro", zero_division=0)),
        oos_recall=sum(oos) / len(oos) if oos else 0.0,
        oos_precision=sum(said_oos) / len(said_oos) if said_oos else 0.0,
        examples=len(pairs),
    )


def score_with(parsed: Parsed, fallback: Fallback) -> Scores:
    return score(parsed.gold, [decide(r, fallback) for r in parsed.rankings])


def sweep(parsed: Parsed, ambiguities: Sequence[float]) -> List[Dict[str, Any]]:
    """Scores at every threshold of THRESHOLDS, for each ambiguity threshold."""
    return [
        {"threshold": t, "ambiguity": a, **asdict(score_with(parsed, (t, a)))}
        for a in ambiguities
        for t in THRESHOLDS
    ]


def choose(rows: Sequence[Dict[str, Any]], oos_target: float = TARGETS["oos_recall"]) -> Dict:
    """The sweep's row with the best in-scope accuracy among those reaching the out-of-scope
    recall target; when none does, the best sum of the two."""
    reaching = [r for r in rows if r["oos_recall"] >= oos_target]
    if reaching:
        return max(reaching, key=lambda r: (r["in_scope_accuracy"], r["oos_recall"]))
    return max(rows, key=lambda r: r["in_scope_accuracy"] + r["oos_recall"])


def confusions(parsed: Parsed, fallback: Fallback, top: int = 10) -> List[Tuple[str, str, int]]:
    """The commonest (gold, predicted) mistakes."""
    mistakes: Counter = Counter(
        (g, p)
        for g, p in zip(parsed.gold, (decide(r, fallback) for r in parsed.rankings), strict=True)
        if g != p
    )
    return [(g, p, n) for (g, p), n in mistakes.most_common(top)]


def pipeline_fallback(agent: Any) -> Fallback:
    """The FallbackClassifier settings the trained model runs with (None: it has none)."""
    from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier

    for node in agent.processor.model_metadata.predict_schema.nodes.values():
        if node.uses is FallbackClassifier:
            config = {**FallbackClassifier.get_default_config(), **node.config}
            return (float(config["threshold"]), float(config["ambiguity_threshold"]))
    return None
