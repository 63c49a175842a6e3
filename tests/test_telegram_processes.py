"""Several app processes on one PostgreSQL (simulated as two apps in one event loop, each with its own
database pool, broker connection and Telegram client): exactly one polls, and takes over when the
poller goes; a message is delivered once even though every process hears of it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest
from sqlalchemy import select

from bot.models import Conversation
from bot.types import Outbound
from tests.fake_bot_api import FakeBotAPI
from tests.telegram_support import telegram_app

CHAT = 9090


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    api = await FakeBotAPI().start()
    try:
        yield api
    finally:
        await api.stop()


async def test_exactly_one_process_polls_and_another_takes_over(postgres_url: str, fake: FakeBotAPI) -> None:
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(telegram_app(postgres_url, fake, wait_polling=False))
        b = await stack.enter_async_context(telegram_app(postgres_url, fake, wait_polling=False))
        channels = [a.state.telegram, b.state.telegram]
        await fake.wait_for(lambda: any(c.polling for c in channels))
        await asyncio.sleep(1.0)  # several lock checks: the other one must still be waiting
        assert [c.polling for c in channels].count(True) == 1
        poller = next(c for c in channels if c.polling)
        other = next(c for c in channels if not c.polling)

        await fake.text(CHAT, "ciao")
        await fake.wait_for(lambda: fake.last_buttons(CHAT))
        welcome = list(fake.texts(CHAT))

        await poller.stop()  # the poller dies: its session, and so its lock, goes with it
        await fake.wait_for(lambda: other.polling, within=20)
        await fake.text(CHAT, "grazie")
        await fake.wait_for(lambda: any("Grazie a te" in t for t in fake.texts(CHAT)))
        assert fake.texts(CHAT)[: len(welcome)] == welcome
        assert len(fake.texts(CHAT)) == len(welcome) + 1


async def test_a_message_is_delivered_once_by_several_processes(postgres_url: str, fake: FakeBotAPI) -> None:
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(telegram_app(postgres_url, fake, wait_polling=False))
        b = await stack.enter_async_context(telegram_app(postgres_url, fake, wait_polling=False))
        await fake.wait_for(lambda: a.state.telegram.polling or b.state.telegram.polling)
        await fake.text(CHAT, "ciao")
        await fake.wait_for(lambda: fake.last_buttons(CHAT))
        async with a.state.sessionmaker() as session:
            conv = await session.scalar(select(Conversation).where(Conversation.sender == str(CHAT)))
        assert conv is not None
        bodies = [f"Messaggio {i} dall'operatore" for i in range(8)]
        for i, body in enumerate(bodies):  # alternate the process the facilitator writes through
            app = a if i % 2 == 0 else b
            await app.state.dialogue.say(
                conv.id, Outbound(text=body), author="facilitator", author_name="Giulia"
            )
        await fake.wait_for(lambda: sum(1 for t in fake.texts(CHAT) if "dall'operatore" in t) >= len(bodies))
        await asyncio.sleep(1.0)  # time for a duplicate to show up, if there were one
        got = [t.split("\n", 1)[1] for t in fake.texts(CHAT) if "dall'operatore" in t]
        assert got == bodies  # each once, in order
