"""From what a citizen needs, where and for whom, to a ranked list of services with reasons.

Ranking, in order of weight:

1. need: only services tagged with one of the asked needs are candidates (more needs, more points);
2. territory: a service whose area does not cover the citizen's comune is left out; among the rest
   the neighbourhood's own Case del Quartiere desk comes first in Turin, then services of the comune
   (the fewer comuni a service covers, the more local it is), then metropolitan and national ones;
3. eligibility: outside the age range means left out; a stated target that fits earns points;
4. words: the citizen's own words found in the service's texts (accent- and case-insensitive, light
   stemming, a few everyday synonyms), weighted by how rare each word is in the catalogue;
5. distance, when Telegram shares a location.

``emergenza`` always brings the emergency lines (national numbers: 112, 1522, 114…) first,
wherever the citizen is.
Reasons are short Italian phrases a facilitator can read ("copre Collegno", "per over 65").
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from catalog_client.cards import Terms
from catalog_client.index import TARGET_LABELS, Index, ServiceEntry, comune_name, targets_in
from catalog_client.text import query_terms
from catalog_client.types import Match, MatchQuery
from nlu.territory import TORINO_ISTAT, find_comune, find_quartiere
from nlu.types import NEED_INTENTS

EMERGENCY = "emergenza"
NEED_POINTS = 100.0
EXTRA_NEED_POINTS = 15.0
EMERGENCY_LINE_POINTS = 200.0
WORD_POINTS = 40.0
DISTANCE_POINTS = 30.0
DISTANCE_SCALE_KM = 3.0
MAX_LIMIT = 100
SPECIFICITY_POINTS = 6.0
EMERGENCY_LINE_PENALTY = 8.0

_NEED_TARGETS = {
    "anziani": "anziani",
    "disabilita": "disabili",
    "migranti": "migranti",
    "famiglia": "famiglie",
}
_ELDERLY_WORDS = ("madre", "padre", "mamma", "papa", "nonna", "nonno", "suocera", "suocero", "zia", "zio")


def _age_label(lo: float | None, hi: float | None) -> str:
    if lo and hi:
        return f"dai {lo:g} ai {hi:g} anni"
    if lo:
        return f"per over {lo:g}" if lo >= 60 else f"dai {lo:g} anni in su"
    if hi:
        return f"per minori di {hi:g} anni" if hi <= 18 else f"fino a {hi:g} anni"
    return ""


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(min(1.0, math.sqrt(a)))


def _distance_words(km: float) -> str:
    if km < 1:
        return f"a {max(50, round(km * 1000, -1)):.0f} m"
    return f"a {km:.1f} km".replace(".", ",")


def _list(names: Iterable[str], limit: int = 3) -> str:
    items = list(names)
    text = ", ".join(items[:limit])
    return text + ("…" if len(items) > limit else "")


class _Query:
    """A MatchQuery resolved once: canonical place, target categories, stems and their expansions."""

    def __init__(self, query: MatchQuery, index: Index) -> None:
        self.needs = tuple(dict.fromkeys(n for n in query.needs if n in NEED_INTENTS))
        comune = (query.comune_istat or "").strip() or None
        if comune and not comune.isdigit():
            found = find_comune(comune)  # tolerate a name where a code was expected
            comune = found.istat if found else None
        elif comune:
            comune = comune.zfill(6)
        q = find_quartiere(query.quartiere) if query.quartiere else None
        if q is not None and comune is None:
            comune = TORINO_ISTAT
        self.comune = comune
        self.comune_name = comune_name(comune) if comune else ""
        self.quartiere = q if comune == TORINO_ISTAT else None
        self.eta = query.eta if query.eta is not None and 0 <= query.eta <= 120 else None
        categories = set(targets_in(query.for_whom or ""))
        for_whom = (query.for_whom or "").lower()
        if any(w in for_whom for w in _ELDERLY_WORDS):
            categories.add("anziani")
        if self.eta is not None:
            if self.eta >= 65:
                categories.add("anziani")
            elif self.eta < 18:
                categories.add("minori")
            elif self.eta < 30:
                categories.add("giovani")
        categories.update(_NEED_TARGETS[n] for n in self.needs if n in _NEED_TARGETS)
        self.categories = frozenset(categories)
        self.terms = []
        self.norm = 0.0
        for s, word in query_terms(query.text or ""):
            expansion = index.expand(s)
            if not expansion:
                continue
            best = max(index.idf[v] * f for v, f in expansion.items())
            self.terms.append((word, expansion))
            self.norm += best * 2.0
        self.lat = query.latitude
        self.lon = query.longitude


def _neighbourhood(entry: ServiceEntry, q: _Query) -> tuple[float, str]:
    """Turin services tied to neighbourhoods: the citizen's own desk first, then nearby ones.

    A desk serves one or two neighbourhoods; a service listing many (the doti, offered where the
    Case del Quartiere work) is ranked a little below the citizen's own desk.
    """
    names = _list(entry.quartieri)
    desk = len(entry.quartieri) <= 2
    if q.quartiere is None:
        return 18.0, (f"sportello del quartiere {names} (Torino)" if desk else f"solo nei quartieri {names}")
    own = q.quartiere.name
    if own in entry.quartieri:
        return (50.0, f"sportello del quartiere {own}") if desk else (42.0, f"copre il quartiere {own}")
    if not desk:
        return 14.0, f"solo nei quartieri {names}"  # offered to their residents only
    if q.quartiere.circoscrizione in entry.circoscrizioni:
        return 32.0, f"sportello della circoscrizione {q.quartiere.circoscrizione} ({names})"
    return 16.0, f"sportello di un altro quartiere ({names})"


def _territory(entry: ServiceEntry, q: _Query, emergency_line: bool) -> tuple[float, str] | None:
    """Points and reason for where the service is offered; None when it is not offered there."""
    area = entry.area
    if emergency_line:
        return EMERGENCY_LINE_POINTS, "numero di emergenza, valido ovunque"
    if q.comune is None:
        if area.national:
            return 18.0, "servizio nazionale"
        if area.metro:
            return 20.0, "copre tutta la Città metropolitana"
        if entry.quartieri:
            return 8.0, f"solo a Torino, quartiere {_list(entry.quartieri)}"
        names = area.names or tuple(comune_name(c) for c in sorted(area.comuni))
        return 10.0, f"solo {_list(names)}"
    if not area.covers(q.comune):
        return None
    if q.comune == TORINO_ISTAT and entry.quartieri:
        return _neighbourhood(entry, q)
    if q.comune in area.comuni:
        return 40.0 - 8.0 * math.log10(area.breadth), f"copre {q.comune_name}"
    if area.metro:
        return 20.0, "copre tutta la Città metropolitana"
    return 12.0, "servizio nazionale"


def _eligibility(entry: ServiceEntry, q: _Query) -> tuple[float, list[str]] | None:
    """Points and reasons for who the service is for; None when the citizen's age is outside it."""
    lo, hi = entry.min_age, entry.max_age
    label = _age_label(lo, hi)
    points, reasons = 0.0, []
    if q.eta is not None:
        if (lo is not None and q.eta < lo) or (hi is not None and q.eta > hi):
            return None
        if label:
            points += 15.0
            reasons.append(label)
    elif label:
        fits = ("anziani" in q.categories and lo is not None and lo >= 60) or (
            "minori" in q.categories and hi is not None and hi <= 18
        )
        points += 10.0 if fits else -5.0
        reasons.append(label if fits else f"solo {label}")
    shared = sorted(entry.targets & q.categories)
    if shared:
        points += 10.0
        for cat in shared:
            if cat == "anziani" and lo is not None and lo >= 60:
                continue  # already said by the age label
            reasons.append(f"per {TARGET_LABELS[cat]}")
    return points, reasons


