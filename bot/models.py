"""Conversations and their message log: the single source of truth for transcripts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.db import Base


def utcnow() -> datetime:
    return datetime.now(UTC)


class Conversation(Base):
    """One person on one channel. ``state`` is the dialogue's memory; it survives restarts."""

    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("channel", "sender", name="uq_conversations_channel_sender"),
        Index("ix_conversations_token_hash", "token_hash"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    sender: Mapped[str] = mapped_column(String(128))
    token_hash: Mapped[str | None] = mapped_column(String(128), default=None)  # web chat bearer token
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    owner: Mapped[str] = mapped_column(String(16), default="bot")  # "bot" or "facilitator"
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    consent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    consent_version: Mapped[str | None] = mapped_column(String(32), default=None)

    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", cascade="all, delete-orphan", order_by="Message.id"
    )


class Message(Base):
    """Every message in and out, in order. ``external_id`` makes channel redelivery idempotent."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "external_id", name="uq_messages_conversation_external"),
        Index("ix_messages_conversation_id_id", "conversation_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(8))  # "in" or "out"
    author: Mapped[str] = mapped_column(String(16))  # "citizen", "bot", "facilitator", "system"
    author_name: Mapped[str | None] = mapped_column(String(64), default=None)
    kind: Mapped[str] = mapped_column(String(16), default="text")
    text: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[str | None] = mapped_column(String(256), default=None)
    buttons: Mapped[list[dict[str, str]] | None] = mapped_column(JSON, default=None)
    custom: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    external_id: Mapped[str | None] = mapped_column(String(128), default=None)
    # The inbound message a bot reply answers: a redelivered message gets its earlier replies back.
    reply_to: Mapped[int | None] = mapped_column(Integer, default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")
