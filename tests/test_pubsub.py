"""Events reach subscribers in this process and, on PostgreSQL, in other processes."""

from __future__ import annotations

import asyncio

import asyncpg

from bot.pubsub import InMemoryBroker, PostgresBroker, _plain_dsn


async def _next(q: asyncio.Queue, wait: float = 5.0) -> dict:  # type: ignore[type-arg]
    return await asyncio.wait_for(q.get(), wait)


async def test_in_memory_fan_out_and_unsubscribe() -> None:
    broker = InMemoryBroker()
    async with broker.subscribe("conv:1") as a, broker.subscribe("conv:1") as b, broker.subscribe("x") as c:
        await broker.publish("conv:1", {"message_id": 7})
        assert (await _next(a))["message_id"] == 7
        assert (await _next(b))["message_id"] == 7
        assert c.empty()
    await broker.publish("conv:1", {"message_id": 8})  # nobody listens: no error, nothing kept
    assert broker._subs == {}


async def test_in_memory_slow_subscriber_keeps_newest() -> None:
    broker = InMemoryBroker(max_queue=2)
    async with broker.subscribe("t") as q:
        for i in range(5):
            await broker.publish("t", {"i": i})
        assert [(await _next(q))["i"], (await _next(q))["i"]] == [3, 4]


async def test_postgres_broker_crosses_processes_and_survives_reconnect(postgres_url: str) -> None:
    """Broker A publishes, broker B (standing for another process) hears it, also after its
    listening connection is killed as in a database restart."""
    a = PostgresBroker(postgres_url, reconnect_delay=0.2)
    b = PostgresBroker(postgres_url, reconnect_delay=0.2)
    b.PING_SECONDS = 0.2
    await a.start()
    await b.start()
    try:
        assert a.connected and b.connected
        async with b.subscribe("conv:42") as q, b.subscribe("_broker") as control:
            await a.publish("conv:42", {"type": "message", "message_id": 1})
            assert (await _next(q))["message_id"] == 1

            admin = await asyncpg.connect(_plain_dsn(postgres_url))
            try:
                await admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE query LIKE 'LISTEN%' OR query = 'SELECT 1' AND pid <> pg_backend_pid()"
                )
            finally:
                await admin.close()
            assert (await _next(control, 10))["type"] == "reconnected"
            await a.publish("conv:42", {"type": "message", "message_id": 2})
            assert (await _next(q))["message_id"] == 2
    finally:
        await a.close()
        await b.close()
