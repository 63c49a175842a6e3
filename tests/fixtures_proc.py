"""Real processes for the fault, scale-out and load tests: the app as ``bussola serve``, a fake Rasa,
the HSDS API, each on a free port, killed with SIGKILL or stopped with SIGTERM.

Why processes and not in-process apps: a SIGKILL, two processes sharing one PostgreSQL, and a server
that disappears and comes back on the same port can only be shown with real processes and sockets.

The fake Rasa (``python -m tests.fixtures_proc rasa --port N``) answers ``POST /model/parse`` in Rasa's
JSON shape from the rules of ``tests.fixtures_chat.FakeNLU``: the tests using it are about the app's
behaviour (faults, ordering, delivery), not the quality of the NLU, which tests/test_nlu_rasa.py
checks on the real model.

Also used by ``bench/load.py``: :class:`ServerProcess`, :func:`app_env` and :class:`ChatClient`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
START_TIMEOUT = 90.0  # seconds for a process to answer its health check (migrations on a cold database)
SECRET = "test-secret-key-shared-by-every-replica-0123456789"


def free_port() -> int:
    """A port nobody listens on now (the kernel's choice). Closed again at once: a tiny race is accepted."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class ServerProcess:
    """One server process: started, health-checked, killed (SIGKILL), stopped (SIGTERM) or restarted.

    stdout and stderr go to ``log_path`` (appended across restarts) so a failing test can show them.
    """

    name: str
    argv: Sequence[str]
    port: int
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    health_path: str = "/healthz"
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, *, wait: bool = True, timeout: float = START_TIMEOUT) -> ServerProcess:
        assert not self.running, f"{self.name} is already running"
        env = {**os.environ, **self.env}
        env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"\n----- start #{self.starts + 1} of {self.name} -----\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                list(self.argv),
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in the test runner does not reach it half-way
            )
        self.starts += 1
        if wait:
            self.wait_up(timeout)
        return self

    def wait_up(self, timeout: float = START_TIMEOUT) -> None:
        """Until the health check answers 200; fails with the log's tail if the process dies or hangs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"{self.name} exited ({self.returncode()}):\n{self.log_tail()}")
            try:
                if httpx.get(self.url + self.health_path, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not up after {timeout:.0f}s:\n{self.log_tail()}")

    def returncode(self) -> int | None:
        return self.proc.poll() if self.proc is not None else None

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, open transactions are cut, sockets reset."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (graceful shutdown), SIGKILL if it does not exit in time."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def rss_bytes(self) -> int:
        """Resident memory of the process now (0 when it is not running)."""
        if not self.running or self.proc is None:
            return 0
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            return 0
        return 0

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


def app_env(database_url: str, rasa_url: str, **extra: str) -> dict[str, str]:
    """The environment of an app replica: generous rate limits (clients share 127.0.0.1), one secret
    key for every replica (console sessions and CSRF tokens must hold across processes), no Telegram."""
    env = {
        "DATABASE_URL": database_url,
        "RASA_URL": rasa_url,
        "RASA_TIMEOUT": "2",
        "CATALOG_URL": "",
        "TELEGRAM_TOKEN": "",
        "SECRET_KEY": SECRET,
        "RATE_LIMIT_IP_PER_MINUTE": "10000000",
        "RATE_LIMIT_SESSION_PER_MINUTE": "10000000",
        "LOG_LEVEL": "WARNING",
    }
    env.update({k.upper(): v for k, v in extra.items()})
    return env


def app_process(name: str, env: dict[str, str], log_dir: Path, port: int | None = None) -> ServerProcess:
    """``bussola serve`` (the production entry point) on a free port."""
    port = port or free_port()
    argv = [PYTHON, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    return ServerProcess(name, argv, port, log_dir / f"{name}.log", env)


def fake_rasa_process(log_dir: Path, port: int | None = None, delay: float = 0.0) -> ServerProcess:
    port = port or free_port()
    argv = [PYTHON, "-m", "tests.fixtures_proc", "rasa", "--port", str(port), "--delay", str(delay)]
    return ServerProcess("fake-rasa", argv, port, log_dir / "fake-rasa.log", health_path="/status")


def hsds_process(log_dir: Path, data_dir: Path, port: int | None = None) -> ServerProcess:
    """``bussola catalog serve``: the HSDS 3.0 API alone (``create_hsds_app`` under uvicorn)."""
    port = port or free_port()
    argv = [PYTHON, "-m", "bot.cli", "catalog", "serve", "--port", str(port), "--data", str(data_dir)]
    return ServerProcess("hsds", argv, port, log_dir / "hsds.log", health_path="/services?per_page=1")


class Processes:
    """Every process a test starts; all are killed at the test's end, whatever happened."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.all: list[ServerProcess] = []

    def add(self, p: ServerProcess) -> ServerProcess:
        self.all.append(p)
        return p

    def app(self, name: str, database_url: str, rasa_url: str, **extra: str) -> ServerProcess:
        return self.add(app_process(name, app_env(database_url, rasa_url, **extra), self.log_dir))

    def rasa(self, delay: float = 0.0, port: int | None = None) -> ServerProcess:
        return self.add(fake_rasa_process(self.log_dir, port=port, delay=delay))

    def hsds(self, data_dir: Path) -> ServerProcess:
        return self.add(hsds_process(self.log_dir, data_dir))

    def close(self) -> None:
        for p in self.all:
            with contextlib.suppress(Exception):
                p.kill()

    def logs(self) -> str:
        return "\n".join(f"== {p.name} ==\n{p.log_tail(25)}" for p in self.all)


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Processes]:
    """A factory of real processes (``procs.app(...)``, ``procs.rasa()``), all killed after the test."""
    ps = Processes(tmp_path / "logs")
    try:
        yield ps
    finally:
        ps.close()