def _words(entry: ServiceEntry, q: _Query, index: Index) -> tuple[float, str]:
    if not q.terms or q.norm <= 0:
        return 0.0, ""
    raw = 0.0
    hits: list[str] = []
    for word, expansion in q.terms:
        best = 0.0
        for v, factor in expansion.items():
            weight = entry.stems.get(v)
            if weight is not None:
                best = max(best, factor * index.idf[v] * min(weight, 2.0))
        if best > 0:
            raw += best
            hits.append(word)
    if not hits:
        return 0.0, ""
    return WORD_POINTS * min(1.0, raw / q.norm), "parole: " + ", ".join(hits[:4])


def _score(entry: ServiceEntry, q: _Query, index: Index, terms: Terms) -> tuple[float, list[str]] | None:
    matched = [n for n in q.needs if n in entry.needs]
    # The emergency lines (112, 1522, 114…) answer anywhere: always first for `emergenza`.
    emergency_line = EMERGENCY in matched and (entry.area.national or entry.area.metro)
    territory = _territory(entry, q, emergency_line)
    if territory is None:
        return None
    eligibility = _eligibility(entry, q)
    if eligibility is None and not emergency_line:
        return None
    score = NEED_POINTS + EXTRA_NEED_POINTS * (len(matched) - 1) if matched else 0.0
    # A service devoted to few needs is more specific than a general desk: a tie-breaker only.
    score += SPECIFICITY_POINTS / max(1, len(entry.needs))
    reasons = []
    if matched:
        reasons.append("bisogno: " + ", ".join(terms.need_label(n) for n in matched))
    score += territory[0]
    reasons.append(territory[1])
    if eligibility is not None:
        score += eligibility[0]
        reasons.extend(eligibility[1])
    points, why = _words(entry, q, index)
    if why:
        score += points
        reasons.append(why)
    if q.lat is not None and q.lon is not None and entry.coords:
        km = min(_km(q.lat, q.lon, lat, lon) for lat, lon in entry.coords)
        score += DISTANCE_POINTS * math.exp(-km / DISTANCE_SCALE_KM)
        reasons.append(_distance_words(km))
    if EMERGENCY in entry.needs and EMERGENCY not in q.needs:
        score -= EMERGENCY_LINE_PENALTY  # helplines for emergencies come after everyday services
    if entry.card.to_verify:
        score -= 2.0
        reasons.append("dati da verificare")
    return score, reasons


