"""Finds a closed-set value the training data knows, written out, where DIET missed it.

"list everything that's no longer covered" is the device list narrowed to expired
warranties, but DIET, which has seen only a few dozen such conditions, may tag nothing.
The words are known: each annotated span and each synonym of the entity type. In a
message whose intent is one of `intents`, when no entity of a listed type was found, this
component looks for the longest known phrase of that type (whole words, any case) and
adds it; EntitySynonymMapper, which runs next, turns it into the canonical value
("no longer covered" -> expired). An entity of another type on the same words is dropped
("garantía vencida" is a device condition in a device list, not an overdue invoice).
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Set

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.entity_joiner import spoken
from bot.nlu.learned_values import LearnedValues


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=True)
class KnownPhraseExtractor(LearnedValues):
    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {"entities": [], "intents": []}

    def __init__(self, config: Dict[str, Any], *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.intents = frozenset(config.get("intents") or [])

    def learn(self, training_data: TrainingData) -> Dict[str, Set[str]]:
        """Every phrase of the listed types: annotated spans and synonyms of their values."""
        known: Dict[str, Set[str]] = {name: set() for name in self.types}
        owner: Dict[str, str] = {}
        for entity, surface, value in self.annotations(training_data):
            known[entity].add(spoken(surface))
            owner[value.casefold()] = entity
        for synonym, target in training_data.entity_synonyms.items():
            entity_type = owner.get(str(target).casefold())
            if entity_type is not None:
                known[entity_type].add(spoken(synonym))
        return known

    def found(self, text: str, entity: str) -> Optional[Dict[str, Any]]:
        """The longest known phrase of `entity` in `text`, as an entity; None if none."""
        folded = text.casefold()
        for phrase in sorted(self.values.get(entity, ()), key=len, reverse=True):
            pattern = r"(?<!\w)" + r"\s+".join(map(re.escape, phrase.split())) + r"(?!\w)"
            match = re.search(pattern, folded)
            if match:
                return {
                    "entity": entity,
                    "value": text[match.start() : match.end()],
                    "start": match.start(),
                    "end": match.end(),
                    "confidence_entity": 1.0,
                    "extractor": self.__class__.__name__,
                }
        return None

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            if self.intents and (message.get(INTENT) or {}).get("name") not in self.intents:
                continue
            entities = list(message.get(ENTITIES) or [])
            text = message.get(TEXT) or ""
            changed = False
            for entity_type in sorted(self.types):
                if any(e["entity"] == entity_type for e in entities):
                    continue
                new = self.found(text, entity_type)
                if new is None:
                    continue
                entities = [
                    e
                    for e in entities
                    if "start" not in e or e["end"] <= new["start"] or new["end"] <= e["start"]
                ]
                entities.append(new)
                changed = True
            if changed:
                entities.sort(key=lambda e: e.get("start", 0))
                message.set(ENTITIES, entities, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
