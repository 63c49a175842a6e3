"""The ``destinatario`` entity by a linear-chain CRF of our own, as a Rasa 3.6 component.

Why not DIET for this one entity: a destinatario is a short noun phrase whose edges are set by the
words right around it ("[mia madre] anziana", "per [la signora del terzo piano]"), which is what a
CRF over word, affix and neighbour features learns well from a few thousand messages; DIET, trained for
minutes with one small transformer layer for all four entities, found the exact span far less often
(the evidence is in ``nlu/config.yml``). DIET keeps ``comune``, ``quartiere`` and ``eta``; this
component replaces whatever ``destinatario`` an earlier extractor proposed, so every client of the
NLU sees one answer.

python-crfsuite is a dependency of Rasa itself (its own CRFEntityExtractor uses it). The model is
crfsuite's own binary file, read by crfsuite: no pickle.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

MODEL_FILE = "destinatario.crfsuite"
ENTITY = "destinatario"
_WORD = re.compile(r"\w+")
# Articles and possessives that open most destinatario phrases ("mia madre", "la vicina", "un signore").
_OPENERS = frozenset(
    "mio mia miei mie tuo tua tuoi tue suo sua suoi sue nostro nostra nostri nostre "
    "il la lo i le gli l un una uno".split()
)


def words(text: str) -> list[tuple[str, int, int]]:
    """The message's words with their character offsets (an apostrophe splits "l'amica")."""
    return [(m.group(), m.start(), m.end()) for m in _WORD.finditer(text)]


def features(tokens: list[str], i: int) -> dict[str, Any]:
    """What the CRF sees of word ``i``: itself, its affixes, and the words around it."""
    word = tokens[i].lower()
    out: dict[str, Any] = {
        "bias": 1.0,
        "w": word,
        "p2": word[:2],
        "p3": word[:3],
        "s2": word[-2:],
        "s3": word[-3:],
        "s4": word[-4:],
        "title": tokens[i][:1].isupper(),
        "digit": word.isdigit(),
        "opener": word in _OPENERS,
        "len": min(len(word), 8),
    }
    for d in (-3, -2, -1, 1, 2):
        j = i + d
        if 0 <= j < len(tokens):
            near = tokens[j].lower()
            out[f"w{d}"] = near
            out[f"s3{d}"] = near[-3:]
            out[f"opener{d}"] = near in _OPENERS
        else:
            out[f"w{d}"] = "<pad>"
    out["w-1|w"] = f"{out['w-1']}|{word}"
    out["w|w1"] = f"{word}|{out['w1']}"
    out["w-2|w-1"] = f"{out['w-2']}|{out['w-1']}"
    return out


def bio_tags(tokens: list[tuple[str, int, int]], spans: list[tuple[int, int]]) -> list[str]:
    """B/I/O for each word (see :func:`words`) given the destinatario character spans."""
    tags: list[str] = []
    for _, start, end in tokens:
        inside = next(((a, b) for a, b in spans if a <= start and end <= b), None)
        if inside is None:
            tags.append("O")
        else:
            tags.append("B" if start == inside[0] or not tags or tags[-1] == "O" else "I")
    return tags


def tagged_spans(tokens: list[tuple[str, int, int]], tags: list[str]) -> list[tuple[int, int]]:
    """Character spans of the B/I runs (an I after O opens a span too)."""
    spans: list[list[int]] = []
    previous = "O"
    for (_, start, end), tag in zip(tokens, tags, strict=True):
        if tag == "B" or (tag == "I" and previous == "O"):
            spans.append([start, end])
        elif tag == "I":
            spans[-1][1] = end
        previous = tag
    return [(a, b) for a, b in spans]


def _sequence(tokens: list[tuple[str, int, int]]) -> list[dict[str, Any]]:
    plain = [w for w, _, _ in tokens]
    return [features(plain, i) for i in range(len(plain))]


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=True)
class DestinatarioExtractor(GraphComponent, EntityExtractorMixin):
    """Finds ``destinatario`` spans with a CRF and replaces any other extractor's."""

    @staticmethod
    def required_packages() -> list[str]:
        # Rasa both imports these names and looks them up as distributions (for the model fingerprint):
        # pycrfsuite's distribution is "python-crfsuite", so name the package that brings it.
        return ["sklearn_crfsuite"]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # crfsuite's L-BFGS with the usual elastic-net weights (sklearn-crfsuite's tutorial values).
        return {"c1": 0.1, "c2": 0.1, "max_iterations": 200}

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        opened: tuple[Any, bytes] | None = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._opened = opened  # (crfsuite tagger, the model bytes it reads)

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> DestinatarioExtractor:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        import pycrfsuite

        trainer = pycrfsuite.Trainer(verbose=False)
        seen = 0
        for example in training_data.nlu_examples:
            text = example.get(TEXT) or ""
            tokens = words(text)
            if not tokens:
                continue
            spans = [
                (int(e["start"]), int(e["end"]))
                for e in example.get(ENTITIES) or []
                if e.get("entity") == ENTITY
            ]
            seen += len(spans)
            trainer.append(_sequence(tokens), bio_tags(tokens, spans))
        if not seen:
            logger.warning("DestinatarioExtractor: no %s in the training data; skipped.", ENTITY)
            return self._resource
        trainer.set_params(
            {
                "c1": float(self.config["c1"]),
                "c2": float(self.config["c2"]),
                "max_iterations": int(self.config["max_iterations"]),
                "feature.possible_transitions": True,
            }
        )
        with self._model_storage.write_to(self._resource) as directory:
            trainer.train(str(directory / MODEL_FILE))
        self._opened = self._open(self._model_storage, self._resource)
        return self._resource

    @staticmethod
    def _open(model_storage: ModelStorage, resource: Resource) -> tuple[Any, bytes] | None:
        """The tagger and the model bytes it reads from: crfsuite does not copy them, so they must
        live as long as the tagger (the storage directory itself may be temporary)."""
        import pycrfsuite

        try:
            with model_storage.read_from(resource) as directory:
                model = (directory / MODEL_FILE).read_bytes()
            tagger = pycrfsuite.Tagger()
            tagger.open_inmemory(model)
            return tagger, model
        except (ValueError, OSError) as exc:
            logger.warning("DestinatarioExtractor not loaded (%s); it will find nothing.", exc)
            return None

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> DestinatarioExtractor:
        return cls(config, model_storage, resource, cls._open(model_storage, resource))

    def process(self, messages: list[Message]) -> list[Message]:
        if self._opened is None:
            return messages
        tagger = self._opened[0]
        for message in messages:
            text = message.get(TEXT) or ""
            tokens = words(text)
            others = [e for e in message.get(ENTITIES) or [] if e.get("entity") != ENTITY]
            found = []
            if tokens:
                tags = tagger.tag(_sequence(tokens))
                found = [
                    {"entity": ENTITY, "start": a, "end": b, "value": text[a:b]}
                    for a, b in tagged_spans(tokens, tags)
                ]
            message.set(ENTITIES, others + self.add_extractor_name(found), add_to_output=True)
        return messages
