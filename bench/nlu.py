"""NLU benchmark: Rasa parse latency and throughput, through NLUClient and as raw HTTP, in one run.

Prints figures, asserts nothing (except the issue's client-overhead budget, reported as ok/OVER).

    .venv/bin/python bench/nlu.py [--requests 300] [--concurrency 1 8 32] [--train]

It starts Rasa with the current model (training it first if missing) on a free port, sends the
held-out test sentences at concurrency 1, 8 and 32, alternately through our client and as bare
``httpx`` POSTs to ``/model/parse`` (same connection limits), and reports p50/p95/p99 latency,
throughput, the client's overhead at p50, Rasa's resident memory, and the training time (a fresh
``train`` into a temporary directory with ``--train``, else the one recorded when the model was made).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nlu import manage  # noqa: E402
from nlu.client import NLUClient, build_result  # noqa: E402

OVERHEAD_BUDGET_MS = 2.0


def sentences() -> list[str]:
    """The held-out messages: realistic lengths and words, never seen in training."""
    out = list(manage.held_out_files(manage.DEFAULT.test_dir))
    return out or ["mi hanno staccato la luce", "abito a Collegno", "ho perso casa e lavoro"]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


async def run_level(
    call: Callable[[str], Awaitable[object]], texts: list[str], n: int, conc: int
) -> dict[str, float]:
    latencies: list[float] = []
    queue = [texts[i % len(texts)] for i in range(n)]

    async def worker() -> None:
        while queue:
            text = queue.pop()
            t0 = time.perf_counter()
            await call(text)
            latencies.append((time.perf_counter() - t0) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(conc)))
    wall = time.perf_counter() - started
    return {
        "p50": pct(latencies, 50),
        "p95": pct(latencies, 95),
        "p99": pct(latencies, 99),
        "rps": n / wall,
    }


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (Rasa runs as one process group)."""
    total_kb = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()
            pgid = int(fields[2])
            if int(entry.name) != pid and pgid != pid:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return total_kb / 1024


def client_overhead_us(payload: dict[str, object], text: str, rounds: int = 20000) -> float:
    """CPU time our client adds per call beyond HTTP: body encoding and building the typed result."""
    raw = json.dumps(payload).encode()
    t0 = time.perf_counter()
    for _ in range(rounds):
        json.dumps({"text": text}, ensure_ascii=False).encode()
        build_result(text, json.loads(raw))
    per_call_with_json = (time.perf_counter() - t0) / rounds
    t0 = time.perf_counter()
    for _ in range(rounds):
        json.dumps({"text": text}).encode()
        json.loads(raw)
    per_call_raw = (time.perf_counter() - t0) / rounds
    return (per_call_with_json - per_call_raw) * 1e6


async def bench(args: argparse.Namespace) -> None:
    texts = sentences()
    token = secrets.token_hex(8)
    print(f"held-out sentences: {len(texts)}; requests per level: {args.requests}")
    if args.train:
        with tempfile.TemporaryDirectory(prefix="bench-nlu-") as tmp:
            project = replace(manage.DEFAULT, models_dir=Path(tmp))
            outcome = manage.train(project, force=True, log=None)
            train_note = f"{outcome.seconds:.1f} s (fresh run, {os.cpu_count()} CPUs)"
    model = manage.train(log=None).path
    if not args.train:
        record = manage.training_record(model) or {}
        train_note = (
            f"{record['seconds']} s (recorded {record.get('trained_at', '?')})"
            if "seconds" in record
            else "unknown"
        )
    log_path = Path(tempfile.gettempdir()) / f"bench-nlu-rasa-{os.getpid()}.log"
    t0 = time.perf_counter()
    server = manage.launch(model, token=token, log_path=log_path)
    startup = time.perf_counter() - t0
    try:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
        raw_http = httpx.AsyncClient(timeout=30.0, limits=limits)
        nlu = NLUClient([server.url], token=token, timeout=30.0)
        parse_url = f"{server.url}/model/parse"

        async def raw(text: str) -> object:
            resp = await raw_http.post(parse_url, params={"token": token}, json={"text": text})
            resp.raise_for_status()
            return resp.json()

        for text in texts[:30]:  # warm-up: TensorFlow's first calls are slow
            await raw(text)
            await nlu.parse(text)
        sample = await raw("mia madre ha 80 anni e vive sola a Collegno")
        rows = []
        for conc in args.concurrency:
            # Alternate which goes first so neither always meets a warmer server.
            r1 = await run_level(raw, texts, args.requests, conc)
            c1 = await run_level(nlu.parse, texts, args.requests, conc)
            c2 = await run_level(nlu.parse, texts, args.requests, conc)
            r2 = await run_level(raw, texts, args.requests, conc)
            rows.append((conc, _mean(r1, r2), _mean(c1, c2)))
        rss = rss_mb(server.pid)
        await raw_http.aclose()
        await nlu.aclose()
    finally:
        server.stop()
    overhead_cpu = client_overhead_us(sample if isinstance(sample, dict) else {}, "mia madre ha 80 anni")

    print(f"\nRasa {model.name}: ready in {startup:.1f} s, RSS {rss:.0f} MB; training time {train_note}\n")
    print(f"{'conc':>4} {'mode':<10} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>8}")
    for conc, r, c in rows:
        for mode, m in (("raw http", r), ("NLUClient", c)):
            print(f"{conc:>4} {mode:<10} {m['p50']:>8.1f} {m['p95']:>8.1f} {m['p99']:>8.1f} {m['rps']:>8.1f}")
    base = rows[0]
    overhead = base[2]["p50"] - base[1]["p50"]
    verdict = "ok" if overhead <= OVERHEAD_BUDGET_MS else "OVER"
    print(
        f"\nclient overhead at p50 (concurrency {base[0]}): {overhead:+.2f} ms over raw HTTP "
        f"(budget {OVERHEAD_BUDGET_MS} ms: {verdict}); in-process cost of normalisation "
        f"{overhead_cpu:.0f} us per call"
    )


def _mean(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    return {k: statistics.fmean((a[k], b[k])) for k in a}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="parses per level and mode")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--train", action="store_true", help="time a fresh training run too")
    args = parser.parse_args()
    if not manage.rasa_available():
        print("Rasa is not installed (.venv-rasa): run `make deps`", file=sys.stderr)
        return 2
    asyncio.run(bench(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
