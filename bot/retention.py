"""Forgetting what Bussola no longer needs (GDPR storage limitation), and a person's data export.

Defaults, stated in the privacy notice: conversations never handed to a person are deleted after
RETENTION_UNHANDLED_DAYS (30); closed cases are anonymised after RETENTION_CLOSED_DAYS (365): the
conversation and its messages are deleted and the case keeps only what statistics need (needs, comune,
priority, reason, outcome, times).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.models import Conversation, Message
from handoff.models import Handoff

log = logging.getLogger("bussola.retention")


@dataclass(frozen=True, slots=True)
class PurgeReport:
    conversations_deleted: int
    handoffs_anonymised: int


def anonymise_handoff_values() -> dict[str, Any]:
    """What is blanked in a case whose person has been forgotten."""
    return {"summary": "", "on_behalf_of": None, "suggested_services": [], "anonymised": True}


async def purge(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    unhandled_days: int,
    closed_days: int,
    now: datetime | None = None,
) -> PurgeReport:
    now = now or datetime.now(UTC)
    unhandled_before = now - timedelta(days=unhandled_days)
    closed_before = now - timedelta(days=closed_days)
    async with sessionmaker() as session, session.begin():
        has_handoff = exists().where(Handoff.conversation_id == Conversation.id)
        stale = select(Conversation.id).where(Conversation.updated_at < unhandled_before, ~has_handoff)
        old_closed = select(Handoff.conversation_id).where(
            Handoff.status == "closed",
            Handoff.closed_at < closed_before,
            Handoff.conversation_id.is_not(None),
        )
        ids = set((await session.scalars(stale)).all()) | set((await session.scalars(old_closed)).all())
        # A conversation with a case still open is never purged, whatever its age.
        still_open = set(
            (
                await session.scalars(
                    select(Handoff.conversation_id).where(
                        Handoff.status != "closed", Handoff.conversation_id.in_(ids)
                    )
                )
            ).all()
        )
        ids -= still_open
        anonymised = 0
        if ids:
            result = await session.execute(
                update(Handoff)
                .where(Handoff.conversation_id.in_(ids))
                .values(conversation_id=None, **anonymise_handoff_values())
            )
            anonymised = int(result.rowcount or 0)  # type: ignore[attr-defined]
            await session.execute(delete(Message).where(Message.conversation_id.in_(ids)))
            await session.execute(delete(Conversation).where(Conversation.id.in_(ids)))
    report = PurgeReport(conversations_deleted=len(ids), handoffs_anonymised=anonymised)
    log.info("retention purge", extra={"deleted": report.conversations_deleted, "anonymised": anonymised})
    return report


async def export_person(session: AsyncSession, conversation_id: int) -> dict[str, Any] | None:
    """Everything Bussola holds about one person (GDPR access request), as JSON-ready data."""
    conv = await session.get(Conversation, conversation_id)
    if conv is None:
        return None
    messages = (
        await session.scalars(select(Message).where(Message.conversation_id == conv.id).order_by(Message.id))
    ).all()
    handoffs = (await session.scalars(select(Handoff).where(Handoff.conversation_id == conv.id))).all()
    return {
        "conversation": {
            "id": conv.id,
            "channel": conv.channel,
            "created_at": conv.created_at.isoformat(),
            "consent_at": conv.consent_at.isoformat() if conv.consent_at else None,
            "consent_version": conv.consent_version,
            "state": conv.state,
        },
        "messages": [
            {
                "id": m.id,
                "direction": m.direction,
                "author": m.author,
                "author_name": m.author_name,
                "text": m.text,
                "created_at": m.created_at.isoformat(),
            }
            for m in messages
        ],
        "handoffs": [
            {
                "id": h.id,
                "status": h.status,
                "priority": h.priority,
                "reason": h.reason,
                "needs": h.needs,
                "comune": h.comune_name,
                "quartiere": h.quartiere,
                "on_behalf_of": h.on_behalf_of,
                "summary": h.summary,
                "created_at": h.created_at.isoformat(),
                "closed_at": h.closed_at.isoformat() if h.closed_at else None,
                "outcome": h.outcome,
            }
            for h in handoffs
        ],
    }


class RetentionJob:
    """Runs the purge at start and then every ``every`` seconds, in the app's event loop."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], settings: Any, every: float = 3600
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.every = every
        self._task: asyncio.Task[None] | None = None

    async def _loop(self) -> None:
        while True:
            try:
                await purge(
                    self.sessionmaker,
                    unhandled_days=self.settings.retention_unhandled_days,
                    closed_days=self.settings.retention_closed_days,
                )
            except Exception as exc:  # noqa: BLE001 - the database may be restarting; try again later
                log.warning("retention purge failed: %s", type(exc).__name__)
            await asyncio.sleep(self.every)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def add_subcommands(subparsers: Any) -> None:
    privacy = subparsers.add_parser("privacy", help="retention purge and personal data export")
    sub = privacy.add_subparsers(dest="privacy_command", required=True)
    sub.add_parser("purge", help="apply the retention rules now").set_defaults(func=_cli_purge)
    export = sub.add_parser("export", help="print one person's data as JSON (admins only)")
    export.add_argument("--conversation", type=int, required=True)
    export.set_defaults(func=_cli_export)


def _cli_purge(_args: argparse.Namespace) -> int:
    from bot.db import make_engine, make_sessionmaker
    from bot.settings import Settings

    async def run() -> PurgeReport:
        settings = Settings()
        engine = make_engine(settings.database_url)
        try:
            return await purge(
                make_sessionmaker(engine),
                unhandled_days=settings.retention_unhandled_days,
                closed_days=settings.retention_closed_days,
            )
        finally:
            await engine.dispose()

    report = asyncio.run(run())
    print(f"Conversazioni cancellate: {report.conversations_deleted}")
    print(f"Casi anonimizzati: {report.handoffs_anonymised}")
    return 0


def _cli_export(args: argparse.Namespace) -> int:
    from bot.db import make_engine, make_sessionmaker
    from bot.settings import Settings

    async def run() -> dict[str, Any] | None:
        engine = make_engine(Settings().database_url)
        try:
            async with make_sessionmaker(engine)() as session:
                return await export_person(session, args.conversation)
        finally:
            await engine.dispose()

    data = asyncio.run(run())
    if data is None:
        print("Conversazione non trovata.")
        return 1
    print(json.dumps(data, ensure_ascii=False, indent=2))
    return 0
