"""Adds each message's MiniLM sentence embedding as a dense sentence feature.

Not in config.yml yet (README, "A sentence encoder, measured and not yet enabled"). Where it
is in a pipeline, DIET reads it beside the sparse n-gram features, and the intent
ensemble's linear model reads it too (bot/nlu/intent_ensemble.py, `embedding_weight`),
so the two classifiers that decide an intent both see what a message means as well as
which words it used. The encoder is in
bot/nlu/sentence_encoder.py; it has no state to train, so the trained model holds
nothing of it and loads the weights from the installed package.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.sentence_encoder import shared_encoder


def sentence_embedding(message: Message) -> Optional[np.ndarray]:
    """The message's dense sentence feature (one row of 384), if a featurizer set one."""
    for features in message.features:
        if (
            features.attribute == TEXT
            and features.type == FEATURE_TYPE_SENTENCE
            and features.is_dense()
        ):
            return np.asarray(features.features, dtype=np.float32).reshape(-1)
    return None


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class SentenceFeaturizer(DenseFeaturizer, GraphComponent):
    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentenceFeaturizer:
        # Load the weights with the model, not on the first person's message.
        shared_encoder()
        return cls(name=execution_context.node_name, config=config)

    @classmethod
    def validate_config(cls, config: Dict[str, Any]) -> None:
        """Nothing to configure: the encoder is fixed."""

    @staticmethod
    def required_packages() -> List[str]:
        return ["tokenizers", "safetensors"]

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize([m for m in training_data.training_examples if m.get(TEXT)])
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        self._featurize([m for m in messages if m.get(TEXT)])
        return messages

    def _featurize(self, messages: List[Message]) -> None:
        if not messages:
            return
        embeddings = shared_encoder().encode([m.get(TEXT) for m in messages])
        for message, embedding in zip(messages, embeddings, strict=True):
            self.add_features_to_message(None, embedding[None, :], TEXT, message)
