"""The flows of the conversation: from one understood message and the state, the bot's replies.

Why it is separate from the engine: the engine deals with storage, locks and channels; this module is
only "what should Bussola say now", so it is tested with plain fakes. Side effects it needs (matching
services, creating a handoff, erasing the conversation) go through the small ``Effects`` protocol,
which the engine implements inside the conversation's transaction.

The rules, in the order they are applied to a text message:
1. emergency phrases win over everything: the numbers first, no question before them;
2. a pending yes/no (handoff consent, feedback, deletion) is answered;
3. a request for a person, or "this doesn't help", leads to the handoff offer;
4. what the message tells about the person and the place is remembered;
5. the answer to the question just asked is taken, then the dialogue moves on;
6. needs start a request: ask at most two questions (comune, for whom, Turin neighbourhood), then
   suggest the top 3 services;
7. greetings, thanks, help, off-topic; two messages in a row not understood -> offer a person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from bot import texts
from bot.dialogue import cards, payloads
from bot.dialogue.payloads import Payload
from bot.dialogue.state import DialogueState
from bot.dialogue.understand import Understanding
from bot.types import Button, Outbound
from catalog_client.types import Match, MatchQuery
from nlu.territory import TORINO_ISTAT
from nlu.types import ParseResult

FOR_WHOM_NEEDS = frozenset({"anziani", "disabilita"})  # needs where "for whom" changes the services
MAX_QUESTIONS = 2
ONCE_ONLY_OFFERS = frozenset({"complesso"})
SMALL_TALK = frozenset({"saluto", "congedo", "aiuto", "per_altri"})  # answered as such even mid-question


@dataclass(frozen=True, slots=True)
class HandoffInfo:
    id: int
    status: str
    priority: str
    reason: str
    position: int  # 1-based place in the queue, 0 when a facilitator already holds it
    created: bool = True

    def custom(self) -> dict[str, Any]:
        return {
            "type": "handoff",
            "handoff_id": self.id,
            "status": self.status,
            "priority": self.priority,
            "reason": self.reason,
            "queue_position": self.position,
        }


class Effects(Protocol):
    """What the dialogue may do besides talking; the engine runs these in the conversation's transaction."""

    async def match(self, query: MatchQuery) -> list[Match]: ...

    async def open_handoff(self) -> HandoffInfo | None: ...

    async def create_handoff(self, *, reason: str, priority: str, state: DialogueState) -> HandoffInfo: ...

    async def delete_conversation(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Turn:
    """One thing the citizen did, as the policy sees it."""

    kind: str  # "text", "button", "location", "voice", "photo", "document", "sticker", "other"
    text: str = ""
    payload: Payload | None = None
    understanding: Understanding = field(default_factory=Understanding)
    too_long: bool = False
    parse: ParseResult | None = None  # the NLU's answer (None: unavailable, or not asked)
    reparse: ParseResult | None = None  # the NLU's answer for the message without its place
    nlu_asked: bool = False
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True, slots=True)
class Copy:
    """Per-deployment wording: the privacy notice depends on the settings (retention, link)."""

    privacy_notice: str
    privacy_version: str


def question(slot: str) -> dict[str, Any]:
    return {"type": "question", "slot": slot}


def emergency_custom() -> dict[str, Any]:
    contacts = [
        {"name": name, "phone": phone, "tel": tel, "description": what}
        for name, phone, tel, what in texts.EMERGENCY_CONTACTS
    ]
    return {"type": "emergency", "contacts": contacts}


def priority_for(reason: str, state: DialogueState) -> str:
    """urgent for emergencies, high when several needs came up, normal otherwise."""
    if reason == "emergenza" or "emergenza" in state.all_needs:
        return "urgent"
    if reason == "complesso" or len([n for n in state.all_needs if n != "emergenza"]) >= 2:
        return "high"
    return "normal"


