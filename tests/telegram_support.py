"""Running the real app with its Telegram channel against the fake Bot API (tests/fake_bot_api.py).

``telegram_app(...)`` starts ``bot.app.create_app`` with TELEGRAM_TOKEN set and
TELEGRAM_API_BASE_URL pointing at the fake, so python-telegram-bot's own HTTP stack, polling loop,
rate limiter and error mapping run for real. The NLU and the catalogue are the deterministic fakes of
tests/fixtures_chat.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import Base, make_engine
from bot.models_registry import import_all_models
from tests.fake_bot_api import FakeBotAPI
from tests.fixtures_chat import FakeCatalog, FakeNLU, chat_settings

FAST = {"poll_timeout": 1.0, "sweep_every": 0.5, "leader_check_every": 0.2, "retry_seconds": 0.5}


async def prepared_engine(db_url: str) -> AsyncEngine:
    """The schema the models declare, stamped as the latest migration (the app's start-up then agrees).

    Why not the Alembic history: it is regenerated when the tables of several packages settle; these
    tests are about the channel, and must not depend on that step.
    """
    from alembic import command

    from bot.migrate import alembic_config

    import_all_models()
    engine = make_engine(db_url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
        await conn.run_sync(lambda c: command.stamp(alembic_config(c), "head"))
    return engine


@asynccontextmanager
async def telegram_app(
    db_url: str,
    fake: FakeBotAPI,
    *,
    public_url: str = "",
    nlu: Any = None,
    catalog: Any = None,
    wait_polling: bool = True,
    **options: Any,
) -> AsyncIterator[FastAPI]:
    from bot.app import create_app

    settings = chat_settings(
        db_url,
        telegram_token=fake.token,
        telegram_api_base_url=fake.base_url,
        public_url=public_url,
    )
    app = create_app(
        settings,
        nlu=nlu or FakeNLU(),
        catalog=catalog or FakeCatalog(),
        db_engine=await prepared_engine(db_url),
        telegram_options={**FAST, **options},
        retention=False,
    )
    async with app.router.lifespan_context(app):
        channel = app.state.telegram
        assert channel is not None, "the Telegram channel did not start"
        await asyncio.wait_for(channel.ready.wait(), 20)
        if wait_polling and not public_url:
            await fake.wait_for(lambda: channel.polling)
        yield app


def button_titles(params: dict[str, Any]) -> list[str]:
    markup = params.get("reply_markup")
    if not isinstance(markup, dict):
        return []
    return [b["text"] for row in markup.get("inline_keyboard", []) for b in row]


def callback_data(params: dict[str, Any]) -> list[str]:
    markup = params.get("reply_markup")
    if not isinstance(markup, dict):
        return []
    return [
        b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row if "callback_data" in b
    ]
