"""The queue operations as the console, the API and the Telegram group use them: one transaction each,
then the consequences — who owns the conversation, what the person is told, the live events.

Order matters for "one owner at a time": on claim the conversation is handed to the facilitator
before the person is told who took it; on close the bot takes over again (and asks whether the
person was helped) only after the case is closed in the database.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.types import Outbound, StoredMessage
from handoff import queue
from handoff.audit import audit
from handoff.models import Facilitator, Handoff, PrivateNote, ReplyReceipt, Team
from handoff.security import Actor, as_utc, utcnow

log = logging.getLogger("bussola.handoff")


class Dialogue(Protocol):
    """What the queue needs from the dialogue engine (bot.engine.DialogueEngine)."""

    async def say(
        self, conversation_id: int, message: Outbound, *, author: str = ..., author_name: str | None = ...
    ) -> Any: ...

    async def set_owner(self, conversation_id: int, owner: str) -> Any: ...

    async def after_handoff_closed(self, conversation_id: int) -> Any: ...

    async def history(self, conversation_id: int, after_id: int = 0) -> list[StoredMessage]: ...


class Broker(Protocol):
    async def publish(self, topic: str, event: dict[str, Any]) -> None: ...


@dataclass(frozen=True, slots=True)
class CaseView:
    handoff: Handoff
    transcript: list[StoredMessage]
    notes: list[PrivateNote]
    team: Team | None
    assignee: Facilitator | None


def _message_id(result: Any) -> int | None:
    """``say`` may return the stored message, a list of them, or an id."""
    if isinstance(result, int):
        return result
    if isinstance(result, list | tuple):
        result = result[-1] if result else None
    mid = getattr(result, "id", None)
    return mid if isinstance(mid, int) else None


class HandoffService:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        dialogue: Dialogue,
        broker: Broker,
        *,
        claim_timeout: timedelta = timedelta(minutes=30),
    ) -> None:
        self.sessionmaker = sessionmaker
        self.dialogue = dialogue
        self.broker = broker
        self.claim_timeout = claim_timeout

    @classmethod
    def from_state(cls, state: Any) -> HandoffService:
        settings = getattr(state, "settings", None)
        minutes = getattr(settings, "claim_timeout_minutes", 30)
        return cls(state.sessionmaker, state.dialogue, state.broker, claim_timeout=timedelta(minutes=minutes))

    # --- consequences ------------------------------------------------------------------------

    async def _publish(self, kind: str, h: Handoff, **extra: Any) -> None:
        event = {"type": kind, "handoff_id": h.id, "team_id": h.team_id, "status": h.status, **extra}
        try:
            await self.broker.publish("queue", event)
            await self.broker.publish(f"handoff:{h.id}", event)
        except Exception as exc:  # noqa: BLE001 - a missed live event is repaired by the next refresh
            log.warning("publish %s failed: %s", kind, type(exc).__name__)

    async def _tell(self, h: Handoff, text: str) -> None:
        if h.conversation_id is None:
            return
        try:
            await self.dialogue.say(h.conversation_id, Outbound(text=text), author="system")
        except Exception as exc:  # noqa: BLE001 - the case change stands; the notice is best effort
            log.warning("notice for handoff %s failed: %s", h.id, type(exc).__name__)

    async def _owner(self, h: Handoff, owner: str) -> None:
        if h.conversation_id is None:
            return
        try:
            await self.dialogue.set_owner(h.conversation_id, owner)
        except Exception as exc:  # noqa: BLE001
            log.error("set_owner(%s) for handoff %s failed: %s", owner, h.id, type(exc).__name__)

    async def _claimed(self, actor: Actor, h: Handoff, kind: str) -> None:
        await self._owner(h, "facilitator")
        await self._tell(
            h, f"{actor.first_name} ha preso in carico la tua richiesta e ti scrive qui tra poco."
        )
        await self._publish(kind, h, by=actor.id)

    # --- operations --------------------------------------------------------------------------

    async def claim(self, actor: Actor, handoff_id: int) -> Handoff:
        async with self.sessionmaker() as session:
            h = await queue.claim(session, actor, handoff_id, utcnow())
            await session.commit()
        await self._claimed(actor, h, "handoff_claimed")
        return h

    async def take_next(self, actor: Actor) -> Handoff | None:
        async with self.sessionmaker() as session:
            h = await queue.take_next(session, actor, utcnow())
            await session.commit()
        if h is not None:
            await self._claimed(actor, h, "handoff_claimed")
        return h

    async def reply(
        self, actor: Actor, handoff_id: int, text: str, client_key: str | None = None
    ) -> int | None:
        """Send the holder's message to the person (Telegram or web chat, through the dialogue log).

        ``client_key`` (one per form or API call) makes a double submit send once: the first one
        records the key, any repeat gets the first one's message id and sends nothing.
        """
        async with self.sessionmaker() as session:
            h = await queue.get_visible(session, actor, handoff_id)
            body = queue.check_reply(actor, h, text)
            hid, conversation_id = h.id, h.conversation_id
            receipt_id = None
            if client_key:
                receipt = ReplyReceipt(handoff_id=hid, client_key=client_key[:64])
                session.add(receipt)
                try:
                    await session.commit()
                except IntegrityError:
                    await session.rollback()
                    previous = await session.scalar(
                        select(ReplyReceipt.message_id).where(
                            ReplyReceipt.handoff_id == hid, ReplyReceipt.client_key == client_key[:64]
                        )
                    )
                    return previous
                receipt_id = receipt.id
        assert conversation_id is not None
        try:
            result = await self.dialogue.say(
                conversation_id,
                Outbound(text=body, custom={"type": "facilitator_message", "author": actor.first_name}),
                author="facilitator",
                author_name=actor.first_name,
            )
        except Exception:
            if receipt_id is not None:  # not sent: let the facilitator try again with the same form
                async with self.sessionmaker() as session:
                    await session.execute(delete(ReplyReceipt).where(ReplyReceipt.id == receipt_id))
                    await session.commit()
            raise
        message_id = _message_id(result)
        now = utcnow()
        async with self.sessionmaker() as session:
            row = await session.get(Handoff, hid)
            if row is not None:
                row.last_activity_at = now
                if row.first_reply_at is None:
                    row.first_reply_at = now
            if receipt_id is not None:
                rec = await session.get(ReplyReceipt, receipt_id)
                if rec is not None:
                    rec.message_id = message_id
            await audit(session, actor, "reply", handoff_id=hid, object_type="message", object_id=message_id)
            await session.commit()
        return message_id

    async def add_note(self, actor: Actor, handoff_id: int, text: str) -> PrivateNote:
        async with self.sessionmaker() as session:
            note = await queue.add_note(session, actor, handoff_id, text)
            await session.commit()
        try:
            await self.broker.publish(f"handoff:{handoff_id}", {"type": "note", "handoff_id": handoff_id})
        except Exception:  # noqa: BLE001,S110 - live refresh only
            pass
        return note

    async def transfer(
        self,
        actor: Actor,
        handoff_id: int,
        *,
        note: str,
        team_id: int | None = None,
        facilitator_id: int | None = None,
    ) -> Handoff:
        async with self.sessionmaker() as session:
            result = await queue.transfer(
                session,
                actor,
                handoff_id,
                note=note,
                team_id=team_id,
                facilitator_id=facilitator_id,
                now=utcnow(),
            )
            await session.commit()
        h = result.handoff
        if result.to_team is not None:
            if result.previous_status == "assigned":
                await self._owner(h, "bot")
                await self._tell(
                    h,
                    "Ti passo a un altro sportello che può aiutarti meglio. "
                    "Resta qui: una persona ti scrive appena possibile.",
                )
        elif result.to_facilitator is not None:
            await self._owner(h, "facilitator")
            await self._tell(
                h, f"Da adesso ti aiuta {result.to_facilitator.first_name}. Ti scrive qui tra poco."
            )
        await self._publish("handoff_transferred", h, by=actor.id)
        return h

    async def release(self, actor: Actor, handoff_id: int, note: str = "") -> Handoff:
        async with self.sessionmaker() as session:
            h = await queue.release(session, actor, handoff_id, note=note, now=utcnow())
            await session.commit()
        await self._owner(h, "bot")
        await self._tell(
            h, "Sei di nuovo in coda, senza perdere il tuo posto: ti scrive la prima persona libera."
        )
        await self._publish("handoff_released", h, by=actor.id)
        return h

    async def close(self, actor: Actor, handoff_id: int, outcome: str, note: str = "") -> Handoff:
        async with self.sessionmaker() as session:
            h = await queue.close(session, actor, handoff_id, outcome=outcome, note=note, now=utcnow())
            await session.commit()
        if h.conversation_id is not None:
            try:
                await self.dialogue.after_handoff_closed(h.conversation_id)
            except Exception as exc:  # noqa: BLE001
                log.error("after_handoff_closed for handoff %s failed: %s", h.id, type(exc).__name__)
                await self._owner(h, "bot")
        await self._publish("handoff_closed", h, by=actor.id)
        return h

    async def release_stale(self) -> list[int]:
        """Cases whose facilitator is gone go back to the queue, keeping their place."""
        now = utcnow()
        released: list[Handoff] = []
        async with self.sessionmaker() as session:
            candidates = await queue.stale_candidates(session, now, self.claim_timeout)
        for h in candidates:
            async with self.sessionmaker() as session:
                if await queue.release_if_stale(session, h, now):
                    await session.commit()
                    fresh = await session.get(Handoff, h.id, populate_existing=True)
                    if fresh is not None:
                        released.append(fresh)
        for h in released:
            await self._owner(h, "bot")
            await self._tell(
                h,
                "La persona che ti seguiva non è più disponibile. Ti ho rimesso in coda senza perdere "
                "il tuo posto: ti scrive la prima persona libera.",
            )
            await self._publish("handoff_released", h, stale=True)
        return [h.id for h in released]

    async def view(self, actor: Actor, handoff_id: int, *, audit_read: bool = True) -> CaseView:
        """Everything the case page shows. Reading a case is audited."""
        async with self.sessionmaker() as session:
            h = await queue.get_visible(session, actor, handoff_id)
            notes = list(
                (
                    await session.scalars(
                        select(PrivateNote).where(PrivateNote.handoff_id == h.id).order_by(PrivateNote.id)
                    )
                ).all()
            )
            team = await session.get(Team, h.team_id) if h.team_id is not None else None
            assignee = await session.get(Facilitator, h.assigned_to) if h.assigned_to is not None else None
            if audit_read:
                await audit(session, actor, "view", handoff_id=h.id, object_type="handoff", object_id=h.id)
                await session.commit()
        transcript: list[StoredMessage] = []
        if h.conversation_id is not None:
            transcript = await full_history(self.dialogue, h.conversation_id)
        return CaseView(handoff=h, transcript=transcript, notes=notes, team=team, assignee=assignee)


async def full_history(dialogue: Dialogue, conversation_id: int, after_id: int = 0) -> list[StoredMessage]:
    """Every message after ``after_id``, however long the conversation (the engine pages by 200)."""
    out: list[StoredMessage] = []
    last = after_id
    for _ in range(1000):
        batch = await dialogue.history(conversation_id, after_id=last)
        if not batch:
            break
        out.extend(batch)
        if batch[-1].id <= last:
            break
        last = batch[-1].id
    return out


def waited_minutes(h: Handoff) -> int:
    start = as_utc(h.created_at) or utcnow()
    end = as_utc(h.first_claimed_at) if h.status != "waiting" and h.first_claimed_at else utcnow()
    return max(0, int(((end or utcnow()) - start).total_seconds() // 60))
