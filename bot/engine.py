"""The dialogue engine: one entry point for every channel, the database as its only memory.

For each citizen message the engine
1. serialises the conversation (an asyncio lock in this process, the row lock in the database across
   processes), so messages of one conversation are processed one at a time, in arrival order;
2. returns the earlier replies when a channel message id was already processed (exactly once);
3. asks the NLU *outside* any database transaction (Rasa may take up to its timeout; the database
   must not wait for it), falling back to degraded mode when Rasa is unavailable;
4. in one short transaction: stores the message, runs the dialogue policy, creates a handoff when the
   person agreed, stores the replies and the new state;
5. publishes small events (ids only) once committed: ``conv:{id}`` for every message, ``outbound`` for
   messages not written by the citizen, ``queue`` for handoffs.

Message text is never logged: only ids, kinds and exception class names.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
import unicodedata
from collections import OrderedDict
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import privacy, store
from bot.dialogue import payloads
from bot.dialogue.policy import Copy, Dialogue, Effects, HandoffInfo, Turn, handoff_summary
from bot.dialogue.state import DialogueState
from bot.dialogue.understand import should_reask, text_without_place, understand
from bot.models import Conversation
from bot.pubsub import Broker
from bot.settings import Settings
from bot.types import Inbound, Outbound, StoredMessage
from catalog_client.types import Catalog, Match, MatchQuery
from handoff.entry import HandoffRequest, create_handoff, queue_position
from handoff.models import Handoff
from nlu.types import NLUUnavailable, ParseResult

log = logging.getLogger("bussola.engine")

MAX_TEXT = 4000  # longer messages get a polite "please write it shorter" and are not sent to Rasa
ID_CACHE_SIZE = 50_000  # (channel, sender) -> conversation id and owner, most recent first
OWNERS = ("bot", "facilitator")


class NLU(Protocol):
    """What the engine needs from the NLU client (``nlu.client.NLUClient`` or a test fake)."""

    async def parse(self, text: str) -> ParseResult: ...


class ConversationGone(LookupError):
    """The conversation does not exist (never did, or the person erased it)."""


class _StaleOwner(Exception):
    """The remembered owner was out of date: process the message again with the right one."""


def clean_text(text: str) -> str:
    """Make any input storable and safe: NFC, no NUL/control characters, no lone surrogates.

    PostgreSQL rejects NUL in text and UTF-8 encoders reject lone surrogates: both would otherwise turn
    a prank into a lost message.
    """
    if not text:
        return ""
    text = "".join(ch for ch in text if not 0xD800 <= ord(ch) <= 0xDFFF)
    text = unicodedata.normalize("NFC", text)
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs", "Co"))


class _Locks:
    """One asyncio.Lock per key, dropped when nobody holds or waits for it. Locks are FIFO."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    def busy(self, key: Hashable) -> bool:
        """Someone holds or waits for this key's lock."""
        return key in self._locks

    @asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


@dataclass
class _Events:
    """What to publish once the transaction has committed."""

    messages: list[tuple[StoredMessage, int | None]] = field(default_factory=list)  # (message, in_reply_to)
    queue: list[dict[str, Any]] = field(default_factory=list)
    deleted: bool = False


