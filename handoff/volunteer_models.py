"""Volunteers (Madri di Quartiere) in the database: invite codes, registrations, the requests they
make on behalf of a neighbour, and the consent given for each.

Why a request has its own conversation: a volunteer may follow several neighbours at once; each gets
its own transcript, dialogue state, case and erasure, and facilitators never see one neighbour's
story mixed with another's. The neighbour is known by a first name or a nickname only.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base
from bot.models import utcnow

REQUEST_STATUSES = ("naming", "consent", "active", "declined", "closed")


class VolunteerInvite(Base):
    """A one-time code a coordinator gives a volunteer. Only the code's SHA-256 is stored."""

    __tablename__ = "volunteer_invites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    created_by: Mapped[int | None] = mapped_column(Integer, default=None)  # facilitator id; None: CLI
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    volunteer_id: Mapped[int | None] = mapped_column(Integer, default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class Volunteer(Base):
    """A registered volunteer, known by her Telegram account and first name."""

    __tablename__ = "volunteers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), default=None)
    telegram_user_id: Mapped[str] = mapped_column(String(32), unique=True)
    chat_id: Mapped[str] = mapped_column(String(32))
    first_name: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The request her messages go to now (None: her own conversation with the bot).
    active_request_id: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class VolunteerRequest(Base):
    """One neighbour helped by one volunteer: her own conversation, her case, the link she may open."""

    __tablename__ = "volunteer_requests"
    __table_args__ = (
        Index("ix_volunteer_requests_volunteer", "volunteer_id"),
        Index("ix_volunteer_requests_conversation", "conversation_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id", ondelete="CASCADE"))
    nickname: Mapped[str | None] = mapped_column(String(40), default=None)
    status: Mapped[str] = mapped_column(String(16), default="naming")
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), default=None
    )
    handoff_id: Mapped[int | None] = mapped_column(Integer, default=None)
    # A deep-link token the neighbour may open on her own Telegram to receive answers there.
    link_token: Mapped[str | None] = mapped_column(String(32), unique=True, default=None)
    neighbour_conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class VolunteerConsent(Base):
    """The neighbour's consent as the volunteer reported it: answer, time and the text's version."""

    __tablename__ = "volunteer_consents"
    __table_args__ = (Index("ix_volunteer_consents_request", "request_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("volunteer_requests.id", ondelete="CASCADE"))
    volunteer_id: Mapped[int] = mapped_column(Integer)
    agreed: Mapped[bool] = mapped_column(Boolean)
    text_version: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class VolunteerRedeemAttempt(Base):
    """Failed invite redemptions per Telegram account, to stop code guessing (shared by replicas)."""

    __tablename__ = "volunteer_redeem_attempts"
    __table_args__ = (Index("ix_volunteer_redeem_attempts_user_at", "telegram_user_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    telegram_user_id: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
