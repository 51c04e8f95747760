"""Blends DIET's intent distribution with a TF-IDF logistic regression's.

Short commands and small talk ("ta", "so long", "hola de nuevo") are where DIET,
trained for a few epochs to keep training within minutes, is least sure. A linear
model over word and character n-grams learns from the same examples in seconds and
makes different mistakes, so the average of the two distributions is right more
often than either: on a 20% development split of the training data
(`python -m bench.dev_split`) intent accuracy went from 0.83/0.86 (DIET alone,
en/es) to 0.88/0.90.

Runs after DIETClassifier (which must report its whole ranking, `ranking_length: 0`)
and before FallbackClassifier, which then judges the blended confidence.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

import numpy as np
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline, make_union

from bot.nlu.sentence_features import sentence_embedding

logger = logging.getLogger(__name__)

MODEL_FILE = "intent_ensemble.skops"
# What the saved pipeline may be made of; loading refuses a file holding anything else.
TRUSTED_MODULES = ("sklearn.", "numpy.", "scipy.sparse.", "builtins.")


def sharpened(distribution: Dict[str, float], sharpness: float) -> Dict[str, float]:
    """Each probability to the power `sharpness`, renormalised (1.0: unchanged)."""
    if sharpness == 1.0:
        return distribution
    powered = {name: max(p, 0.0) ** sharpness for name, p in distribution.items()}
    total = sum(powered.values())
    return {name: p / total for name, p in powered.items()} if total else distribution


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class IntentEnsemble(GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {
            # Share of the linear model in the blend; the rest is DIET's.
            "weight": 0.5,
            # Inverse regularisation: the features are sparse and the data clean.
            "C": 30.0,
            "char_ngrams": [2, 5],
            "ranking_length": 10,
            # Exponent on the blended distribution (then renormalised): an average of two
            # models is under-confident, and > 1 sharpens it. Chosen on the development
            # split for the lowest calibration error (bench/dev_split.py).
            "sharpness": 1.0,
            # Scale of the message's sentence embedding (bot/nlu/sentence_features.py) next
            # to the n-gram features; 0 leaves it out. The TF-IDF rows have unit length per
            # vectorizer, so 1.0 weighs meaning about as much as either kind of n-gram.
            "embedding_weight": 0.0,
            "random_state": 42,
        }

    def __init__(
        self,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        pipeline: Optional[Pipeline] = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.pipeline = pipeline

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> IntentEnsemble:
        return cls(config, model_storage, resource)

    def _new_pipeline(self) -> Pipeline:
        low, high = self.config["char_ngrams"]
        features = make_union(
            TfidfVectorizer(sublinear_tf=True),
            TfidfVectorizer(
                analyzer="char_wb", ngram_range=(low, high), sublinear_tf=True, min_df=2
            ),
        )
        classifier = LogisticRegression(
            C=self.config["C"], max_iter=3000, random_state=self.config["random_state"]
        )
        return make_pipeline(features, classifier)

    def train(self, training_data: TrainingData) -> Resource:
        examples = [m for m in training_data.intent_examples if m.get(TEXT) and m.get(INTENT)]
        if len({m.get(INTENT) for m in examples}) < 2:
            logger.debug("IntentEnsemble needs at least two intents; it will pass DIET through.")
            return self._resource
        pipeline = self._new_pipeline()
        (_, union), (_, classifier) = pipeline.steps
        union.fit([m.get(TEXT) for m in examples])
        classifier.fit(self._features(examples, union), [m.get(INTENT) for m in examples])
        self.pipeline = pipeline
        self.persist()
        return self._resource

    def persist(self) -> None:
        import skops.io as sio

        with self._model_storage.write_to(self._resource) as folder:
            sio.dump(self.pipeline, folder / MODEL_FILE)

    @classmethod
    def load(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> IntentEnsemble:
        import skops.io as sio

        try:
            with model_storage.read_from(resource) as folder:
                path = folder / MODEL_FILE
                types = sio.get_untrusted_types(file=path)
                foreign = [t for t in types if not t.startswith(TRUSTED_MODULES)]
                if foreign:
                    raise RuntimeError(f"{path} holds types this component never saves: {foreign}")
                pipeline = sio.load(path, trusted=types)
            _, classifier = pipeline.steps[-1]
            # Scoring multiplies a message's sparse features by `coef_.T`; SciPy flattens that
            # operand first, which copied the whole (classes x features) matrix for every
            # message while it was C-ordered. Kept in Fortran order the transpose is already
            # contiguous: the same numbers in the same arithmetic, without the copy.
            classifier.coef_ = np.asfortranarray(classifier.coef_)
        except ValueError:
            # Nothing was trained (fewer than two intents): DIET's answer stands.
            pipeline = None
        return cls(config, model_storage, resource, pipeline)

    def process(self, messages: List[Message]) -> List[Message]:
        if self.pipeline is None:
            return messages
        scored = [m for m in messages if (m.get(TEXT) or "").strip() and m.get(INTENT_RANKING_KEY)]
        if not scored:
            return messages
        probabilities = self._probabilities(scored)
        classes = list(self.pipeline.classes_)
        for message, linear in zip(scored, probabilities, strict=True):
            self._blend(message, classes, linear)
        return messages

    def _features(self, messages: List[Message], union: Any) -> scipy.sparse.csr_matrix:
        """Each vectorizer's n-grams side by side, then the scaled sentence embedding.

        Called directly rather than through `union.transform`: scikit-learn's union runs
        its vectorizers through joblib even on one core, which cost more per message than
        both vectorizers together. Without an embedding weight this is exactly the
        pipeline's own arithmetic (`tests/nlu/test_intent_ensemble.py` checks it).
        """
        texts = [m.get(TEXT) for m in messages]
        parts = [vectorizer.transform(texts) for _, vectorizer in union.transformer_list]
        weight = self.config["embedding_weight"]
        if weight:
            rows = []
            for message in messages:
                row = sentence_embedding(message)
                if row is None:
                    raise RuntimeError(
                        "IntentEnsemble has embedding_weight set but a message has no sentence "
                        "embedding: put bot.nlu.sentence_features.SentenceFeaturizer before it"
                    )
                rows.append(row)
            parts.append(scipy.sparse.csr_matrix(weight * np.vstack(rows)))
        return scipy.sparse.hstack(parts).tocsr()

    def _probabilities(self, messages: List[Message]) -> np.ndarray:
        """The linear model's distribution over intents for each message."""
        assert self.pipeline is not None
        (_, union), (_, classifier) = self.pipeline.steps
        probabilities: np.ndarray = classifier.predict_proba(self._features(messages, union))
        return probabilities

    def _blend(self, message: Message, classes: List[str], linear: np.ndarray) -> None:
        weight = self.config["weight"]
        blended = {name: weight * float(p) for name, p in zip(classes, linear, strict=True)}
        for entry in message.get(INTENT_RANKING_KEY):
            name = entry["name"]
            blended[name] = blended.get(name, 0.0) + (1 - weight) * float(entry["confidence"])
        blended = sharpened(blended, self.config["sharpness"])
        ranking = [
            {"name": name, "confidence": confidence}
            for name, confidence in sorted(blended.items(), key=lambda item: -item[1])
        ]
        message.set(INTENT, ranking[0], add_to_output=True)
        length = self.config["ranking_length"]
        message.set(INTENT_RANKING_KEY, ranking[:length] if length else ranking, add_to_output=True)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
