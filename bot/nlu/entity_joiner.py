"""Joins an entity that DIET split into touching pieces back into one.

DIET tags tokens, and on multi-word values it sometimes tags each word as its own
entity: "not paid" comes out as `not` + `paid` (which the synonyms would then read
as *paid*), "no pagadas" as `no` + `pagadas`, "twenty four months" as `twenty` +
`four months`. Pieces of the same type from the same extractor with nothing but
spaces between them are one value; this component merges them before
EntitySynonymMapper normalises the value.

Pieces are joined only when the joined text is a value the training data knows
for that type (an annotated span or a synonym): "overdue or" + "unpaid" stays two
values, and so do two service tags side by side. Only the types listed in
`entities` are considered.
"""

from __future__ import annotations

import json
from typing import Any, Collection, Dict, List, Mapping, Optional, Set

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData


def spoken(text: str) -> str:
    """A value as compared: any case, any run of spaces."""
    return " ".join(text.casefold().split())


def joined(
    text: str, entities: List[Dict[str, Any]], known: Mapping[str, Collection[str]]
) -> List[Dict[str, Any]]:
    """The entities with touching pieces of a known value merged; the rest unchanged."""
    result: List[Dict[str, Any]] = []
    for entity in sorted(entities, key=lambda e: (e.get("start", 0), e.get("end", 0))):
        previous = result[-1] if result else None
        if (
            previous is not None
            and "start" in entity
            and "end" in previous
            and previous["entity"] == entity["entity"]
            and previous.get("extractor") == entity.get("extractor")
            and previous.get("role") == entity.get("role")
            and previous["end"] < entity["start"]
            and not text[previous["end"] : entity["start"]].strip()
            and spoken(text[previous["start"] : entity["end"]]) in known.get(entity["entity"], ())
        ):
            merged = dict(previous)
            merged["end"] = entity["end"]
            merged["value"] = text[previous["start"] : entity["end"]]
            if "confidence_entity" in previous and "confidence_entity" in entity:
                merged["confidence_entity"] = min(
                    previous["confidence_entity"], entity["confidence_entity"]
                )
            result[-1] = merged
        else:
            result.append(entity)
    return result


KNOWN_FILE = "known_values.json"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=True)
class EntityJoiner(GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {"entities": []}

    def __init__(
        self,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        known: Optional[Dict[str, Set[str]]] = None,
    ) -> None:
        self.types = frozenset(config.get("entities") or [])
        self._model_storage = model_storage
        self._resource = resource
        self.known: Dict[str, Set[str]] = known or {}

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> EntityJoiner:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        """Learn every multi-word value of the listed types: annotated spans and synonyms."""
        known: Dict[str, Set[str]] = {name: set() for name in self.types}
        canonical: Dict[str, str] = {}
        for message in training_data.entity_examples:
            text = message.get(TEXT) or ""
            for entity in message.get(ENTITIES) or []:
                if entity["entity"] in self.types:
                    known[entity["entity"]].add(spoken(text[entity["start"] : entity["end"]]))
                    canonical[str(entity.get("value", "")).casefold()] = entity["entity"]
        for surface, value in training_data.entity_synonyms.items():
            entity = canonical.get(str(value).casefold())
            if entity is not None:
                known[entity].add(spoken(surface))
        self.known = {name: {v for v in values if " " in v} for name, values in known.items()}
        with self._model_storage.write_to(self._resource) as folder:
            (folder / KNOWN_FILE).write_text(
                json.dumps({name: sorted(values) for name, values in self.known.items()})
            )
        return self._resource

    @classmethod
    def load(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> EntityJoiner:
        try:
            with model_storage.read_from(resource) as folder:
                saved = json.loads((folder / KNOWN_FILE).read_text())
        except ValueError:
            saved = {}  # trained on data without entities: nothing to join
        return cls(config, model_storage, resource, {k: set(v) for k, v in saved.items()})

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            entities = message.get(ENTITIES) or []
            if len(entities) > 1:
                message.set(
                    ENTITIES,
                    joined(message.get(TEXT) or "", entities, self.known),
                    add_to_output=True,
                )
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
