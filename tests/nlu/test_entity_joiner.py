"""DIET's pieces of one known multi-word value become one entity; other values stay apart."""

from __future__ import annotations

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.entity_joiner import EntityJoiner

CONFIG = {"entities": ["duration", "invoice_status"]}


def annotated(text: str, spans: dict) -> Message:
    entities = []
    for word, (entity, value) in spans.items():
        start = text.index(word)
        entities.append(
            {"entity": entity, "value": value, "start": start, "end": start + len(word)}
        )
    return Message(data={TEXT: text, INTENT: "x", ENTITIES: entities})


TRAINING = TrainingData(
    [
        annotated("invoices that are not paid", {"not paid": ("invoice_status", "unpaid")}),
        annotated("renew for twenty four months", {"twenty four months": ("duration", "24m")}),
        annotated("paid invoices", {"paid": ("invoice_status", "paid")}),
    ],
    entity_synonyms={"no pagadas": "unpaid", "sin pagar": "unpaid"},
)


@pytest.fixture
def storage(tmp_path):
    return LocalModelStorage(tmp_path)


def trained(storage) -> EntityJoiner:
    context = ExecutionContext(GraphSchema({}), node_name="joiner")
    joiner = EntityJoiner.create(CONFIG, storage, Resource("joiner"), context)
    joiner.train(TRAINING)
    return EntityJoiner.load(CONFIG, storage, Resource("joiner"), context)


def piece(text: str, word: str, entity: str, extractor: str = "DIETClassifier") -> dict:
    start = text.index(word)
    return {
        "entity": entity,
        "value": word,
        "start": start,
        "end": start + len(word),
        "extractor": extractor,
        "confidence_entity": 0.9,
    }


def run(joiner: EntityJoiner, text: str, entities: list) -> list:
    message = Message(data={TEXT: text, ENTITIES: entities})
    joiner.process([message])
    return [(e["entity"], e["value"]) for e in message.get(ENTITIES)]


def test_pieces_of_an_annotated_value_are_joined(storage):
    text = "invoices that are NOT  paid yet"
    pieces = [piece(text, "NOT", "invoice_status"), piece(text, "paid", "invoice_status")]
    assert run(trained(storage), text, pieces) == [("invoice_status", "NOT  paid")]


def test_pieces_of_a_synonym_are_joined(storage):
    text = "facturas no pagadas"
    pieces = [piece(text, "no", "invoice_status"), piece(text, "pagadas", "invoice_status")]
    assert run(trained(storage), text, pieces) == [("invoice_status", "no pagadas")]


def test_pieces_that_make_no_known_value_stay_apart(storage):
    text = "invoices that are overdue or unpaid"
    pieces = [piece(text, "overdue or", "invoice_status"), piece(text, "unpaid", "invoice_status")]
    assert run(trained(storage), text, pieces) == [
        ("invoice_status", "overdue or"),
        ("invoice_status", "unpaid"),
    ]


def test_pieces_with_a_word_between_them_stay_apart(storage):
    text = "show paid not paid invoices"
    pieces = [piece(text, "paid", "invoice_status"), piece(text, "paid invoices", "invoice_status")]
    assert len(run(trained(storage), text, pieces)) == 2


def test_identifiers_side_by_side_are_two_values(storage):
    text = "renew 7XK2M93 3FJ8K21 for a year"
    pieces = [piece(text, "7XK2M93", "service_tag"), piece(text, "3FJ8K21", "service_tag")]
    assert run(trained(storage), text, pieces) == [
        ("service_tag", "7XK2M93"),
        ("service_tag", "3FJ8K21"),
    ]


def test_pieces_from_different_extractors_are_not_joined(storage):
    text = "not paid"
    pieces = [
        piece(text, "not", "invoice_status"),
        piece(text, "paid", "invoice_status", "RegexEntityExtractor"),
    ]
    assert len(run(trained(storage), text, pieces)) == 2


def test_an_untrained_joiner_changes_nothing(storage):
    context = ExecutionContext(GraphSchema({}), node_name="joiner")
    joiner = EntityJoiner.load(CONFIG, storage, Resource("never-trained"), context)
    text = "not paid"
    pieces = [piece(text, "not", "invoice_status"), piece(text, "paid", "invoice_status")]
    assert len(run(joiner, text, pieces)) == 2
