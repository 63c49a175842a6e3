"""Turn a stored bot, facilitator or system message into Telegram messages (HTML parse mode).

Why a module of pure functions: rendering is where Telegram's rules bite (HTML escaping, 4096
characters, 64-byte callback data) and where readability for a person on a cheap phone is decided, so
it is tested without any network. ``bot.telegram`` turns the result into PTB objects.

Rules:
- Every piece of text that came from a person or the catalogue is HTML-escaped; only our own tags
  (<b>, <i>, <a href>) are added.
- A message longer than Telegram's limit is split at paragraph, line, sentence or word boundaries;
  buttons go on the last part.
- Service cards are sent one per message, each complete in itself (name, organisation, what it
  does, who it is for, how to access it, phones, hours, address, the printable page), so a volunteer
  can forward one card to a neighbour. Phone numbers are written in international form, which
  Telegram turns into tappable links; short national numbers (112, 1522) are in bold.
- Buttons whose payload does not fit Telegram's 64-byte callback data are dropped (the engine never
  makes such payloads; this only guards against a future bug turning into a rejected message).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

from bot import texts
from bot.dialogue.cards import display_number

MAX_MESSAGE = 4096  # Telegram's limit, after entity parsing
MAX_CALLBACK_BYTES = 64
WIDE_BUTTON_CHARS = 20  # buttons with longer titles get a row of their own

PageUrl = Callable[[str], str | None]

# --- copy (Telegram-only wording) ---------------------------------------------------------------

FACILITATOR_HEADER = "{name} ti scrive"
FOR_NEIGHBOUR = "Per {name}"
FOR_NEIGHBOUR_INLINE = "per {name}"
PRINTABLE_PAGE = "Scheda da stampare o inoltrare"
MAP_LINK = "apri la mappa"


@dataclass(frozen=True, slots=True)
class TgButton:
    title: str
    callback_data: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class TgMessage:
    """One Telegram message: ``html`` for parse_mode=HTML, ``plain`` if Telegram rejects the HTML."""

    html: str
    plain: str
    keyboard: tuple[tuple[TgButton, ...], ...] = ()


def esc(text: str) -> str:
    """Telegram's HTML mode needs &, < and > escaped (quotes only inside attributes)."""
    return html.escape(text or "", quote=False)


def attr(text: str) -> str:
    return html.escape(text or "", quote=True)


def utf16_len(text: str) -> int:
    """Telegram counts lengths in UTF-16 code units: an emoji may count twice."""
    return len(text.encode("utf-16-le")) // 2


def _fitting_prefix(text: str, limit: int) -> int:
    """The number of characters of ``text`` that fit in ``limit`` UTF-16 units."""
    units = 0
    for i, ch in enumerate(text):
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > limit:
            return i
    return len(text)


