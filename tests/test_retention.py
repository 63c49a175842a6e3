"""The retention rules delete and anonymise exactly what the privacy notice promises."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bot.models import Conversation, Message
from bot.retention import export_person, purge
from handoff.models import Handoff

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


async def _conv(session, sender: str, age_days: int, text: str = "ciao") -> Conversation:  # type: ignore[no-untyped-def]
    when = NOW - timedelta(days=age_days)
    conv = Conversation(channel="web", sender=sender, state={}, created_at=when, updated_at=when)
    session.add(conv)
    await session.flush()
    session.add(
        Message(conversation_id=conv.id, direction="in", author="citizen", text=text, created_at=when)
    )
    return conv


async def test_purge_applies_both_rules_and_spares_open_cases(sessionmaker) -> None:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s, s.begin():
        old_unhandled = await _conv(s, "a", 31)
        fresh_unhandled = await _conv(s, "b", 5)
        old_closed = await _conv(s, "c", 400)
        recent_closed = await _conv(s, "d", 400)
        old_open = await _conv(s, "e", 400)
        s.add_all(
            [
                Handoff(
                    conversation_id=old_closed.id,
                    status="closed",
                    reason="richiesta",
                    summary="Maria, sfratto",
                    on_behalf_of="mia madre",
                    closed_at=NOW - timedelta(days=366),
                ),
                Handoff(
                    conversation_id=recent_closed.id,
                    status="closed",
                    reason="richiesta",
                    summary="x",
                    closed_at=NOW - timedelta(days=10),
                ),
                Handoff(conversation_id=old_open.id, status="waiting", reason="richiesta", summary="y"),
            ]
        )
    report = await purge(sessionmaker, unhandled_days=30, closed_days=365, now=NOW)
    assert report.conversations_deleted == 2 and report.handoffs_anonymised == 1
    async with sessionmaker() as s:
        left = set((await s.scalars(select(Conversation.sender))).all())
        assert left == {"b", "d", "e"}
        assert (
            await s.scalar(
                select(func.count()).select_from(Message).where(Message.conversation_id == old_unhandled.id)
            )
            == 0
        )
        anon = await s.scalar(select(Handoff).where(Handoff.anonymised.is_(True)))
        assert (
            anon is not None
            and anon.summary == ""
            and anon.on_behalf_of is None
            and anon.conversation_id is None
        )
        assert anon.status == "closed"  # statistics survive
    assert fresh_unhandled.id


async def test_export_contains_messages_and_cases(sessionmaker) -> None:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s, s.begin():
        conv = await _conv(s, "x", 1, text="ho bisogno di una casa")
        s.add(
            Handoff(
                conversation_id=conv.id, status="waiting", reason="complesso", needs=["casa"], summary="casa"
            )
        )
    async with sessionmaker() as s:
        data = await export_person(s, conv.id)
        assert data is not None
        assert [m["text"] for m in data["messages"]] == ["ho bisogno di una casa"]
        assert data["handoffs"][0]["needs"] == ["casa"]
        assert await export_person(s, 999_999) is None
