"""From an HSDS service to a ``ServiceCard``: what a citizen reads, in plain Italian, nothing invented.

Only what the record says is shown. Hours come from schedules only where present; phones are put
in a form a phone can dial when tapped; the source and the "to verify" mark travel with the card so
that the bot can be honest about them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from catalog_client.models import Attribute, Location, Schedule, Service, Taxonomy, TaxonomyTerm
from catalog_client.types import Phone, ServiceCard
from nlu.types import NEED_INTENTS

NEEDS_TAXONOMY = "bussola-bisogni"
META_TAXONOMY = "bussola-meta"
META_SOURCE = "fonte"
META_TO_VERIFY = "da_verificare"
META_QUARTIERE = "quartiere"
META_TARGET = "destinatari"

_DAYS = {
    "MO": "lunedì",
    "TU": "martedì",
    "WE": "mercoledì",
    "TH": "giovedì",
    "FR": "venerdì",
    "SA": "sabato",
    "SU": "domenica",
}
_DAY_ORDER = list(_DAYS)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-ZÀ-Ý0-9«\"(])")
_MAX_SENTENCE = 240


@dataclass(slots=True)
class Terms:
    """Taxonomy terms and taxonomies by id, to read what a service's attributes mean."""

    terms: dict[str, TaxonomyTerm] = field(default_factory=dict)
    taxonomies: dict[str, Taxonomy] = field(default_factory=dict)

    def resolve(self, attr: Attribute) -> TaxonomyTerm | None:
        if attr.taxonomy_term_id and attr.taxonomy_term_id in self.terms:
            return self.terms[attr.taxonomy_term_id]
        return attr.taxonomy_term

    def taxonomy_name(self, term: TaxonomyTerm) -> str:
        if term.taxonomy:
            return term.taxonomy
        if term.taxonomy_detail is not None and term.taxonomy_detail.name:
            return term.taxonomy_detail.name
        if term.taxonomy_id and term.taxonomy_id in self.taxonomies:
            return self.taxonomies[term.taxonomy_id].name
        return ""

    def need_label(self, code: str) -> str:
        """The Italian name of a need, as the catalogue's taxonomy spells it."""
        for term in self.terms.values():
            if term.code == code and self.taxonomy_name(term) in (NEEDS_TAXONOMY, ""):
                return term.name or code
        return code.replace("_", " ")


@dataclass(frozen=True, slots=True)
class Facts:
    """What a service's attributes say: the needs it answers and the bussola-meta values."""

    needs: tuple[str, ...]
    meta: Mapping[str, tuple[str, ...]]

    def values(self, code: str) -> tuple[str, ...]:
        return self.meta.get(code, ())


def facts_of(service: Service, terms: Terms) -> Facts:
    needs: list[str] = []
    meta: dict[str, list[str]] = {}
    for attr in service.attributes:
        term = terms.resolve(attr)
        if term is None or not term.code:
            continue
        taxonomy = terms.taxonomy_name(term)
        if term.code in NEED_INTENTS and taxonomy in (NEEDS_TAXONOMY, ""):
            if term.code not in needs:
                needs.append(term.code)
        elif taxonomy in (META_TAXONOMY, "") and attr.value is not None:
            meta.setdefault(term.code, []).append(attr.value.strip())
    return Facts(needs=tuple(needs), meta={k: tuple(v) for k, v in meta.items()})


def dialable(raw: str) -> str:
    """A number a phone can call when tapped: national short numbers as they are, others +39."""
    text = raw.strip().strip('"').strip()
    plus = text.startswith("+")
    digits = re.sub(r"\D", "", text)
    if not digits:
        return ""
    if plus:
        return "+" + digits
    if digits.startswith("00"):
        return "+" + digits[2:]
    if len(digits) <= 6 or digits.startswith(("800", "803", "892", "199", "848")):
        return digits  # emergency and toll-free numbers: not reachable with a country prefix
    if digits.startswith(("0", "3")):
        return "+39" + digits
    return digits


def first_sentence(text: str | None) -> str:
    """The first sentence of a description, kept short for a small screen."""
    if not text:
        return ""
    text = " ".join(text.split())
    sentence = _SENTENCE_END.split(text, maxsplit=1)[0]
    if len(sentence) <= _MAX_SENTENCE:
        return sentence
    cut = sentence[:_MAX_SENTENCE].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"


def _clock(value: str | None) -> str:
    """ "09:00:00" -> "9", "14:30" -> "14:30"."""
    if not value:
        return ""
    m = re.match(r"^\s*(\d{1,2})[:.](\d{2})", value)
    if not m:
        return value.strip()
    hours, minutes = int(m.group(1)), m.group(2)
    return f"{hours}" if minutes == "00" else f"{hours}:{minutes}"


def _days_in_words(byday: str) -> str:
    codes = [d.strip().upper()[-2:] for d in byday.split(",") if d.strip()]
    codes = sorted({c for c in codes if c in _DAYS}, key=_DAY_ORDER.index)
    if not codes:
        return ""
    idx = [_DAY_ORDER.index(c) for c in codes]
    if len(codes) >= 3 and idx == list(range(idx[0], idx[-1] + 1)):
        return f"dal {_DAYS[codes[0]]} al {_DAYS[codes[-1]]}"
    names = [_DAYS[c] for c in codes]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " e " + names[-1]


