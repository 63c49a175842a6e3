"""Database engine and session factory. Created in the app lifespan and passed in, never global."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import MetaData, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base for every table of every package (one metadata, one Alembic history)."""

    metadata = MetaData(naming_convention=NAMING)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An async engine; SQLite gets WAL and foreign keys, PostgreSQL a health-checked pool."""
    if is_sqlite(url):
        db = make_url(url).database
        if db and db != ":memory:":
            Path(db).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: no fsync per commit (FULL costs ~10 ms each); a killed app loses nothing,
            # only an OS crash or power cut can drop the last commits. The usual setting for WAL.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    engine = create_async_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)

    @event.listens_for(engine.sync_engine, "do_connect")
    def _refused_is_a_database_error(dialect, _record, cargs, cparams):  # type: ignore[no-untyped-def]
        """asyncpg raises a bare OSError (ConnectionRefusedError) while PostgreSQL is down or
        restarting, and SQLAlchemy passes it through unwrapped: as a DBAPI OperationalError it is a
        ``DBAPIError`` like any other outage, which every caller already answers with a kind 503."""
        try:
            return dialect.connect(*cargs, **cparams)
        except OSError as exc:
            error = dialect.loaded_dbapi.OperationalError
            raise error(f"cannot connect to the database ({type(exc).__name__})", exc) from exc

    return engine


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
