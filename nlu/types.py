"""Shapes shared by the NLU client and its users (the dialogue engine, the catalogue matcher)."""

from __future__ import annotations

from dataclasses import dataclass, field

NEED_INTENTS: tuple[str, ...] = (
    "casa",
    "lavoro",
    "reddito",
    "cibo",
    "salute",
    "anziani",
    "famiglia",
    "disabilita",
    "tutela_legale",
    "digitale",
    "solitudine",
    "migranti",
    "trasporti",
    "emergenza",
)
CONVERSATION_INTENTS: tuple[str, ...] = (
    "saluto",
    "congedo",
    "aiuto",
    "operatore",
    "affermazione",
    "negazione",
    "per_altri",
    "informa_luogo",
    "fuori_ambito",
)
ALL_INTENTS: tuple[str, ...] = NEED_INTENTS + CONVERSATION_INTENTS
ENTITY_TYPES: tuple[str, ...] = ("comune", "quartiere", "destinatario", "eta")
MULTI_INTENT_SEPARATOR = "+"


class NLUUnavailable(Exception):
    """Rasa is down, unreachable or slower than the configured limit: the bot goes to degraded mode."""


@dataclass(frozen=True, slots=True)
class IntentScore:
    name: str
    confidence: float

    @property
    def parts(self) -> tuple[str, ...]:
        """A multi-intent like ``casa+lavoro`` split into its parts."""
        return tuple(self.name.split(MULTI_INTENT_SEPARATOR))


@dataclass(frozen=True, slots=True)
class Comune:
    """A comune of the Città metropolitana di Torino, identified by its ISTAT code."""

    istat: str
    name: str


@dataclass(frozen=True, slots=True)
class Entity:
    type: str
    value: str
    text: str = ""
    start: int | None = None
    end: int | None = None


@dataclass(frozen=True, slots=True)
class ParseResult:
    """What Rasa understood of one message, normalised for the dialogue engine."""

    text: str
    intent: IntentScore | None
    ranking: tuple[IntentScore, ...] = ()
    entities: tuple[Entity, ...] = ()
    comune: Comune | None = None
    quartiere: str | None = None
    destinatario: str | None = None
    eta: int | None = None
    extra: dict[str, str] = field(default_factory=dict)
    # Why Rasa's emergency safety net made the intent emergenza ("phrase", "fallback", "doubt"), None when it
    # did not: the model's own guess then follows in ``ranking``.
    safety_net: str | None = None

    @property
    def intents(self) -> tuple[str, ...]:
        """The parts of the top intent (one for a simple intent, several for ``a+b``)."""
        return self.intent.parts if self.intent else ()

    @property
    def needs(self) -> tuple[str, ...]:
        return tuple(i for i in self.intents if i in NEED_INTENTS)

    @property
    def confidence(self) -> float:
        return self.intent.confidence if self.intent else 0.0