@pytest.fixture
def fake_rasa(procs: Processes) -> ServerProcess:
    """A running fake Rasa server (rules of FakeNLU, Rasa's JSON)."""
    return procs.rasa().start()


# --- a web-chat client over HTTP ---------------------------------------------------------------

RETRY_STATUSES = {502, 503, 504}


class Unanswered(Exception):
    """A message got no answer before the client's deadline."""


@dataclass
class ChatClient:
    """A web-chat user over real HTTP, like the widget: a session, then messages with their own ids.

    ``send`` retries an unacknowledged message with the same ``message_id`` (connection refused or
    reset, timeouts, 502/503/504) until it is answered or ``patience`` runs out: the server must
    process it exactly once however many times it arrives.
    """

    http: httpx.AsyncClient
    base_urls: Sequence[str]
    patience: float = 60.0
    sender: str = ""
    token: str = ""
    retries: int = 0
    seq: int = 0
    sent: list[str] = field(default_factory=list)  # message ids, in sending order
    replies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    statuses: list[int] = field(default_factory=list)  # every non-200 status seen
    retried: set[str] = field(default_factory=set)  # message ids that needed more than one attempt
    _sent_set: set[str] = field(default_factory=set)

    def url(self, i: int = 0) -> str:
        return self.base_urls[i % len(self.base_urls)]

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def start(self, via: int = 0) -> ChatClient:
        async def call() -> httpx.Response:
            return await self.http.post(self.url(via) + "/webhooks/rest/session")

        r = await self._retrying(call)
        self.sender, self.token = r.json()["sender"], r.json()["token"]
        return self

    async def send(self, text: str, *, message_id: str | None = None, via: int = 0) -> list[dict[str, Any]]:
        """Send and return the replies; ``via`` picks the server (round-robin over ``base_urls``)."""
        if message_id is None:
            self.seq += 1
            message_id = f"{self.sender}-{self.seq}"
        if message_id not in self._sent_set:
            self._sent_set.add(message_id)
            self.sent.append(message_id)
        body = {"sender": self.sender, "message": text, "message_id": message_id}
        attempt = 0

        async def call() -> httpx.Response:
            nonlocal attempt
            attempt += 1
            return await self.http.post(
                self.url(via + attempt - 1) + "/webhooks/rest/webhook", json=body, headers=self.auth
            )

        r = await self._retrying(call)
        if attempt > 1:
            self.retried.add(message_id)
        self.replies[message_id] = r.json()
        return self.replies[message_id]

    async def _retrying(self, call: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
        deadline = time.monotonic() + self.patience
        pause = 0.05
        while True:
            try:
                r = await call()
                if r.status_code == 200:
                    return r
                self.statuses.append(r.status_code)
                if r.status_code not in RETRY_STATUSES:
                    raise AssertionError(f"HTTP {r.status_code}: {r.text[:300]}")
            except (httpx.TransportError, httpx.TimeoutException):
                pass
            if time.monotonic() > deadline:
                raise Unanswered(self.sender)
            self.retries += 1
            await asyncio.sleep(pause)
            pause = min(pause * 2, 1.0)


@dataclass
class LogAudit:
    """What the database holds for a set of web-chat clients, compared with what they sent and got.

    ``missing``: sent but not stored; ``doubled``: stored more than once; ``unanswered``: stored
    without any reply; ``mismatched``: the replies a client got are not the stored replies of that
    message (a retry reprocessed it); ``interleaved``: another message came between a citizen message
    and its replies; ``turns``: conversations whose dialogue state missed an update.
    """

    sent: int = 0
    stored: int = 0
    missing: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    interleaved: list[str] = field(default_factory=list)
    turns: list[str] = field(default_factory=list)
    order: dict[str, list[str]] = field(default_factory=dict)  # sender -> external ids in stored order

    def problems(self, *, silent_ok: Sequence[str] = ()) -> dict[str, list[str]]:
        """Every non-empty list; ``silent_ok`` are message ids allowed no reply (a person held the chat)."""
        out = {
            "missing": self.missing,
            "doubled": self.doubled,
            "unanswered": [m for m in self.unanswered if m not in set(silent_ok)],
            "mismatched": self.mismatched,
            "interleaved": self.interleaved,
            "turns": self.turns,
        }
        return {k: v[:10] for k, v in out.items() if v}


async def audit_log(database_url: str, clients: Sequence[ChatClient]) -> LogAudit:
    """Read every message of the clients' conversations and compare (see :class:`LogAudit`)."""
    from collections import Counter

    from sqlalchemy import select

    from bot.db import make_engine, make_sessionmaker
    from bot.models import Conversation, Message

    audit = LogAudit()
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            by_sender = {c.sender: c for c in clients if c.sender}
            convs = {
                conv.id: conv
                for conv in await session.scalars(
                    select(Conversation).where(
                        Conversation.channel == "web", Conversation.sender.in_(list(by_sender))
                    )
                )
            }
            rows = list(
                await session.scalars(
                    select(Message).where(Message.conversation_id.in_(list(convs))).order_by(Message.id)
                )
            )
    finally:
        await engine.dispose()
    log: dict[int, list[Any]] = {cid: [] for cid in convs}
    for m in rows:
        log[m.conversation_id].append(m)
    for cid, conv in convs.items():
        client = by_sender[conv.sender]
        messages = log[cid]
        inbound = [m for m in messages if m.direction == "in"]
        counts = Counter(m.external_id for m in inbound)
        audit.sent += len(client.sent)
        audit.stored += len(inbound)
        audit.missing += [mid for mid in client.sent if counts[mid] == 0]
        audit.doubled += [str(mid) for mid, n in counts.items() if n > 1]
        audit.order[conv.sender] = [str(m.external_id) for m in inbound]
        replies: dict[int, list[int]] = {}
        current: int | None = None
        for m in messages:
            if m.direction == "in":
                current = m.id
                replies[m.id] = []
            elif m.reply_to is not None:
                if m.reply_to != current:
                    audit.interleaved.append(f"{conv.sender}: reply {m.id} to {m.reply_to} after {current}")
                replies.setdefault(m.reply_to, []).append(m.id)
        for m in inbound:
            mid = str(m.external_id)
            if not replies[m.id]:
                audit.unanswered.append(mid)
            got = client.replies.get(mid)
            if got is not None and [r["message_id"] for r in got] != replies[m.id]:
                audit.mismatched.append(f"{mid}: got {[r['message_id'] for r in got]} stored {replies[m.id]}")
        turns = int((conv.state or {}).get("turns", 0))
        if turns != len(inbound):
            audit.turns.append(f"{conv.sender}: {turns} turns for {len(inbound)} messages")
    found = {c.sender for c in convs.values()}
    audit.missing += [f"{s}: no conversation" for s in by_sender if s not in found]
    return audit


class SSEReader:
    """A web-chat push stream read in the background: events and comments, in arrival order.

    ``items`` holds ``("message", data)``, ``("deleted", {})`` and ``("comment", text)`` tuples.
    """

    def __init__(self, http: httpx.AsyncClient, base_url: str, token: str, after: int = 0) -> None:
        self.http = http
        self.url = f"{base_url}/webhooks/rest/stream?after={after}"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.items: list[tuple[str, Any]] = []
        self.opened = asyncio.Event()
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> SSEReader:
        self._task = asyncio.create_task(self._read())
        await asyncio.wait_for(self.opened.wait(), 15)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _read(self) -> None:
        import json

        timeout = httpx.Timeout(10.0, read=None)
        async with self.http.stream("GET", self.url, headers=self.headers, timeout=timeout) as r:
            assert r.status_code == 200, await r.aread()
            self.opened.set()
            event: dict[str, Any] = {}
            async for line in r.aiter_lines():
                if line.startswith(":"):
                    self._add(("comment", line[1:].strip()))
                elif line == "":
                    if "event" in event:
                        self._add((event["event"], event.get("data", {})))
                    event = {}
                else:
                    name, _, value = line.partition(":")
                    value = value.removeprefix(" ")
                    event[name] = json.loads(value) if name == "data" else value

    def _add(self, item: tuple[str, Any]) -> None:
        self.items.append(item)
        self._changed.set()

    def messages(self) -> list[dict[str, Any]]:
        return [data for kind, data in self.items if kind == "message"]

    async def wait_for(self, pred: Callable[[dict[str, Any]], bool], within: float = 15.0) -> int:
        """Index in ``items`` of the first message event matching ``pred`` (a guard against hanging)."""
        deadline = time.monotonic() + within
        while True:
            for i, (kind, data) in enumerate(self.items):
                if kind == "message" and pred(data):
                    return i
            if self._task is not None and self._task.done():
                raise AssertionError(f"stream ended: {self._task.exception()!r}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no such event within {within:.0f}s: {self.items[-5:]}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)


# --- facilitators ------------------------------------------------------------------------------


async def seed_team(
    database_url: str,
    name: str,
    usernames: Sequence[str],
    *,
    comuni: Sequence[str] = (),
    default: bool = False,
) -> dict[str, int]:
    """A team open around the clock with these facilitators (password ``handoff_helpers.PASSWORD``)."""
    from bot.db import make_engine, make_sessionmaker
    from tests.handoff_helpers import make_facilitator, make_team

    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            team = await make_team(session, name, comuni=list(comuni), is_default=default)
            ids = {u: (await make_facilitator(session, u, [team])).id for u in usernames}
            await session.commit()
            return {"team": team.id, **ids}
    finally:
        await engine.dispose()


async def api_login(http: httpx.AsyncClient, base_url: str, username: str) -> dict[str, Any]:
    """Log in to the console's JSON API; the session cookie lands in ``http``'s jar (any port)."""
    from tests.handoff_helpers import PASSWORD

    r = await http.post(base_url + "/api/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return dict(r.json())


async def eventually(check: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    """Poll ``check`` until true; a guard against hanging, not a speed requirement."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {within:.0f}s: {what}")


# --- the fake Rasa server ----------------------------------------------------------------------


def rasa_json(parse: Any) -> dict[str, Any]:
    """A ParseResult of FakeNLU in the shape of Rasa's ``/model/parse`` answer."""
    text: str = parse.text
    entities: list[dict[str, Any]] = []
    for e in parse.entities:
        start = text.find(e.text) if e.text else -1
        if start >= 0:
            entities.append({"entity": e.type, "start": start, "end": start + len(e.text), "value": e.value})
    if parse.destinatario:
        start = text.lower().find(parse.destinatario)
        if start >= 0:
            end = start + len(parse.destinatario)
            entities.append({"entity": "destinatario", "start": start, "end": end, "value": text[start:end]})
    intent = (
        {"name": parse.intent.name, "confidence": parse.intent.confidence}
        if parse.intent
        else {"name": None, "confidence": 0.0}
    )
    return {
        "text": text,
        "intent": intent,
        "intent_ranking": [{"name": s.name, "confidence": s.confidence} for s in parse.ranking],
        "entities": entities,
    }


def fake_rasa_app(delay: float = 0.0) -> Any:
    """Rasa's two endpoints the app uses, answered by FakeNLU's rules (``delay``: a model's latency)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from tests.fixtures_chat import FakeNLU

    nlu = FakeNLU()

    async def parse(request: Request) -> JSONResponse:
        try:
            body = await request.json()
            text = str(body.get("text", ""))
        except (ValueError, AttributeError):
            return JSONResponse({"error": "bad request"}, status_code=400)
        if delay:
            await asyncio.sleep(delay)
        return JSONResponse(rasa_json(await nlu.parse(text)))

    async def status(_request: Request) -> JSONResponse:
        return JSONResponse({"model_file": "fake-nlu.tar.gz", "num_active_training_jobs": 0})

    return Starlette(routes=[Route("/model/parse", parse, methods=["POST"]), Route("/status", status)])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="test servers run as separate processes")
    sub = parser.add_subparsers(dest="what", required=True)
    rasa = sub.add_parser("rasa", help="fake Rasa NLU server")
    rasa.add_argument("--port", type=int, required=True)
    rasa.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args(argv)
    import uvicorn

    uvicorn.run(fake_rasa_app(args.delay), host="127.0.0.1", port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
