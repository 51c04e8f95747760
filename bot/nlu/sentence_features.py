"""Adds each message's MiniLM sentence embedding as a dense sentence feature.

In config.yml the intent ensemble's linear model reads it beside its TF-IDF n-grams
(bot/nlu/intent_ensemble.py, `embedding_weight`), so the model that settles what DIET
is unsure about sees what a message means as well as which words it used. DIET is
told not to read it (its `featurizers` list): on the development split the pipeline's
intents were better with the embedding in the linear model only, and DIET's Spanish
entities worse when it read it too (README, "Quality"). The encoder is in
bot/nlu/sentence_encoder.py; it has no state to train, so the trained model holds
nothing of it and loads the weights from the installed package."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.sentence_encoder import DIMENSION, shared_encoder

# How many recent messages' embeddings a process keeps (1.5 KB each).
REMEMBERED = 4096


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


class RecentEmbeddings:
    """The embeddings of the texts seen last, so a text people send again costs nothing.

    A forward pass costs a short message about 10 ms of CPU, while "yes", "thanks",
    "show my orders" and their like come back again and again. Least recently used
    texts are forgotten first. A lock keeps the order consistent when Rasa parses
    messages of several conversations in threads.
    """

    def __init__(self, size: int = REMEMBERED) -> None:
        self._size = size
        self._rows: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        result = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        missing: Dict[str, List[int]] = {}
        with self._lock:
            for index, text in enumerate(texts):
                row = self._rows.get(text)
                if row is None:
                    missing.setdefault(text, []).append(index)
                else:
                    self._rows.move_to_end(text)
                    result[index] = row
        if not missing:
            return result
        new = list(missing)
        rows = shared_encoder().encode(new)
        with self._lock:
            for text, row in zip(new, rows, strict=True):
                result[missing[text]] = row
                self._rows[text] = row
                self._rows.move_to_end(text)
            while len(self._rows) > self._size:
                self._rows.popitem(last=False)
        return result


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

    def __init__(self, name: str, config: Dict[str, Any]) -> None:
        super().__init__(name, config)
        self._recent = RecentEmbeddings()

    @classmethod
    def validate_config(cls, config: Dict[str, Any]) -> None:
        """Nothing to configure: the encoder is fixed."""

    @staticmethod
    def required_packages() -> List[str]:
        return ["tokenizers", "safetensors"]

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        examples = [m for m in training_data.training_examples if m.get(TEXT)]
        self._add(examples, shared_encoder().encode([m.get(TEXT) for m in examples]))
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        with_text = [m for m in messages if m.get(TEXT)]
        self._add(with_text, self._recent.embed([m.get(TEXT) for m in with_text]))
        return messages

    def _add(self, messages: List[Message], embeddings: np.ndarray) -> None:
        for message, embedding in zip(messages, embeddings, strict=True):
            self.add_features_to_message(None, embedding[None, :], TEXT, message)
