"""Database fixtures: a fresh SQLite file per test, and the real PostgreSQL (required in CI)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from bot.db import Base, make_engine, make_sessionmaker

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


def _import_all_models() -> None:
    from bot.models_registry import import_all_models

    import_all_models()


async def _create_all(engine: AsyncEngine) -> None:
    _import_all_models()
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)


@pytest.fixture
def sqlite_url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    return f"sqlite+aiosqlite:///{tmp_path}/test.db"


def _run_sync(coro_fn, *args):  # type: ignore[no-untyped-def]
    """Run a coroutine on its own loop in a worker thread (usable from sync fixtures at any time)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro_fn(*args)).result()


async def _admin(sql: str) -> None:
    admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await admin.dispose()


def make_postgres_database() -> str:
    """Create a throw-away database on the real PostgreSQL; return its URL (``require`` if unreachable)."""
    from tests.conftest import require

    name = f"bussola_t_{uuid.uuid4().hex[:10]}"
    try:
        _run_sync(_admin, f'CREATE DATABASE "{name}"')
    except Exception as exc:  # noqa: BLE001
        require(False, f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc).__name__}")
    return f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"


def drop_postgres_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    _run_sync(_admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A throw-away PostgreSQL database: created for the test, dropped after."""
    url = make_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(url)


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Runs a test on both stores: the embedded SQLite and the production PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/test.db"
        return
    url = make_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(url)


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(db_url)
    await _create_all(eng)
    yield eng
    await eng.dispose()


@pytest.fixture
async def sqlite_engine(sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(sqlite_url)
    await _create_all(eng)
    yield eng
    await eng.dispose()


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(engine)