def split_text(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Split plain text into parts of at most ``limit`` UTF-16 units, at the most natural boundary."""
    text = (text or "").strip()
    parts: list[str] = []
    while utf16_len(text) > limit:
        fit = _fitting_prefix(text, limit)
        window = text[:fit]
        cut = -1
        for sep in ("\n\n", "\n", ". ", " "):
            at = window.rfind(sep)
            if at > fit // 2:
                cut = at + len(sep)
                break
        if cut <= 0:
            cut = fit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text or not parts:
        parts.append(text)
    return parts


def keyboard(buttons: Sequence[Any]) -> tuple[tuple[TgButton, ...], ...]:
    """Inline keyboard rows: one wide button per row, short ones two by two (big tap targets)."""
    usable = [
        TgButton(str(b.title), callback_data=str(b.payload))
        for b in buttons
        if b.payload
        and 0 < len(str(b.payload).encode("utf-8")) <= MAX_CALLBACK_BYTES
        and str(b.title).strip()
    ]
    if len(usable) <= 3:
        return tuple((b,) for b in usable)
    rows: list[tuple[TgButton, ...]] = []
    pending: TgButton | None = None
    for b in usable:
        if len(b.title) > WIDE_BUTTON_CHARS:
            if pending is not None:
                rows.append((pending,))
                pending = None
            rows.append((b,))
        elif pending is None:
            pending = b
        else:
            rows.append((pending, b))
            pending = None
    if pending is not None:
        rows.append((pending,))
    return tuple(rows)


def _plain_text_messages(
    text: str, buttons: Sequence[Any], head_html: str = "", head_plain: str = ""
) -> list[TgMessage]:
    """Escape and split ordinary text; an optional header (already HTML) goes on the first part."""
    head_len = utf16_len(head_plain) + 1 if head_plain else 0
    parts = split_text(text, MAX_MESSAGE - head_len)
    out = []
    for i, part in enumerate(parts):
        h = f"{head_html}\n" if head_html and i == 0 else ""
        p = f"{head_plain}\n" if head_plain and i == 0 else ""
        out.append(TgMessage(html=h + esc(part), plain=p + part))
    kb = keyboard(buttons)
    if kb:
        out[-1] = TgMessage(out[-1].html, out[-1].plain, kb)
    return out


# --- phones -------------------------------------------------------------------------------------


def phone_html(tel: str, display: str = "") -> str:
    """A number Telegram makes tappable: international form for full numbers, bold for short ones."""
    digits = re.sub(r"[^\d+]", "", tel[4:] if tel.startswith("tel:") else tel)
    if not digits:
        return esc(display)
    if digits.startswith("+39") and len(digits) > 6:
        return esc("+39 " + display_number(digits))
    if digits.startswith("+"):
        return esc(digits)
    if len(digits) <= 6:
        return f"<b>{esc(digits)}</b>"
    return esc(display or digits)


def phone_plain(tel: str, display: str = "") -> str:
    return html.unescape(re.sub(r"</?b>", "", phone_html(tel, display)))


# --- service cards --------------------------------------------------------------------------------


def _card_lines(index: int, card: dict[str, Any], page_url: PageUrl | None) -> tuple[list[str], list[str]]:
    """(html lines, plain lines) of one card."""
    name = str(card.get("name") or "")
    org = str(card.get("organization") or "")
    h: list[str] = [f"<b>{index}. {esc(name)}</b>"]
    p: list[str] = [f"{index}. {name}"]
    if org and org != name:
        h.append(f"<i>{esc(org)}</i>")
        p.append(org)
    if card.get("description"):
        h.append(esc(str(card["description"])))
        p.append(str(card["description"]))
    for label, key in ((texts.CARD_WHO, "who_for"), (texts.CARD_HOW, "how_to_access")):
        if card.get(key):
            h.append(f"<b>{esc(label)}:</b> {esc(str(card[key]))}")
            p.append(f"{label}: {card[key]}")
    phones = [ph for ph in card.get("phones") or () if isinstance(ph, dict)][:3]
    for ph in phones:
        tel, display = str(ph.get("tel") or ""), str(ph.get("number") or "")
        desc = f" ({ph['description']})" if ph.get("description") else ""
        h.append(f"📞 {phone_html(tel, display)}{esc(desc)}")
        p.append(f"{texts.CARD_PHONE}: {phone_plain(tel, display)}{desc}")
    if card.get("hours"):
        h.append(f"🕒 <b>{esc(texts.CARD_HOURS)}:</b> {esc(str(card['hours']))}")
        p.append(f"{texts.CARD_HOURS}: {card['hours']}")
    if card.get("address"):
        address = str(card["address"])
        maps = "https://www.google.com/maps/search/?api=1&query=" + quote_plus(address)
        h.append(f'📍 {esc(address)} (<a href="{attr(maps)}">{MAP_LINK}</a>)')
        p.append(f"{texts.CARD_ADDRESS}: {address}")
    if not phones and card.get("email"):
        h.append(f"✉️ {esc(str(card['email']))}")
        p.append(f"{texts.CARD_EMAIL}: {card['email']}")
    url = str(card.get("url") or "")
    if url.startswith(("https://", "http://")):
        h.append(f'🌐 <a href="{attr(url)}">{esc(texts.CARD_WEB)}</a>')
        p.append(f"{texts.CARD_WEB}: {url}")
    if card.get("to_verify"):
        h.append(f"<i>{esc(texts.CARD_TO_VERIFY)}</i>")
        p.append(texts.CARD_TO_VERIFY)
    page = page_url(str(card.get("id") or "")) if page_url and card.get("id") else None
    if page:
        h.append(f'🖨 <a href="{attr(page)}">{PRINTABLE_PAGE}</a>')
        p.append(f"{PRINTABLE_PAGE}: {page}")
    return h, p


def service_card(index: int, card: dict[str, Any], page_url: PageUrl | None = None) -> list[TgMessage]:
    h, p = _card_lines(index, card, page_url)
    html_text, plain = "\n".join(h), "\n".join(p)
    if utf16_len(plain) <= MAX_MESSAGE - 200:  # the HTML tags do not count, the links' text does
        return [TgMessage(html_text, plain)]
    return _plain_text_messages(plain, ())


def _services(msg: Any, custom: dict[str, Any], page_url: PageUrl | None) -> list[TgMessage] | None:
    cards = [c for c in custom.get("services") or () if isinstance(c, dict)]
    if not cards:
        return None
    start = int(custom.get("offset") or 0) + 1
    out: list[TgMessage] = []
    intro = str(custom.get("intro") or "")
    if intro:
        out += _plain_text_messages(intro, ())
    for i, c in enumerate(cards):
        out += service_card(start + i, c, page_url)
    out += _plain_text_messages(texts.SERVICES_OUTRO, msg.buttons)
    return out


def _emergency(msg: Any, custom: dict[str, Any]) -> list[TgMessage] | None:
    contacts = [c for c in custom.get("contacts") or () if isinstance(c, dict)]
    if not contacts:
        return None
    first = (msg.text or "").split("\n", 1)[0]
    h, p = [f"<b>{esc(first)}</b>"], [first]
    for c in contacts:
        tel, phone = str(c.get("tel") or ""), str(c.get("phone") or "")
        what = f" ({c['description']})" if c.get("description") else ""
        h.append(f"🚨 {phone_html(tel, phone)} – {esc(str(c.get('name') or ''))}{esc(what)}")
        p.append(f"{phone_plain(tel, phone)} – {c.get('name') or ''}{what}")
    return [TgMessage("\n".join(h), "\n".join(p), keyboard(msg.buttons))]


def _labelled(parts: list[TgMessage], label: str) -> list[TgMessage]:
    """Put "Per Fatima" on top of the first part (a card forwarded to Fatima stays clean)."""
    head = FOR_NEIGHBOUR.format(name=label)
    first = parts[0]
    if utf16_len(first.plain) + utf16_len(head) + 1 > MAX_MESSAGE:
        return [TgMessage(f"<i>{esc(head)}</i>", head), *parts]
    return [
        TgMessage(f"<i>{esc(head)}</i>\n{first.html}", f"{head}\n{first.plain}", first.keyboard),
        *parts[1:],
    ]


def render(msg: Any, *, page_url: PageUrl | None = None, label: str | None = None) -> list[TgMessage]:
    """One stored message (``bot.types.StoredMessage`` or ``Outbound``) as Telegram messages.

    ``label`` names the neighbour a volunteer is helping: with several neighbours at once, every
    message says whose conversation it belongs to.
    """
    custom = msg.custom if isinstance(getattr(msg, "custom", None), dict) else {}
    author = getattr(msg, "author", "bot")
    kind = custom.get("type")
    if author == "facilitator" or kind == "facilitator_message":
        name = str(getattr(msg, "author_name", None) or custom.get("author") or "Un operatore")
        head = FACILITATOR_HEADER.format(name=name)
        if label:
            head += f" ({FOR_NEIGHBOUR_INLINE.format(name=label)})"
        return _plain_text_messages(msg.text, msg.buttons, f"<b>{esc(head)}:</b>", f"{head}:")
    parts: list[TgMessage] | None = None
    if kind == "services":
        parts = _services(msg, custom, page_url)
    elif kind == "emergency":
        parts = _emergency(msg, custom)
    if not parts:
        parts = _plain_text_messages(msg.text, msg.buttons)
    return _labelled(parts, label) if label else parts