def hours_in_words(schedules: Iterable[Schedule]) -> str:
    """Opening hours from HSDS schedules, in words; empty when no schedule says anything."""
    parts: list[str] = []
    for s in schedules:
        days = _days_in_words(s.byday or "") if s.byday else ""
        opens, closes = _clock(s.opens_at), _clock(s.closes_at)
        if days and opens and closes:
            part = f"{days} dalle {opens} alle {closes}"
        elif days and s.description:
            part = f"{days}: {s.description.strip().rstrip('.')}"
        elif s.description:
            part = s.description.strip().rstrip(".")
        elif days:
            part = days
        else:
            continue
        if s.notes:
            part += f" ({s.notes.strip().rstrip('.')})"
        if part not in parts:
            parts.append(part)
    if not parts:
        return ""
    text = "; ".join(parts)
    return text[0].upper() + text[1:]


def _address(loc: Location) -> str:
    for addr in loc.addresses:
        if addr.address_type in (None, "physical") and addr.address_1:
            city = " ".join(x for x in (addr.postal_code, addr.city) if x)
            street = ", ".join(x for x in (addr.address_1, addr.address_2 or "") if x)
            place = f"{street}, {city}" if city else street
            return f"{loc.name} – {place}" if loc.name else place
    return ""


def _cost(service: Service) -> str:
    if service.fees_description:
        return service.fees_description.strip()
    parts = []
    for c in service.cost_options:
        if c.amount == 0 and not c.option:
            parts.append("Gratuito")
            continue
        amount = ""
        if c.amount is not None:
            amount = (
                f"{c.amount:g} €" if (c.currency or "EUR").upper() == "EUR" else f"{c.amount:g} {c.currency}"
            )
        bits = [b for b in (c.option, amount, c.amount_description) if b]
        if bits:
            parts.append(": ".join(bits[:2]) + (f" ({bits[2]})" if len(bits) > 2 else ""))
    return "; ".join(parts)


def _who_for(service: Service, facts: Facts) -> str:
    if service.eligibility_description:
        return service.eligibility_description.strip()
    lo, hi = service.minimum_age, service.maximum_age
    if lo and hi:
        return f"Per persone dai {lo:g} ai {hi:g} anni."
    if lo:
        return f"Per persone dai {lo:g} anni in su."
    if hi:
        return f"Per persone fino a {hi:g} anni."
    targets = facts.values(META_TARGET)
    return ("Per: " + ", ".join(targets) + ".") if targets else ""


def _phones(service: Service) -> tuple[Phone, ...]:
    seen: set[str] = set()
    out: list[Phone] = []
    sources = [service.phones]
    for sal in service.service_at_locations:
        sources.append(sal.phones)
        if sal.location is not None:
            sources.append(sal.location.phones)
    if service.organization is not None:
        sources.append(service.organization.phones)
    for phones in sources:
        for p in phones:
            number = dialable(p.number)
            if not number or number in seen:
                continue
            seen.add(number)
            out.append(Phone(number=number, description=(p.description or "").strip()))
    return tuple(out)


def locations_of(service: Service) -> list[Location]:
    return [sal.location for sal in service.service_at_locations if sal.location is not None]


def to_card(service: Service, facts: Facts, organization_name: str = "") -> ServiceCard:
    """The citizen-facing card of one service."""
    locations = locations_of(service)
    schedules = list(service.schedules)
    for sal in service.service_at_locations:
        schedules.extend(sal.schedules)
        if sal.location is not None:
            schedules.extend(sal.location.schedules)
    coords = next(
        (
            (loc.latitude, loc.longitude)
            for loc in locations
            if loc.latitude is not None and loc.longitude is not None
        ),
        (None, None),
    )
    org = organization_name or (service.organization.name if service.organization else "")
    email = service.email or (service.organization.email if service.organization else None) or ""
    url = service.url or (service.organization.website if service.organization else None) or ""
    to_verify = any(
        v.strip().lower() in {"true", "si", "sì", "1", "yes"} for v in facts.values(META_TO_VERIFY)
    )
    return ServiceCard(
        id=service.id,
        name=service.name.strip(),
        organization=org.strip(),
        description=first_sentence(service.description),
        who_for=_who_for(service, facts),
        how_to_access=(service.application_process or "").strip(),
        phones=_phones(service),
        email=email.strip(),
        url=url.strip(),
        address=next((a for a in (_address(loc) for loc in locations) if a), ""),
        hours=hours_in_words(schedules),
        documents=tuple(d.document.strip() for d in service.required_documents if d.document),
        cost=_cost(service),
        needs=facts.needs,
        source="; ".join(dict.fromkeys(facts.values(META_SOURCE))),
        to_verify=to_verify,
        latitude=coords[0],
        longitude=coords[1],
    )
