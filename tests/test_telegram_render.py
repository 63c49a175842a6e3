"""Telegram rendering: HTML escaped, long messages split, callback data within 64 bytes, phones
tappable, service cards complete and forwardable one by one."""

from __future__ import annotations

import html
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot import texts
from bot.telegram_render import MAX_MESSAGE, keyboard, render, split_text, utf16_len
from bot.types import Button, Outbound, StoredMessage

TAG = re.compile(r"</?(b|i|a)( href=\"[^\"]*\")?>")


def visible(html_text: str) -> str:
    """What the person reads: our tags removed, entities decoded (as Telegram does)."""
    return html.unescape(TAG.sub("", html_text))


def stored(text: str, **kw: Any) -> StoredMessage:
    return StoredMessage(
        id=1, conversation_id=1, direction="out", author=str(kw.pop("author", "bot")), text=text, **kw
    )


def test_citizen_and_catalogue_text_is_escaped() -> None:
    [m] = render(Outbound(text='<script>alert("x")</script> & <b>niente</b>'))
    assert "<script>" not in m.html and "<b>" not in m.html
    assert m.html.startswith("&lt;script&gt;")
    assert visible(m.html) == '<script>alert("x")</script> & <b>niente</b>'


def test_long_messages_are_split_at_natural_boundaries_with_buttons_on_the_last() -> None:
    paragraph = "Una frase semplice e chiara. " * 40
    body = "\n\n".join(f"{i}. {paragraph}" for i in range(12))
    parts = render(Outbound(text=body, buttons=(Button("Altri servizi", "/altri"),)))
    assert len(parts) >= 2
    assert all(utf16_len(visible(p.html)) <= MAX_MESSAGE for p in parts)
    assert all(not p.keyboard for p in parts[:-1]) and parts[-1].keyboard
    assert parts[1].plain.split(".")[0].isdigit()  # cut between paragraphs, not mid-sentence
    assert " ".join(" ".join(p.plain.split()) for p in parts) == " ".join(body.split())


def test_emoji_count_twice_towards_the_limit() -> None:
    body = "🙂" * 3000  # 6000 UTF-16 units
    parts = split_text(body)
    assert len(parts) == 2 and all(utf16_len(p) <= MAX_MESSAGE for p in parts)
    assert "".join(parts) == body


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=0, max_size=9000))
def test_any_text_survives_rendering_within_limits(body: str) -> None:
    parts = render(Outbound(text=body))
    assert parts
    for p in parts:
        assert utf16_len(visible(p.html)) <= MAX_MESSAGE
        assert visible(p.html) == p.plain
    assert "".join("".join(p.plain.split()) for p in parts) == "".join(body.split())


def test_callback_data_too_long_is_dropped_and_short_buttons_pair_up() -> None:
    buttons = [Button(f"Voce {i}", f"/bisogno n{i}") for i in range(5)]
    buttons.append(Button("Vorrei parlare con una persona", "/persona"))
    buttons.append(Button("Troppo", "/x " + "a" * 70))
    buttons.append(Button("Accentata", "/è" * 40))  # 81 bytes in UTF-8
    rows = keyboard(buttons)
    flat = [b for row in rows for b in row]
    assert [b.title for b in flat] == [f"Voce {i}" for i in range(5)] + ["Vorrei parlare con una persona"]
    assert all(len((b.callback_data or "").encode()) <= 64 for b in flat)
    assert [len(r) for r in rows] == [2, 2, 1, 1]  # the long title gets a row of its own


def test_service_cards_one_per_message_with_tappable_phones_and_the_printable_page() -> None:
    service = {
        "id": "casa-1",
        "name": "Sportello <casa>",
        "organization": "Consorzio Ovest",
        "description": "Aiuta a cercare casa.",
        "who_for": "Chi abita a Collegno",
        "how_to_access": "Telefona",
        "phones": [{"number": "011 4013111", "tel": "tel:+390114013111", "description": "mattina"}],
        "hours": "lunedì 9-12",
        "address": "Via Roma 1, Collegno",
        "email": "",
        "url": "https://esempio.it",
        "to_verify": True,
        "needs": ["casa"],
        "why": "",
    }
    custom = {
        "type": "services",
        "needs": ["casa"],
        "services": [service, {**service, "id": "casa-2"}],
        "intro": "Ecco:",
    }
    msg = stored("testo piatto", custom=custom, buttons=(Button(texts.BTN_MORE_SERVICES, "/altri"),))
    parts = render(msg, page_url=lambda sid: f"https://bussola.example/servizi/{sid}")
    assert [visible(p.html).split("\n")[0] for p in parts] == [
        "Ecco:",
        "1. Sportello <casa>",
        "2. Sportello <casa>",
        texts.SERVICES_OUTRO,
    ]
    card = parts[1]
    assert "Sportello &lt;casa&gt;" in card.html
    assert "+39 011 4013111 (mattina)" in card.html  # international form: Telegram makes it tappable
    assert 'href="https://bussola.example/servizi/casa-1"' in card.html
    assert "Consorzio Ovest" in card.html and texts.CARD_TO_VERIFY in card.html
    assert "Via Roma 1, Collegno" in card.plain and "https://www.google.com/maps" in card.html
    assert not card.keyboard and parts[-1].keyboard[0][0].callback_data == "/altri"


def test_emergency_numbers_come_first_and_short_ones_stand_out() -> None:
    contacts = [
        {"name": name, "phone": phone, "tel": tel, "description": what}
        for name, phone, tel, what in texts.EMERGENCY_CONTACTS
    ]
    [m] = render(stored(texts.emergency_text(), custom={"type": "emergency", "contacts": contacts}))
    lines = m.html.split("\n")
    assert "<b>112</b>" in lines[1] and "<b>1522</b>" in lines[2]
    assert "🚨 +39 0223 272327 – Telefono Amico" in m.html  # a full number: international, tappable


def test_facilitator_messages_carry_the_first_name_and_the_neighbour() -> None:
    msg = stored("Ti chiamo domani <3", author="facilitator", author_name="Giulia")
    [m] = render(msg)
    assert m.html.startswith("<b>Giulia ti scrive:</b>\n") and "Ti chiamo domani &lt;3" in m.html
    [m] = render(msg, label="Fatima")
    assert m.plain.startswith("Giulia ti scrive (per Fatima):\nTi chiamo domani <3")


def test_a_volunteers_messages_say_which_neighbour_they_are_about() -> None:
    [m] = render(
        stored("Dove abita la persona che aiuti?", buttons=(Button("Torino", "/comune 001272"),)),
        label="Rosa",
    )
    assert m.html == "<i>Per Rosa</i>\nDove abita la persona che aiuti?" and m.keyboard
    service = {"id": "s", "name": "Sportello", "organization": "", "description": "", "phones": []}
    custom = {"type": "services", "needs": ["casa"], "services": [service], "intro": "Ecco:"}
    parts = render(stored("x", custom=custom), label="Rosa")
    assert parts[0].plain == "Per Rosa\nEcco:" and "Rosa" not in parts[1].plain  # the card stays forwardable
