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

from typing import Any, Dict, List, Set

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import ENTITIES
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.learned_values import LearnedValues


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=True)
class ClosedValueFilter(LearnedValues):
    def learn(self, training_data: TrainingData) -> Dict[str, Set[str]]:
        """Each listed type's canonical values, as the synonyms leave them."""
        synonyms = {k.casefold(): str(v) for k, v in training_data.entity_synonyms.items()}
        values: Dict[str, Set[str]] = {name: set() for name in self.types}
        for entity, _, value in self.annotations(training_data):
            values[entity].add(synonyms.get(value.casefold(), value).casefold())
        return values

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
