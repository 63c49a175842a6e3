"""One conversation, many messages at once: one at a time, in order, each message id processed once.

Run on SQLite and on the real PostgreSQL (the ``db_url`` fixture). Two engines on one database stand
for two app processes: only the database's row lock can keep them from losing each other's updates.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import make_engine, make_sessionmaker
from bot.dialogue.state import DialogueState
from bot.engine import DialogueEngine
from bot.models import Conversation, Message
from bot.pubsub import InMemoryBroker
from bot.types import Inbound
from catalog_client.types import Match, MatchQuery
from nlu.types import ParseResult
from tests.fixtures_chat import FakeCatalog, FakeNLU, chat_settings

N = 20


class SlowNLU(FakeNLU):
    """The first messages take the longest: without serialisation, later ones would overtake them."""

    def __init__(self) -> None:
        super().__init__()
        self.order: list[str] = []

    async def parse(self, text: str) -> ParseResult:
        self.order.append(text)
        n = int(text.rsplit(" ", 1)[-1])
        await asyncio.sleep(0.003 * (N - n))
        return await super().parse(text)


class SlowCatalog(FakeCatalog):
    """Matching takes a moment inside the conversation's transaction: a wide window for a race."""

    async def match(self, query: MatchQuery) -> list[Match]:
        await asyncio.sleep(0.005)
        return await super().match(query)


@pytest.fixture
async def second_engine(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Another connection pool on the same database: a second app process."""
    eng = make_engine(db_url)
    yield make_sessionmaker(eng)
    await eng.dispose()


def engine_on(sm: async_sessionmaker[AsyncSession], nlu: FakeNLU, db_url: str) -> DialogueEngine:
    return DialogueEngine(
        sessionmaker=sm,
        nlu=nlu,
        catalog=SlowCatalog(),
        broker=InMemoryBroker(),
        settings=chat_settings(db_url),
    )


async def log_of(sm: async_sessionmaker[AsyncSession]) -> list[Message]:
    async with sm() as s:
        return list(await s.scalars(select(Message).order_by(Message.id)))


def assert_not_interleaved(log: list[Message]) -> None:
    """After each citizen message come exactly its replies, before the next citizen message."""
    current = None
    for m in log:
        if m.direction == "in":
            current = m.id
        else:
            assert m.reply_to == current, f"reply {m.id} to {m.reply_to} found after message {current}"


async def test_concurrent_messages_are_processed_one_at_a_time_in_arrival_order(
    sessionmaker: async_sessionmaker[AsyncSession], db_url: str
) -> None:
    nlu = SlowNLU()
    engine = engine_on(sessionmaker, nlu, db_url)
    texts = [f"ciao numero {i}" for i in range(N)]
    results = await asyncio.gather(
        *(engine.handle(Inbound(channel="web", sender="s", text=t)) for t in texts)
    )
    log = await log_of(sessionmaker)
    assert [m.text for m in log if m.direction == "in"] == texts  # stored in the order handed in
    assert [t for t in nlu.order if t in texts] == texts  # and understood in that order: one at a time
    assert_not_interleaved(log)
    assert all(results)  # every message got its replies
    async with sessionmaker() as s:
        conv = await s.scalar(select(Conversation))
    assert conv is not None and DialogueState.load(conv.state).turns == N


async def test_two_processes_never_lose_each_others_updates(
    sessionmaker: async_sessionmaker[AsyncSession],
    second_engine: async_sessionmaker[AsyncSession],
    db_url: str,
) -> None:
    a = engine_on(sessionmaker, FakeNLU(), db_url)
    b = engine_on(second_engine, FakeNLU(), db_url)
    await a.handle(Inbound(channel="telegram", sender="42", text="ciao"))  # the conversation exists
    jobs = [
        (a if i % 2 else b).handle(
            Inbound(channel="telegram", sender="42", text=f"cerco casa a Collegno {i}")
        )
        for i in range(N)
    ]
    await asyncio.gather(*jobs)
    log = await log_of(sessionmaker)
    assert len([m for m in log if m.direction == "in"]) == N + 1
    assert_not_interleaved(log)
    async with sessionmaker() as s:
        conv = await s.scalar(select(Conversation))
    assert conv is not None and DialogueState.load(conv.state).turns == N + 1


async def test_a_message_id_delivered_many_times_at_once_is_processed_once(
    sessionmaker: async_sessionmaker[AsyncSession],
    second_engine: async_sessionmaker[AsyncSession],
    db_url: str,
) -> None:
    nlu_a, nlu_b = FakeNLU(), FakeNLU()
    a = engine_on(sessionmaker, nlu_a, db_url)
    b = engine_on(second_engine, nlu_b, db_url)
    await a.handle(Inbound(channel="telegram", sender="7", text="ciao"))
    msg = Inbound(channel="telegram", sender="7", text="cerco casa a Collegno", message_id="update-1001")
    results = await asyncio.gather(*((a if i % 2 else b).handle(msg) for i in range(10)))
    ids = [[m.id for m in r] for r in results]
    assert ids[0] and all(x == ids[0] for x in ids)  # everyone gets the same stored replies
    async with sessionmaker() as s:
        n = await s.scalar(
            select(func.count()).select_from(Message).where(Message.external_id == "update-1001")
        )
    assert n == 1
    # Later, after a restart, the same id still returns the same replies and changes nothing.
    before = await log_of(sessionmaker)
    reborn = engine_on(second_engine, FakeNLU(), db_url)
    again = await reborn.handle(msg)
    assert [m.id for m in again] == ids[0]
    assert [m.id for m in await log_of(sessionmaker)] == [m.id for m in before]
    async with sessionmaker() as s:
        conv = await s.scalar(select(Conversation))
    assert conv is not None and DialogueState.load(conv.state).turns == 2  # "ciao" and the message


async def test_many_conversations_at_once_stay_apart(
    sessionmaker: async_sessionmaker[AsyncSession], db_url: str
) -> None:
    engine = engine_on(sessionmaker, FakeNLU(), db_url)

    async def talk(who: int) -> None:
        for text in ("ciao", "cerco casa", "Collegno"):
            await engine.handle(Inbound(channel="web", sender=f"u{who}", text=text))

    await asyncio.gather(*(talk(i) for i in range(15)))
    async with sessionmaker() as s:
        convs = list(await s.scalars(select(Conversation)))
    assert len(convs) == 15
    for c in convs:
        st = DialogueState.load(c.state)
        assert st.turns == 3 and st.comune_name == "Collegno" and st.suggested_for == ["casa"]
