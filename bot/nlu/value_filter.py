"""Drops an extracted entity whose value is not one of its type's known values.

Roles, plans, invoice statuses, report types and regions are closed sets: the
actions accept only their canonical values. DIET now and then tags a stray word
as one of them ("de" or "mes" as a report type, "again" in "run the report
again"); such a value would fill a slot with nonsense and make a form ask again.
After EntitySynonymMapper has turned "pendientes" into `unpaid`, this component
keeps an entity of a listed type only when its value is one the training data
gives for that type (an annotated value or a synonym's target).
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Set

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

VALUES_FILE = "closed_values.json"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=True)
class ClosedValueFilter(GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {"entities": []}

    def __init__(
        self,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        values: Optional[Dict[str, Set[str]]] = None,
    ) -> None:
        self.types = frozenset(config.get("entities") or [])
        self._model_storage = model_storage
        self._resource = resource
        self.values: Dict[str, Set[str]] = values or {}

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> ClosedValueFilter:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        """Learn each listed type's canonical values, as the synonyms leave them."""
        synonyms = {k.casefold(): str(v) for k, v in training_data.entity_synonyms.items()}
        values: Dict[str, Set[str]] = {name: set() for name in self.types}
        for message in training_data.entity_examples:
            for entity in message.get(ENTITIES) or []:
                if entity["entity"] in self.types:
                    value = str(entity.get("value", ""))
                    values[entity["entity"]].add(synonyms.get(value.casefold(), value).casefold())
        self.values = values
        with self._model_storage.write_to(self._resource) as folder:
            (folder / VALUES_FILE).write_text(
                json.dumps({name: sorted(known) for name, known in values.items()})
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
    ) -> ClosedValueFilter:
        try:
            with model_storage.read_from(resource) as folder:
                saved = json.loads((folder / VALUES_FILE).read_text())
        except ValueError:
            saved = {}  # never trained: filter nothing
        return cls(config, model_storage, resource, {k: set(v) for k, v in saved.items()})

    def keeps(self, entity: Dict[str, Any]) -> bool:
        known = self.values.get(entity["entity"])
        return not known or str(entity.get("value", "")).casefold() in known

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            entities = message.get(ENTITIES) or []
            kept = [entity for entity in entities if self.keeps(entity)]
            if len(kept) != len(entities):
                message.set(ENTITIES, kept, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
