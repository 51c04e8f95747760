"""The NumPy forward pass gives sentence-transformers' own embeddings of all-MiniLM-L6-v2.

The reference (fixtures/minilm_reference.json) was made once with sentence-transformers
and PyTorch, which the project does not install; its `made_with` says how.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.sentence_encoder import DIMENSION, EncoderMissing, model_dir, shared_encoder
from bot.nlu.sentence_features import RecentEmbeddings, SentenceFeaturizer, sentence_embedding

REFERENCE = json.loads((Path(__file__).parent / "fixtures" / "minilm_reference.json").read_text())


def test_embeddings_equal_sentence_transformers_own() -> None:
    ours = shared_encoder().encode(REFERENCE["sentences"])
    theirs = np.array(REFERENCE["embeddings"], dtype=np.float32)
    assert ours.shape == theirs.shape == (len(REFERENCE["sentences"]), DIMENSION)
    # The reference is rounded to six decimals.
    assert np.abs(ours - theirs).max() < 2e-6


def test_a_batch_gives_each_text_what_it_gets_alone() -> None:
    """Padding in a batch of unequal lengths changes nothing."""
    texts = ["ok", "show me every invoice that is still unpaid this quarter", "hola"]
    together = shared_encoder().encode(texts)
    for text, row in zip(texts, together, strict=True):
        assert np.allclose(shared_encoder().encode([text])[0], row, atol=1e-5)


def test_paraphrases_are_nearer_than_other_requests() -> None:
    a, b, c = shared_encoder().encode(
        [
            "which of our machines lose coverage soon",
            "devices whose warranty expires",
            "pay an invoice",
        ]
    )
    assert float(a @ b) > float(a @ c) + 0.1


def test_no_texts_give_no_rows() -> None:
    assert shared_encoder().encode([]).shape == (0, DIMENSION)


def test_a_missing_weights_package_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(EncoderMissing, match="make bootstrap"):
        model_dir()


def test_the_featurizer_gives_every_message_with_text_its_embedding() -> None:
    featurizer = SentenceFeaturizer(name="sentence", config={"alias": None})
    with_text = Message(data={TEXT: "reorder my last order"})
    without = Message(data={})
    featurizer.process([with_text, without])
    embedding = sentence_embedding(with_text)
    assert embedding is not None
    assert np.allclose(embedding, shared_encoder().encode(["reorder my last order"])[0])
    assert sentence_embedding(without) is None

    training = TrainingData([Message(data={TEXT: "hola", "intent": "greet"})])
    featurizer.process_training_data(training)
    assert sentence_embedding(training.training_examples[0]) is not None


def test_a_text_seen_again_is_not_encoded_again(monkeypatch: pytest.MonkeyPatch) -> None:
    encoder = shared_encoder()
    encoded: list = []
    real = encoder.encode

    def counting(texts):  # type: ignore[no-untyped-def]
        encoded.extend(texts)
        return real(texts)

    monkeypatch.setattr(encoder, "encode", counting)
    recent = RecentEmbeddings(size=2)
    first = recent.embed(["yes", "show my orders", "yes"])
    assert encoded == ["yes", "show my orders"], "a text twice in one call is encoded once"
    assert np.array_equal(first[0], first[2])
    assert np.allclose(first, real(["yes", "show my orders", "yes"]), atol=1e-6)

    again = recent.embed(["show my orders", "yes"])
    assert encoded == ["yes", "show my orders"], "remembered texts cost no forward pass"
    assert np.array_equal(again, first[[1, 0]])

    recent.embed(["thanks"])  # "show my orders" is now the least recently used: forgotten
    recent.embed(["yes", "show my orders"])
    assert encoded == ["yes", "show my orders", "thanks", "show my orders"]


def test_the_shipped_pipeline_gives_the_embedding_to_the_ensemble_only() -> None:
    """DIET names the featurizers it reads: every one but the sentence embedding, so a
    featurizer added later without an alias, or without a place in that list, fails here."""
    config = yaml.safe_load((Path(__file__).parents[2] / "config.yml").read_text())
    names = [component["name"] for component in config["pipeline"]]
    featurizers = [c for c in config["pipeline"] if c["name"].endswith("Featurizer")]
    aliases = [c.get("alias") for c in featurizers]
    assert None not in aliases, "every featurizer has an alias"
    diet = config["pipeline"][names.index("DIETClassifier")]
    assert diet["featurizers"] == [a for a in aliases if a != "sentence"]
    ensemble = names.index("bot.nlu.intent_ensemble.IntentEnsemble")
    assert names.index("bot.nlu.sentence_features.SentenceFeaturizer") < ensemble
    assert config["pipeline"][ensemble]["embedding_weight"] > 0
