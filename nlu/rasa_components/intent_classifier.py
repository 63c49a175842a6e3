"""A linear intent classifier over TF-IDF character and word n-grams, as a Rasa 3.6 component.

Why not DIET for intents: on Bussola's data (4,593 training messages, 34 labels, short and noisy
Italian) a logistic regression over sublinear TF-IDF n-grams beat DIET on held-out intent
macro-F1, trains in about a minute, and is deterministic without TensorFlow seeds (the evidence
is in ``nlu/config.yml``). DIET stays in the pipeline for the entities. Rasa's own
``LogisticRegressionClassifier`` does not do this: it reads the raw token counts of the
count-vector featurizers (no IDF, no sublinear scaling) and fixes ``C`` at 1, which scored below
DIET (0.865 against 0.882 in a scikit-learn replica).

The model is stored with skops (as Rasa 3.6's own linear classifier is), never with pickle, and
is loaded only when every type in the file is one we expect.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

MODEL_FILE = "tfidf_intent.skops"
# skops trusts scikit-learn's and numpy's own types; the one other type a stored model holds is the
# sparse IDF diagonal of each TfidfTransformer.
TRUSTED_TYPES = frozenset({"scipy.sparse._csr.csr_matrix"})


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class TfidfIntentClassifier(GraphComponent, IntentClassifier):
    """Multinomial logistic regression on TF-IDF n-grams of the raw message text."""

    @staticmethod
    def required_packages() -> list[str]:
        return ["sklearn", "skops"]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # Weak regularisation and balanced classes: chosen by cross-validation on the training data
            # (see nlu/config.yml). Balanced weights count a rare multi-need example as much as one of
            # the many emergenza examples.
            "C": 1000.0,
            "class_weight": "balanced",
            "char_ngram_range": [1, 5],  # inside word boundaries: typos, accents, dialect spellings
            "word_ngram_range": [1, 2],
            "max_iter": 3000,
            "random_state": 42,
            "ranking_length": 10,
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: Any = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.model = model

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> TfidfIntentClassifier:
        return cls(config, model_storage, resource)

    def _pipeline(self) -> Any:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import FeatureUnion, Pipeline

        lo, hi = self.config["char_ngram_range"]
        wlo, whi = self.config["word_ngram_range"]
        features = FeatureUnion(
            [
                (
                    "char",
                    TfidfVectorizer(
                        analyzer="char_wb",
                        ngram_range=(lo, hi),
                        sublinear_tf=True,
                        strip_accents="unicode",
                    ),
                ),
                (
                    "word",
                    TfidfVectorizer(
                        analyzer="word",
                        ngram_range=(wlo, whi),
                        sublinear_tf=True,
                        strip_accents="unicode",
                        token_pattern=r"(?u)\b\w+\b",  # noqa: S106 - keeps one-letter words ("a", "e")
                    ),
                ),
            ]
        )
        classifier = LogisticRegression(
            C=float(self.config["C"]),
            class_weight=self.config["class_weight"],
            max_iter=int(self.config["max_iter"]),
            random_state=int(self.config["random_state"]),
        )
        return Pipeline([("features", features), ("classifier", classifier)])

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        if len({e.get(INTENT) for e in examples}) < 2:
            logger.warning("TfidfIntentClassifier needs at least two intents to train; skipped.")
            return self._resource
        model = self._pipeline()
        model.fit([e.get(TEXT) for e in examples], [e.get(INTENT) for e in examples])
        self.model = model
        self.persist()
        return self._resource

    def persist(self) -> None:
        import skops.io as sio

        with self._model_storage.write_to(self._resource) as directory:
            sio.dump(self.model, directory / MODEL_FILE)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> TfidfIntentClassifier:
        import skops.io as sio

        try:
            with model_storage.read_from(resource) as directory:
                path = directory / MODEL_FILE
                untrusted = set(sio.get_untrusted_types(file=path))
                unexpected = untrusted - TRUSTED_TYPES
                if unexpected:
                    raise ValueError(f"unexpected types in {MODEL_FILE}: {sorted(unexpected)}")
                model = sio.load(path, trusted=sorted(untrusted))
        except (ValueError, FileNotFoundError) as exc:
            logger.warning("TfidfIntentClassifier not loaded (%s); it will predict nothing.", exc)
            model = None
        return cls(config, model_storage, resource, model)

    def process(self, messages: list[Message]) -> list[Message]:
        if self.model is None:
            return messages
        texts = [m.get(TEXT) or "" for m in messages]
        indices = [i for i, text in enumerate(texts) if text.strip()]
        if not indices:
            return messages
        probabilities = self.model.predict_proba([texts[i] for i in indices])
        labels = [str(label) for label in self.model.classes_]
        for row, i in zip(probabilities, indices, strict=True):
            scored = sorted(zip(labels, (float(p) for p in row), strict=True), key=lambda lp: -lp[1])
            ranking = [{"name": name, "confidence": confidence} for name, confidence in scored]
            messages[i].set(INTENT, ranking[0], add_to_output=True)
            messages[i].set("intent_ranking", ranking[: self._ranking_length()], add_to_output=True)
        return messages

    def _ranking_length(self) -> int | None:
        length = int(self.config["ranking_length"])
        return length if length > 0 else None
