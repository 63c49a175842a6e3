"""Catalogue latency: matching in-process on the bundled catalogue, and the HSDS API over HTTP.

Prints p50/p95/p99 (milliseconds). The in-process figure is what a citizen's message costs the
bot; the HTTP figures are what another HSDS client (or a RemoteCatalog refresh) sees from
``uvicorn`` on a local port. Usage: ``python bench/catalog.py [--rounds N]``.
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
import random  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import httpx  # noqa: E402
import uvicorn  # noqa: E402

from catalog_client.api import create_hsds_app  # noqa: E402
from catalog_client.client import RemoteCatalog  # noqa: E402
from catalog_client.matching import match  # noqa: E402
from catalog_client.store import CatalogStore  # noqa: E402
from catalog_client.types import MatchQuery  # noqa: E402
from nlu.territory import QUARTIERI, comuni  # noqa: E402
from nlu.types import NEED_INTENTS  # noqa: E402

TEXTS = (
    "",
    "mi hanno dato lo sfratto e non so dove andare con i miei figli",
    "mia madre ha 85 anni ed è sola tutto il giorno",
    "non riesco a pagare le bollette della luce",
    "ho perso il lavoro e devo fare il curriculum",
    "mi serve lo spid per la domanda",
    "mio marito mi picchia",
    "mi fa male un dente e non ho soldi",
)


def _queries(n: int, seed: int = 7) -> list[MatchQuery]:
    rnd = random.Random(seed)
    places = [c.istat for c in comuni()]
    out = []
    for _ in range(n):
        needs = tuple(rnd.sample(NEED_INTENTS, rnd.choice((1, 1, 1, 2))))
        quartiere = rnd.choice(QUARTIERI).name if rnd.random() < 0.3 else None
        out.append(
            MatchQuery(
                needs=needs,
                text=rnd.choice(TEXTS),
                comune_istat=None if quartiere else rnd.choice(places),
                quartiere=quartiere,
                eta=rnd.choice((None, None, 8, 35, 70, 85)),
                limit=3,
            )
        )
    return out


def _stats(name: str, samples: list[float]) -> None:
    ms = sorted(s * 1000 for s in samples)
    pct = statistics.quantiles(ms, n=100)
    print(f"{name:<44} n={len(ms):>6}  p50 {pct[49]:7.3f} ms  p95 {pct[94]:7.3f} ms  p99 {pct[98]:7.3f} ms")


def _time(fn: Callable[[], object], rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def bench_in_process(store: CatalogStore, rounds: int) -> None:
    queries = _queries(rounds)
    for q in queries[:200]:  # warm the stemming and expansion caches, as a running bot has
        match(store.index, store.terms, q)
    samples = []
    for q in queries:
        t = time.perf_counter()
        match(store.index, store.terms, q)
        samples.append(time.perf_counter() - t)
    _stats("match() in-process, bundled catalogue", samples)
    words = [q for q in queries if q.text]
    _stats(
        "match() in-process, with the citizen's words",
        _time(lambda: match(store.index, store.terms, random.choice(words)), rounds),
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_http(store: CatalogStore, rounds: int) -> None:
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_hsds_app(store), host="127.0.0.1", port=port, log_level="warning", access_log=False
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    ids = [s["id"] for s in store.services()]
    term = next(t["id"] for t in store.taxonomy_terms() if t.get("code") == "casa")
    try:
        with httpx.Client(base_url=base) as http:
            http.get("/services")
            _stats(
                "HTTP GET /services/{id}", _time(lambda: http.get(f"/services/{random.choice(ids)}"), rounds)
            )
            _stats("HTTP GET /services?per_page=50", _time(lambda: http.get("/services?per_page=50"), rounds))
            _stats(
                "HTTP GET /services?search=<words>",
                _time(lambda: http.get("/services", params={"search": random.choice(TEXTS[1:])}), rounds),
            )
            _stats(
                "HTTP GET /services?taxonomy_term_id=casa",
                _time(lambda: http.get("/services", params={"taxonomy_term_id": term}), rounds),
            )
            etag = http.get("/services?per_page=50").headers["etag"]
            _stats(
                "HTTP GET /services (If-None-Match -> 304)",
                _time(lambda: http.get("/services?per_page=50", headers={"If-None-Match": etag}), rounds),
            )
        asyncio.run(_bench_remote(base, max(5, rounds // 50)))
    finally:
        server.should_exit = True
        thread.join(timeout=10)


async def _bench_remote(base: str, rounds: int) -> None:
    async with httpx.AsyncClient() as http:
        remote = RemoteCatalog(base, http, snapshot_path=None, per_page=20)
        first = time.perf_counter()
        await remote.refresh()
        cold = time.perf_counter() - first
        samples = []
        for _ in range(rounds):
            t = time.perf_counter()
            await remote.refresh()
            samples.append(time.perf_counter() - t)
        print(f"{'RemoteCatalog full fetch over HTTP':<44} first {cold * 1000:7.1f} ms", end="")
        print(f"  conditional (304s) p50 {statistics.median(samples) * 1000:7.1f} ms")
        query = MatchQuery(needs=("casa",), comune_istat="001090", text="sfratto")
        _stats(
            "RemoteCatalog.match() after fetch",
            [await _atime(remote.match, query) for _ in range(rounds * 20)],
        )


async def _atime(fn: Callable[[MatchQuery], object], query: MatchQuery) -> float:
    t = time.perf_counter()
    await fn(query)  # type: ignore[misc]
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5000)
    parser.add_argument("--data", type=Path, help="folder of HSDS JSON (default: the bundled catalogue)")
    args = parser.parse_args()
    t = time.perf_counter()
    store = CatalogStore.from_dir(args.data) if args.data else CatalogStore.bundled()
    print(
        f"catalogue: {len(store)} services, loaded and indexed in {(time.perf_counter() - t) * 1000:.0f} ms"
    )
    bench_in_process(store, args.rounds)
    bench_http(store, max(200, args.rounds // 10))


if __name__ == "__main__":
    main()
