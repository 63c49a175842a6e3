"""Handoff benchmark: claims per second under contention, and relay latency to the citizen's web chat.

    .venv/bin/python bench/handoff.py [--levels 5 20 50] [--cases 200] [--messages 100]
                                      [--conversations 10] [--postgres URL | --no-postgres]

1. Claims (in process, through ``handoff.queue``), on SQLite and on PostgreSQL: for each level N,
   N facilitators race for the same cases, two ways:
   - ``claim``: each facilitator tries every case in its own random order (maximum contention:
     N-1 of every N attempts lose with a conflict);
   - ``take_next``: each facilitator takes the head of the queue until it is empty (PostgreSQL:
     ``FOR UPDATE SKIP LOCKED``).
   -> successful claims per second, attempts per second, and a check that every case was taken once.
2. Relay latency: the real app (``bussola serve``) on a free port, web-chat citizens who asked for a
   person, a facilitator who claimed their cases through ``/api``; then the facilitator writes
   (``POST /api/handoffs/{id}/messages``) and we time until the text arrives on the citizen's
   Server-Sent Events stream (``GET /webhooks/rest/stream``) -> p50/p95/max. On SQLite with one
   process; on PostgreSQL with two processes, the reply posted to one and the citizen's stream on
   the other (LISTEN/NOTIFY in between).

Rasa is not needed (the citizens only press buttons). Figures are printed, with one JSON line per
measurement; nothing is asserted: this is not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine  # noqa: E402

PG_DEFAULT = os.environ.get("TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
PASSWORD = "bench-password-lunga"  # noqa: S105 - a throw-away account in a throw-away database


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- databases ---------------------------------------------------------------------------------


@asynccontextmanager
async def fresh_database(kind: str, pg_admin: str, workdir: Path) -> AsyncIterator[str]:
    """An empty database URL: a new SQLite file, or a throw-away PostgreSQL database."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{workdir}/bench-{uuid.uuid4().hex[:8]}.db"
        return
    admin = create_async_engine(pg_admin, isolation_level="AUTOCOMMIT")
    name = f"bussola_bench_{uuid.uuid4().hex[:10]}"
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{pg_admin.rsplit('/', 1)[0]}/{name}"
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def pg_reachable(url: str) -> bool:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001
        return False
    finally:
        await engine.dispose()


# --- 1. claims ---------------------------------------------------------------------------------


async def seed(
    sm: async_sessionmaker[AsyncSession], n_people: int, n_cases: int
) -> tuple[list[Any], list[int]]:
    from argon2 import PasswordHasher

    from bot.models import Conversation
    from handoff.entry import HandoffRequest, create_handoff
    from handoff.models import Facilitator, Team, TeamMembership
    from handoff.security import load_actor

    pw_hash = PasswordHasher().hash(PASSWORD)
    async with sm() as session:
        team = Team(
            name="Bench", comuni=[], quartieri=[], is_default=True, closed_days=[], organization_ids=[]
        )
        session.add(team)
        await session.flush()
        facs = []
        for i in range(n_people):
            f = Facilitator(
                username=f"op{i:03d}", first_name="Op", role="facilitatore", password_hash=pw_hash
            )
            session.add(f)
            await session.flush()
            session.add(TeamMembership(team_id=team.id, facilitator_id=f.id))
            facs.append(f)
        ids = []
        for i in range(n_cases):
            conv = Conversation(channel="web", sender=f"bench-{i}", state={})
            session.add(conv)
            await session.flush()
            h = await create_handoff(
                session, HandoffRequest(conversation_id=conv.id, reason="richiesta", priority="normal")
            )
            ids.append(h.id)
        actors = [await load_actor(session, f) for f in facs]
        await session.commit()
    return actors, ids


