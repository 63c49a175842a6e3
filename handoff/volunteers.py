"""Volunteers who chat for a neighbour: invite codes, registration, requests with consent, their cases.

The flow, as a volunteer lives it on Telegram:
1. a coordinator gives her a code (console, or ``bussola volunteer invite --team NAME``);
2. she sends ``/volontaria CODICE`` and is registered with her team;
3. ``/aiuta`` starts a request for a neighbour: the bot asks the neighbour's first name or a nickname
   (nothing more), then whether the neighbour agrees to share her information; the answer is recorded
   with time and text version (``VolunteerConsent``) and in the case's transcript;
4. from then on her messages go to the neighbour's own conversation (``"{chat}:v{request}"``), where the
   ordinary dialogue runs on behalf of someone else; a case created there carries the volunteer, the
   nickname and the consent version, and the console shows "tramite volontaria X";
5. ``/casi`` lists the neighbours she follows and lets her switch between them; ``/fine`` takes her
   back to her own conversation;
6. the neighbour, if she uses Telegram, may open a link the volunteer forwards to her; the facilitator
   can then answer the neighbour directly (``reply_to_neighbour``) as well as the volunteer.

``VolunteerDesk`` is channel-agnostic: it takes ids and text and returns ``Outbound`` messages; the
Telegram adapter sends them and hands the engine the payloads it names.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.types import Button, Outbound
from handoff.models import Facilitator, Handoff, Team
from handoff.volunteer_models import (
    Volunteer,
    VolunteerConsent,
    VolunteerInvite,
    VolunteerRedeemAttempt,
    VolunteerRequest,
)

log = logging.getLogger("bussola.volunteers")

CONSENT_VERSION = "volontari-2026-v1"
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud and typed on a phone
CODE_LENGTH = 8
INVITE_DAYS = 14
MAX_FAILED_REDEEMS = 5  # per Telegram account per hour
MAX_NICKNAME = 40

# Button payloads of the volunteer flow (the dialogue engine never sees them).
CONSENT_YES = "/vconsenso si"
CONSENT_NO = "/vconsenso no"
SWITCH = "/vcaso"  # "/vcaso 12"
FINISH = "/vfine"
NEW_REQUEST = "/aiuta"
UNLINK = "/vscollega"
PAYLOAD_PREFIXES = ("/vconsenso", "/vcaso", "/vfine", "/vscollega")

# --- copy ----------------------------------------------------------------------------------------

CONSENT_QUESTION = (
    "Prima di continuare: quello che mi scrivi su {name} può essere letto da un operatore di Bussola, "
    "se chiedete di parlare con una persona. La persona che aiuti è d'accordo a condividere queste "
    "informazioni?"
)
BTN_CONSENT_YES = "Sì, è d'accordo"
BTN_CONSENT_NO = "No"
BTN_NEW_REQUEST = "Aiuto un'altra persona"
BTN_FINISH = "Torno alla mia conversazione"
BTN_UNLINK = "No, grazie"
T = {
    "bad_code": "Questo codice non è valido o è scaduto. Controlla di averlo scritto bene, oppure chiedi un "
    "nuovo codice a chi coordina le volontarie.",
    "no_code": "Scrivi il codice dopo il comando, per esempio: /volontaria ABCD-EFGH",
    "too_many": "Hai provato troppe volte. Riprova tra un'ora, oppure chiedi aiuto a chi coordina "
    "le volontarie.",
    "already": "Sei già registrata come volontaria. Per aiutare una persona scrivi /aiuta.",
    "welcome": "Benvenuta, {name}! Ora sei registrata come volontaria di {team}.\n\n"
    "Quando aiuti una persona, scrivi /aiuta: ti chiederò il suo nome e se è d'accordo. "
    "Con /casi vedi le persone che segui.",
    "not_volunteer": "Questo comando è per le volontarie registrate. Se stai aiutando qualcuno, va bene lo "
    "stesso: scrivimi di cosa ha bisogno.",
    "ask_name": "Come si chiama la persona che aiuti? Scrivi solo il nome o un soprannome, senza cognome.",
    "bad_name": "Scrivi solo il nome o un soprannome, per esempio «Fatima» o «la signora Rosa». "
    "Niente cognomi, numeri o indirizzi.",
    "ask_consent_again": "Prima di continuare mi serve una risposta: {name} è d'accordo a condividere "
    "queste informazioni?",
    "consent_recorded": "Ho registrato che {name} è d'accordo a condividere queste informazioni con Bussola "
    "(lo ha confermato la volontaria {volunteer}).",
    "declined": "Va bene. Senza il suo accordo non raccolgo informazioni su {name}. Se vuole, può scrivermi "
    "lei direttamente, oppure chiamare uno dei numeri che le servono.",
    "no_cases": "Non stai seguendo nessuna persona. Per aiutarne una scrivi /aiuta.",
    "cases_head": "Le persone che segui:",
    "now_for": "Ora scrivi per {name}. Quando hai finito, scrivi /fine.",
    "back_home": "Ora sei tornata alla tua conversazione. Per aiutare una persona scrivi /aiuta; "
    "per vedere le persone che segui, /casi.",
    "case_gone": "Questa richiesta non c'è più. Scrivi /casi per vedere le persone che segui.",
    "link_intro": "Se {name} usa Telegram, può ricevere anche lei le risposte dell'operatore: inoltrale il "
    "messaggio qui sotto.",
    "link_message": "Ciao {name}! {volunteer} ti ha aiutata a chiedere aiuto a Bussola, il servizio della "
    "Città metropolitana di Torino per trovare aiuto nella vita di tutti i giorni. Se vuoi ricevere qui le "
    "risposte dell'operatore, apri questo link: {link}",
    "linked": "Ciao! {volunteer} ti ha aiutata a chiedere aiuto a Bussola. Da ora l'operatore che segue "
    "la tua richiesta può scriverti anche qui. Se non vuoi, premi il pulsante qui sotto.",
    "linked_note": "{name} ha collegato il suo Telegram: l'operatore può scriverle anche direttamente.",
    "link_bad": "Questo link non è più valido. Scrivimi pure di cosa hai bisogno.",
    "unlinked": "Va bene, non riceverai messaggi dell'operatore qui. Se ti serve aiuto, scrivimi "
    "quando vuoi.",
    "direct_note": "{facilitator} ha scritto direttamente a {name}: «{text}»",
}
STATUS_LABELS = {
    "waiting": "in attesa di un operatore",
    "assigned": "seguita da {name}",
    "closed": "richiesta chiusa",
    None: "nessuna richiesta a un operatore",
}


def now_utc() -> datetime:
    return datetime.now(UTC)


# --- invite codes ----------------------------------------------------------------------------------


def normalise_code(code: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", (code or "").upper())[:32]


def code_hash(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode("ascii")).hexdigest()


def new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


async def issue_invite(
    session: AsyncSession, team_id: int, *, created_by: int | None = None, days: int = INVITE_DAYS
) -> str:
    """A new one-time invite code for ``team_id`` (shown once; only its hash is kept). Caller commits."""
    if await session.get(Team, team_id) is None:
        raise LookupError("team not found")
    code = new_code()
    session.add(
        VolunteerInvite(
            code_hash=code_hash(code),
            team_id=team_id,
            created_by=created_by,
            expires_at=now_utc() + timedelta(days=max(1, days)),
        )
    )
    await session.flush()
    return code


async def team_volunteers(session: AsyncSession, team_id: int) -> list[Volunteer]:
    rows = await session.scalars(select(Volunteer).where(Volunteer.team_id == team_id).order_by(Volunteer.id))
    return list(rows)


async def volunteer_name(session: AsyncSession, volunteer_id: int | None) -> str | None:
    """The first name the console shows as "tramite volontaria X" (also on ``Handoff.volunteer_name``)."""
    if volunteer_id is None:
        return None
    v = await session.get(Volunteer, volunteer_id)
    return v.first_name if v else None


async def prune_attempts(session: AsyncSession, older_than: timedelta = timedelta(days=1)) -> None:
    """Failed redemptions only matter for an hour; they hold Telegram ids, so they do not stay."""
    from sqlalchemy import delete

    await session.execute(
        delete(VolunteerRedeemAttempt).where(VolunteerRedeemAttempt.at < now_utc() - older_than)
    )


# --- what the facilitator may answer ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReplyTarget:
    conversation_id: int
    label: str  # Italian, for the console's reply box
    is_neighbour: bool = False


async def reply_targets(session: AsyncSession, handoff_id: int) -> list[ReplyTarget]:
    """Who the facilitator can write to for a case: the person (or volunteer), and the neighbour if linked."""
    h = await session.get(Handoff, handoff_id)
    if h is None or h.conversation_id is None:
        return []
    if h.volunteer_id is None:
        return [ReplyTarget(h.conversation_id, "La persona")]
    targets = [ReplyTarget(h.conversation_id, f"La volontaria {h.volunteer_name or ''}".strip())]
    req = await session.scalar(
        select(VolunteerRequest).where(VolunteerRequest.conversation_id == h.conversation_id)
    )
    if req is not None and req.neighbour_conversation_id is not None:
        targets.append(ReplyTarget(req.neighbour_conversation_id, f"{req.nickname} (direttamente)", True))
    return targets


async def reply_to_neighbour(
    sessionmaker: async_sessionmaker[AsyncSession], dialogue: Any, actor: Any, handoff_id: int, text: str
) -> Any:
    """The case's holder writes to the neighbour herself (she opened the volunteer's link).

    The same rules as any reply (only the holder writes); the case's transcript keeps a note of it, so
    the volunteer and the next facilitator know what was said.
    """
    from handoff import queue

    async with sessionmaker() as session:
        h = await queue.get_visible(session, actor, handoff_id)
        body = queue.check_reply(actor, h, text)
        targets = [t for t in await reply_targets(session, handoff_id) if t.is_neighbour]
        if not targets:
            raise queue.Conflict("La persona aiutata non ha collegato il suo Telegram.")
        req = await session.scalar(
            select(VolunteerRequest).where(VolunteerRequest.conversation_id == h.conversation_id)
        )
        nickname = req.nickname if req else ""
        case_conversation = h.conversation_id
    sent = await dialogue.say(
        targets[0].conversation_id,
        Outbound(text=body, custom={"type": "facilitator_message", "author": actor.first_name}),
        author="facilitator",
        author_name=actor.first_name,
    )
    if case_conversation is not None:
        note = T["direct_note"].format(facilitator=actor.first_name, name=nickname, text=body)
        await dialogue.say(case_conversation, Outbound(text=note), author="system")
    return sent


# --- the desk: what a volunteer says to the bot ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Route:
    """Where a chat's messages go: the conversation ``sender`` and, for a neighbour, her nickname."""

    sender: str
    label: str | None = None
    request_id: int | None = None


