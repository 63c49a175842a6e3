"""Web-chat benchmark: concurrent conversations against the running app, with raw Rasa in the same run.

    .venv/bin/python bench/chat.py [--levels 10 50 100] [--turns 5] [--rasa-url URL --rasa-token T]

It starts Rasa with the current model (training it first if missing) unless ``--rasa-url`` is given,
starts the app (``bussola serve``: uvicorn, one process, SQLite in a temporary directory, the bundled
catalogue) on a free port, then for each level N:

1. raw Rasa: N clients each POST the same free-text messages the conversations will write, one after
   the other, straight to ``/model/parse`` -> p50/p95;
2. the chat: N web-chat sessions, each a whole conversation (greeting, need, place, a button, thanks)
   through ``POST /webhooks/rest/webhook`` -> reply latency p50/p95, messages per second, errors, and
   the app's resident memory (VmHWM, the peak, and VmRSS after the level).

The issue's target, checked at 50 conversations: chat p95 <= 1.5 x Rasa's p95, and no errors. The
figures are printed (and one JSON line per level); nothing is asserted, this is not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nlu import manage  # noqa: E402

TARGET_LEVEL = 50
TARGET_RATIO = 1.5

# Conversations as people write them: free text (through Rasa) and button payloads (not).
SCRIPTS: tuple[tuple[str, ...], ...] = (
    ("ciao", "cerco una casa in affitto", "Collegno", "/altri", "grazie mille"),
    ("buongiorno", "ho perso il lavoro", "abito a Rivoli", "/persona", "no grazie"),
    ("salve", "non riesco a pagare le bollette", "Torino", "/salta", "grazie"),
    ("ciao", "mia madre ha bisogno di una badante", "Pinerolo", "/altro", "cerco anche un dentista"),
    ("buonasera", "non ho da mangiare", "Moncalieri", "/altri", "va bene grazie"),
)


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak) of a process, from /proc."""
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far, from /proc (0 when unreadable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


@dataclass
class Level:
    n: int
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    wall: float = 0.0
    rasa: list[float] = field(default_factory=list)
    rasa_errors: int = 0
    rss_kb: int = 0
    hwm_kb: int = 0
    probe: list[float] = field(default_factory=list)  # Rasa, asked directly while the chat runs
    app_cpu: float = 0.0  # seconds of CPU the app process used during the chat

    def error(self, kind: str) -> None:
        self.errors += 1
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1


async def raw_rasa(level: Level, rasa_url: str, token: str, turns: int) -> None:
    params = {"token": token} if token else None
    limits = httpx.Limits(max_connections=level.n, max_keepalive_connections=level.n)
    async with httpx.AsyncClient(timeout=60.0, limits=limits) as http:

        async def client(i: int) -> None:
            for text in SCRIPTS[i % len(SCRIPTS)][:turns]:
                if text.startswith("/"):
                    continue
                start = time.perf_counter()
                try:
                    r = await http.post(f"{rasa_url}/model/parse", json={"text": text}, params=params)
                    r.raise_for_status()
                    level.rasa.append(time.perf_counter() - start)
                except httpx.HTTPError:
                    level.rasa_errors += 1

        await asyncio.gather(*(client(i) for i in range(level.n)))


async def probe_rasa(level: Level, rasa_url: str, token: str, turns: int, stop: asyncio.Event) -> None:
    """One client parsing the same texts straight at Rasa while the chat load runs: Rasa's latency
    under the very same load, so the app's own share of the chat latency can be told apart."""
    params = {"token": token} if token else None
    texts = [t for script in SCRIPTS for t in script[:turns] if not t.startswith("/")]
    async with httpx.AsyncClient(timeout=60.0) as http:
        i = 0
        while not stop.is_set():
            start = time.perf_counter()
            try:
                r = await http.post(
                    f"{rasa_url}/model/parse", json={"text": texts[i % len(texts)]}, params=params
                )
                r.raise_for_status()
                level.probe.append(time.perf_counter() - start)
            except httpx.HTTPError:
                level.rasa_errors += 1
            i += 1


async def chat(level: Level, app_url: str, turns: int) -> None:
    limits = httpx.Limits(max_connections=level.n * 2, max_keepalive_connections=level.n * 2)
    async with httpx.AsyncClient(base_url=app_url, timeout=60.0, limits=limits) as http:

        async def conversation(i: int) -> None:
            try:
                r = await http.post("/webhooks/rest/session")
                r.raise_for_status()
                sender, token = r.json()["sender"], r.json()["token"]
            except (httpx.HTTPError, KeyError, ValueError) as exc:
                level.error(f"session:{type(exc).__name__}")
                return
            headers = {"Authorization": f"Bearer {token}"}
            for turn, text in enumerate(SCRIPTS[i % len(SCRIPTS)][:turns]):
                body = {"sender": sender, "message": text, "message_id": f"{i}-{turn}"}
                start = time.perf_counter()
                try:
                    r = await http.post("/webhooks/rest/webhook", json=body, headers=headers)
                except httpx.HTTPError as exc:
                    level.error(type(exc).__name__)
                    continue
                elapsed = time.perf_counter() - start
                if r.status_code != 200 or not r.json():
                    level.error(f"HTTP {r.status_code}")
                    continue
                level.latencies.append(elapsed)

        start = time.perf_counter()
        await asyncio.gather(*(conversation(i) for i in range(level.n)))
        level.wall = time.perf_counter() - start


async def _admin(admin_url: str, sql: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


async def create_postgres_db(admin_url: str) -> str:
    """A throw-away database on the PostgreSQL server at ``admin_url``; its URL."""
    name = f"bench_chat_{secrets.token_hex(5)}"
    await _admin(admin_url, f'CREATE DATABASE "{name}"')
    return f"{admin_url.rsplit('/', 1)[0]}/{name}"


async def drop_postgres_db(admin_url: str, url: str) -> None:
    await _admin(admin_url, f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def start_app(
    port: int, workdir: Path, rasa_url: str, token: str, database_url: str
) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url or f"sqlite+aiosqlite:///{workdir}/bench.db",
            "RASA_URL": rasa_url,
            "RASA_TOKEN": token,
            "RASA_TIMEOUT": "30",  # the benchmark measures Rasa's queueing, not degraded mode
            "RATE_LIMIT_IP_PER_MINUTE": "100000000",
            "RATE_LIMIT_SESSION_PER_MINUTE": "100000000",
            "LOG_LEVEL": "WARNING",
            "TELEGRAM_TOKEN": "",
            "CATALOG_URL": "",
        }
    )
    log = (workdir / "app.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in {timeout:.0f}s")


def report(level: Level, turns: int) -> dict[str, object]:
    ms = [x * 1000 for x in level.latencies]
    rasa_ms = [x * 1000 for x in level.rasa]
    p95, rasa_p95 = pct(ms, 95), pct(rasa_ms, 95)
    probe_p95 = pct([x * 1000 for x in level.probe], 95)
    row: dict[str, object] = {
        "conversations": level.n,
        "messages": len(ms),
        "errors": level.errors,
        "error_kinds": level.error_kinds,
        "chat_p50_ms": round(pct(ms, 50), 1),
        "chat_p95_ms": round(p95, 1),
        "messages_per_s": round(len(ms) / level.wall, 1) if level.wall else 0.0,
        "rasa_p50_ms": round(pct(rasa_ms, 50), 1),
        "rasa_p95_ms": round(rasa_p95, 1),
        "rasa_errors": level.rasa_errors,
        "ratio_p95": round(p95 / rasa_p95, 2) if rasa_p95 else None,
        "rasa_during_chat_p95_ms": round(probe_p95, 1),
        "ratio_p95_same_load": round(p95 / probe_p95, 2) if level.probe and probe_p95 else None,
        "app_cpu_ms_per_msg": round(level.app_cpu * 1000 / len(ms), 1) if ms else None,
        "app_rss_mb": round(level.rss_kb / 1024, 1),
        "app_peak_rss_mb": round(level.hwm_kb / 1024, 1),
        "load_avg_1m": round(os.getloadavg()[0], 1),
        "cpus": os.cpu_count(),
    }
    return row


async def run(args: argparse.Namespace) -> int:
    rasa_server = None
    token = args.rasa_token
    rasa_url = args.rasa_url
    with tempfile.TemporaryDirectory(prefix="bench-chat-") as tmp:
        workdir = Path(tmp)
        if not rasa_url:
            token = token or secrets.token_hex(8)
            print("starting Rasa (training first if the model is missing)...", flush=True)
            rasa_server = manage.launch(token=token, log_path=workdir / "rasa.log")
            rasa_url = rasa_server.url
        port = free_port()
        database_url = await create_postgres_db(args.postgres) if args.postgres else ""
        app = start_app(port, workdir, rasa_url, token, database_url)
        app_url = f"http://127.0.0.1:{port}"
        try:
            wait_http(f"{app_url}/healthz", app)
            load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
            store = "PostgreSQL" if database_url else "SQLite"
            print(f"app on {app_url} (pid {app.pid}, {store}), Rasa on {rasa_url}", flush=True)
            print(f"machine: {os.cpu_count()} CPUs, load average {load} (other work skews every figure)")
            # Warm-up: the first requests load lazily built indexes and open connections.
            warm = Level(2)
            await chat(warm, app_url, args.turns)
            await raw_rasa(warm, rasa_url, token, args.turns)
            rows = []
            header = (
                f"{'conv':>5} {'msgs':>5} {'err':>4} {'p50 ms':>8} {'p95 ms':>8} {'msg/s':>7} "
                f"{'rasa p50':>9} {'rasa p95':>9} {'ratio':>6} {'rasa*p95':>9} {'ratio*':>7} "
                f"{'cpu/msg':>8} {'RSS MB':>7} {'peak MB':>8}"
            )
            print(header)
            print("(rasa* = Rasa probed directly during the chat load; ratio* = chat p95 / rasa* p95;")
            print(" cpu/msg = CPU milliseconds the app process used per message)")
            for n in args.levels:
                level = Level(n)
                await raw_rasa(level, rasa_url, token, args.turns)
                stop = asyncio.Event()
                prober = asyncio.create_task(probe_rasa(level, rasa_url, token, args.turns, stop))
                cpu0 = cpu_seconds(app.pid)
                await chat(level, app_url, args.turns)
                level.app_cpu = cpu_seconds(app.pid) - cpu0
                stop.set()
                await prober
                mem = memory_kb(app.pid)
                level.rss_kb, level.hwm_kb = mem.get("VmRSS", 0), mem.get("VmHWM", 0)
                row = report(level, args.turns)
                row["store"] = store
                rows.append(row)
                print(
                    f"{n:>5} {row['messages']:>5} {row['errors']:>4} {row['chat_p50_ms']:>8} "
                    f"{row['chat_p95_ms']:>8} {row['messages_per_s']:>7} {row['rasa_p50_ms']:>9} "
                    f"{row['rasa_p95_ms']:>9} {row['ratio_p95']!s:>6} {row['rasa_during_chat_p95_ms']:>9} "
                    f"{row['ratio_p95_same_load']!s:>7} {row['app_cpu_ms_per_msg']!s:>8} "
                    f"{row['app_rss_mb']:>7} {row['app_peak_rss_mb']:>8}",
                    flush=True,
                )
            for row in rows:
                if row["errors"]:
                    print(f"errors at {row['conversations']}: {row['error_kinds']}")
                print(json.dumps({"bench": "chat", **row}, ensure_ascii=False))
            target = next((r for r in rows if r["conversations"] == TARGET_LEVEL), None)
            if target is not None:
                ratio = target["ratio_p95"]
                ok = target["errors"] == 0 and isinstance(ratio, float) and ratio <= TARGET_RATIO
                print(
                    f"target at {TARGET_LEVEL} conversations: p95 <= {TARGET_RATIO} x Rasa p95 and no errors "
                    f"-> ratio {ratio}, errors {target['errors']}: {'ok' if ok else 'MISSED'}"
                )
        finally:
            app.terminate()
            try:
                app.wait(timeout=15)
            except subprocess.TimeoutExpired:
                app.kill()
            if rasa_server is not None:
                rasa_server.stop()
            if database_url:
                await drop_postgres_db(args.postgres, database_url)
            if args.keep_log:
                for name in ("app.log", "rasa.log"):
                    path = workdir / name
                    if path.exists():
                        print(
                            f"--- {name} (tail)\n"
                            + "\n".join(path.read_text(errors="replace").splitlines()[-20:])
                        )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--levels", type=int, nargs="+", default=[10, 50, 100])
    parser.add_argument("--turns", type=int, default=5, help="messages per conversation (at most 5)")
    parser.add_argument("--rasa-url", default="", help="use this Rasa server instead of starting one")
    parser.add_argument("--rasa-token", default="")
    parser.add_argument("--keep-log", action="store_true", help="print the tail of the app's log")
    parser.add_argument(
        "--postgres",
        default="",
        metavar="ADMIN_URL",
        help="run the app on a throw-away database of this PostgreSQL server "
        "(e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test) instead of SQLite",
    )
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
