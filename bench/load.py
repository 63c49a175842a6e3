"""Load: many concurrent web-chat conversations against one app process, then two on one PostgreSQL.

Each configuration gets a fresh PostgreSQL database, a fake Rasa process (FakeNLU's rules in Rasa's
JSON, with ``--rasa-delay`` seconds per parse to stand in for the model; or ``--rasa-url`` for a
real server) and N ``bussola serve`` processes. ``--clients`` web-chat users (split evenly across the
processes, as a round-robin proxy would) each open a session and talk for ``--duration`` seconds:
everyday requests, button taps, places, now and then a request for a person; between two messages
a person "thinks" ``--think`` seconds on average (0: as fast as the server answers). A message that
gets no answer is sent again with the same ``message_id``, as the widget does.

Printed per configuration: messages per second, reply latency p50/p95/p99 (from sending to the
replies, retries included), errors (non-200 answers and messages never answered), lost messages
(what the clients sent compared with what the database holds: missing, doubled, unanswered or
answered differently on a retry; must be 0), and each process's resident memory (peak) and CPU time.

Usage: ``python bench/load.py [--duration 180] [--clients 200] [--procs 1 2] [--think 1.0]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, Python puts bench/ first on the path, where bench/nlu.py would shadow the nlu
# package: put the repository root first instead.
ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402

from tests.fixtures_db import drop_postgres_database, make_postgres_database  # noqa: E402
from tests.fixtures_proc import (  # noqa: E402
    ChatClient,
    Processes,
    ServerProcess,
    Unanswered,
    audit_log,
)

EVERYDAY = (
    "ciao",
    "cerco casa a Collegno",
    "/altri",
    "ho perso il lavoro",
    "Moncalieri",
    "non riesco a pagare le bollette",
    "mia madre ha 85 anni ed è sola",
    "/altro",
    "mi serve lo spid",
    "grazie",
    "cosa sai fare",
    "abito a Torino, zona San Salvario",
)
ASKS_A_PERSON = ("ciao", "ho bisogno di aiuto per l'affitto a Collegno", "/persona", "/handoff si")


@dataclass
class Sampler:
    """Peak resident memory of each process, sampled while the load runs."""

    procs: list[ServerProcess]
    peak: dict[str, int] = field(default_factory=dict)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            for p in self.procs:
                self.peak[p.name] = max(self.peak.get(p.name, 0), p.rss_bytes())
            try:
                await asyncio.wait_for(stop.wait(), 2.0)
            except TimeoutError:
                pass


def cpu_seconds(p: ServerProcess) -> float:
    """User + system CPU time of a running process (from /proc)."""
    if p.pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{p.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


async def converse(
    c: ChatClient, rnd: random.Random, deadline: float, think: float, latencies: list[float]
) -> None:
    """One person: a session, then messages until the deadline."""
    await c.start()
    script = ASKS_A_PERSON + EVERYDAY if rnd.random() < 0.1 else EVERYDAY
    i = rnd.randrange(len(EVERYDAY)) if script is EVERYDAY else 0
    while time.monotonic() < deadline:
        text = script[i % len(script)]
        i += 1
        started = time.perf_counter()
        try:
            await c.send(text)
        except Unanswered:
            return
        latencies.append(time.perf_counter() - started)
        if think:
            await asyncio.sleep(rnd.uniform(0.5 * think, 1.5 * think))


async def run_config(args: argparse.Namespace, n_procs: int, log_dir: Path) -> dict[str, Any]:
    url = await asyncio.to_thread(make_postgres_database)
    procs = Processes(log_dir / f"procs-{n_procs}")
    try:
        rasa = None if args.rasa_url else procs.rasa(delay=args.rasa_delay).start()
        rasa_url = args.rasa_url or (rasa.url if rasa else "")
        apps = [procs.app(f"app-{i + 1}", url, rasa_url) for i in range(n_procs)]
        for p in apps:
            p.start(wait=False)
        for p in apps:
            await asyncio.to_thread(p.wait_up)
        watched = apps + ([rasa] if rasa else [])
        cpu_before = {p.name: cpu_seconds(p) for p in watched}
        own_cpu = time.process_time()
        # One small HTTP client per person: httpx scans its whole pool on every request, so one
        # shared pool of hundreds of connections would make the load generator the bottleneck.
        timeout = httpx.Timeout(30.0, connect=5.0)
        https = [
            httpx.AsyncClient(timeout=timeout, limits=httpx.Limits(max_connections=2))
            for _ in range(args.clients)
        ]
        try:
            clients = [
                ChatClient(https[k], [apps[k % n_procs].url], patience=60) for k in range(args.clients)
            ]
            latencies: list[float] = []
            stop = asyncio.Event()
            sampler = Sampler(watched)
            sampling = asyncio.create_task(sampler.run(stop))
            started = time.monotonic()
            deadline = started + args.duration
            rnd = random.Random(args.seed)
            results = await asyncio.gather(
                *(converse(c, random.Random(rnd.random()), deadline, args.think, latencies) for c in clients),
                return_exceptions=True,
            )
            elapsed = time.monotonic() - started
            stop.set()
            await sampling
        finally:
            for h in https:
                await h.aclose()
        crashed = [r for r in results if isinstance(r, BaseException)]
        cpu = {p.name: cpu_seconds(p) - cpu_before[p.name] for p in watched}
        cpu["load-generator"] = time.process_time() - own_cpu
        audit = await audit_log(url, clients)
        unanswered_clients = sum(1 for c in clients if c.sent and c.sent[-1] not in c.replies)
        problems = audit.problems()
        return {
            "processes": n_procs,
            "clients": args.clients,
            "seconds": round(elapsed, 1),
            "messages": len(latencies),
            "messages_per_s": round(len(latencies) / elapsed, 1),
            "p50_ms": round(pct(latencies, 50) * 1000, 1),
            "p95_ms": round(pct(latencies, 95) * 1000, 1),
            "p99_ms": round(pct(latencies, 99) * 1000, 1),
            "max_ms": round(max(latencies, default=0) * 1000, 1),
            "errors": sum(len(c.statuses) for c in clients) + unanswered_clients + len(crashed),
            "retries": sum(c.retries for c in clients),
            "sent": audit.sent,
            "stored": audit.stored,
            "lost": sum(len(v) for v in problems.values()),
            "problems": problems,
            "rss_peak_mb": {k: round(v / 2**20, 1) for k, v in sampler.peak.items()},
            "cpu_s": {k: round(v, 1) for k, v in cpu.items()},
            "load_average": round(os.getloadavg()[0], 1),  # other work on the machine skews the figures
        }
    finally:
        procs.close()
        await asyncio.to_thread(drop_postgres_database, url)


def show(r: dict[str, Any]) -> None:
    print(
        f"{r['processes']} process(es), {r['clients']} conversations, {r['seconds']} s: "
        f"{r['messages']} messages, {r['messages_per_s']} msg/s; reply p50 {r['p50_ms']} ms, "
        f"p95 {r['p95_ms']} ms, p99 {r['p99_ms']} ms, max {r['max_ms']} ms"
    )
    print(
        f"  errors {r['errors']}, retries {r['retries']}, sent {r['sent']}, stored {r['stored']}, "
        f"lost {r['lost']}{' ' + json.dumps(r['problems']) if r['problems'] else ''}"
    )
    print(f"  RSS peak MB {r['rss_peak_mb']}, CPU s {r['cpu_s']}, load average {r['load_average']}")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of load per configuration")
    parser.add_argument("--clients", type=int, default=200, help="concurrent conversations")
    parser.add_argument("--procs", type=int, nargs="+", default=[1, 2], help="app processes to compare")
    parser.add_argument("--think", type=float, default=1.0, help="mean pause between messages (s)")
    parser.add_argument("--rasa-delay", type=float, default=0.02, help="fake Rasa's seconds per parse")
    parser.add_argument("--rasa-url", default="", help="a running Rasa server instead of the fake one")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    print(
        f"load: {args.clients} conversations x {args.duration:g} s, think {args.think:g} s, "
        f"Rasa {'at ' + args.rasa_url if args.rasa_url else f'fake ({args.rasa_delay * 1000:g} ms/parse)'}, "
        f"{os.cpu_count()} CPUs"
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="bussola-load-") as tmp:
        for n in args.procs:
            r = await run_config(args, n, Path(tmp))
            show(r)
            results.append(r)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), "utf-8")
    return 1 if any(r["lost"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
