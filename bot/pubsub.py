"""Publish/subscribe of small events between parts of the app (and, on PostgreSQL, between processes).

Topics: ``conv:{id}`` (a new message in a conversation), ``queue`` (the handoff queue changed),
``outbound`` (a message to deliver on a push channel such as Telegram). Events are small JSON dicts
carrying ids; receivers read the data itself from the database, the single source of truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

Event = dict[str, Any]
log = logging.getLogger("bussola.pubsub")


class Broker(Protocol):
    async def publish(self, topic: str, event: Event) -> None: ...

    def subscribe(self, topic: str) -> Any:  # an async context manager yielding an asyncio.Queue[Event]
        ...

    async def close(self) -> None: ...


class InMemoryBroker:
    """One process: fan-out to every subscriber's queue. Slow subscribers drop the oldest events."""

    def __init__(self, max_queue: int = 1000) -> None:
        self._subs: dict[str, set[asyncio.Queue[Event]]] = defaultdict(set)
        self._max = max_queue

    async def publish(self, topic: str, event: Event) -> None:
        self.deliver(topic, event)

    def deliver(self, topic: str, event: Event) -> None:
        for q in list(self._subs.get(topic, ())):
            if q.full():
                q.get_nowait()
            q.put_nowait(event)

    @asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[asyncio.Queue[Event]]:
        q: asyncio.Queue[Event] = asyncio.Queue(self._max)
        self._subs[topic].add(q)
        try:
            yield q
        finally:
            self._subs[topic].discard(q)
            if not self._subs[topic]:
                self._subs.pop(topic, None)

    async def close(self) -> None:
        self._subs.clear()


class PostgresBroker:
    """Several app processes on one PostgreSQL: events travel through LISTEN/NOTIFY.

    Every process listens on one channel and fans events out to its local subscribers, so a
    facilitator's reply sent through process A reaches a web-chat stream held by process B. The
    listener reconnects by itself after a database restart; subscribers re-read the database after a
    gap (events only carry ids), so nothing is lost while the connection was down.
    """

    CHANNEL = "bussola_events"
    PING_SECONDS = 5.0
    PUBLISH_CONNECTIONS = 4

    def __init__(self, dsn: str, *, reconnect_delay: float = 1.0) -> None:
        self._dsn = _plain_dsn(dsn)
        self._local = InMemoryBroker()
        self._reconnect_delay = reconnect_delay
        self._listener: Any = None
        self._publisher: Any = None
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._closing = False
        self._publish_lock = asyncio.Lock()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen_forever(), name="pg-broker-listener")
        try:
            await asyncio.wait_for(self._ready.wait(), timeout=10)
        except TimeoutError:
            pass  # keeps retrying in the background; local delivery still works

    @property
    def connected(self) -> bool:
        return self._listener is not None and not self._listener.is_closed()

    async def _listen_forever(self) -> None:
        import asyncpg

        while not self._closing:
            try:
                conn = await asyncpg.connect(self._dsn, timeout=5)
                await conn.add_listener(self.CHANNEL, self._on_notify)
                self._listener = conn
                self._ready.set()
                self._local.deliver("_broker", {"type": "reconnected"})
                while not conn.is_closed():  # a silent LISTEN socket is checked now and then
                    await asyncio.sleep(self.PING_SECONDS)
                    await conn.execute("SELECT 1", timeout=5)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001
                log.warning("event listener lost the database: %s", type(exc).__name__)
            self._listener = None
            if not self._closing:
                await asyncio.sleep(self._reconnect_delay)

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            data = json.loads(payload)
            self._local.deliver(str(data["t"]), dict(data["e"]))
        except (ValueError, KeyError, TypeError):
            return

    async def publish(self, topic: str, event: Event) -> None:
        import asyncpg

        payload = json.dumps({"t": topic, "e": event}, separators=(",", ":"))
        try:
            if self._publisher is None:
                async with self._publish_lock:
                    if self._publisher is None:
                        self._publisher = await asyncpg.create_pool(
                            self._dsn, min_size=1, max_size=self.PUBLISH_CONNECTIONS, timeout=5
                        )
            await self._publisher.execute("SELECT pg_notify($1, $2)", self.CHANNEL, payload, timeout=5)
            return
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            pass  # the pool reconnects by itself on the next call
        # The database is unreachable: at least this process's subscribers hear of it.
        self._local.deliver(topic, event)

    def subscribe(self, topic: str) -> Any:
        return self._local.subscribe(topic)

    async def close(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        for conn in (self._listener, self._publisher):
            if conn is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.close(), 5)
        await self._local.close()


def _plain_dsn(url: str) -> str:
    """SQLAlchemy URL (postgresql+asyncpg://...) to the libpq form asyncpg wants."""
    for prefix in ("postgresql+asyncpg://", "postgres+asyncpg://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


async def make_broker(database_url: str) -> Broker:
    """PostgreSQL gets the cross-process broker; the embedded SQLite default needs only one process."""
    if database_url.startswith(("postgresql", "postgres")):
        broker = PostgresBroker(database_url)
        await broker.start()
        return broker
    return InMemoryBroker()
