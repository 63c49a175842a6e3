"""Sending the message log to Telegram: every message once, in order, by one process at a time.

Why the database decides who sends: with several app processes, every process hears every
``outbound`` event (PostgreSQL LISTEN/NOTIFY). Two guards make delivery exactly-once and ordered:
- a short per-conversation lease (``telegram_chats.lease_*``, a conditional UPDATE; on SQLite, where
  one process runs, an asyncio lock): one process at a time drains a conversation, oldest message
  first; the others do nothing, because the holder drains everything, re-checking after it lets go so
  that no message is left behind;
- a per-message claim (``UPDATE messages SET delivered_at=... WHERE id=... AND delivered_at IS NULL``):
  a message is sent only by whoever won it.

A message that Telegram refuses for a passing reason (network, flood control beyond the retries) is
given back (``delivered_at`` reset) and retried later by the sweep; the parts of a long message that
already went out are remembered (``telegram_messages.part``), so a retry does not repeat them. When a
person blocks the bot, the chat is marked and nothing more is attempted until they write again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.models import Conversation, Message
from bot.telegram_models import TelegramChat, TelegramSent
from bot.telegram_render import PageUrl, TgMessage, render

log = logging.getLogger("bussola.telegram.delivery")


def utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(dt: datetime | None) -> datetime | None:
    if dt is not None and dt.tzinfo is None:  # SQLite gives naive UTC datetimes back
        return dt.replace(tzinfo=UTC)
    return dt


def markup(message: TgMessage) -> InlineKeyboardMarkup | None:
    if not message.keyboard:
        return None
    rows = [
        [
            InlineKeyboardButton(b.title, callback_data=b.callback_data)
            if b.callback_data
            else InlineKeyboardButton(b.title, url=b.url)
            for b in row
        ]
        for row in message.keyboard
    ]
    return InlineKeyboardMarkup(rows)


def chat_of_sender(sender: str) -> str:
    """``"12345"`` or a volunteer's neighbour ``"12345:v7"`` -> the Telegram chat id ``"12345"``."""
    return sender.split(":", 1)[0]


