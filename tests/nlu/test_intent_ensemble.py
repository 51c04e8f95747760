"""The intent ensemble blends DIET with a linear model, survives saving, and stays safe."""

from __future__ import annotations

from typing import Dict, List

import numpy as np
import pytest
import skops.io as sio
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.intent_ensemble import MODEL_FILE, IntentEnsemble
from bot.nlu.sentence_features import SentenceFeaturizer

EXAMPLES = {
    "greet": ["hello", "hi there", "good morning", "hey", "hola", "buenos días", "hello again"],
    "thanks": ["thanks", "thank you", "many thanks", "gracias", "muchas gracias", "cheers"],
    "show_invoices": [
        "show my invoices",
        "list unpaid invoices",
        "muéstrame las facturas",
        "facturas pendientes",
        "which invoices are overdue",
        "invoices please",
    ],
}


@pytest.fixture
def storage(tmp_path):
    return LocalModelStorage(tmp_path)


def context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), node_name="ensemble")


def trained(storage, config: Dict | None = None, examples=EXAMPLES) -> IntentEnsemble:
    data = TrainingData(
        [
            Message(data={TEXT: text, INTENT: intent})
            for intent, texts in examples.items()
            for text in texts
        ]
    )
    component = IntentEnsemble.create(config or {}, storage, Resource("ensemble"), context())
    component.train(data)
    return component


def diet_says(text: str, ranking: List[tuple]) -> Message:
    """A message as DIET leaves it: its intent and full ranking set."""
    entries = [{"name": name, "confidence": confidence} for name, confidence in ranking]
    return Message(data={TEXT: text, INTENT: entries[0], INTENT_RANKING_KEY: entries})


def test_the_linear_model_settles_what_diet_is_unsure_about(storage):
    component = trained(storage)
    message = diet_says("many thanks", [("greet", 0.40), ("thanks", 0.35), ("show_invoices", 0.25)])
    component.process([message])
    assert message.get(INTENT)["name"] == "thanks"
    ranking = message.get(INTENT_RANKING_KEY)
    confidences = [entry["confidence"] for entry in ranking]
    assert confidences == sorted(confidences, reverse=True)
    assert sum(confidences) == pytest.approx(1.0)
    assert message.get(INTENT) == ranking[0]


def test_a_confident_diet_is_not_overruled_by_a_weak_linear_vote(storage):
    component = trained(storage)
    message = diet_says(
        "show my invoices", [("show_invoices", 0.97), ("greet", 0.02), ("thanks", 0.01)]
    )
    component.process([message])
    assert message.get(INTENT)["name"] == "show_invoices"
    assert message.get(INTENT)["confidence"] > 0.7


def test_the_ranking_is_cut_to_the_configured_length(storage):
    component = trained(storage, {"ranking_length": 2})
    message = diet_says("hola", [("greet", 0.5), ("thanks", 0.3), ("show_invoices", 0.2)])
    component.process([message])
    assert len(message.get(INTENT_RANKING_KEY)) == 2


def test_a_saved_ensemble_loads_and_answers_the_same(storage):
    component = trained(storage)
    loaded = IntentEnsemble.load({}, storage, Resource("ensemble"), context())
    ranking = [("greet", 0.4), ("thanks", 0.35), ("show_invoices", 0.25)]
    first, second = diet_says("gracias", ranking), diet_says("gracias", ranking)
    component.process([first])
    loaded.process([second])
    assert first.get(INTENT_RANKING_KEY) == second.get(INTENT_RANKING_KEY)


@pytest.mark.parametrize("text", ["", "   "])
def test_messages_without_text_or_ranking_are_left_as_they_are(storage, text):
    component = trained(storage)
    empty = Message(data={TEXT: text, INTENT: {"name": None, "confidence": 0.0}})
    no_ranking = Message(data={TEXT: "hello", INTENT: {"name": "greet", "confidence": 1.0}})
    component.process([empty, no_ranking])
    assert empty.get(INTENT)["name"] is None
    assert no_ranking.get(INTENT) == {"name": "greet", "confidence": 1.0}


