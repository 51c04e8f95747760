"""A device-list condition DIET missed is found from the phrases the training data knows."""

from __future__ import annotations

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.intent_ensemble import sharpened
from bot.nlu.known_phrases import KnownPhraseExtractor

CONFIG = {"entities": ["device_filter"], "intents": ["list_devices"]}


def annotated(text: str, word: str, value: str) -> Message:
    start = text.index(word)
    span = {"entity": "device_filter", "value": value, "start": start, "end": start + len(word)}
    return Message(data={TEXT: text, INTENT: "list_devices", ENTITIES: [span]})


TRAINING = TrainingData(
    [
        annotated("devices out of warranty", "out of warranty", "expired"),
        annotated("equipos por vencer", "por vencer", "expiring"),
    ],
    entity_synonyms={"no longer covered": "expired", "garantía vencida": "expired"},
)


@pytest.fixture
def trained(tmp_path):
    context = ExecutionContext(GraphSchema({}), node_name="phrases")
    storage = LocalModelStorage(tmp_path)
    component = KnownPhraseExtractor.create(CONFIG, storage, Resource("phrases"), context)
    component.train(TRAINING)
    return KnownPhraseExtractor.load(CONFIG, storage, Resource("phrases"), context)


def run(component, text, intent="list_devices", entities=None):
    message = Message(data={TEXT: text, INTENT: {"name": intent}, ENTITIES: entities or []})
    component.process([message])
    return [(e["entity"], e["value"]) for e in message.get(ENTITIES)]


def test_a_synonym_is_found_as_written(trained):
    assert run(trained, "list everything that's No Longer Covered") == [
        ("device_filter", "No Longer Covered")
    ]


def test_an_annotated_span_is_found_in_other_words_around_it(trained):
    assert run(trained, "qué portátiles están por vencer") == [("device_filter", "por vencer")]


def test_other_intents_are_left_alone(trained):
    assert run(trained, "facturas por vencer", intent="show_invoices") == []


def test_what_diet_found_stands(trained):
    found = {"entity": "device_filter", "value": "expiring", "start": 0, "end": 8}
    assert run(trained, "expiring devices, out of warranty", entities=[found]) == [
        ("device_filter", "expiring")
    ]


def test_another_entity_on_the_same_words_gives_way(trained):
    text = "equipos con garantía vencida"
    overdue = {"entity": "invoice_status", "value": "vencida", "start": 21, "end": 28}
    assert run(trained, text, entities=[overdue]) == [("device_filter", "garantía vencida")]


def test_whole_words_only(trained):
    assert run(trained, "devices without-of warranty stuff") == []


def test_sharpening_keeps_the_order_and_sums_to_one():
    sharp = sharpened({"a": 0.5, "b": 0.3, "c": 0.2}, 2.0)
    assert list(sharp) == ["a", "b", "c"] and abs(sum(sharp.values()) - 1) < 1e-9
    assert sharp["a"] > 0.5
    assert sharpened({"a": 0.5, "b": 0.5}, 1.0) == {"a": 0.5, "b": 0.5}
