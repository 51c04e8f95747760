"""Turns a place named in a question about support contacts into the `region` entity.

"Singapore support number?" -> region APJ; "teléfono de soporte para Corea" -> APJ;
"soporte en EE. UU." -> Americas. The places and their regions come from
`bot/nlu/places.yml` (every country in English and Spanish, short forms, areas and major
business cities), not from training examples, so a country DIET never saw is a region too.

Only messages whose intent is one of `intents` (default: support_contact) get a region
from a place: elsewhere a city is part of an address ("add our Austin office") and a
country part of an account name ("Globex México"). A place inside another entity is left
alone. A region entity DIET found on the same words is replaced (DIET gives the words,
"Singapore", which is no region). Runs after the intent classifiers and
EntitySynonymMapper, before ClosedValueFilter.
"""

from __future__ import annotations

from typing import Any, Dict, List

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.places import Place, Places, places

REGION = "region"


def overlaps(entity: Dict[str, Any], place: Place) -> bool:
    return "start" in entity and entity["start"] < place.end and place.start < entity["end"]


def with_places(
    text: str, entities: List[Dict[str, Any]], known: Places, extractor: str
) -> List[Dict[str, Any]]:
    """`entities` with a region entity for each place in `text` that no other entity holds."""
    found = [p for p in known.find(text) if not any(
        overlaps(e, p) for e in entities if e["entity"] != REGION
    )]  # fmt: skip
    if not found:
        return entities
    kept = [e for e in entities if e["entity"] != REGION or not any(overlaps(e, p) for p in found)]
    added = [
        {
            "entity": REGION,
            "value": place.region,
            "start": place.start,
            "end": place.end,
            "confidence_entity": 1.0,
            "extractor": extractor,
        }
        for place in found
    ]
    return sorted([*kept, *added], key=lambda e: e.get("start", 0))


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class PlaceRegionExtractor(GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {"intents": ["support_contact"]}

    def __init__(self, config: Dict[str, Any], known: Places) -> None:
        self.intents = frozenset(config.get("intents") or [])
        self.known = known

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> PlaceRegionExtractor:
        return cls({**cls.get_default_config(), **config}, places())

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            intent = (message.get(INTENT) or {}).get("name")
            if self.intents and intent not in self.intents:
                continue
            entities = message.get(ENTITIES) or []
            updated = with_places(
                message.get(TEXT) or "", entities, self.known, self.__class__.__name__
            )
            if updated is not entities:
                message.set(ENTITIES, updated, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
