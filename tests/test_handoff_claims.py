"""Claims are atomic: many facilitators racing for the same cases, each case is taken exactly once,
on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff import queue
from handoff.models import AuditLog, Handoff
from handoff.security import Actor, utcnow
from tests.handoff_helpers import actor_of, make_case, make_facilitator, make_team

N_FACILITATORS = 20
N_CASES = 100


async def _setup(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[list[Actor], list[int]]:
    async with sessionmaker() as session:
        team = await make_team(session, "Sportello unico", is_default=True)
        facs = [await make_facilitator(session, f"op{i:02d}", [team]) for i in range(N_FACILITATORS)]
        cases = [await make_case(session) for _ in range(N_CASES)]
        actors = [await actor_of(session, f) for f in facs]
        await session.commit()
        return actors, [c.id for c in cases]


async def _claim_all(
    sessionmaker: async_sessionmaker[AsyncSession], actor: Actor, ids: list[int]
) -> list[int]:
    """One facilitator trying every case in its own random order."""
    order = ids[:]
    random.Random(actor.id).shuffle(order)
    won = []
    for hid in order:
        async with sessionmaker() as session:
            try:
                await queue.claim(session, actor, hid, utcnow())
                await session.commit()
                won.append(hid)
            except queue.Conflict:
                await session.rollback()
    return won


async def test_twenty_facilitators_claim_a_hundred_cases_each_exactly_once(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    actors, ids = await _setup(sessionmaker)
    results = await asyncio.gather(*(_claim_all(sessionmaker, a, ids) for a in actors))

    wins = Counter(hid for won in results for hid in won)
    assert sorted(wins) == sorted(ids)
    assert set(wins.values()) == {1}, "a case was claimed twice"
    winner_of = {hid: a.id for a, won in zip(actors, results, strict=True) for hid in won}
    async with sessionmaker() as session:
        rows = (await session.execute(select(Handoff.id, Handoff.status, Handoff.assigned_to))).all()
        assert {r.id: r.assigned_to for r in rows} == winner_of
        assert {r.status for r in rows} == {"assigned"}
        claims = await session.scalar(
            select(func.count()).select_from(AuditLog).where(AuditLog.action == "claim")
        )
        assert claims == N_CASES
    assert sum(1 for won in results if won) > 1, "the race should be shared among facilitators"


async def _take_until_empty(sessionmaker: async_sessionmaker[AsyncSession], actor: Actor) -> list[int]:
    won = []
    while True:
        async with sessionmaker() as session:
            h = await queue.take_next(session, actor, utcnow())
            await session.commit()
        if h is None:
            return won
        assert h.assigned_to == actor.id and h.status == "assigned"
        won.append(h.id)


async def test_take_next_under_contention_hands_out_each_case_once(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    actors, ids = await _setup(sessionmaker)
    results = await asyncio.gather(*(_take_until_empty(sessionmaker, a) for a in actors))
    taken = [hid for won in results for hid in won]
    assert sorted(taken) == sorted(ids)
    assert len(taken) == len(set(taken))


async def test_take_next_serves_urgent_first_then_the_longest_waiting(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    now = utcnow()
    async with sessionmaker() as session:
        team = await make_team(session, "Sportello", is_default=True)
        fac = await make_facilitator(session, "giulia", [team])
        newer = await make_case(session, created_at=now - timedelta(minutes=5))
        older = await make_case(session, created_at=now - timedelta(minutes=30))
        urgent = await make_case(session, priority="urgent", created_at=now - timedelta(minutes=1))
        high = await make_case(session, priority="high", created_at=now - timedelta(minutes=2))
        actor = await actor_of(session, fac)
        await session.commit()
    got = await _take_until_empty(sessionmaker, actor)
    assert got == [urgent.id, high.id, older.id, newer.id]


async def test_claim_of_a_taken_case_is_a_conflict_but_the_winner_may_click_again(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        team = await make_team(session, "Sportello", is_default=True)
        a = await actor_of(session, await make_facilitator(session, "anna", [team]))
        b = await actor_of(session, await make_facilitator(session, "bruno", [team]))
        h = await make_case(session)
        await session.commit()
    async with sessionmaker() as session:
        await queue.claim(session, a, h.id, utcnow())
        await session.commit()
    async with sessionmaker() as session:
        again = await queue.claim(session, a, h.id, utcnow())
        assert again.assigned_to == a.id
        try:
            await queue.claim(session, b, h.id, utcnow())
        except queue.Conflict as exc:
            assert exc.status == 409
        else:
            raise AssertionError("a second facilitator took an assigned case")
