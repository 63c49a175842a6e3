"""Webhook mode (PUBLIC_URL set): registered with a secret token; wrong or missing secret -> 403;
the same update posted twice is processed once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bot.models import Conversation, Message
from bot.telegram_webhook import SECRET_HEADER
from tests.fake_bot_api import FakeBotAPI
from tests.telegram_support import telegram_app

PUBLIC = "https://bussola.example"
CHAT = 777


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    api = await FakeBotAPI().start()
    try:
        yield api
    finally:
        await api.stop()


async def count(app: Any, model: Any, *where: Any) -> int:
    async with app.state.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_the_webhook_is_registered_with_a_secret_and_checks_it(
    sqlite_url: str, fake: FakeBotAPI
) -> None:
    async with telegram_app(sqlite_url, fake, public_url=PUBLIC) as app:
        assert fake.webhook_url == f"{PUBLIC}/telegram/webhook"
        secret = fake.webhook_secret
        assert len(secret) >= 32 and app.state.telegram.secret == secret
        assert fake.count("getUpdates") == 0  # webhook mode never polls
        update = fake.text_update(CHAT, "ciao")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC) as client:
            for headers in (
                {},
                {SECRET_HEADER: "sbagliato"},
                {SECRET_HEADER: secret[:-1]},
                {SECRET_HEADER: ""},
            ):
                r = await client.post("/telegram/webhook", json=update, headers=headers)
                assert r.status_code == 403 and r.json()["error"] == "forbidden"
            assert fake.sent(CHAT) == [] and await count(app, Conversation) == 0

            r = await client.post("/telegram/webhook", json=update, headers={SECRET_HEADER: secret})
            assert r.status_code == 200
            answered = fake.sent(CHAT)
            assert answered and "Bussola" in answered[0]["text"]  # answered before the webhook returned

            r = await client.post("/telegram/webhook", json=update, headers={SECRET_HEADER: secret})
            assert r.status_code == 200
            assert len(fake.sent(CHAT)) == len(answered)  # Telegram retried: processed once
            assert await count(app, Message, Message.direction == "in") == 1

            r = await client.post(
                "/telegram/webhook",
                content=b"{non json",
                headers={SECRET_HEADER: secret, "content-type": "application/json"},
            )
            assert r.status_code == 400 and r.json()["error"] == "invalid_json"
            r = await client.post("/telegram/webhook", json=[1, 2], headers={SECRET_HEADER: secret})
            assert r.status_code == 400


async def test_without_a_channel_the_webhook_is_not_found(sqlite_url: str) -> None:
    from bot.app import create_app
    from tests.fixtures_chat import FakeCatalog, FakeNLU, chat_settings
    from tests.telegram_support import prepared_engine

    app = create_app(
        chat_settings(sqlite_url),
        nlu=FakeNLU(),
        catalog=FakeCatalog(),
        db_engine=await prepared_engine(sqlite_url),
        retention=False,
    )
    async with app.router.lifespan_context(app):
        assert app.state.telegram is None
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC) as client:
            r = await client.post("/telegram/webhook", json={"update_id": 1}, headers={SECRET_HEADER: "x"})
        assert r.status_code == 404
