"""The dialogue's memory of one conversation, stored as JSON on ``Conversation.state``.

Why a dataclass and not a free dict: every field has one meaning and a default, so an old row (or a
row written by an older version) always loads; unknown keys are dropped, missing ones defaulted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

STATE_VERSION = 1


@dataclass
class DialogueState:
    welcomed: bool = False
    privacy_version: str | None = None  # the notice version the person was shown
    # Who the help is for: "self", "other" (a volunteer, a relative) or unknown.
    for_whom: str | None = None
    destinatario: str | None = None  # e.g. "mia madre", as the NLU extracted it; shown to facilitators
    eta: int | None = None
    comune_istat: str | None = None
    comune_name: str | None = None
    quartiere: str | None = None
    place_declined: bool = False
    latitude: float | None = None
    longitude: float | None = None
    needs: list[str] = field(default_factory=list)  # the current request
    all_needs: list[str] = field(default_factory=list)  # every distinct need of the conversation
    query_text: str = ""  # the words of the current request, for the catalogue's ranking
    pending: str | None = None  # the question waiting for an answer (a slot, "feedback", "cancella")
    asked: list[str] = field(default_factory=list)  # questions asked for the current request (max 2)
    suggested_for: list[str] = field(default_factory=list)  # needs of the last suggestions shown
    offset: int = 0  # paging of "Altri servizi"
    suggested: list[dict[str, Any]] = field(default_factory=list)  # every service shown {id,name,org}
    misunderstood: int = 0  # messages not understood in a row
    offer: dict[str, Any] | None = None  # a handoff offer waiting for yes/no {reason, priority, needs}
    last_offer_reason: str | None = None
    offered: list[str] = field(default_factory=list)  # reasons already offered (never nag twice)
    handoff_id: int | None = None
    degraded: bool = False
    feedback: str | None = None  # "si"/"no" after a facilitator closed the case
    turns: int = 0  # inbound messages processed (tests use it to prove no update is lost)

    @classmethod
    def load(cls, raw: dict[str, Any] | None) -> DialogueState:
        if not raw:
            return cls()
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in names})

    def dump(self) -> dict[str, Any]:
        data = asdict(self)
        data["v"] = STATE_VERSION
        return data

    @property
    def on_behalf(self) -> bool:
        return self.for_whom == "other"

    def add_needs(self, needs: list[str] | tuple[str, ...]) -> None:
        for n in needs:
            if n not in self.all_needs:
                self.all_needs.append(n)

    def new_request(self, needs: list[str] | tuple[str, ...], text: str) -> None:
        """A new request resets the per-request memory but keeps what we know about the person."""
        self.needs = list(dict.fromkeys(needs))
        self.add_needs(self.needs)
        self.query_text = text[:500]
        self.asked = []
        self.offset = 0
        self.pending = None
        self.offer = None
        self.suggested_for = []
