"""Closed-set entities keep only values the training data knows; other types pass."""

from __future__ import annotations

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.value_filter import ClosedValueFilter

CONFIG = {"entities": ["report_type", "invoice_status"]}


def annotated(text: str, word: str, entity: str, value: str) -> Message:
    start = text.index(word)
    span = {"entity": entity, "value": value, "start": start, "end": start + len(word)}
    return Message(data={TEXT: text, INTENT: "x", ENTITIES: [span]})


TRAINING = TrainingData(
    [
        annotated("run the spend report", "spend", "report_type", "spend"),
        annotated("informe de gastos", "gastos", "report_type", "gastos"),
        annotated("show Unpaid invoices", "Unpaid", "invoice_status", "Unpaid"),
    ],
    entity_synonyms={"gastos": "spend", "unpaid": "unpaid", "pendientes": "unpaid"},
)


@pytest.fixture
def context():
    return ExecutionContext(GraphSchema({}), node_name="filter")


@pytest.fixture
def trained(tmp_path, context):
    storage = LocalModelStorage(tmp_path)
    component = ClosedValueFilter.create(CONFIG, storage, Resource("filter"), context)
    component.train(TRAINING)
    return ClosedValueFilter.load(CONFIG, storage, Resource("filter"), context)


def run(component: ClosedValueFilter, entities: list) -> list:
    message = Message(data={TEXT: "…", ENTITIES: entities})
    component.process([message])
    return [(e["entity"], e["value"]) for e in message.get(ENTITIES)]


def test_known_values_stay_and_stray_words_go(trained):
    entities = [
        {"entity": "report_type", "value": "spend"},
        {"entity": "report_type", "value": "de"},
        {"entity": "invoice_status", "value": "UNPAID"},
        {"entity": "invoice_status", "value": "month"},
    ]
    assert run(trained, entities) == [("report_type", "spend"), ("invoice_status", "UNPAID")]


def test_types_not_listed_are_never_filtered(trained):
    entities = [
        {"entity": "duration", "value": "twenty four months"},
        {"entity": "service_tag", "value": "7XK2M93"},
    ]
    assert len(run(trained, entities)) == 2


def test_an_untrained_filter_keeps_everything(tmp_path, context):
    component = ClosedValueFilter.load(
        CONFIG, LocalModelStorage(tmp_path), Resource("never-trained"), context
    )
    assert run(component, [{"entity": "report_type", "value": "de"}]) == [("report_type", "de")]
