"""What the Telegram channel keeps in the database, so that several app processes act as one.

- ``telegram_updates``: update ids already processed (each update once, even across restarts).
- ``telegram_chats``: the Telegram chat of each conversation, whether the person blocked the bot,
  and a short delivery lease, so one process at a time sends a conversation's messages, in order.
- ``telegram_messages``: which conversation (or case) a sent Telegram message belongs to, so a
  button pressed on an old message, or a reply in a team's group, reaches the right place.
- ``telegram_announcements``: a case announced in its team's group (the row is the atomic claim:
  with several processes the announcement is sent once).

Rows tied to a conversation go with it (ON DELETE CASCADE): ``/cancella`` leaves nothing behind.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base
from bot.models import utcnow


class TelegramUpdate(Base):
    __tablename__ = "telegram_updates"
    __table_args__ = (Index("ix_telegram_updates_processed_at", "processed_at"),)

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    processed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TelegramChat(Base):
    """Delivery state of one conversation on Telegram (a chat may hold several: a volunteer's cases)."""

    __tablename__ = "telegram_chats"
    __table_args__ = (Index("ix_telegram_chats_chat_id", "chat_id"),)

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    chat_id: Mapped[str] = mapped_column(String(32))
    label: Mapped[str | None] = mapped_column(String(80), default=None)  # the neighbour a volunteer helps
    blocked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    lease_owner: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    retry_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TelegramSent(Base):
    __tablename__ = "telegram_messages"
    __table_args__ = (
        Index("ix_telegram_messages_chat_message", "chat_id", "tg_message_id"),
        Index("ix_telegram_messages_message_id", "message_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(32))
    tg_message_id: Mapped[int] = mapped_column(BigInteger)
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), default=None
    )
    message_id: Mapped[int | None] = mapped_column(Integer, default=None)  # messages.id, when one
    part: Mapped[int] = mapped_column(Integer, default=0)  # a long message goes out in several parts
    handoff_id: Mapped[int | None] = mapped_column(Integer, default=None)  # a case announced in a group
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TelegramAnnouncement(Base):
    __tablename__ = "telegram_announcements"

    handoff_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    chat_id: Mapped[str] = mapped_column(String(32))
    tg_message_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    noted_holder: Mapped[int | None] = mapped_column(Integer, default=None)  # whose claim the message shows
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