def _diversify(ranked: list[Match], needs: tuple[str, ...], window: int) -> list[Match]:
    """With several needs, make sure the first ``window`` results answer each need at least once."""
    if len(needs) < 2 or window < 2:
        return ranked
    head: list[Match] = []
    taken: set[str] = set()
    for need in needs:
        best = next((m for m in ranked if need in m.service.needs), None)
        if best is not None and best.service.id not in taken and len(head) < window:
            head.append(best)
            taken.add(best.service.id)
    for m in ranked:
        if len(head) >= window:
            break
        if m.service.id not in taken:
            head.append(m)
            taken.add(m.service.id)
    head.sort(key=lambda m: -m.score)
    return head + [m for m in ranked if m.service.id not in taken]


def rank(index: Index, terms: Terms, query: MatchQuery) -> list[Match]:
    """Every matching service, best first (``match`` slices this)."""
    q = _Query(query, index)
    if q.needs:
        seen: set[str] = set()
        candidates: list[ServiceEntry] = []
        for need in q.needs:
            for e in index.by_need.get(need, ()):
                if e.id not in seen:
                    seen.add(e.id)
                    candidates.append(e)
    elif q.terms:
        candidates = [e for e in index.entries.values() if e.active]
    else:
        return []
    scored: list[tuple[float, int, Match]] = []
    for e in candidates:
        result = _score(e, q, index, terms)
        if result is None:
            continue
        score, reasons = result
        if not q.needs and not any(r.startswith("parole:") for r in reasons):
            continue
        scored.append((-score, e.order, Match(service=e.card, score=round(score, 2), reasons=tuple(reasons))))
    scored.sort(key=lambda t: (t[0], t[1]))
    ranked = [m for _, _, m in scored]
    window = max(1, min(query.limit, MAX_LIMIT))
    return _diversify(ranked, q.needs, window)


def match(index: Index, terms: Terms, query: MatchQuery) -> list[Match]:
    """The page of results ``query.offset`` … ``query.offset + query.limit`` of ``rank``."""
    limit = max(1, min(query.limit, MAX_LIMIT))
    offset = max(0, query.offset)
    return rank(index, terms, query)[offset : offset + limit]
