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

from typing import Any, Collection, Dict, List, Mapping, Set

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.learned_values import LearnedValues


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


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=True)
class EntityJoiner(LearnedValues):
    def learn(self, training_data: TrainingData) -> Dict[str, Set[str]]:
        """Every multi-word value of the listed types: annotated spans and synonyms."""
        known: Dict[str, Set[str]] = {name: set() for name in self.types}
        canonical: Dict[str, str] = {}
        for entity, surface, value in self.annotations(training_data):
            known[entity].add(spoken(surface))
            canonical[value.casefold()] = entity
        for synonym, target in training_data.entity_synonyms.items():
            owner = canonical.get(str(target).casefold())
            if owner is not None:
                known[owner].add(spoken(synonym))
        return {name: {v for v in values if " " in v} for name, values in known.items()}

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            entities = message.get(ENTITIES) or []
            if len(entities) > 1:
                message.set(
                    ENTITIES,
                    joined(message.get(TEXT) or "", entities, self.values),
                    add_to_output=True,
                )
        return messages