class _TxEffects(Effects):
    """The policy's side effects, bound to the conversation's open transaction."""

    def __init__(
        self, engine: DialogueEngine, session: AsyncSession, conv: store.ConvRow, events: _Events
    ) -> None:
        self.engine = engine
        self.session = session
        self.conv = conv
        self.events = events

    async def match(self, query: MatchQuery) -> list[Match]:
        return await self.engine.catalog.match(query)

    async def _info(self, h: Handoff, *, created: bool) -> HandoffInfo:
        pos = await queue_position(self.session, h)
        return HandoffInfo(h.id, h.status, h.priority, h.reason, pos, created)

    async def open_handoff(self) -> HandoffInfo | None:
        h = await store.open_handoff(self.session, self.conv.id)
        return None if h is None else await self._info(h, created=False)

    async def create_handoff(self, *, reason: str, priority: str, state: DialogueState) -> HandoffInfo:
        existing = await store.open_handoff(self.session, self.conv.id)
        await self.session.execute(
            update(Conversation)
            .where(Conversation.id == self.conv.id)
            .values(consent_at=datetime.now(UTC), consent_version=privacy.PRIVACY_VERSION)
            .execution_options(synchronize_session=False)
        )
        req = HandoffRequest(
            conversation_id=self.conv.id,
            reason=reason,
            priority=priority,
            needs=tuple(state.all_needs or state.needs),
            comune_istat=state.comune_istat,
            comune_name=state.comune_name,
            quartiere=state.quartiere,
            on_behalf=state.on_behalf,
            on_behalf_of=state.destinatario if state.on_behalf else None,
            consent_text_version=privacy.PRIVACY_VERSION,
            suggested_services=tuple(state.suggested),
            summary=handoff_summary(state, reason),
            channel=self.conv.channel,
        )
        before = existing.priority if existing is not None else None
        h = await create_handoff(self.session, req)
        if existing is None:
            self.events.queue.append({"type": "handoff_created", "handoff_id": h.id})
            log.info("handoff created id=%s priority=%s reason=%s", h.id, h.priority, h.reason)
        elif h.priority != before:
            self.events.queue.append({"type": "handoff_updated", "handoff_id": h.id})
        return await self._info(h, created=existing is None)

    async def delete_conversation(self) -> None:
        self.engine._ids.pop((self.conv.channel, self.conv.sender), None)
        ids = await store.delete_conversation(self.session, self.conv.id)
        self.events.deleted = True
        self.events.queue += [{"type": "handoff_updated", "handoff_id": i} for i in ids]