def test_with_a_single_intent_diet_answers_alone(storage):
    component = trained(storage, examples={"greet": EXAMPLES["greet"]})
    loaded = IntentEnsemble.load({}, storage, Resource("ensemble"), context())
    for each in (component, loaded):
        message = diet_says("hello", [("greet", 0.9), ("thanks", 0.1)])
        each.process([message])
        assert message.get(INTENT) == {"name": "greet", "confidence": 0.9}


def test_a_model_file_holding_foreign_types_is_refused(storage):
    from collections import OrderedDict

    with storage.write_to(Resource("ensemble")) as folder:
        sio.dump(OrderedDict(payload=1), folder / MODEL_FILE)
    with pytest.raises(RuntimeError, match="never saves"):
        IntentEnsemble.load({}, storage, Resource("ensemble"), context())


def test_the_direct_arithmetic_equals_the_pipelines_predict_proba(storage):
    ensemble = trained(storage)
    assert ensemble.pipeline is not None
    texts = [text for texts in EXAMPLES.values() for text in texts] + ["never seen", "hola", ""]
    messages = [Message(data={TEXT: text}) for text in texts]
    assert np.array_equal(ensemble._probabilities(messages), ensemble.pipeline.predict_proba(texts))


def test_the_loaded_classifier_scores_bit_for_bit_as_trained(storage):
    """Loading keeps the weights in Fortran order (no copy per message): the same numbers."""
    ensemble = trained(storage)
    assert ensemble.pipeline is not None
    loaded = IntentEnsemble.load({}, storage, Resource("ensemble"), context())
    assert loaded.pipeline is not None
    (_, classifier) = loaded.pipeline.steps[-1]
    assert classifier.coef_.T.flags.c_contiguous
    texts = [text for texts in EXAMPLES.values() for text in texts] + ["never seen", "hola", ""]
    messages = [Message(data={TEXT: text}) for text in texts]
    assert np.array_equal(loaded._probabilities(messages), ensemble.pipeline.predict_proba(texts))


def featurized(data: TrainingData) -> TrainingData:
    featurizer = SentenceFeaturizer(name="sentence", config={"alias": None})
    return featurizer.process_training_data(data)


def test_with_the_sentence_embedding_a_paraphrase_without_shared_words_is_understood(storage):
    """ "appreciate it" shares no word with the thanks examples; its meaning is near them."""
    data = featurized(
        TrainingData(
            [
                Message(data={TEXT: text, INTENT: intent})
                for intent, texts in EXAMPLES.items()
                for text in texts
            ]
        )
    )
    component = IntentEnsemble.create(
        {"embedding_weight": 1.0}, storage, Resource("ensemble"), context()
    )
    component.train(data)
    message = diet_says(
        "I appreciate it", [("greet", 0.34), ("show_invoices", 0.33), ("thanks", 0.33)]
    )
    SentenceFeaturizer(name="sentence", config={"alias": None}).process([message])
    component.process([message])
    assert message.get(INTENT)["name"] == "thanks"

    loaded = IntentEnsemble.load(
        {"embedding_weight": 1.0}, storage, Resource("ensemble"), context()
    )
    again = diet_says(
        "I appreciate it", [("greet", 0.34), ("show_invoices", 0.33), ("thanks", 0.33)]
    )
    SentenceFeaturizer(name="sentence", config={"alias": None}).process([again])
    loaded.process([again])
    assert again.get(INTENT_RANKING_KEY) == message.get(INTENT_RANKING_KEY)


def test_an_embedding_weight_without_the_featurizer_is_a_clear_configuration_error(storage):
    with pytest.raises(RuntimeError, match="SentenceFeaturizer before it"):
        trained(storage, {"embedding_weight": 1.0})
