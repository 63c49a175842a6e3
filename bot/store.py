"""Conversations and their message log in the database: the few queries the engine and channels need.

Why a module of functions over an ``AsyncSession``: the engine decides the transaction boundaries (one
per citizen message, holding the conversation's row lock); these helpers never commit on their own.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.models import Conversation, Message
from bot.types import Button, StoredMessage
from handoff.models import Handoff

MAX_STORED_TEXT = 16_000  # no channel sends more; a bound keeps a misbehaving client from filling the disk


def hash_token(token: str) -> str:
    """Web-chat bearer tokens are 256-bit random: a plain SHA-256 is enough to store them safely."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def new_web_sender() -> str:
    return "web-" + secrets.token_urlsafe(12)


def to_stored(m: Message) -> StoredMessage:
    return StoredMessage(
        id=m.id,
        conversation_id=m.conversation_id,
        direction=m.direction,
        author=m.author,
        text=m.text,
        author_name=m.author_name,
        kind=m.kind,
        buttons=tuple(Button(b["title"], b["payload"]) for b in (m.buttons or ())),
        custom=m.custom,
        created_at=_iso(m.created_at),
    )


def _iso(dt: datetime | None) -> str:
    if dt is None:
        return ""
    if dt.tzinfo is None:  # SQLite hands back naive datetimes; they were written in UTC
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def get_conversation(session: AsyncSession, channel: str, sender: str) -> Conversation | None:
    return await session.scalar(
        select(Conversation).where(Conversation.channel == channel, Conversation.sender == sender)
    )


@dataclass(frozen=True, slots=True)
class WebSession:
    id: int  # the conversation's
    sender: str


async def web_session(session: AsyncSession, token: str) -> WebSession | None:
    """The web-chat session a bearer token opens (one indexed column select, no ORM object)."""
    row = (
        await session.execute(
            select(Conversation.id, Conversation.sender).where(
                Conversation.channel == "web", Conversation.token_hash == hash_token(token)
            )
        )
    ).first()
    return None if row is None else WebSession(row.id, row.sender)


async def conversation_by_token(session: AsyncSession, token: str) -> Conversation | None:
    return await session.scalar(
        select(Conversation).where(
            Conversation.channel == "web", Conversation.token_hash == hash_token(token)
        )
    )


async def get_or_create(
    sessionmaker: async_sessionmaker[AsyncSession],
    channel: str,
    sender: str,
    *,
    token_hash: str | None = None,
    create: bool = True,
) -> Conversation | None:
    """The conversation of (channel, sender), created if asked; safe when two requests race to create it."""
    async with sessionmaker() as session:
        conv = await get_conversation(session, channel, sender)
        if conv is not None or not create:
            return conv
        conv = Conversation(channel=channel, sender=sender, token_hash=token_hash, state={}, owner="bot")
        session.add(conv)
        try:
            await session.commit()
            return conv
        except IntegrityError:
            await session.rollback()
    async with sessionmaker() as session:
        return await get_conversation(session, channel, sender)


