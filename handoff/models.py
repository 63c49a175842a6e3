"""The facilitators' side in the database: handoffs, teams and their territory, facilitators, sessions,
the audit log, private notes, canned replies and the catalogue records a team keeps up to date.

Everything a console or a background job needs to agree on across processes lives here (sessions,
login attempts, claims), so that several app replicas on one PostgreSQL behave as one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base
from bot.models import utcnow

PRIORITIES = ("urgent", "high", "normal")  # order of service
PRIORITY_RANK = {p: i for i, p in enumerate(PRIORITIES)}
STATUSES = ("waiting", "assigned", "closed")
REASONS = ("richiesta", "complesso", "emergenza", "non_compreso", "nessun_servizio", "insoddisfatto")
ROLES = ("facilitatore", "coordinatore", "admin")

# Outcome codes of a closed case (stable codes for statistics, Italian labels for the console).
OUTCOMES: dict[str, str] = {
    "risolto": "Risolto",
    "orientato": "Indirizzata a un servizio",
    "preso_in_carico": "Presa in carico da un servizio",
    "non_risponde": "La persona non risponde più",
    "non_pertinente": "Richiesta non pertinente",
    "duplicato": "Caso doppio",
    "altro": "Altro",
}
# Outcomes set by the system, shown but never chosen by a facilitator.
OUTCOME_LABELS: dict[str, str] = {**OUTCOMES, "dati_cancellati": "La persona ha cancellato i suoi dati"}


class Handoff(Base):
    """A conversation waiting for, or held by, a human facilitator."""

    __tablename__ = "handoffs"
    __table_args__ = (
        Index("ix_handoffs_status_rank_created", "status", "priority_rank", "created_at"),
        Index("ix_handoffs_team_status", "team_id", "status"),
        Index("ix_handoffs_assigned_status", "assigned_to", "status"),
        Index("ix_handoffs_conversation", "conversation_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), default=None
    )
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    priority_rank: Mapped[int] = mapped_column(Integer, default=2)
    reason: Mapped[str] = mapped_column(String(32))
    needs: Mapped[list[str]] = mapped_column(JSON, default=list)
    comune_istat: Mapped[str | None] = mapped_column(String(6), default=None)
    comune_name: Mapped[str | None] = mapped_column(String(80), default=None)
    quartiere: Mapped[str | None] = mapped_column(String(80), default=None)
    on_behalf: Mapped[bool] = mapped_column(Boolean, default=False)
    on_behalf_of: Mapped[str | None] = mapped_column(String(80), default=None)  # "mia madre", a nickname
    volunteer_id: Mapped[int | None] = mapped_column(Integer, default=None)
    volunteer_name: Mapped[str | None] = mapped_column(String(80), default=None)  # "tramite volontaria X"
    consent_text_version: Mapped[str | None] = mapped_column(String(32), default=None)
    suggested_services: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    summary: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[str] = mapped_column(String(16), default="web")
    team_id: Mapped[int | None] = mapped_column(Integer, default=None)
    assigned_to: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    first_claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    first_reply_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    last_activity_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    closed_by: Mapped[int | None] = mapped_column(Integer, default=None)
    outcome: Mapped[str | None] = mapped_column(String(32), default=None)
    outcome_note: Mapped[str | None] = mapped_column(Text, default=None)
    anonymised: Mapped[bool] = mapped_column(Boolean, default=False)
    # What the person was last told while waiting, so updates are sent only when something changed.
    notice_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    notice_kind: Mapped[str | None] = mapped_column(String(16), default=None)  # "position" | "closed"
    notice_position: Mapped[int | None] = mapped_column(Integer, default=None)
    returned_count: Mapped[int] = mapped_column(Integer, default=0)  # times sent back to the queue


class Team(Base):
    """A desk (sportello, consorzio, Casa del Quartiere) covering comuni and, in Turin, quartieri."""

    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    comuni: Mapped[list[str]] = mapped_column(JSON, default=list)  # ISTAT codes, 6 digits
    quartieri: Mapped[list[str]] = mapped_column(JSON, default=list)  # Turin neighbourhoods (names)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)  # covers everything else
    # {"0": [["09:00", "13:00"], ["14:00", "17:00"]], ...} keyed by weekday (0 = Monday), Europe/Rome.
    office_hours: Mapped[dict[str, list[list[str]]] | None] = mapped_column(JSON, default=None)
    holidays_subdiv: Mapped[str | None] = mapped_column(String(8), default=None)  # e.g. "TO": San Giovanni
    closed_days: Mapped[list[str]] = mapped_column(JSON, default=list)  # extra ISO dates the desk is shut
    organization_ids: Mapped[list[str]] = mapped_column(JSON, default=list)  # HSDS orgs it keeps up to date
    telegram_chat_id: Mapped[str | None] = mapped_column(String(32), default=None)  # optional group
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Facilitator(Base):
    """A console account. ``first_name`` is what the citizen sees; the password only as a hash."""

    __tablename__ = "facilitators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    first_name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16), default="facilitatore")
    password_hash: Mapped[str] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    telegram_user_id: Mapped[str | None] = mapped_column(String(32), default=None, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class TeamMembership(Base):
    __tablename__ = "team_memberships"

    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    facilitator_id: Mapped[int] = mapped_column(
        ForeignKey("facilitators.id", ondelete="CASCADE"), primary_key=True
    )


class ConsoleSession(Base):
    """A logged-in console session. The cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "console_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    facilitator_id: Mapped[int] = mapped_column(ForeignKey("facilitators.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LoginAttempt(Base):
    """Failed and successful logins, for the lockout after repeated failures (shared by replicas)."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_username_at", "username", "at"),
        Index("ix_login_attempts_ip_at", "ip", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64), default="")
    success: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditLog(Base):
    """Who viewed, claimed, transferred, closed or changed what. Ids and codes only, no citizen text."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_handoff_id", "handoff_id"),
        Index("ix_audit_log_at", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(Integer, default=None)  # None: the system
    actor: Mapped[str] = mapped_column(String(80))  # username or "sistema", kept if the account goes
    action: Mapped[str] = mapped_column(String(32))
    handoff_id: Mapped[int | None] = mapped_column(Integer, default=None)
    object_type: Mapped[str | None] = mapped_column(String(32), default=None)
    object_id: Mapped[str | None] = mapped_column(String(128), default=None)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class PrivateNote(Base):
    """A note among facilitators about a case. Never sent to the citizen, never in the dialogue log."""

    __tablename__ = "private_notes"
    __table_args__ = (Index("ix_private_notes_handoff_id", "handoff_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(Integer, default=None)
    author_name: Mapped[str] = mapped_column(String(64), default="")
    kind: Mapped[str] = mapped_column(String(16), default="note")  # note | transfer | close | release
    text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CannedReply(Base):
    """A ready answer for the reply box; ``team_id`` None means every team may use it."""

    __tablename__ = "canned_replies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), default=None)
    title: Mapped[str] = mapped_column(String(80))
    text: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CatalogOverride(Base):
    """A team's own correction of an HSDS 3.0 service record, re-applied to the catalogue at start."""

    __tablename__ = "catalog_overrides"

    service_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    team_id: Mapped[int | None] = mapped_column(Integer, default=None)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_by: Mapped[int | None] = mapped_column(Integer, default=None)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ReplyReceipt(Base):
    """A facilitator reply already sent, by the form's one-time key: a double submit sends once."""

    __tablename__ = "reply_receipts"
    __table_args__ = (UniqueConstraint("handoff_id", "client_key", name="uq_reply_receipts_handoff_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id", ondelete="CASCADE"))
    client_key: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
