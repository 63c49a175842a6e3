"""Shapes the dialogue engine and the console use to talk about services, whatever the HSDS source."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Phone:
    number: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class ServiceCard:
    """One service as a citizen should see it: every text in plain Italian, nothing invented."""

    id: str
    name: str
    organization: str
    description: str  # one sentence: what it does
    who_for: str = ""  # eligibility in plain words
    how_to_access: str = ""
    phones: tuple[Phone, ...] = ()
    email: str = ""
    url: str = ""
    address: str = ""
    hours: str = ""  # opening hours in words, only where the source gives them
    documents: tuple[str, ...] = ()  # what to bring
    cost: str = ""
    needs: tuple[str, ...] = ()
    source: str = ""
    to_verify: bool = False
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True, slots=True)
class MatchQuery:
    needs: tuple[str, ...]
    text: str = ""
    comune_istat: str | None = None
    quartiere: str | None = None
    eta: int | None = None
    for_whom: str | None = None  # e.g. "mia madre", "un bambino": used for eligibility hints
    latitude: float | None = None
    longitude: float | None = None
    limit: int = 3
    offset: int = 0


@dataclass(frozen=True, slots=True)
class Match:
    service: ServiceCard
    score: float
    reasons: tuple[str, ...] = field(default_factory=tuple)  # Italian, readable by a facilitator

    @property
    def why(self) -> str:
        return "; ".join(self.reasons)


@dataclass(frozen=True, slots=True)
class CatalogStatus:
    source: str  # "embedded", "remote" or "snapshot"
    data_as_of: datetime | None  # how fresh the data is


class Catalog(Protocol):
    """What the dialogue needs from a catalogue (embedded or remote HSDS API with snapshot)."""

    async def match(self, query: MatchQuery) -> list[Match]: ...

    async def get(self, service_id: str) -> ServiceCard | None: ...

    async def status(self) -> CatalogStatus: ...
