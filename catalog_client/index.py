"""What the matcher knows of each service, computed once when a record enters the catalogue.

Everything costly (parsing service areas, stemming the texts, reading attributes, building the
card) happens here, so that a search is a few set look-ups and additions per candidate.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from catalog_client.cards import META_QUARTIERE, META_TARGET, Facts, Terms, facts_of, locations_of, to_card
from catalog_client.models import Service
from catalog_client.text import SYNONYMS, normalise, stems
from catalog_client.types import ServiceCard
from nlu.territory import TORINO_ISTAT, comune_by_istat, comuni, find_comune, find_quartiere, fold

METRO_COMUNI = 312
_ISTAT = re.compile(r"ISTAT\s*:\s*([0-9]{6}(?:\s*[,;]\s*[0-9]{6})*|TO|IT)\b", re.IGNORECASE)
_NATIONAL_NAMES = {"italia", "nazionale", "tutta italia", "territorio nazionale"}
_METRO_NAMES = {"citta metropolitana di torino", "provincia di torino", "area metropolitana di torino"}

# Who a service is for, and who a citizen asks for, as a few broad categories (stems of keywords).
TARGET_KEYWORDS: dict[str, tuple[str, ...]] = {
    "anziani": ("anzian", "over", "terza", "pensionat", "nonn", "ultra"),
    "minori": ("minor", "bambin", "ragazz", "infanzi", "adolescent", "neonat", "figl"),
    "giovani": ("giovan", "ragazz"),
    "famiglie": ("famigl", "genitor", "nucle", "figl"),
    "donne": ("donn", "madr", "mamm", "gestant"),
    "migranti": ("migrant", "stranier", "rifugiat", "richiedent", "immigrat"),
    "disabili": ("disabil", "invalid", "handicap", "non autosufficient"),
    "senza_dimora": ("dimor", "senzatett", "sfrattat"),
}
TARGET_LABELS: dict[str, str] = {
    "anziani": "anziani",
    "minori": "bambini e ragazzi",
    "giovani": "giovani",
    "famiglie": "famiglie",
    "donne": "donne",
    "migranti": "persone straniere",
    "disabili": "persone con disabilità",
    "senza_dimora": "persone senza casa",
}
_FIELD_WEIGHTS = {"name": 3.0, "alternate_name": 2.0, "targets": 1.5, "description": 1.0, "other": 0.6}


@lru_cache(maxsize=1)
def metro_codes() -> frozenset[str]:
    """ISTAT codes of the 312 comuni of the Città metropolitana di Torino."""
    return frozenset(c.istat for c in comuni())


def targets_in(text: str) -> frozenset[str]:
    """The target categories named in a free text ("per anziani soli" -> {"anziani"})."""
    found = set()
    tokens = stems(text)
    for category, keys in TARGET_KEYWORDS.items():
        for key in keys:
            if any(t.startswith(key) for t in tokens):
                found.add(category)
                break
    return frozenset(found)


@dataclass(frozen=True, slots=True)
class Area:
    """Where a service is offered: single comuni, the whole metropolitan city, or anywhere."""

    comuni: frozenset[str] = frozenset()
    metro: bool = False
    national: bool = False
    names: tuple[str, ...] = ()

    @property
    def breadth(self) -> int:
        if self.national:
            return 8000
        if self.metro:
            return METRO_COMUNI
        return max(1, len(self.comuni))

    def covers(self, istat: str) -> bool:
        return self.national or (self.metro and istat in metro_codes()) or istat in self.comuni


def area_of(service: Service) -> Area:
    if not service.service_areas:
        return Area(national=True)
    found: set[str] = set()
    metro = national = False
    names: list[str] = []
    for sa in service.service_areas:
        text = " ".join(x for x in (sa.description, sa.uri, sa.extent) if x)
        codes = [c for m in _ISTAT.finditer(text) for c in re.split(r"\s*[,;]\s*", m.group(1))]
        for code in codes:
            upper = code.upper()
            if upper == "TO":
                metro = True
            elif upper == "IT":
                national = True
            else:
                found.add(code)
        if not codes and sa.name:
            key = fold(sa.name)
            if key in _NATIONAL_NAMES:
                national = True
            elif key in _METRO_NAMES:
                metro = True
            elif (c := find_comune(sa.name)) is not None:
                found.add(c.istat)
        if sa.name:
            names.append(sa.name.strip())
    if not (found or metro or national):
        national = True  # areas we cannot read: never hide the service, rank it as wide
    return Area(comuni=frozenset(found), metro=metro, national=national, names=tuple(names))


@dataclass(frozen=True, slots=True)
class ServiceEntry:
    """One service as the matcher sees it."""

    id: str
    order: int
    active: bool
    card: ServiceCard
    needs: frozenset[str]
    area: Area
    quartieri: tuple[str, ...]  # Turin neighbourhoods whose own desk this is (canonical names)
    circoscrizioni: frozenset[int]
    min_age: float | None
    max_age: float | None
    targets: frozenset[str]
    stems: dict[str, float]  # stem -> weight of the strongest field it appears in
    coords: tuple[tuple[float, float], ...]


def _weighted_stems(service: Service, facts: Facts, organization: str) -> dict[str, float]:
    fields: list[tuple[str, str | None]] = [
        ("name", service.name),
        ("alternate_name", service.alternate_name),
        ("description", service.description),
        ("description", service.eligibility_description),
        ("targets", " ".join(facts.values(META_TARGET))),
        ("other", service.application_process),
        ("other", organization),
        ("other", " ".join(d.document or "" for d in service.required_documents)),
        ("other", " ".join(loc.name or "" for loc in locations_of(service))),
    ]
    out: dict[str, float] = {}
    for kind, text in fields:
        if not text:
            continue
        weight = _FIELD_WEIGHTS[kind]
        for s in stems(text):
            if out.get(s, 0.0) < weight:
                out[s] = weight
    return out


def build_entry(service: Service, terms: Terms, order: int, organization: str = "") -> ServiceEntry:
    facts = facts_of(service, terms)
    card = to_card(service, facts, organization)
    quartieri: list[str] = []
    circ: set[int] = set()
    for value in facts.values(META_QUARTIERE):
        q = find_quartiere(value)
        name = q.name if q else value.strip()
        if name and name not in quartieri:
            quartieri.append(name)
        if q:
            circ.add(q.circoscrizione)
    area = area_of(service)
    if quartieri and not area.covers(TORINO_ISTAT):
        area = Area(
            comuni=area.comuni | {TORINO_ISTAT}, metro=area.metro, national=area.national, names=area.names
        )
    targets = set(
        targets_in(" ".join(facts.values(META_TARGET)) + " " + (service.eligibility_description or ""))
    )
    if service.minimum_age is not None and service.minimum_age >= 60:
        targets.add("anziani")
    if service.maximum_age is not None and service.maximum_age <= 18:
        targets.add("minori")
    coords = tuple(
        (loc.latitude, loc.longitude)
        for loc in locations_of(service)
        if loc.latitude is not None and loc.longitude is not None
    )
    return ServiceEntry(
        id=service.id,
        order=order,
        active=(service.status or "active").strip().lower() == "active",
        card=card,
        needs=frozenset(facts.needs),
        area=area,
        quartieri=tuple(quartieri),
        circoscrizioni=frozenset(circ),
        min_age=service.minimum_age,
        max_age=service.maximum_age,
        targets=frozenset(targets),
        stems=_weighted_stems(service, facts, organization or card.organization),
        coords=coords,
    )


@dataclass(slots=True)
class Index:
    """The entries plus the corpus statistics word relevance needs (document frequencies)."""

    entries: dict[str, ServiceEntry] = field(default_factory=dict)
    by_need: dict[str, tuple[ServiceEntry, ...]] = field(default_factory=dict)
    idf: dict[str, float] = field(default_factory=dict)
    _expansions: dict[str, dict[str, float]] = field(default_factory=dict)
    _by_length: dict[int, list[str]] = field(default_factory=dict)

    def rebuild(self, entries: Iterable[ServiceEntry]) -> None:
        self.entries = {e.id: e for e in sorted(entries, key=lambda e: e.order)}
        by_need: dict[str, list[ServiceEntry]] = {}
        df: Counter[str] = Counter()
        for e in self.entries.values():
            df.update(e.stems.keys())
            if e.active:
                for need in e.needs:
                    by_need.setdefault(need, []).append(e)
        n = max(1, len(self.entries))
        self.idf = {s: math.log(1.0 + n / c) for s, c in df.items()}
        self.by_need = {k: tuple(v) for k, v in by_need.items()}
        self._expansions = {}
        by_length: dict[int, list[str]] = {}
        for s in self.idf:
            by_length.setdefault(len(s), []).append(s)
        self._by_length = by_length

    def expand(self, query_stem: str, *, synonyms: bool = True) -> dict[str, float]:
        """Catalogue stems a citizen's stem stands for, with a confidence factor.

        Exact stem 1.0; a stem that extends it or that it extends (both at least 4 letters:
        "odontoiatr" / "odontoiatric") 0.7; an everyday synonym ("dentista" -> "dentistic") 0.6.
        Words the catalogue never uses expand to nothing and are then ignored.
        """
        key = query_stem if synonyms else "=" + query_stem
        cached = self._expansions.get(key)
        if cached is not None:
            return cached
        out: dict[str, float] = {}
        if query_stem in self.idf:
            out[query_stem] = 1.0
        if len(query_stem) >= 4:
            for length, group in self._by_length.items():
                if length < 4 or length == len(query_stem):
                    continue
                for s in group:
                    if s.startswith(query_stem) or (length < len(query_stem) and query_stem.startswith(s)):
                        out.setdefault(s, 0.7)
        for syn in SYNONYMS.get(query_stem, ()) if synonyms else ():
            if syn in self.idf:
                out.setdefault(syn, 0.6)
        if len(self._expansions) > 4096:
            self._expansions.clear()
        self._expansions[key] = out
        return out


def normalised_quartiere(text: str | None) -> str | None:
    """A Turin neighbourhood's canonical name, or the folded text when it is not one we know."""
    if not text:
        return None
    q = find_quartiere(text)
    return q.name if q else normalise(text)


def comune_name(istat: str) -> str:
    c = comune_by_istat(istat)
    return c.name if c else istat
