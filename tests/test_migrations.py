"""The Alembic history builds exactly the schema the models declare, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bot.db import Base, make_engine
from bot.migrate import migrate
from bot.models_registry import import_all_models


async def test_migrations_match_models(db_url: str) -> None:
    import_all_models()
    engine = make_engine(db_url)
    try:
        await migrate(engine)
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)
            )
        assert diff == [], f"models and migrations differ (run `make migration`): {diff}"
    finally:
        await engine.dispose()


async def test_concurrent_migrations_are_safe(db_url: str) -> None:
    """Two replicas starting together both succeed and leave one schema."""
    engines = [make_engine(db_url), make_engine(db_url)]
    try:
        await asyncio.gather(*(migrate(e) for e in engines))
        await migrate(engines[0])  # idempotent
    finally:
        for e in engines:
            await e.dispose()