class Delivery:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        bot: Bot,
        *,
        page_url: PageUrl | None = None,
        lease_seconds: float = 60.0,
        window_hours: float = 72.0,
        retry_seconds: float = 30.0,
        shared: bool = True,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.shared = shared  # several processes share the database: a lease in the database too
        self.bot = bot
        self.page_url = page_url
        self.lease = timedelta(seconds=lease_seconds)
        self.window = timedelta(hours=window_hours)
        self.retry = timedelta(seconds=retry_seconds)
        self.owner_prefix = f"{socket.gethostname()[:24]}:{os.getpid()}"
        self._active: dict[int, asyncio.Task[None]] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._dirty: set[int] = set()

    # --- chats -------------------------------------------------------------------------------------

    async def ensure_chat(self, conversation_id: int, chat_id: str, label: str | None = None) -> None:
        """Remember which Telegram chat a conversation lives in (and unblock it: the person is here)."""
        async with self.sessionmaker() as session:
            row = await session.get(TelegramChat, conversation_id)
            if row is None:
                session.add(TelegramChat(conversation_id=conversation_id, chat_id=str(chat_id), label=label))
            else:
                row.blocked_at = None
                row.retry_at = None
                if label:
                    row.label = label
            try:
                await session.commit()
            except IntegrityError:
                await session.rollback()

    async def unblock(self, chat_id: str) -> list[int]:
        """The person wrote again or restarted the bot: deliver what is waiting for them."""
        async with self.sessionmaker() as session:
            ids = list(
                await session.scalars(
                    select(TelegramChat.conversation_id).where(
                        TelegramChat.chat_id == str(chat_id), TelegramChat.blocked_at.is_not(None)
                    )
                )
            )
            if ids:
                await session.execute(
                    update(TelegramChat)
                    .where(TelegramChat.chat_id == str(chat_id))
                    .values(blocked_at=None, retry_at=None)
                )
                await session.commit()
        for cid in ids:
            self.kick(cid)
        return ids

    async def mark_blocked(self, chat_id: str) -> None:
        async with self.sessionmaker() as session:
            await session.execute(
                update(TelegramChat)
                .where(TelegramChat.chat_id == str(chat_id), TelegramChat.blocked_at.is_(None))
                .values(blocked_at=utcnow())
            )
            await session.commit()
        log.info("telegram chat blocked the bot: deliveries paused")

    async def is_blocked(self, conversation_id: int) -> bool:
        async with self.sessionmaker() as session:
            row = await session.get(TelegramChat, conversation_id)
            return row is not None and row.blocked_at is not None

    async def conversation_of(self, chat_id: str, tg_message_id: int) -> int | None:
        """The conversation a message we sent belongs to (for buttons pressed on old messages)."""
        async with self.sessionmaker() as session:
            return await session.scalar(
                select(TelegramSent.conversation_id)
                .where(TelegramSent.chat_id == str(chat_id), TelegramSent.tg_message_id == tg_message_id)
                .limit(1)
            )

    async def handoff_of(self, chat_id: str, tg_message_id: int) -> int | None:
        async with self.sessionmaker() as session:
            return await session.scalar(
                select(TelegramSent.handoff_id)
                .where(
                    TelegramSent.chat_id == str(chat_id),
                    TelegramSent.tg_message_id == tg_message_id,
                    TelegramSent.handoff_id.is_not(None),
                )
                .limit(1)
            )

    async def record(
        self,
        chat_id: str,
        tg_message_id: int,
        *,
        conversation_id: int | None = None,
        message_id: int | None = None,
        part: int = 0,
        handoff_id: int | None = None,
    ) -> None:
        async with self.sessionmaker() as session:
            session.add(
                TelegramSent(
                    chat_id=str(chat_id),
                    tg_message_id=tg_message_id,
                    conversation_id=conversation_id,
                    message_id=message_id,
                    part=part,
                    handoff_id=handoff_id,
                )
            )
            try:
                await session.commit()
            except IntegrityError:  # the conversation was erased meanwhile
                await session.rollback()

    # --- sending -----------------------------------------------------------------------------------

    async def send_part(self, chat_id: str, part: TgMessage, *, reply_to: int | None = None) -> Any:
        """One Telegram message; HTML first, plain text if Telegram cannot parse our HTML."""
        kwargs: dict[str, Any] = {
            "chat_id": int(chat_id),
            "reply_markup": markup(part),
            "link_preview_options": LinkPreviewOptions(is_disabled=True),
        }
        if reply_to is not None:
            kwargs["reply_to_message_id"] = reply_to
        try:
            return await self.bot.send_message(text=part.html, parse_mode=ParseMode.HTML, **kwargs)
        except BadRequest as exc:
            if "parse" not in str(exc).lower() and "entit" not in str(exc).lower():
                raise
            log.warning("telegram refused our HTML; sending plain text")
            return await self.bot.send_message(text=part.plain, **kwargs)

    async def send_direct(
        self,
        chat_id: str,
        messages: Sequence[Any],
        *,
        conversation_id: int | None = None,
        label: str | None = None,
    ) -> int:
        """Messages that are not in the log (the reply to an erasure, the volunteer desk): send now."""
        sent = 0
        try:
            for m in messages:
                for part in render(m, page_url=self.page_url, label=label):
                    msg = await self.send_part(chat_id, part)
                    sent += 1
                    if conversation_id is not None and part.keyboard:
                        await self.record(chat_id, msg.message_id, conversation_id=conversation_id)
        except Forbidden:
            await self.mark_blocked(chat_id)
        except TelegramError as exc:
            log.warning("direct telegram message not sent: %s", type(exc).__name__)
        return sent

    # --- draining a conversation ---------------------------------------------------------------------

    def kick(self, conversation_id: int) -> None:
        """Drain a conversation in the background (the periodic sweep, the ``outbound`` events)."""
        if conversation_id in self._active:
            self._dirty.add(conversation_id)
            return
        self._active[conversation_id] = asyncio.create_task(
            self._run(conversation_id), name=f"tg-drain-{conversation_id}"
        )

    async def _run(self, conversation_id: int) -> None:
        try:
            await self.flush(conversation_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the sweep tries again later
            log.warning("telegram delivery failed (%s) conversation=%s", type(exc).__name__, conversation_id)
        finally:
            self._active.pop(conversation_id, None)

    async def flush(self, conversation_id: int) -> None:
        """Send every undelivered message of the conversation, unless someone else is already at it.

        Whoever is at it goes round once more before letting go, so no message is left behind: in
        this process through ``_dirty`` (set by callers that found the conversation busy), across
        processes by re-reading the log after giving the lease back.
        """
        lock = self._locks.setdefault(conversation_id, asyncio.Lock())
        if lock.locked():
            self._dirty.add(conversation_id)
            return
        try:
            async with lock:
                while True:
                    self._dirty.discard(conversation_id)
                    outcome = await self._flush_once(conversation_id)
                    if outcome != "drained":
                        return
                    if not await self._pending(conversation_id) and conversation_id not in self._dirty:
                        return
        finally:
            if self._locks.get(conversation_id) is lock and not lock.locked():
                del self._locks[conversation_id]

    async def _flush_once(self, conversation_id: int) -> str:
        owner = f"{self.owner_prefix}:{secrets.token_hex(4)}"
        chat = await self._take_lease(conversation_id, owner)
        if chat is None:
            return "busy"
        try:
            return await self._drain(conversation_id, chat, owner)
        finally:
            if self.shared:
                await self._release(conversation_id, owner)

    async def _take_lease(self, conversation_id: int, owner: str) -> TelegramChat | None:
        """The conversation's chat, if it may be drained now (and, with several processes, by us)."""
        now = utcnow()
        async with self.sessionmaker() as session:
            chat = await session.get(TelegramChat, conversation_id)
            if chat is None:
                conv = await session.get(Conversation, conversation_id)
                if conv is None or conv.channel != "telegram":
                    return None
                session.add(
                    TelegramChat(conversation_id=conversation_id, chat_id=chat_of_sender(conv.sender))
                )
                try:
                    await session.commit()
                except IntegrityError:
                    await session.rollback()
                chat = await session.get(TelegramChat, conversation_id, populate_existing=True)
                if chat is None:
                    return None
            if not self.shared:  # one process (SQLite): the in-process lock is the lease
                retry_at = _aware(chat.retry_at)
                ok = chat.blocked_at is None and (retry_at is None or retry_at <= now)
                return chat if ok else None
            result = await session.execute(
                update(TelegramChat)
                .where(
                    TelegramChat.conversation_id == conversation_id,
                    TelegramChat.blocked_at.is_(None),
                    (TelegramChat.retry_at.is_(None)) | (TelegramChat.retry_at <= now),
                    (TelegramChat.lease_until.is_(None)) | (TelegramChat.lease_until < now),
                )
                .values(lease_owner=owner, lease_until=now + self.lease)
                .execution_options(synchronize_session=False)
            )
            await session.commit()
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return None
            return await session.get(TelegramChat, conversation_id, populate_existing=True)

    async def _release(self, conversation_id: int, owner: str) -> None:
        with contextlib.suppress(Exception):
            async with self.sessionmaker() as session:
                await session.execute(
                    update(TelegramChat)
                    .where(TelegramChat.conversation_id == conversation_id, TelegramChat.lease_owner == owner)
                    .values(lease_owner=None, lease_until=None)
                )
                await session.commit()

    def _undelivered(self, conversation_id: int) -> Any:
        return (
            select(Message)
            .where(
                Message.conversation_id == conversation_id,
                Message.direction == "out",
                Message.delivered_at.is_(None),
                Message.created_at >= utcnow() - self.window,
            )
            .order_by(Message.id)
        )

    async def _pending(self, conversation_id: int) -> bool:
        async with self.sessionmaker() as session:
            return (await session.scalar(self._undelivered(conversation_id).limit(1))) is not None

    async def _claim(self, message_id: int, conversation_id: int, owner: str) -> bool:
        """Win the message (and keep the lease alive) in one short transaction."""
        now = utcnow()
        async with self.sessionmaker() as session:
            result = await session.execute(
                update(Message)
                .where(Message.id == message_id, Message.delivered_at.is_(None))
                .values(delivered_at=now)
                .execution_options(synchronize_session=False)
            )
            if self.shared:
                await session.execute(
                    update(TelegramChat)
                    .where(TelegramChat.conversation_id == conversation_id, TelegramChat.lease_owner == owner)
                    .values(lease_until=now + self.lease)
                    .execution_options(synchronize_session=False)
                )
            await session.commit()
            return result.rowcount == 1  # type: ignore[attr-defined]

    async def _give_back(self, message_id: int, conversation_id: int, *, blocked: bool) -> None:
        async with self.sessionmaker() as session:
            await session.execute(update(Message).where(Message.id == message_id).values(delivered_at=None))
            if not blocked:
                await session.execute(
                    update(TelegramChat)
                    .where(TelegramChat.conversation_id == conversation_id)
                    .values(retry_at=utcnow() + self.retry)
                )
            await session.commit()

    async def _drain(self, conversation_id: int, chat: TelegramChat, owner: str) -> str:
        while True:
            async with self.sessionmaker() as session:
                batch = list(await session.scalars(self._undelivered(conversation_id).limit(20)))
            if not batch:
                return "drained"
            for m in batch:
                if not await self._claim(m.id, conversation_id, owner):
                    continue
                try:
                    await self._send_stored(chat, m)
                except Forbidden:
                    await self._give_back(m.id, conversation_id, blocked=True)
                    await self.mark_blocked(chat.chat_id)
                    return "blocked"
                except BadRequest as exc:  # this message cannot be sent as it is: do not block the rest
                    log.error("telegram rejected message=%s: %s", m.id, type(exc).__name__)
                except (
                    RetryAfter,
                    NetworkError,
                ) as exc:  # includes TimedOut: a retry may duplicate, not lose
                    log.warning("telegram send failed (%s) message=%s: will retry", type(exc).__name__, m.id)
                    await self._give_back(m.id, conversation_id, blocked=False)
                    return "retry"
                except TelegramError as exc:
                    log.error("telegram rejected message=%s: %s", m.id, type(exc).__name__)

    async def _send_stored(self, chat: TelegramChat, m: Message) -> None:
        """Send a stored message's parts; remember them where a later step needs it.

        Kept: parts with buttons (a press on them is routed to their conversation), a volunteer's
        neighbour's messages (her replies to them are routed there), and the parts of a long message
        (a retry resumes after the parts already sent).
        """
        from bot.store import to_stored

        parts = render(to_stored(m), page_url=self.page_url, label=chat.label)
        done = 0
        if len(parts) > 1:
            async with self.sessionmaker() as session:
                done = int(
                    await session.scalar(
                        select(func.count()).select_from(TelegramSent).where(TelegramSent.message_id == m.id)
                    )
                    or 0
                )
        for i, part in enumerate(parts):
            if i < done:
                continue
            sent = await self.send_part(chat.chat_id, part)
            if part.keyboard or chat.label or len(parts) > 1:
                await self.record(
                    chat.chat_id, sent.message_id, conversation_id=m.conversation_id, message_id=m.id, part=i
                )

    # --- the sweep -----------------------------------------------------------------------------------

    async def sweep(self, *, grace_seconds: float = 0.0) -> int:
        """Kick every Telegram conversation with messages still to deliver (at start, then now and then)."""
        now = utcnow()
        async with self.sessionmaker() as session:
            ids = list(
                await session.scalars(
                    select(Message.conversation_id)
                    .join(TelegramChat, TelegramChat.conversation_id == Message.conversation_id)
                    .where(
                        Message.direction == "out",
                        Message.delivered_at.is_(None),
                        Message.created_at >= now - self.window,
                        Message.created_at <= now - timedelta(seconds=grace_seconds),
                        TelegramChat.blocked_at.is_(None),
                        (TelegramChat.retry_at.is_(None)) | (TelegramChat.retry_at <= now),
                    )
                    .distinct()
                    .limit(500)
                )
            )
        for cid in ids:
            self.kick(cid)
        return len(ids)

    async def close(self) -> None:
        tasks = list(self._active.values())
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._active.clear()
