"""Two app processes (``bussola serve``) on one PostgreSQL: they behave as one app.

- A facilitator's reply sent through process A reaches the citizen whose web-chat stream is held
  by process B, pushed at once (PostgreSQL LISTEN/NOTIFY), not found later by polling.
- The handoff queue is one: both processes list the same cases, a case claimed by facilitators on
  both processes has exactly one winner, "take the next case" hands each case to exactly one person.
- One conversation written to through both processes at once is processed one message at a time:
  every message stored once, followed by its own replies, none lost, none doubled, no state update lost.

The processes use a fake Rasa server (FakeNLU's rules): these tests are about the app, not the NLU.
Both replicas start together, so the start-up migration under its lock is exercised too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot.db import make_engine, make_sessionmaker
from handoff.models import Handoff
from nlu.territory import find_comune
from tests.fixtures_db import drop_postgres_database, make_postgres_database
from tests.fixtures_proc import (
    ChatClient,
    Processes,
    ServerProcess,
    SSEReader,
    api_login,
    audit_log,
    seed_team,
)

pytestmark = pytest.mark.postgres


@dataclass
class Cluster:
    url: str
    a: ServerProcess
    b: ServerProcess
    procs: Processes

    def via(self, i: int) -> ServerProcess:
        return self.a if i % 2 == 0 else self.b


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    url = make_postgres_database()
    procs = Processes(Path(tmp_path_factory.mktemp("scaleout")))
    try:
        rasa = procs.rasa().start()
        a = procs.app("app-a", url, rasa.url)
        b = procs.app("app-b", url, rasa.url)
        a.start(wait=False)
        b.start(wait=False)  # both run the start-up migration at the same moment
        a.wait_up()
        b.wait_up()
        yield Cluster(url, a, b, procs)
    finally:
        procs.close()
        drop_postgres_database(url)


def istat(name: str) -> str:
    comune = find_comune(name)
    assert comune is not None
    return comune.istat


def custom(replies: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [r["custom"] for r in replies if (r.get("custom") or {}).get("type") == kind]
    assert found, f"no {kind!r} reply in {[r.get('custom') for r in replies]}"
    return dict(found[0])


async def ask_for_a_person(citizen: ChatClient, first: str, via: int = 0) -> int:
    await citizen.send(first, via=via)
    await citizen.send("/persona", via=via)
    return int(custom(await citizen.send("/handoff si", via=via), "handoff")["handoff_id"])


async def handoffs(url: str, ids: list[int]) -> dict[int, Handoff]:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as s:
            return {h.id: h for h in await s.scalars(select(Handoff).where(Handoff.id.in_(ids)))}
    finally:
        await engine.dispose()


async def test_both_replicas_started_together_and_migrated_once(cluster: Cluster) -> None:
    from sqlalchemy import text

    engine = make_engine(cluster.url)
    try:
        async with engine.connect() as conn:
            versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
    finally:
        await engine.dispose()
    assert len(versions) == 1
    for p in (cluster.a, cluster.b):
        assert p.running and "Traceback" not in p.log_text(), p.log_tail()


async def test_a_reply_through_a_is_pushed_to_the_stream_on_b_after_one_claim_wins(cluster: Cluster) -> None:
    a, b = cluster.a, cluster.b
    users = [f"ovest{i}" for i in range(6)]
    people = await seed_team(cluster.url, "Ovest", users, comuni=[istat("Collegno")])
    async with httpx.AsyncClient(timeout=30) as http:
        citizen = await ChatClient(http, [b.url]).start()
        hid = await ask_for_a_person(citizen, "cerco casa a Collegno")
        last = max(r["message_id"] for replies in citizen.replies.values() for r in replies)

        # Six facilitators log in, three on each process, and claim through the *other* process.
        facs = [httpx.AsyncClient(timeout=30) for _ in range(6)]
        try:
            for i, f in enumerate(facs):
                await api_login(f, cluster.via(i).url, f"ovest{i}")
            claims = await asyncio.gather(
                *(f.post(f"{cluster.via(i + 1).url}/api/handoffs/{hid}/claim") for i, f in enumerate(facs))
            )
            statuses = [r.status_code for r in claims]
            assert sorted(statuses) == [200] + [409] * 5, [r.text for r in claims]
            winner = statuses.index(200)
            assert all(r.json()["error"] for r in claims if r.status_code == 409)
            (h,) = (await handoffs(cluster.url, [hid])).values()
            assert h.status == "assigned" and h.assigned_to == people[f"ovest{winner}"]

            async with SSEReader(http, b.url, citizen.token, after=last) as stream:
                words = "Ciao, sono dell'Ovest: ti ho letto, ora ti aiuto io."
                sent = await facs[winner].post(
                    f"{a.url}/api/handoffs/{hid}/messages", json={"text": words, "client_id": "first"}
                )
                assert sent.status_code == 201, sent.text
                at = await stream.wait_for(lambda m: m["author"] == "facilitator" and m["text"] == words)
                # Pushed through LISTEN/NOTIFY: it came before the stream's first keep-alive (15 s),
                # when B would have re-read the database anyway.
                assert [k for k, _ in stream.items[:at]].count("comment") == 0, stream.items[:at]
                assert stream.messages()[-1]["message_id"] == sent.json()["message_id"]

            # The citizen answers through B: the bot stays silent, the facilitator reads it through A.
            assert await citizen.send("grazie, abito in via Roma", via=0) == []
            transcript = await facs[winner].get(f"{a.url}/api/handoffs/{hid}/messages")
            assert transcript.status_code == 200
            assert transcript.json()[-1]["text"] == "grazie, abito in via Roma"
        finally:
            for f in facs:
                await f.aclose()


async def test_the_queue_is_one_queue_across_processes(cluster: Cluster) -> None:
    people = await seed_team(cluster.url, "Sud", [f"sud{i}" for i in range(8)], comuni=[istat("Moncalieri")])
    async with httpx.AsyncClient(timeout=30) as http:
        citizens = [await ChatClient(http, [cluster.via(i).url]).start() for i in range(6)]
        ids = await asyncio.gather(*(ask_for_a_person(c, "cerco lavoro a Moncalieri") for c in citizens))
        assert len(set(ids)) == 6

        facs = [httpx.AsyncClient(timeout=30) for _ in range(8)]
        try:
            for i, f in enumerate(facs):
                await api_login(f, cluster.via(i).url, f"sud{i}")
            seen = []
            for i in (0, 1):
                r = await facs[i].get(f"{cluster.via(i).url}/api/handoffs", params={"status": "waiting"})
                assert r.status_code == 200
                seen.append([h["id"] for h in r.json()])
            assert seen[0] == seen[1] and sorted(seen[0]) == sorted(ids)

            taken = await asyncio.gather(
                *(f.post(f"{cluster.via(i).url}/api/handoffs/next") for i, f in enumerate(facs))
            )
            assert all(r.status_code == 200 for r in taken), [r.text for r in taken]
            got = {i: r.json()["id"] for i, r in enumerate(taken) if r.json() is not None}
            assert sorted(got.values()) == sorted(ids)  # each case to exactly one person, none left
            stored = await handoffs(cluster.url, list(ids))
            for i, hid in got.items():
                assert stored[hid].status == "assigned" and stored[hid].assigned_to == people[f"sud{i}"]
        finally:
            for f in facs:
                await f.aclose()


TEXTS = (
    "cerco casa",
    "Collegno",
    "cerco lavoro",
    "grazie",
    "cosa sai fare",
    "non riesco a pagare le bollette, mi servono soldi",
    "mi piace la pizza",
    "/altri",
)


async def test_one_conversation_written_through_both_processes_is_processed_one_at_a_time(
    cluster: Cluster,
) -> None:
    async with httpx.AsyncClient(timeout=60) as http:
        citizen = await ChatClient(http, [cluster.a.url, cluster.b.url]).start()
        await citizen.send("ciao")

        async def lane(k: int, n: int = 6) -> list[str]:
            """Messages one after the other (each waits for its answer), through one process."""
            mids = [f"lane{k}-{i}" for i in range(n)]
            for i, mid in enumerate(mids):
                await citizen.send(TEXTS[(k + i) % len(TEXTS)], message_id=mid, via=k)
            return mids

        async def twice(j: int) -> None:
            """One message arriving at both processes at once (a retry racing the original)."""
            mid = f"twice-{j}"
            first, second = await asyncio.gather(
                citizen.send(TEXTS[j % len(TEXTS)], message_id=mid, via=0),
                citizen.send(TEXTS[j % len(TEXTS)], message_id=mid, via=1),
            )
            assert [r["message_id"] for r in first] == [r["message_id"] for r in second]
            assert first and first == second

        lanes = await asyncio.gather(*(lane(k) for k in range(4)), *(twice(j) for j in range(4)))

    audit = await audit_log(cluster.url, [citizen])
    assert audit.sent == audit.stored == 1 + 4 * 6 + 4
    assert audit.problems() == {}
    order = audit.order[citizen.sender]
    for mids in lanes[:4]:
        assert mids is not None
        assert [order.index(m) for m in mids] == sorted(order.index(m) for m in mids)