async def run_claims(url: str, n_people: int, n_cases: int, mode: str) -> dict[str, Any]:
    from bot.db import Base, make_engine, make_sessionmaker
    from bot.models_registry import import_all_models
    from handoff import queue
    from handoff.security import utcnow

    import_all_models()
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    sm = make_sessionmaker(engine)
    actors, ids = await seed(sm, n_people, n_cases)
    attempts = Counter[str]()

    async def by_claim(actor: Any) -> list[int]:
        order = ids[:]
        random.Random(actor.id).shuffle(order)
        won = []
        for hid in order:
            async with sm() as session:
                try:
                    await queue.claim(session, actor, hid, utcnow())
                    await session.commit()
                    won.append(hid)
                except queue.Conflict:
                    await session.rollback()
                    attempts["conflict"] += 1
        return won

    async def by_take_next(actor: Any) -> list[int]:
        won = []
        while True:
            async with sm() as session:
                h = await queue.take_next(session, actor, utcnow())
                await session.commit()
            if h is None:
                return won
            won.append(h.id)

    worker = by_claim if mode == "claim" else by_take_next
    started = time.perf_counter()
    results = await asyncio.gather(*(worker(a) for a in actors))
    elapsed = time.perf_counter() - started
    await engine.dispose()
    taken = Counter(h for won in results for h in won)
    exactly_once = sorted(taken) == sorted(ids) and set(taken.values()) == {1}
    total_attempts = len(taken) + attempts["conflict"] if mode == "claim" else len(taken)
    return {
        "claims": len(taken),
        "seconds": round(elapsed, 3),
        "claims_per_s": round(len(taken) / elapsed, 1),
        "attempts_per_s": round(total_attempts / elapsed, 1),
        "conflicts": attempts["conflict"],
        "exactly_once": exactly_once,
    }


# --- 2. relay latency --------------------------------------------------------------------------


class App:
    """``bussola serve`` in a subprocess on a free port."""

    def __init__(self, url: str, workdir: Path, rasa_url: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "RASA_URL": rasa_url,
            "TELEGRAM_TOKEN": "",
            "PUBLIC_URL": "",
            "CATALOG_SNAPSHOT_PATH": str(workdir / "snapshot.json"),
            "RATE_LIMIT_IP_PER_MINUTE": "1000000",
            "RATE_LIMIT_SESSION_PER_MINUTE": "1000000",
            "LOG_LEVEL": "WARNING",
        }
        self.log = (workdir / f"app-{self.port}.log").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    async def ready(self, within: float = 90) -> None:
        deadline = time.monotonic() + within
        async with httpx.AsyncClient() as c:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"the app exited; see {self.log.name}")
                try:
                    if (await c.get(f"{self.base}/healthz", timeout=2)).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.3)
        raise RuntimeError("the app did not start in time")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def cli(url: str, *argv: str, stdin: str = "") -> None:
    env = {**os.environ, "DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", *argv],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bussola {' '.join(argv)}: {done.stderr.strip()}")


async def citizen_asks_for_a_person(client: httpx.AsyncClient, base: str) -> dict[str, str]:
    session = (await client.post(f"{base}/webhooks/rest/session")).json()
    headers = {"Authorization": f"Bearer {session['token']}"}
    for message in ("/persona", "/handoff si"):
        r = await client.post(
            f"{base}/webhooks/rest/webhook",
            json={"sender": session["sender"], "message": message},
            headers=headers,
        )
        r.raise_for_status()
    return session


async def watch_stream(
    client: httpx.AsyncClient,
    base: str,
    session: dict[str, str],
    arrivals: dict[str, float],
    waiters: dict[str, asyncio.Event],
    opened: asyncio.Event,
) -> None:
    """Record when each facilitator message reaches the citizen's SSE stream."""
    headers = {"Authorization": f"Bearer {session['token']}", "Accept": "text/event-stream"}
    async with client.stream("GET", f"{base}/webhooks/rest/stream", headers=headers, timeout=None) as r:
        opened.set()
        async for line in r.aiter_lines():
            if line.startswith("data: "):
                item = json.loads(line[6:])
                body = str(item.get("text", ""))
                if body.startswith("bench:"):
                    arrivals.setdefault(body, time.perf_counter())
                    if body in waiters:
                        waiters[body].set()