async def lock_conversation(session: AsyncSession, conversation_id: int) -> Conversation | None:
    """Hold the conversation for this transaction, across processes too.

    PostgreSQL: ``SELECT ... FOR UPDATE`` on the row. SQLite has no row locks: a first write (touching
    ``updated_at``) takes the database's write lock, so the state read after it is current and no other
    process can change it before we commit; ``RETURNING`` reads the row in the same statement.
    """
    if session.get_bind().dialect.name == "sqlite":
        return await session.scalar(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(updated_at=datetime.now(UTC))
            .returning(Conversation)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
    return await session.scalar(
        select(Conversation)
        .where(Conversation.id == conversation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


@dataclass(frozen=True, slots=True)
class ConvRow:
    """The columns of a locked conversation the dialogue needs (a plain row, not an ORM object)."""

    id: int
    channel: str
    sender: str
    owner: str
    state: dict[str, Any]


_CONV: Table = Conversation.__table__  # type: ignore[assignment]
_MSG: Table = Message.__table__  # type: ignore[assignment]


async def lock_conversation_row(session: AsyncSession, conversation_id: int) -> ConvRow | None:
    """:func:`lock_conversation` for the hot path: SQLAlchemy Core, one statement, a plain row."""
    cols = (_CONV.c.id, _CONV.c.channel, _CONV.c.sender, _CONV.c.owner, _CONV.c.state)
    if session.get_bind().dialect.name == "sqlite":
        stmt: Any = (
            update(_CONV)
            .where(_CONV.c.id == conversation_id)
            .values(updated_at=datetime.now(UTC))
            .returning(*cols)
        )
    else:
        stmt = select(*cols).where(_CONV.c.id == conversation_id).with_for_update()
    row = (await session.execute(stmt)).first()
    if row is None:
        return None
    return ConvRow(row.id, row.channel, row.sender, row.owner, dict(row.state or {}))


async def save_state(session: AsyncSession, conversation_id: int, state: dict[str, Any]) -> None:
    await session.execute(
        update(_CONV).where(_CONV.c.id == conversation_id).values(state=state, updated_at=datetime.now(UTC))
    )


def message_row(
    conversation_id: int,
    *,
    direction: str,
    author: str,
    text: str,
    kind: str = "text",
    payload: str | None = None,
    buttons: tuple[Button, ...] = (),
    custom: dict[str, Any] | None = None,
    external_id: str | None = None,
    author_name: str | None = None,
    reply_to: int | None = None,
) -> dict[str, Any]:
    """The values of one ``messages`` row, each bounded to its column (the text to MAX_STORED_TEXT)."""
    return {
        "conversation_id": conversation_id,
        "direction": direction,
        "author": author,
        "author_name": (author_name or None) and author_name[:64],
        "kind": kind,
        "text": text[:MAX_STORED_TEXT],
        "payload": payload[:256] if payload else None,
        "buttons": [{"title": b.title, "payload": b.payload} for b in buttons] or None,
        "custom": custom,
        "external_id": external_id[:128] if external_id else None,
        "reply_to": reply_to,
        "delivered_at": None,
        "created_at": datetime.now(UTC),
    }


async def insert_messages(session: AsyncSession, rows: list[dict[str, Any]]) -> list[StoredMessage]:
    """Insert rows in one statement (``RETURNING`` the ids, in order); the stored messages.

    A channel message id already stored raises ``IntegrityError`` (unique per conversation).
    """
    if not rows:
        return []
    stmt = insert(_MSG).returning(_MSG.c.id, sort_by_parameter_order=True)
    result = await session.execute(stmt, rows)
    ids = [r.id for r in result]
    return [
        StoredMessage(
            id=i,
            conversation_id=r["conversation_id"],
            direction=r["direction"],
            author=r["author"],
            text=r["text"],
            author_name=r["author_name"],
            kind=r["kind"],
            buttons=tuple(Button(b["title"], b["payload"]) for b in (r["buttons"] or ())),
            custom=r["custom"],
            created_at=_iso(r["created_at"]),
        )
        for i, r in zip(ids, rows, strict=True)
    ]


async def find_inbound(session: AsyncSession, conversation_id: int, external_id: str) -> Message | None:
    return await session.scalar(
        select(Message).where(
            Message.conversation_id == conversation_id,
            Message.external_id == external_id,
            Message.direction == "in",
        )
    )


async def replies_to(session: AsyncSession, message_id: int) -> list[Message]:
    rows = await session.scalars(select(Message).where(Message.reply_to == message_id).order_by(Message.id))
    return list(rows)


def add_message(
    session: AsyncSession,
    conversation_id: int,
    *,
    direction: str,
    author: str,
    text: str,
    kind: str = "text",
    payload: str | None = None,
    buttons: tuple[Button, ...] = (),
    custom: dict[str, Any] | None = None,
    external_id: str | None = None,
    author_name: str | None = None,
    reply_to: int | None = None,
) -> Message:
    """:func:`message_row` as an ORM object added to ``session`` (for paths that use the ORM)."""
    m = Message(
        **message_row(
            conversation_id,
            direction=direction,
            author=author,
            text=text,
            kind=kind,
            payload=payload,
            buttons=buttons,
            custom=custom,
            external_id=external_id,
            author_name=author_name,
            reply_to=reply_to,
        )
    )
    session.add(m)
    return m


async def history(
    session: AsyncSession, conversation_id: int, after_id: int = 0, limit: int = 200
) -> list[Message]:
    rows = await session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.id > after_id)
        .order_by(Message.id)
        .limit(max(1, min(limit, 1000)))
    )
    return list(rows)


async def open_handoff(session: AsyncSession, conversation_id: int) -> Handoff | None:
    return await session.scalar(
        select(Handoff)
        .where(Handoff.conversation_id == conversation_id, Handoff.status.in_(("waiting", "assigned")))
        .order_by(Handoff.id.desc())
        .limit(1)
    )


async def delete_conversation(session: AsyncSession, conversation_id: int) -> list[int]:
    """Erase the messages and the conversation; its handoffs stay for statistics, anonymised.

    Returns the ids of the handoffs touched so the caller can tell the queue. Open cases are closed:
    the person has gone, and a facilitator sees that the data were erased (``anonymised``).
    """
    now = datetime.now(UTC)
    handoffs = list(await session.scalars(select(Handoff).where(Handoff.conversation_id == conversation_id)))
    for h in handoffs:
        h.anonymised = True
        h.summary = ""
        h.on_behalf_of = None
        h.quartiere = None
        h.conversation_id = None
        if h.status != "closed":
            h.status = "closed"
            h.closed_at = now
            h.outcome = h.outcome or "dati_cancellati"
    await session.execute(delete(Message).where(Message.conversation_id == conversation_id))
    await session.execute(delete(Conversation).where(Conversation.id == conversation_id))
    return [h.id for h in handoffs]