def handoff_summary(state: DialogueState, reason: str) -> str:
    """The first thing a facilitator reads: structured, short, no guesswork."""
    parts = [f"Motivo: {texts.REASON_LABELS.get(reason, reason)}."]
    if state.all_needs:
        parts.append(f"Bisogni: {', '.join(texts.NEED_LABELS.get(n, n).lower() for n in state.all_needs)}.")
    place = state.comune_name or ""
    if state.quartiere:
        place = f"{place}, quartiere {state.quartiere}" if place else state.quartiere
    if place:
        parts.append(f"Luogo: {place}.")
    elif state.latitude is not None:
        parts.append("Luogo: posizione condivisa.")
    if state.on_behalf:
        who = f" ({state.destinatario})" if state.destinatario else ""
        parts.append(f"Scrive per conto di un'altra persona{who}.")
    if state.eta:
        parts.append(f"Età indicata: {state.eta} anni.")
    if state.suggested:
        names = "; ".join(s.get("name", "") for s in state.suggested[:9])
        parts.append(f"Servizi già proposti: {names}.")
    if state.degraded:
        parts.append("Il riconoscimento del testo non era disponibile durante la conversazione.")
    return " ".join(parts)


class Dialogue:
    """Stateless policy object; one per engine. ``respond`` mutates the state it is given."""

    def __init__(self, copy: Copy) -> None:
        self.copy = copy

    async def respond(self, state: DialogueState, turn: Turn, fx: Effects) -> list[Outbound]:
        run = _Run(self.copy, state, fx)
        await run.handle(turn)
        return run.finish()

    async def safety_net(self, state: DialogueState, turn: Turn, fx: Effects) -> list[Outbound]:
        """While a facilitator holds the conversation the bot is silent, except for an emergency:
        the numbers are sent at once and the case becomes urgent, before the facilitator even reads it.
        """
        if turn.kind != "text" or not turn.understanding.emergency:
            return []
        run = _Run(self.copy, state, fx)
        run.say(texts.emergency_text(), (), emergency_custom())
        state.add_needs(["emergenza"])
        if await fx.open_handoff() is not None:
            h = await fx.create_handoff(reason="emergenza", priority="urgent", state=state)
            run.say(texts.HANDOFF_URGENT_UPGRADE, (), h.custom())
        return run.outs


