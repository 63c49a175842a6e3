"""The emergency safety net as a Rasa 3.6 component: ``emergenza`` whenever a danger phrase is there.

Why inside Rasa and not only in the app: the intent names are a contract (other components and outside
evaluations read the NLU directly), and a missed emergency is the worst failure the bot can have. The
phrases are ``nlu.safety.EMERGENCY_PHRASES``, the same list the app's own net uses when Rasa is down.

It runs after FallbackClassifier: an unmistakable phrase wins over a confident model and over an
uncertain one alike. It also undoes FallbackClassifier's doubt when the model's best guess was
``emergenza``: an app that reads ``nlu_fallback`` as "ask again" must not ask a person in danger to
rephrase. And it reads the model's doubt: emergenza with probability ``DOUBT_THRESHOLD`` or more is
enough, even below another intent. The model's own ranking is kept, below ``emergenza``, so a client
can still see what else the message is about; ``safety_net`` in the parse says why the net fired:
"phrase", "fallback" or "doubt".
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from nlu.safety import DOUBT_THRESHOLD, emergency_phrase

EMERGENCY_INTENT = "emergenza"
FALLBACK_INTENT = "nlu_fallback"
SAFETY_NET = "safety_net"  # the parse key that says why the net fired


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class EmergencyPhraseClassifier(GraphComponent, IntentClassifier):
    """Sets the intent to ``emergenza`` (confidence 1.0) on a danger phrase or a withheld emergenza."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> EmergencyPhraseClassifier:
        return cls()

    def _reason(self, message: Message, name: str) -> str | None:
        ranking: list[dict[str, Any]] = message.get(INTENT_RANKING_KEY) or []
        best: dict[str, Any] = next((e for e in ranking if e.get(INTENT_NAME_KEY) != FALLBACK_INTENT), {})
        confidence = best.get("confidence")
        sure = float(confidence) if isinstance(confidence, (int, float)) else None
        if emergency_phrase(message.get(TEXT) or "", model_confidence=sure) is not None:
            return "phrase"
        if name == FALLBACK_INTENT and EMERGENCY_INTENT in str(best.get(INTENT_NAME_KEY) or "").split("+"):
            return "fallback"  # the model's best guess was an emergency, only not a confident one
        doubt = sum(
            float(e.get("confidence") or 0.0)
            for e in ranking
            if EMERGENCY_INTENT in str(e.get(INTENT_NAME_KEY) or "").split("+")
        )
        if doubt >= DOUBT_THRESHOLD:
            return "doubt"  # not the model's best guess, but too likely to leave to chance
        return None

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            intent = message.get(INTENT) or {}
            name = str(intent.get(INTENT_NAME_KEY) or "")
            if EMERGENCY_INTENT in name.split("+"):
                continue
            reason = self._reason(message, name)
            if reason is None:
                continue
            ranking = [
                entry
                for entry in message.get(INTENT_RANKING_KEY) or []
                if entry.get(INTENT_NAME_KEY) not in (EMERGENCY_INTENT, FALLBACK_INTENT)
            ]
            top = {INTENT_NAME_KEY: EMERGENCY_INTENT, "confidence": 1.0}
            message.set(INTENT, top, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [top, *ranking], add_to_output=True)
            message.set(SAFETY_NET, reason, add_to_output=True)
        return messages
