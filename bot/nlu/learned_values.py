"""Base for NLU components that learn, per entity type, a set of values from the training data.

The entity joiner learns the multi-word values it may join, the closed-value filter the
values it may keep. Both are configured with the entity types they look after
(`entities: [...]` in config.yml) and keep what they learned as JSON in the model.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Iterator, Optional, Set, Tuple, TypeVar

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.training_data import TrainingData

VALUES_FILE = "values.json"
Component = TypeVar("Component", bound="LearnedValues")


class LearnedValues(GraphComponent):
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

    def annotations(self, training_data: TrainingData) -> Iterator[Tuple[str, str, str]]:
        """(type, text as written, annotated value) of every annotation of a listed type."""
        for message in training_data.entity_examples:
            text = message.get(TEXT) or ""
            for entity in message.get(ENTITIES) or []:
                if entity["entity"] in self.types:
                    surface = text[entity["start"] : entity["end"]]
                    yield entity["entity"], surface, str(entity.get("value", surface))

    def learn(self, training_data: TrainingData) -> Dict[str, Set[str]]:
        """The values per listed type this component needs (subclasses say which)."""
        raise NotImplementedError

    @classmethod
    def create(
        cls: type[Component],
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> Component:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        self.values = self.learn(training_data)
        with self._model_storage.write_to(self._resource) as folder:
            (folder / VALUES_FILE).write_text(
                json.dumps({name: sorted(values) for name, values in self.values.items()})
            )
        return self._resource

    @classmethod
    def load(
        cls: type[Component],
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> Component:
        try:
            with model_storage.read_from(resource) as folder:
                saved = json.loads((folder / VALUES_FILE).read_text())
        except ValueError:
            saved = {}  # never trained (no data for it): the component changes nothing
        return cls(config, model_storage, resource, {k: set(v) for k, v in saved.items()})

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
