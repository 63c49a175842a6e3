"""Service cards for every channel: a plain-text rendering and the structured ``custom`` entry.

Why both: the web widget draws cards (with tappable ``tel:`` links) from ``custom``; Telegram and any
Rasa-REST client read ``text``. Both come from the same ``ServiceCard``, so they never disagree.
"""

from __future__ import annotations

import re
from typing import Any

from bot import texts
from catalog_client.types import Match, Phone, ServiceCard


def display_number(number: str) -> str:
    """``+390114013111`` -> ``011 4013111``: how an Italian reads and dials a number."""
    if number.startswith("+39") and len(number) > 6:
        local = number[3:]
        if local.startswith("0") and len(local) > 4:
            cut = 3 if local.startswith("01") else 4
            return f"{local[:cut]} {local[cut:]}"
        if local.startswith("3") and len(local) == 10:
            return f"{local[:3]} {local[3:]}"
        return local
    return number


def tel_uri(number: str) -> str:
    digits = re.sub(r"[^\d+]", "", number)
    return f"tel:{digits}" if digits else ""


def phone_entry(p: Phone) -> dict[str, str]:
    return {"number": display_number(p.number), "tel": tel_uri(p.number), "description": p.description}


def who_line(who_for: str) -> str:
    """ "Per chi: ..." unless the catalogue's sentence already says it ("Per persone dai 65 anni")."""
    who = who_for.strip()
    m = re.match(r"per\s*:\s*(.*)", who, re.IGNORECASE | re.DOTALL)
    if m:
        return f"{texts.CARD_WHO}: {m.group(1)}"
    if who.lower().startswith("per "):
        return who
    return f"{texts.CARD_WHO}: {who}"


def card_text(index: int, card: ServiceCard) -> str:
    """One card as a few short lines: what it is, who it is for, how to reach it."""
    head = f"{index}. {card.name}"
    if card.organization and card.organization != card.name:
        head += f" – {card.organization}"
    lines = [head]
    if card.description:
        lines.append(card.description)
    if card.who_for:
        lines.append(who_line(card.who_for))
    if card.how_to_access:
        lines.append(f"{texts.CARD_HOW}: {card.how_to_access}")
    if card.phones:
        numbers = ", ".join(
            display_number(p.number) + (f" ({p.description})" if p.description else "")
            for p in card.phones[:3]
        )
        lines.append(f"{texts.CARD_PHONE}: {numbers}")
    if card.hours:
        lines.append(f"{texts.CARD_HOURS}: {card.hours}")
    if card.address:
        lines.append(f"{texts.CARD_ADDRESS}: {card.address}")
    if not card.phones and card.email:
        lines.append(f"{texts.CARD_EMAIL}: {card.email}")
    if not card.phones and not card.email and card.url:
        lines.append(f"{texts.CARD_WEB}: {card.url}")
    if card.to_verify:
        lines.append(texts.CARD_TO_VERIFY)
    return "\n".join(lines)


def card_custom(match: Match) -> dict[str, Any]:
    """The ``services[]`` entry of the web payload (see bot/schemas/custom.schema.json)."""
    c = match.service
    entry: dict[str, Any] = {
        "id": c.id,
        "name": c.name,
        "organization": c.organization,
        "description": c.description,
        "needs": list(c.needs),
        "why": match.why,
        "who_for": c.who_for,
        "how_to_access": c.how_to_access,
        "phones": [phone_entry(p) for p in c.phones],
        "hours": c.hours,
        "address": c.address,
        "email": c.email,
        "url": c.url,
        "to_verify": c.to_verify,
    }
    return entry


def services_message(intro: str, matches: list[Match], start: int = 1) -> str:
    body = "\n\n".join(card_text(start + i, m.service) for i, m in enumerate(matches))
    return f"{intro}\n\n{body}\n\n{texts.SERVICES_OUTRO}"


def summary_entry(card: ServiceCard) -> dict[str, str]:
    """What the handoff keeps of a suggested service: enough for a facilitator to recognise it."""
    return {"id": card.id, "name": card.name, "organization": card.organization}