@dataclass
class DeskReply:
    """Messages for the volunteer's chat, and what to hand the dialogue engine next (if anything)."""

    messages: list[Outbound] = field(default_factory=list)
    engine_sender: str | None = None  # conversation to run the payload in
    engine_payload: str | None = None
    label: str | None = None
    conversation_id: int | None = None
    note: str | None = None  # a system message to store (and deliver) in that conversation


Publish = Callable[[str, dict[str, Any]], Awaitable[None]]


def neighbour_sender(chat_id: str, request_id: int) -> str:
    return f"{chat_id}:v{request_id}"


def clean_nickname(text: str) -> str | None:
    """A first name or a nickname: letters, spaces, apostrophes; at most four words and 40 characters."""
    value = unicodedata.normalize("NFC", " ".join((text or "").split()))
    if not value or len(value) > MAX_NICKNAME or len(value.split()) > 4:
        return None
    if not all(ch.isalpha() or ch in " '’.-" for ch in value):
        return None
    return value


class VolunteerDesk:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], publish: Publish | None = None
    ) -> None:
        self.sessionmaker = sessionmaker
        self.publish = publish

    async def _volunteer(self, session: AsyncSession, user_id: str) -> Volunteer | None:
        return await session.scalar(
            select(Volunteer).where(Volunteer.telegram_user_id == user_id, Volunteer.active.is_(True))
        )

    async def is_volunteer(self, user_id: str) -> bool:
        async with self.sessionmaker() as session:
            return await self._volunteer(session, user_id) is not None

    # --- registration ----------------------------------------------------------------------------

    async def redeem(self, user_id: str, chat_id: str, first_name: str, code: str) -> list[Outbound]:
        now = now_utc()
        async with self.sessionmaker() as session:
            if await self._volunteer(session, user_id) is not None:
                return [Outbound(T["already"])]
            if not normalise_code(code):
                return [Outbound(T["no_code"])]
            failures = await session.scalar(
                select(func.count())
                .select_from(VolunteerRedeemAttempt)
                .where(
                    VolunteerRedeemAttempt.telegram_user_id == user_id,
                    VolunteerRedeemAttempt.at >= now - timedelta(hours=1),
                )
            )
            if (failures or 0) >= MAX_FAILED_REDEEMS:
                return [Outbound(T["too_many"])]
            # The conditional UPDATE is the atomic claim: two people racing for one code, one wins.
            claimed = await session.execute(
                update(VolunteerInvite)
                .where(
                    VolunteerInvite.code_hash == code_hash(code),
                    VolunteerInvite.used_at.is_(None),
                    VolunteerInvite.revoked_at.is_(None),
                    VolunteerInvite.expires_at > now,
                )
                .values(used_at=now)
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                session.add(VolunteerRedeemAttempt(telegram_user_id=user_id, at=now))
                await session.commit()
                log.info("volunteer invite rejected")
                return [Outbound(T["bad_code"])]
            invite = await session.scalar(
                select(VolunteerInvite).where(VolunteerInvite.code_hash == code_hash(code))
            )
            if invite is None:  # pragma: no cover - the row we just updated
                return [Outbound(T["bad_code"])]
            old = await session.scalar(select(Volunteer).where(Volunteer.telegram_user_id == user_id))
            name = (first_name or "").strip()[:64] or "volontaria"
            if old is not None:  # re-activated with a new code
                old.active, old.team_id, old.chat_id, old.first_name = True, invite.team_id, chat_id, name
                v = old
            else:
                v = Volunteer(
                    team_id=invite.team_id, telegram_user_id=user_id, chat_id=chat_id, first_name=name
                )
                session.add(v)
            await session.flush()
            invite.volunteer_id = v.id
            team = await session.get(Team, invite.team_id)
            await session.commit()
            log.info("volunteer registered id=%s team=%s", v.id, invite.team_id)
            return [Outbound(T["welcome"].format(name=name, team=team.name if team else "Bussola"))]

    # --- routing ---------------------------------------------------------------------------------

    async def route(self, user_id: str, chat_id: str) -> Route:
        """Where this chat's next message goes: the volunteer's current neighbour, or her own chat."""
        async with self.sessionmaker() as session:
            v = await self._volunteer(session, user_id)
            if v is None or v.active_request_id is None:
                return Route(chat_id)
            req = await session.get(VolunteerRequest, v.active_request_id)
            if req is None or req.status != "active" or req.conversation_id is None:
                return Route(
                    chat_id, request_id=req.id if req and req.status in ("naming", "consent") else None
                )
            return Route(neighbour_sender(chat_id, req.id), req.nickname, req.id)

    async def label_of(self, conversation_id: int) -> str | None:
        async with self.sessionmaker() as session:
            return await session.scalar(
                select(VolunteerRequest.nickname).where(VolunteerRequest.conversation_id == conversation_id)
            )

    async def activate_conversation(self, user_id: str, conversation_id: int) -> None:
        """A button pressed on a neighbour's message makes that neighbour the current one."""
        async with self.sessionmaker() as session:
            v = await self._volunteer(session, user_id)
            req = await session.scalar(
                select(VolunteerRequest).where(VolunteerRequest.conversation_id == conversation_id)
            )
            if v is not None and req is not None and req.volunteer_id == v.id and req.status == "active":
                v.active_request_id = req.id
                await session.commit()

    # --- a request on behalf of a neighbour -------------------------------------------------------

    async def start_request(self, user_id: str) -> list[Outbound] | None:
        """``/aiuta``: None when the sender is not a volunteer (the dialogue's "per altri" applies)."""
        async with self.sessionmaker() as session:
            v = await self._volunteer(session, user_id)
            if v is None:
                return None
            req = VolunteerRequest(volunteer_id=v.id, status="naming")
            session.add(req)
            await session.flush()
            v.active_request_id = req.id
            await session.commit()
        return [Outbound(T["ask_name"], (Button(BTN_FINISH, FINISH),))]

    async def on_text(self, user_id: str, text: str) -> DeskReply | None:
        """Consume the text when the volunteer is naming a neighbour or answering the consent question."""
        async with self.sessionmaker() as session:
            v = await self._volunteer(session, user_id)
            if v is None or v.active_request_id is None or text.startswith("/"):
                return None
            req = await session.get(VolunteerRequest, v.active_request_id)
            if req is None or req.status not in ("naming", "consent"):
                return None
            if req.status == "consent":
                folded = " ".join(text.lower().split()).strip(" .!")
                if folded in ("si", "sì", "certo", "si è d'accordo", "sì è d'accordo"):
                    return await self._consent(session, v, req, True)
                if folded in ("no", "no grazie"):
                    return await self._consent(session, v, req, False)
                return DeskReply(
                    [Outbound(T["ask_consent_again"].format(name=req.nickname), self._consent_buttons())]
                )
            name = clean_nickname(text)
            if name is None:
                return DeskReply([Outbound(T["bad_name"], (Button(BTN_FINISH, FINISH),))])
            req.nickname = name
            req.status = "consent"
            await session.commit()
            return DeskReply([Outbound(CONSENT_QUESTION.format(name=name), self._consent_buttons())])

    @staticmethod
    def _consent_buttons() -> tuple[Button, ...]:
        return (Button(BTN_CONSENT_YES, CONSENT_YES), Button(BTN_CONSENT_NO, CONSENT_NO))

    async def on_consent(self, user_id: str, agreed: bool) -> DeskReply:
        async with self.sessionmaker() as session:
            v = await self._volunteer(session, user_id)
            req = (
                await session.get(VolunteerRequest, v.active_request_id)
                if v and v.active_request_id
                else None
            )
            if v is None or req is None or req.status != "consent":
                return DeskReply([Outbound(T["case_gone"])])
            return await self._consent(session, v, req, agreed)

    async def _consent(
        self, session: AsyncSession, v: Volunteer, req: VolunteerRequest, agreed: bool
    ) -> DeskReply:
        from bot import store

        session.add(
            VolunteerConsent(
                request_id=req.id, volunteer_id=v.id, agreed=agreed, text_version=CONSENT_VERSION
            )
        )
        name = req.nickname or ""
        if not agreed:
            req.status = "declined"
            req.nickname = None  # nothing about her is kept without her agreement
            v.active_request_id = None
            await session.commit()
            log.info("volunteer request declined request=%s", req.id)
            return DeskReply([Outbound(T["declined"].format(name=name))])
        sender = neighbour_sender(v.chat_id, req.id)
        req.status = "active"
        await session.commit()
        conv = await store.get_or_create(self.sessionmaker, "telegram", sender)
        if conv is None:  # pragma: no cover - get_or_create always returns one when asked to create
            return DeskReply([Outbound(T["case_gone"])])
        req_id = req.id
        async with self.sessionmaker() as s2:
            row = await s2.get(VolunteerRequest, req_id)
            if row is not None:
                row.conversation_id = conv.id
                await s2.commit()
        log.info("volunteer request consented request=%s conversation=%s", req_id, conv.id)
        return DeskReply(
            engine_sender=sender,
            engine_payload="/per_altri",
            label=name,
            conversation_id=conv.id,
            note=T["consent_recorded"].format(name=name, volunteer=v.first_name),
        )

    async def finish(self, user_id: str) -> list[Outbound]:
        async with self.sessionmaker() as session:
            v = await self._volunteer(session, user_id)
            if v is None:
                return [Outbound(T["not_volunteer"])]
            if v.active_request_id is not None:
                req = await session.get(VolunteerRequest, v.active_request_id)
                if req is not None and req.status in ("naming", "consent"):
                    req.status, req.nickname = "closed", None  # abandoned before consent: forget the name
            v.active_request_id = None
            await session.commit()
        return [Outbound(T["back_home"])]

    async def switch(self, user_id: str, request_id: str) -> list[Outbound]:
        async with self.sessionmaker() as session:
            v = await self._volunteer(session, user_id)
            req = await session.get(VolunteerRequest, int(request_id)) if request_id.isdigit() else None
            if v is None or req is None or req.volunteer_id != v.id or req.status != "active":
                return [Outbound(T["case_gone"])]
            v.active_request_id = req.id
            await session.commit()
            return [Outbound(T["now_for"].format(name=req.nickname))]

    async def cases(self, user_id: str) -> list[Outbound]:
        async with self.sessionmaker() as session:
            v = await self._volunteer(session, user_id)
            if v is None:
                return [Outbound(T["not_volunteer"])]
            reqs = list(
                await session.scalars(
                    select(VolunteerRequest)
                    .where(VolunteerRequest.volunteer_id == v.id, VolunteerRequest.status == "active")
                    .order_by(VolunteerRequest.id)
                )
            )
            if not reqs:
                return [Outbound(T["no_cases"], (Button(BTN_NEW_REQUEST, NEW_REQUEST),))]
            lines, buttons = [T["cases_head"]], []
            for r in reqs[-20:]:
                status = await self._case_status(session, r)
                current = " (adesso scrivi per lei)" if r.id == v.active_request_id else ""
                lines.append(f"• {r.nickname}: {status}{current}")
                buttons.append(Button(f"Scrivi per {r.nickname}"[:60], f"{SWITCH} {r.id}"))
            buttons += [Button(BTN_NEW_REQUEST, NEW_REQUEST), Button(BTN_FINISH, FINISH)]
            return [Outbound("\n".join(lines), tuple(buttons))]

    async def _case_status(self, session: AsyncSession, r: VolunteerRequest) -> str:
        h = await session.get(Handoff, r.handoff_id) if r.handoff_id else None
        if h is None:
            return STATUS_LABELS[None]
        if h.status == "assigned":
            who = await session.get(Facilitator, h.assigned_to) if h.assigned_to else None
            return STATUS_LABELS["assigned"].format(name=who.first_name if who else "un operatore")
        return STATUS_LABELS.get(h.status, STATUS_LABELS[None])

    # --- the case ---------------------------------------------------------------------------------

    async def stamp_handoff(self, conversation_id: int, bot_username: str | None = None) -> list[Outbound]:
        """Mark the neighbour's open case as made through the volunteer, with the consent version.

        Idempotent. Returns the messages for the volunteer (the neighbour's link) the first time.
        """
        async with self.sessionmaker() as session:
            req = await session.scalar(
                select(VolunteerRequest).where(
                    VolunteerRequest.conversation_id == conversation_id, VolunteerRequest.status == "active"
                )
            )
            if req is None:
                return []
            h = await session.scalar(
                select(Handoff)
                .where(
                    Handoff.conversation_id == conversation_id, Handoff.status.in_(("waiting", "assigned"))
                )
                .order_by(Handoff.id.desc())
                .limit(1)
            )
            if h is None or (h.volunteer_id is not None and req.handoff_id == h.id):
                return []
            v = await session.get(Volunteer, req.volunteer_id)
            if v is None:
                return []
            h.volunteer_id = v.id
            h.volunteer_name = v.first_name
            h.on_behalf = True
            h.on_behalf_of = req.nickname
            h.consent_text_version = CONSENT_VERSION
            first_case = req.handoff_id is None
            req.handoff_id = h.id
            if req.link_token is None:
                req.link_token = secrets.token_urlsafe(12)
            token, nickname, volunteer = req.link_token, req.nickname or "", v.first_name
            hid = h.id
            await session.commit()
        log.info("handoff %s flagged as made through volunteer %s", hid, v.id)
        if self.publish is not None:
            try:
                await self.publish("queue", {"type": "handoff_updated", "handoff_id": hid})
            except Exception as exc:  # noqa: BLE001 - a missed refresh is repaired by the next one
                log.warning("publish failed: %s", type(exc).__name__)
        if not first_case or not bot_username:
            return []
        link = f"https://t.me/{bot_username}?start=n{token}"
        return [
            Outbound(T["link_intro"].format(name=nickname)),
            Outbound(T["link_message"].format(name=nickname, volunteer=volunteer, link=link)),
        ]

    async def link_neighbour(
        self, token: str, conversation_id: int
    ) -> tuple[list[Outbound], int | None, str | None]:
        """The neighbour opened the volunteer's link: her own conversation now receives the answers.

        Returns (messages for her, the case conversation to note it in, the note).
        """
        async with self.sessionmaker() as session:
            req = await session.scalar(
                select(VolunteerRequest).where(VolunteerRequest.link_token == token[:32])
            )
            if req is None or req.status != "active":
                return [Outbound(T["link_bad"])], None, None
            if req.neighbour_conversation_id not in (None, conversation_id):  # one person per link
                return [Outbound(T["link_bad"])], None, None
            v = await session.get(Volunteer, req.volunteer_id)
            req.neighbour_conversation_id = conversation_id
            case, nickname = req.conversation_id, req.nickname or ""
            await session.commit()
        volunteer = v.first_name if v else "Una volontaria"
        return (
            [Outbound(T["linked"].format(volunteer=volunteer), (Button(BTN_UNLINK, UNLINK),))],
            case,
            T["linked_note"].format(name=nickname),
        )

    async def unlink_neighbour(self, conversation_id: int) -> list[Outbound]:
        async with self.sessionmaker() as session:
            await session.execute(
                update(VolunteerRequest)
                .where(VolunteerRequest.neighbour_conversation_id == conversation_id)
                .values(neighbour_conversation_id=None)
            )
            await session.commit()
        return [Outbound(T["unlinked"])]
