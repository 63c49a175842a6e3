"""Button payloads: short, stable strings that come back as the next message when a button is pressed.

Why strings and not ids of stored menus: a payload must still make sense after a restart, in an old
Telegram message, or typed by hand in a REST client. Each is ``/command`` or ``/command argument``,
at most 64 bytes (Telegram's callback-data limit). Telegram's bot commands (``/start``, ``/aiuto``,
``/operatore``, ``/privacy``, ``/cancella``, ``/stop``) use the same grammar.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot import texts
from bot.types import Button
from nlu.types import NEED_INTENTS

MAX_PAYLOAD_BYTES = 64

START = "/start"
HELP = "/aiuto"
PRIVACY = "/privacy"
DELETE = "/cancella"
DELETE_YES = "/cancella si"
DELETE_NO = "/cancella no"
STOP = "/stop"
FOR_ME = "/per_me"
FOR_OTHER = "/per_altri"
PERSON = "/persona"
MORE = "/altri"
ELSE = "/altro"
HANDOFF_YES = "/handoff si"
HANDOFF_NO = "/handoff no"
SKIP = "/salta"
DEST_ME = "/dest me"
DEST_OTHER = "/dest altri"
USEFUL_YES = "/utile si"
USEFUL_NO = "/utile no"

# Commands with their aliases (Telegram's "/operatore", "/help").
ALIASES = {"operatore": "persona", "help": "aiuto", "menu": "start"}

_PAYLOAD = re.compile(r"^/([a-z_]{1,24})(?:@[A-Za-z0-9_]{1,64})?(?:\s+(\S.{0,40}))?$", re.IGNORECASE)


def need(name: str) -> str:
    return f"/bisogno {name}"


def comune(istat: str) -> str:
    return f"/comune {istat}"


@dataclass(frozen=True, slots=True)
class Payload:
    command: str
    arg: str = ""

    @property
    def raw(self) -> str:
        return f"/{self.command} {self.arg}".strip()


def looks_like_payload(text: str) -> bool:
    return text.startswith("/")


def parse(text: str) -> Payload | None:
    """``"/bisogno casa"`` -> Payload("bisogno", "casa"); None when it is not a payload at all."""
    if len(text.encode("utf-8", "replace")) > MAX_PAYLOAD_BYTES:
        return None
    m = _PAYLOAD.match(text.strip())
    if not m:
        return None
    command = m.group(1).lower()
    return Payload(ALIASES.get(command, command), (m.group(2) or "").strip().lower())


# --- the buttons the dialogue shows ------------------------------------------------------------

MAIN_MENU: tuple[Button, ...] = (
    Button(texts.BTN_FOR_ME, FOR_ME),
    Button(texts.BTN_FOR_OTHER, FOR_OTHER),
    Button(texts.BTN_PERSON, PERSON),
)
PERSON_BUTTON = Button(texts.BTN_PERSON, PERSON)
AFTER_SERVICES: tuple[Button, ...] = (
    Button(texts.BTN_MORE_SERVICES, MORE),
    Button(texts.BTN_SOMETHING_ELSE, ELSE),
    PERSON_BUTTON,
)
OFFER: tuple[Button, ...] = (
    Button(texts.BTN_HANDOFF_YES, HANDOFF_YES),
    Button(texts.BTN_HANDOFF_NO, HANDOFF_NO),
)
OFFER_EMERGENCY: tuple[Button, ...] = (
    Button(texts.BTN_EMERGENCY_YES, HANDOFF_YES),
    Button(texts.BTN_HANDOFF_NO, HANDOFF_NO),
)
DESTINATARIO: tuple[Button, ...] = (
    Button(texts.BTN_DEST_ME, DEST_ME),
    Button(texts.BTN_DEST_OTHER, DEST_OTHER),
)
FEEDBACK: tuple[Button, ...] = (
    Button(texts.BTN_USEFUL_YES, USEFUL_YES),
    Button(texts.BTN_USEFUL_NO, USEFUL_NO),
)
DELETE_CONFIRM: tuple[Button, ...] = (
    Button(texts.BTN_DELETE_YES, DELETE_YES),
    Button(texts.BTN_DELETE_NO, DELETE_NO),
)


def need_buttons(*, with_person: bool = True) -> tuple[Button, ...]:
    """Every need (but the emergency, which has its own numbers) as a button, then the person."""
    buttons = [Button(texts.NEED_LABELS[n], need(n)) for n in NEED_INTENTS if n != "emergenza"]
    if with_person:
        buttons.append(PERSON_BUTTON)
    return tuple(buttons)


def title_of(payload: str) -> str | None:
    """The title of the button that sends ``payload``: the transcript shows what the person tapped."""
    p = parse(payload)
    if p is None:
        return None
    if p.command == "bisogno":
        return texts.NEED_LABELS.get(p.arg)
    if p.command == "comune":
        from nlu.territory import comune_by_istat

        c = comune_by_istat(p.arg)
        return c.name if c else None
    for group in (MAIN_MENU, AFTER_SERVICES, OFFER, DESTINATARIO, FEEDBACK, DELETE_CONFIRM):
        for b in group:
            if b.payload == p.raw:
                return b.title
    return {SKIP: texts.BTN_DONT_KNOW}.get(p.raw)