class _Run:
    """One turn in progress: collects the replies, then adds the privacy notice if it is the first."""

    def __init__(self, copy: Copy, state: DialogueState, fx: Effects) -> None:
        self.copy = copy
        self.st = state
        self.fx = fx
        self.outs: list[Outbound] = []
        self.intro_at = 0
        self.deleted = False

    # --- output ---------------------------------------------------------------------------------

    def say(self, text: str, buttons: tuple[Button, ...] = (), custom: dict[str, Any] | None = None) -> None:
        self.outs.append(Outbound(text=text, buttons=tuple(buttons), custom=custom))

    def finish(self) -> list[Outbound]:
        if not self.st.welcomed and not self.deleted:
            intro = f"{texts.WELCOME_SHORT} {texts.PRIVACY_FIRST} {self.copy.privacy_notice}"
            self.outs.insert(min(self.intro_at, len(self.outs)), Outbound(text=intro))
            self.st.welcomed = True
            self.st.privacy_version = self.copy.privacy_version
        return self.outs

    # --- dispatch -------------------------------------------------------------------------------

    async def handle(self, turn: Turn) -> None:
        if turn.kind == "button" or turn.payload is not None:
            await self.on_payload(turn.payload)
        elif turn.kind == "text":
            await self.on_text(turn)
        elif turn.kind == "location" and turn.latitude is not None and turn.longitude is not None:
            await self.on_location(turn.latitude, turn.longitude)
        else:
            await self.on_non_text(turn.kind)

    async def on_payload(self, p: Payload | None) -> None:  # noqa: C901 - a flat table of commands
        st = self.st
        if p is None:
            self.stale()
            return
        cmd, arg = p.command, p.arg
        if cmd == "start":
            self.welcome()
        elif cmd == "aiuto":
            self.say(texts.HELP, payloads.MAIN_MENU)
        elif cmd == "privacy":
            st.privacy_version = self.copy.privacy_version
            self.say(f"{texts.PRIVACY_AGAIN} {self.copy.privacy_notice}")
        elif cmd == "cancella":
            await self.on_delete(arg)
        elif cmd == "stop":
            st.pending, st.offer = None, None
            self.say(texts.STOP)
        elif cmd in ("per_me", "per_altri"):
            st.for_whom = "self" if cmd == "per_me" else "other"
            if st.needs and not st.suggested_for:
                await self.advance()
            else:
                self.ask_need()
        elif cmd == "persona":
            await self.request_human()
        elif cmd == "bisogno":
            if arg == "emergenza":
                st.new_request(["emergenza"], "")
                await self.emergency()
            elif arg in texts.NEED_LABELS:
                st.new_request([arg], st.query_text if st.degraded else "")
                await self.advance()
            else:
                self.stale()
        elif cmd == "altri":
            await self.more_services()
        elif cmd == "altro":
            self.ask_need(more=True)
        elif cmd == "handoff" and arg in ("si", "no"):
            if arg == "si":
                await self.accept_offer()
            else:
                await self.decline_offer()
        elif cmd == "salta":
            await self.skip_question()
        elif cmd == "comune":
            await self.choose_comune(arg)
        elif cmd == "dest" and arg in ("me", "altri"):
            st.for_whom = "self" if arg == "me" else "other"
            st.pending = None
            await self.advance_or_ask()
        elif cmd == "utile" and arg in ("si", "no"):
            await self.feedback(arg == "si")
        else:
            self.stale()

    async def on_text(self, turn: Turn) -> None:  # noqa: C901 - the rules above, in order
        st, u = self.st, turn.understanding
        if turn.too_long:
            self.say(texts.TOO_LONG, (payloads.PERSON_BUTTON,))
            return
        if not turn.text.strip():
            self.say(texts.EMPTY)
            return
        if u.understood or u.has_place or u.emergency:
            st.misunderstood = 0
        if u.emergency:
            st.new_request(list(u.needs), turn.text)
            self.remember_place(u)
            self.remember_person(u)
            await self.emergency()
            return
        if st.pending == "cancella":
            st.pending = None
            if u.yes:
                st.pending = "cancella"
                self.say(texts.DELETE_PRESS_BUTTON, payloads.DELETE_CONFIRM, question("cancella"))
                return
            if u.no:
                self.say(texts.DELETE_KEPT)
                return
        if st.offer is not None:
            if u.yes:
                await self.accept_offer()
                return
            if u.no:
                await self.decline_offer()
                return
            st.offer = None
        if st.pending == "feedback":
            if u.yes or u.no:
                await self.feedback(u.yes)
                return
            st.pending = None
        if u.intent == "operatore":
            await self.request_human()
            return
        if u.unhappy:
            await self.offer("insoddisfatto")
            return
        self.remember_person(u)
        placed = self.remember_place(u)
        pending = st.pending
        if pending in ("comune", "quartiere", "destinatario"):
            st.pending = None
            answered = self.take_answer(pending, u, placed)
            if not answered and not u.needs and pending == "comune" and self.may_ask_again(u):
                st.asked.append("comune_retry")
                st.pending = "comune"
                self.say(texts.COMUNE_NOT_FOUND, self.comune_buttons(), question("comune"))
                return
            if not u.needs and st.needs and (answered or u.intent not in SMALL_TALK):
                await self.advance()  # answered, or not: go on with what is known
                return
        if u.needs:
            st.new_request(list(u.needs), turn.text)
            await self.advance()
            return
        if not u.nlu_ok:
            self.degraded(turn.text)
            return
        if placed:
            if st.needs:
                st.offset = 0
                await self.suggest()
            else:
                self.say(texts.place_noted(self.place()), payloads.need_buttons(), question("bisogno"))
            return
        if u.intent == "per_altri":
            st.for_whom = "other"
            self.ask_need()
            return
        await self.on_intent(u)

    async def on_intent(self, u: Understanding) -> None:
        st = self.st
        if u.intent == "saluto":
            if st.welcomed:
                self.say(texts.GREETING, payloads.MAIN_MENU)
            else:
                self.welcome()
        elif u.intent == "congedo":
            self.say(texts.THANKS)
        elif u.intent == "aiuto":
            self.say(texts.HELP, payloads.MAIN_MENU)
        elif u.intent == "affermazione":
            self.say(texts.GLAD if st.suggested_for else texts.OK_NEUTRAL)
        elif u.intent == "negazione":
            self.say(texts.OK_NEUTRAL)
        elif u.intent == "fuori_ambito" and not u.foreign and not u.gibberish:
            await self.not_understood(texts.OFF_TOPIC, payloads.MAIN_MENU)
        elif u.no_words:
            await self.not_understood(texts.EMOJI_ONLY, payloads.MAIN_MENU)
        elif u.foreign:
            await self.not_understood(texts.FOREIGN, (payloads.PERSON_BUTTON,))
        else:
            await self.not_understood(texts.NOT_UNDERSTOOD, payloads.need_buttons())

    async def on_location(self, lat: float, lon: float) -> None:
        st = self.st
        st.latitude, st.longitude = lat, lon
        if st.needs:
            st.offset = 0
            await self.suggest()
        else:
            self.say(texts.LOCATION_NOTED, payloads.need_buttons(), question("bisogno"))

    async def on_non_text(self, kind: str) -> None:
        self.say(texts.NON_TEXT.get(kind, texts.NON_TEXT["other"]))
        if kind in ("voice", "photo", "document"):
            await self.offer("non_compreso")

    # --- flows ----------------------------------------------------------------------------------

    def welcome(self) -> None:
        st = self.st
        st.welcomed = True
        st.privacy_version = self.copy.privacy_version
        self.say(texts.WELCOME)
        notice = f"{texts.PRIVACY_FIRST} {self.copy.privacy_notice}"
        self.say(f"{notice}\n\n{texts.WELCOME_ASK}", payloads.MAIN_MENU)

    def stale(self) -> None:
        self.say(texts.STALE_BUTTON, payloads.MAIN_MENU)

    def ask_need(self, *, more: bool = False) -> None:
        other = self.st.on_behalf
        if more:
            text = texts.ASK_NEED_MORE_OTHER if other else texts.ASK_NEED_MORE
        else:
            text = texts.ASK_NEED_OTHER if other else texts.ASK_NEED_SELF
        self.st.pending = "bisogno"
        self.say(text, payloads.need_buttons(), question("bisogno"))

    async def not_understood(self, text: str, buttons: tuple[Button, ...]) -> None:
        st = self.st
        st.misunderstood += 1
        if st.misunderstood >= 2 and await self.offer("non_compreso", quiet_if_open=False):
            st.misunderstood = 0
            return
        self.say(text, buttons)

    def degraded(self, text: str) -> None:
        """Rasa is unavailable: nothing is lost (the message is stored), needs become buttons."""
        self.st.degraded = True
        self.st.query_text = text[:500]
        self.say(texts.DEGRADED, payloads.need_buttons(), question("bisogno"))

    async def emergency(self) -> None:
        self.say(texts.emergency_text(), (), emergency_custom())
        self.intro_at = 1  # the numbers come before anything else, even the privacy notice
        self.st.add_needs(["emergenza"])
        h = await self.fx.open_handoff()
        if h is not None:
            h = await self.fx.create_handoff(reason="emergenza", priority="urgent", state=self.st)
            self.say(texts.HANDOFF_URGENT_UPGRADE, (), h.custom())
            return
        await self.offer("emergenza")

    # --- questions ------------------------------------------------------------------------------

    def next_slot(self) -> str | None:
        st = self.st
        if len(st.asked) >= MAX_QUESTIONS:
            return None
        knows_place = st.comune_istat is not None or st.latitude is not None
        if not knows_place and not st.place_declined and "comune" not in st.asked:
            return "comune"
        if set(st.needs) & FOR_WHOM_NEEDS and st.for_whom is None and "destinatario" not in st.asked:
            return "destinatario"
        if (
            st.comune_istat == TORINO_ISTAT
            and not st.quartiere
            and not st.place_declined
            and "quartiere" not in st.asked
        ):
            return "quartiere"
        return None

    def comune_buttons(self) -> tuple[Button, ...]:
        return (
            Button(texts.BTN_TORINO, payloads.comune(TORINO_ISTAT)),
            Button(texts.BTN_SKIP_PLACE, payloads.SKIP),
        )

    def ask(self, slot: str) -> None:
        st = self.st
        st.pending = slot
        st.asked.append(slot)
        other = st.on_behalf
        if slot == "comune":
            text = texts.ASK_COMUNE_OTHER if other else texts.ASK_COMUNE_SELF
            self.say(text, self.comune_buttons(), question("comune"))
        elif slot == "destinatario":
            self.say(texts.ASK_DESTINATARIO, payloads.DESTINATARIO, question("destinatario"))
        else:
            text = texts.ASK_QUARTIERE_OTHER if other else texts.ASK_QUARTIERE_SELF
            self.say(text, (Button(texts.BTN_DONT_KNOW, payloads.SKIP),), question("quartiere"))

    def may_ask_again(self, u: Understanding) -> bool:
        return (
            "comune_retry" not in self.st.asked
            and len(self.st.asked) < MAX_QUESTIONS
            and u.intent in (None, "informa_luogo", "fuori_ambito")
        )

    def take_answer(self, slot: str, u: Understanding, placed: bool) -> bool:
        st = self.st
        if slot == "comune":
            if placed or u.comune is not None:
                return True
            if u.decline_place:
                st.place_declined = True
                return True
            return False
        if slot == "quartiere":
            if u.quartiere or placed:
                return True
            if u.decline_place:
                st.place_declined = True
                return True
            return False
        if u.for_other:
            st.for_whom = "other"
            return True
        if u.for_self:
            st.for_whom = "self"
            return True
        return False

    async def skip_question(self) -> None:
        st = self.st
        if st.pending in ("comune", "quartiere"):
            st.place_declined = True
        st.pending = None
        await self.advance_or_ask()

    async def choose_comune(self, istat: str) -> None:
        from nlu.territory import comune_by_istat

        c = comune_by_istat(istat)
        if c is None:
            self.stale()
            return
        st = self.st
        st.comune_istat, st.comune_name = c.istat, c.name
        st.quartiere = None
        st.place_declined = False
        st.pending = None
        await self.advance_or_ask()

    async def advance_or_ask(self) -> None:
        if self.st.needs:
            await self.advance()
        else:
            self.ask_need()

    async def advance(self) -> None:
        slot = self.next_slot()
        if slot is not None:
            self.ask(slot)
            return
        await self.suggest()

    # --- memory ---------------------------------------------------------------------------------

    def remember_person(self, u: Understanding) -> None:
        st = self.st
        if u.destinatario:
            st.destinatario = u.destinatario
            st.for_whom = "other"
        elif u.for_other:
            st.for_whom = "other"
        if u.eta:
            st.eta = u.eta

    def remember_place(self, u: Understanding) -> bool:
        """Store a newly named place; True when it changed what we knew."""
        st = self.st
        if u.comune is None:
            return False
        changed = u.comune.istat != st.comune_istat or (
            u.quartiere is not None and u.quartiere != st.quartiere
        )
        if not changed:
            return False
        if u.comune.istat != st.comune_istat:
            st.quartiere = None
        st.comune_istat, st.comune_name = u.comune.istat, u.comune.name
        if u.quartiere:
            st.quartiere = u.quartiere
        st.place_declined = False
        return True

    def place(self) -> str:
        return texts.place_phrase(self.st.comune_name, self.st.quartiere)

    # --- suggestions ----------------------------------------------------------------------------

    async def suggest(self) -> None:
        st = self.st
        needs = [n for n in st.needs if n != "emergenza"]
        if not needs:
            self.ask_need()
            return
        query = MatchQuery(
            needs=tuple(needs),
            text=st.query_text,
            comune_istat=st.comune_istat,
            quartiere=st.quartiere,
            eta=st.eta,
            for_whom=st.destinatario,
            latitude=st.latitude,
            longitude=st.longitude,
            limit=3,
            offset=st.offset,
        )
        st.pending = None
        try:
            matches = await self.fx.match(query)
        except Exception:  # noqa: BLE001 - the catalogue being down must not stop the conversation
            self.say(texts.CATALOG_DOWN)
            await self.offer("nessun_servizio")
            return
        if not matches:
            if st.offset == 0:
                self.say(texts.no_services(needs, self.place()))
                await self.offer("nessun_servizio")
            else:
                self.say(texts.no_more_services(needs))
                await self.offer("insoddisfatto")
            return
        intro = texts.services_intro(needs, self.place(), on_behalf=st.on_behalf, more=st.offset > 0)
        custom = {
            "type": "services",
            "needs": needs,
            "services": [cards.card_custom(m) for m in matches],
            "intro": intro,
            "offset": st.offset,
        }
        self.say(cards.services_message(intro, matches, start=st.offset + 1), payloads.AFTER_SERVICES, custom)
        known = {s.get("id") for s in st.suggested}
        st.suggested += [cards.summary_entry(m.service) for m in matches if m.service.id not in known]
        st.suggested_for = needs
        st.offset += len(matches)
        if len([n for n in st.all_needs if n != "emergenza"]) >= 2:
            await self.offer("complesso")

    async def more_services(self) -> None:
        st = self.st
        if not st.suggested_for:
            st.pending = "bisogno"
            self.say(texts.NEED_FIRST, payloads.need_buttons(), question("bisogno"))
            return
        st.needs = list(st.suggested_for)
        await self.suggest()

    # --- handoff --------------------------------------------------------------------------------

    async def offer(self, reason: str, *, quiet_if_open: bool = True) -> bool:
        """Offer a person, with consent. False when not offered (already open, or not again)."""
        st = self.st
        open_h = await self.fx.open_handoff()
        if open_h is not None:
            if not quiet_if_open or reason in ("richiesta", "insoddisfatto", "non_compreso"):
                self.say(texts.handoff_already(open_h.position), (), open_h.custom())
                return True
            return False
        if reason in ONCE_ONLY_OFFERS and reason in st.offered:
            return False
        if reason == "complesso":
            needs = [n for n in st.all_needs if n != "emergenza"]
        else:
            needs = list(st.needs or st.all_needs)
        st.offer = {"reason": reason, "priority": priority_for(reason, st), "needs": needs}
        st.last_offer_reason = reason
        if reason not in st.offered:
            st.offered.append(reason)
        buttons = payloads.OFFER_EMERGENCY if reason == "emergenza" else payloads.OFFER
        custom = {"type": "handoff_offer", "reason": reason, "needs": needs}
        self.say(texts.handoff_offer(reason, needs, self.place()), buttons, custom)
        return True

    async def request_human(self) -> None:
        await self.offer("richiesta")

    async def accept_offer(self) -> None:
        st = self.st
        reason = (st.offer or {}).get("reason") or st.last_offer_reason or "richiesta"
        st.offer = None
        st.pending = None
        h = await self.fx.create_handoff(reason=reason, priority=priority_for(reason, st), state=st)
        st.handoff_id = h.id
        if h.created:
            self.say(texts.handoff_created(h.position, urgent=h.priority == "urgent"), (), h.custom())
        else:
            self.say(texts.handoff_already(h.position), (), h.custom())

    async def decline_offer(self) -> None:
        """No person, thanks. After an emergency offer, the rest of the request is still answered:
        the net may have fired on a message that was mostly about a home or a job, and the person who
        says they are not in danger should not have to ask again."""
        st = self.st
        reason = (st.offer or {}).get("reason") or st.last_offer_reason
        st.offer = None
        if reason != "emergenza":
            self.say(texts.HANDOFF_DECLINED)
            return
        if any(n != "emergenza" for n in st.needs) and not st.suggested_for:
            self.say(texts.HANDOFF_DECLINED_EMERGENCY_GO_ON)
            await self.advance()
            return
        self.say(texts.HANDOFF_DECLINED_EMERGENCY)

    async def feedback(self, useful: bool) -> None:
        st = self.st
        st.pending = None
        st.feedback = "si" if useful else "no"
        if useful:
            self.say(texts.FEEDBACK_YES)
        else:
            await self.offer("insoddisfatto")

    # --- privacy --------------------------------------------------------------------------------

    async def on_delete(self, arg: str) -> None:
        st = self.st
        if arg == "si":
            await self.fx.delete_conversation()
            self.deleted = True
            self.say(texts.DELETE_DONE)
        elif arg == "no":
            st.pending = None
            self.say(texts.DELETE_KEPT)
        else:
            st.pending = "cancella"
            self.say(texts.DELETE_CONFIRM, payloads.DELETE_CONFIRM, question("cancella"))