class DialogueEngine:
    """Channel-agnostic dialogue: channels call ``handle``; the console calls ``say``/``set_owner``."""

    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        nlu: NLU,
        catalog: Catalog,
        broker: Broker,
        settings: Settings,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.nlu = nlu
        self.catalog = catalog
        self.broker = broker
        self.settings = settings
        self.dialogue = Dialogue(Copy(privacy.short_notice(settings), privacy.PRIVACY_VERSION))
        self._locks = _Locks()
        self._ids: OrderedDict[tuple[str, str], tuple[int, str]] = OrderedDict()
        # SQLite has one write lock for the whole file, and its busy handler sleeps in growing steps
        # while waiting for it: queueing this process's writers here instead keeps waits short and fair.
        # PostgreSQL locks rows, so conversations there proceed in parallel.
        self._sqlite_writes: asyncio.Lock | None = None
        bind = getattr(sessionmaker, "kw", {}).get("bind")
        if bind is not None and bind.dialect.name == "sqlite":
            self._sqlite_writes = asyncio.Lock()

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[None]:
        if self._sqlite_writes is None:
            yield
            return
        async with self._sqlite_writes:
            yield

    # --- conversations --------------------------------------------------------------------------

    async def conversation_for(
        self, channel: str, sender: str, *, create: bool = True
    ) -> Conversation | None:
        return await store.get_or_create(self.sessionmaker, channel, sender, create=create)

    async def history(self, conversation_id: int, after_id: int = 0, limit: int = 200) -> list[StoredMessage]:
        async with self.sessionmaker() as session:
            return [
                store.to_stored(m) for m in await store.history(session, conversation_id, after_id, limit)
            ]

    # --- the citizen's messages -----------------------------------------------------------------

    async def handle(self, inbound: Inbound) -> list[StoredMessage]:
        """Process one citizen message; return the bot's replies (stored and published).

        The sender's lock is taken before the first ``await``: messages of one person handed in one
        after the other are processed in that order, even if a database read of the first is slow.
        """
        key = (inbound.channel, inbound.sender)
        async with self._locks.hold(key):
            for attempt in range(3):
                cid, owner = await self._conversation_id(inbound.channel, inbound.sender)
                try:
                    async with self._locks.hold(cid):
                        return await self._handle_locked(cid, owner, inbound)
                except (ConversationGone, _StaleOwner):
                    # Erased, or handed over, by another process meanwhile: look it up again.
                    self._ids.pop(key, None)
                    if attempt == 2:
                        raise
            raise ConversationGone(inbound.sender)  # pragma: no cover - the loop returns or raises

    async def _conversation_id(self, channel: str, sender: str) -> tuple[int, str]:
        """(id, owner) of the sender's conversation, created if needed; remembered to save a query."""
        key = (channel, sender)
        hit = self._ids.get(key)
        if hit is not None:
            self._ids.move_to_end(key)
            return hit
        conv = await self.conversation_for(channel, sender)
        if conv is None:  # pragma: no cover - created above
            raise ConversationGone(sender)
        self._remember(key, conv.id, conv.owner)
        return conv.id, conv.owner

    def _remember(self, key: tuple[str, str], conversation_id: int, owner: str) -> None:
        self._ids[key] = (conversation_id, owner)
        self._ids.move_to_end(key)
        while len(self._ids) > ID_CACHE_SIZE:
            self._ids.popitem(last=False)

    async def _handle_locked(self, conversation_id: int, owner: str, inbound: Inbound) -> list[StoredMessage]:
        turn = await self._turn(inbound, conversation_id, ask_nlu=owner == "bot")
        try:
            return await self._process(conversation_id, inbound, turn)
        except IntegrityError:
            # This channel message id was processed before (a retry, a redelivery, another
            # process): the unique key refused it, and its earlier replies stand.
            if inbound.message_id:
                earlier = await self._earlier_replies(conversation_id, inbound.message_id)
                if earlier is not None:
                    return earlier
            raise

    async def _earlier_replies(self, conversation_id: int, external_id: str) -> list[StoredMessage] | None:
        async with self.sessionmaker() as session:
            m = await store.find_inbound(session, conversation_id, external_id[:128])
            if m is None:
                return None
            return [store.to_stored(r) for r in await store.replies_to(session, m.id)]

    async def _turn(self, inbound: Inbound, conversation_id: int, *, ask_nlu: bool) -> Turn:
        """Ask the NLU before taking any database lock (Rasa can be slow); understand later, with the
        state read under the lock."""
        text = clean_text(inbound.text)
        if inbound.kind == "button" or (inbound.kind == "text" and payloads.looks_like_payload(text.strip())):
            raw = inbound.payload if inbound.kind == "button" and inbound.payload else text
            return Turn(kind="button", text=text, payload=payloads.parse(clean_text(raw)))
        if inbound.kind != "text":
            return Turn(kind=inbound.kind, text=text, latitude=inbound.latitude, longitude=inbound.longitude)
        if len(text) > MAX_TEXT:
            return Turn(kind="text", text=text, too_long=True)
        if not text.strip():
            return Turn(kind="text", text=text)
        if not ask_nlu:  # silent while a person holds it: only the emergency safety net listens
            return Turn(kind="text", text=text, nlu_asked=False)
        parse = await self._parse(text.strip(), conversation_id)
        reparse: ParseResult | None = None
        if parse is not None and should_reask(parse) and (rest := text_without_place(text, parse)):
            reparse = await self._parse(rest, conversation_id)
        return Turn(kind="text", text=text, parse=parse, reparse=reparse, nlu_asked=True)

    async def _parse(self, text: str, conversation_id: int) -> ParseResult | None:
        """The NLU's parse, or None when it is unavailable (the bot then works in degraded mode)."""
        try:
            return await self.nlu.parse(text)
        except NLUUnavailable:
            log.warning("NLU unavailable: degraded reply conversation=%s", conversation_id)
        except Exception as exc:  # noqa: BLE001 - a broken NLU is an unavailable NLU
            log.warning(
                "NLU failed (%s): degraded reply conversation=%s", type(exc).__name__, conversation_id
            )
        return None

    async def _process(self, conversation_id: int, inbound: Inbound, turn: Turn) -> list[StoredMessage]:
        """One short transaction: lock and read, store the message, decide, store the replies and state.

        SQLAlchemy Core and plain rows on this path: it runs for every message, and the ORM's object
        bookkeeping costs more CPU here than the whole dialogue policy.
        """
        events = _Events()
        replies: list[StoredMessage] = []
        outs: list[Outbound] = []
        async with self._writing(), self.sessionmaker() as session, session.begin():
            conv = await store.lock_conversation_row(session, conversation_id)
            if conv is None:
                raise ConversationGone(str(conversation_id))
            owner, raw_state = conv.owner, conv.state
            self._remember((conv.channel, conv.sender), conversation_id, owner)
            wants_nlu = turn.kind == "text" and not turn.too_long and bool(turn.text.strip())
            if owner == "bot" and wants_nlu and not turn.nlu_asked:
                raise _StaleOwner()  # handed back meanwhile: the NLU must be asked after all
            if wants_nlu:
                pending = raw_state.get("pending")
                understood = understand(turn.text, turn.parse, answering=pending, reparse=turn.reparse)
                if not turn.nlu_asked:
                    understood = replace(understood, nlu_ok=True)  # safety net only: not degraded
                turn = replace(turn, understanding=understood)
            in_row = store.message_row(
                conversation_id,
                direction="in",
                author="citizen",
                text=self._inbound_text(turn),
                kind=turn.kind if turn.kind in ("button", "location") else inbound.kind,
                payload=turn.payload.raw if turn.payload else None,
                external_id=inbound.message_id,
            )
            # A channel message id stored before (here or by another process) fails here: unique key.
            (msg_in,) = await store.insert_messages(session, [in_row])
            events.messages.append((msg_in, None))
            state = DialogueState.load(raw_state)
            fx = _TxEffects(self, session, conv, events)
            respond = self.dialogue.respond if owner == "bot" else self.dialogue.safety_net
            try:
                async with session.begin_nested():
                    outs = await respond(state, turn, fx)
            except Exception as exc:  # noqa: BLE001 - a bug must cost an apology, not the message
                log.error(
                    "dialogue failed (%s) conversation=%s at %s",
                    type(exc).__name__,
                    conversation_id,
                    "".join(traceback.format_tb(exc.__traceback__)[-3:]).replace("\n", " | "),
                )
                events.queue.clear()
                events.deleted = False
                state = DialogueState.load(raw_state)
                outs = [Outbound(text=_error_text())] if owner == "bot" else []
            if not events.deleted:
                state.turns += 1
                rows = [
                    store.message_row(
                        conversation_id,
                        direction="out",
                        author="bot",
                        text=out.text,
                        buttons=out.buttons,
                        custom=out.custom,
                        reply_to=msg_in.id,
                    )
                    for out in outs
                ]
                replies = await store.insert_messages(session, rows)
                await store.save_state(session, conversation_id, state.dump())
                events.messages += [(m, msg_in.id) for m in replies]
        if events.deleted:
            log.info("conversation erased by the citizen conversation=%s", conversation_id)
            await self._publish_deleted(conversation_id, events)
            return self._unsaved(conversation_id, outs)
        await self._publish(conversation_id, conv.channel, events)
        return replies

    @staticmethod
    def _inbound_text(turn: Turn) -> str:
        """What the transcript shows: the title of the button tapped, never a bare payload if avoidable."""
        if turn.kind == "button":
            raw = turn.payload.raw if turn.payload else turn.text
            return payloads.title_of(raw) or turn.text or raw
        return turn.text

    @staticmethod
    def _unsaved(conversation_id: int, outs: list[Outbound]) -> list[StoredMessage]:
        """Replies to an erasure are not stored (there is nothing left to store them in): id 0."""
        now = store._iso(datetime.now(UTC))
        return [
            StoredMessage(
                id=0,
                conversation_id=conversation_id,
                direction="out",
                author="bot",
                text=o.text,
                buttons=o.buttons,
                custom=o.custom,
                created_at=now,
            )
            for o in outs
        ]

    # --- facilitators and the system ------------------------------------------------------------

    async def say(
        self, conversation_id: int, out: Outbound, *, author: str = "system", author_name: str | None = None
    ) -> StoredMessage:
        """Store and publish a message from a facilitator (``author="facilitator"``) or the system."""
        custom = out.custom
        if author == "facilitator" and custom is None:
            custom = {"type": "facilitator_message", "author": author_name or "Operatore"}
        async with self._locks.hold(conversation_id):
            async with self._writing(), self.sessionmaker() as session, session.begin():
                conv = await store.lock_conversation(session, conversation_id)
                if conv is None:
                    raise ConversationGone(str(conversation_id))
                m = store.add_message(
                    session,
                    conversation_id,
                    direction="out",
                    author=author,
                    author_name=author_name,
                    text=clean_text(out.text),
                    buttons=out.buttons,
                    custom=custom,
                )
                await session.flush()
                channel = conv.channel
            stored = store.to_stored(m)
            await self._publish(conversation_id, channel, _Events(messages=[(stored, None)]))
            return stored

    async def set_owner(self, conversation_id: int, owner: str) -> None:
        """ "facilitator" silences the bot (one owner at a time); "bot" gives the conversation back."""
        if owner not in OWNERS:
            raise ValueError(f"owner must be one of {OWNERS}")
        async with self._locks.hold(conversation_id):
            async with self._writing(), self.sessionmaker() as session, session.begin():
                conv = await store.lock_conversation(session, conversation_id)
                if conv is None:
                    raise ConversationGone(str(conversation_id))
                conv.owner = owner
                self._remember((conv.channel, conv.sender), conversation_id, owner)
                if owner == "facilitator":
                    state = DialogueState.load(conv.state)
                    state.offer, state.pending = None, None
                    conv.state = state.dump()

    async def after_handoff_closed(self, conversation_id: int) -> StoredMessage | None:
        """The bot takes the conversation back and asks, in one tap, whether the person was helped."""
        from bot import texts

        async with self._locks.hold(conversation_id):
            async with self._writing(), self.sessionmaker() as session, session.begin():
                conv = await store.lock_conversation(session, conversation_id)
                if conv is None:
                    return None
                conv.owner = "bot"
                self._remember((conv.channel, conv.sender), conversation_id, "bot")
                state = DialogueState.load(conv.state)
                state.pending, state.offer, state.handoff_id = "feedback", None, None
                state.misunderstood = 0
                conv.state = state.dump()
                m = store.add_message(
                    session,
                    conversation_id,
                    direction="out",
                    author="bot",
                    text=texts.FEEDBACK_ASK,
                    buttons=payloads.FEEDBACK,
                    custom={"type": "question", "slot": "feedback"},
                )
                await session.flush()
                channel = conv.channel
            stored = store.to_stored(m)
            await self._publish(conversation_id, channel, _Events(messages=[(stored, None)]))
            return stored

    async def delete_conversation(self, conversation_id: int) -> bool:
        """Erase a conversation (its messages and state); its handoffs are anonymised. False if absent."""
        events = _Events(deleted=True)
        async with self._locks.hold(conversation_id):
            async with self._writing(), self.sessionmaker() as session, session.begin():
                conv = await store.lock_conversation(session, conversation_id)
                if conv is None:
                    return False
                self._ids.pop((conv.channel, conv.sender), None)
                ids = await store.delete_conversation(session, conversation_id)
                events.queue += [{"type": "handoff_updated", "handoff_id": i} for i in ids]
        log.info("conversation erased conversation=%s", conversation_id)
        await self._publish_deleted(conversation_id, events)
        return True

    # --- events ---------------------------------------------------------------------------------

    async def _publish(self, conversation_id: int, channel: str, events: _Events) -> None:
        try:
            for m, in_reply_to in events.messages:
                event = {
                    "type": "message",
                    "conversation_id": conversation_id,
                    "message_id": m.id,
                    "channel": channel,
                    "author": m.author,
                    "in_reply_to": in_reply_to,
                }
                await self.broker.publish(f"conv:{conversation_id}", event)
                if m.author != "citizen":
                    await self.broker.publish("outbound", event)
            for q in events.queue:
                await self.broker.publish("queue", q)
        except Exception as exc:  # noqa: BLE001 - stored is what counts; readers re-read the database
            log.warning("publish failed (%s) conversation=%s", type(exc).__name__, conversation_id)

    async def _publish_deleted(self, conversation_id: int, events: _Events) -> None:
        try:
            await self.broker.publish(
                f"conv:{conversation_id}", {"type": "deleted", "conversation_id": conversation_id}
            )
            for q in events.queue:
                await self.broker.publish("queue", q)
        except Exception as exc:  # noqa: BLE001
            log.warning("publish failed (%s) conversation=%s", type(exc).__name__, conversation_id)


def _error_text() -> str:
    from bot import texts

    return texts.ERROR