async def run_relay(urls: list[str], workdir: Path, n_conversations: int, n_messages: int) -> dict[str, Any]:
    """Replies posted to the first app, citizens' streams on the last (the same one with one URL)."""
    reply_base, stream_base = urls[0], urls[-1]
    arrivals: dict[str, float] = {}
    waiters: dict[str, asyncio.Event] = {}
    sent: dict[str, float] = {}
    errors = 0
    limits = httpx.Limits(max_connections=n_conversations * 2 + 10)
    async with httpx.AsyncClient(timeout=30, limits=limits) as citizens, httpx.AsyncClient(timeout=30) as fac:
        sessions = [await citizen_asks_for_a_person(citizens, stream_base) for _ in range(n_conversations)]
        r = await fac.post(f"{reply_base}/api/login", json={"username": "bench", "password": PASSWORD})
        r.raise_for_status()
        waiting = (await fac.get(f"{reply_base}/api/handoffs", params={"status": "waiting"})).json()
        case_ids = [h["id"] for h in waiting][:n_conversations]
        for hid in case_ids:
            (await fac.post(f"{reply_base}/api/handoffs/{hid}/claim")).raise_for_status()
        opened = [asyncio.Event() for _ in sessions]
        watchers = [
            asyncio.create_task(watch_stream(citizens, stream_base, s, arrivals, waiters, o))
            for s, o in zip(sessions, opened, strict=True)
        ]
        await asyncio.gather(*(o.wait() for o in opened))
        await asyncio.sleep(0.5)

        async def facilitator_writes(hid: int) -> None:
            nonlocal errors
            for i in range(n_messages):
                body = f"bench:{hid}:{i}"
                arrived = waiters[body] = asyncio.Event()
                sent[body] = time.perf_counter()
                resp = await fac.post(f"{reply_base}/api/handoffs/{hid}/messages", json={"text": body})
                if resp.status_code != 201:
                    errors += 1
                    continue
                try:
                    await asyncio.wait_for(arrived.wait(), 10)
                except TimeoutError:
                    pass  # counted as lost below

        started = time.perf_counter()
        await asyncio.gather(*(facilitator_writes(h) for h in case_ids))
        elapsed = time.perf_counter() - started
        for w in watchers:
            w.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
    latencies = [(arrivals[b] - t) * 1000 for b, t in sent.items() if b in arrivals]
    return {
        "conversations": len(case_ids),
        "messages": len(sent),
        "delivered": len(latencies),
        "lost": len(sent) - len(latencies),
        "errors": errors,
        "p50_ms": round(pct(latencies, 50), 1),
        "p95_ms": round(pct(latencies, 95), 1),
        "max_ms": round(max(latencies, default=float("nan")), 1),
        "replies_per_s": round(len(sent) / elapsed, 1),
    }


async def relay(
    kind: str, url: str, workdir: Path, processes: int, n_conv: int, n_msg: int
) -> dict[str, Any]:
    cli(url, "migrate")
    cli(url, "team", "add", "Bench", "--predefinito", "--orari", "lun-dom 0-24")
    cli(url, "facilitator", "add", "bench", "--team", "Bench", "--password-stdin", stdin=PASSWORD + "\n")
    dead_rasa = f"http://127.0.0.1:{free_port()}"  # buttons only: Rasa is not needed
    apps = [App(url, workdir, dead_rasa) for _ in range(processes)]
    try:
        await asyncio.gather(*(a.ready() for a in apps))
        return await run_relay([a.base for a in apps], workdir, n_conv, n_msg)
    finally:
        for a in apps:
            a.stop()


# --- main --------------------------------------------------------------------------------------


def show(title: str, row: dict[str, Any]) -> None:
    print(f"{title:<44} " + "  ".join(f"{k}={v}" for k, v in row.items()))
    print(json.dumps({"bench": "handoff", "what": title, **row}))


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--levels", type=int, nargs="+", default=[5, 20, 50], help="facilitators racing")
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--messages", type=int, default=50, help="replies per conversation")
    parser.add_argument("--conversations", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--postgres", default=PG_DEFAULT)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--skip-relay", action="store_true")
    args = parser.parse_args()

    backends = ["sqlite"]
    if not args.no_postgres:
        if await pg_reachable(args.postgres):
            backends.append("postgres")
        else:
            print(f"PostgreSQL not reachable at {args.postgres}: SQLite only")
    with tempfile.TemporaryDirectory(prefix="bussola-bench-") as tmp:
        workdir = Path(tmp)
        print(f"== claims: {args.cases} cases, facilitators racing ==")
        for kind in backends:
            for n in args.levels:
                for mode in ("claim", "take_next"):
                    async with fresh_database(kind, args.postgres, workdir) as url:
                        row = await run_claims(url, n, args.cases, mode)
                    show(f"{kind} {mode} x{n}", row)
        if args.skip_relay:
            return
        print(f"== relay: facilitator reply -> citizen's web-chat stream, {args.messages} replies each ==")
        for kind in backends:
            processes = 2 if kind == "postgres" else 1
            for n_conv in args.conversations:
                async with fresh_database(kind, args.postgres, workdir) as url:
                    row = await relay(kind, url, workdir, processes, n_conv, args.messages)
                show(f"{kind} relay {processes} process(es) x{n_conv} conv", row)


if __name__ == "__main__":
    asyncio.run(main())
