"""RemoteCatalog against a fake HSDS server (httpx.MockTransport): pagination, completion of list
items, retries with backoff, ETag / 304, TTL with background refresh, snapshot fallback."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.settings import Settings
from catalog_client.client import RemoteCatalog, make_catalog
from catalog_client.embedded import EmbeddedCatalog
from catalog_client.snapshot import read_snapshot
from catalog_client.store import CatalogStore
from catalog_client.types import MatchQuery
from tests.catalog_support import MINI_CATALOG

BASE = "http://hsds.test/api"
FETCHED = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
CASA_COLLEGNO = MatchQuery(needs=("casa",), comune_istat="001090", limit=10)
_ONE_TO_ONE = {"id", "name", "status", "description", "organization_id", "last_modified"}


class FakeHSDS:
    """A small HSDS 3.0 server with switchable misbehaviours, recording every request."""

    def __init__(self, payload: dict[str, Any], *, nested: bool = True, etag: bool = True) -> None:
        self.payload = payload
        self.nested = nested
        self.etag = etag
        self.down = False
        self.fail_next: list[int | type[Exception]] = []  # statuses or exceptions for the next requests
        self.ignore_page = False
        self.bare_arrays = False
        self.broken_details: set[str] = set()  # service ids whose detail answers 500
        self.requests: list[httpx.Request] = []
        self.not_modified = 0

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def paths(self) -> list[str]:
        return [r.url.path.removeprefix("/api") for r in self.requests]

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if self.fail_next:
            failure = self.fail_next.pop(0)
            if isinstance(failure, int):
                return httpx.Response(failure, headers={"Retry-After": "2"} if failure == 429 else {})
            raise failure("boom", request=request)
        path = request.url.path.removeprefix("/api")
        parts = path.strip("/").split("/")
        collection = parts[0]
        if collection not in ("services", "taxonomy_terms", "taxonomies", "organizations"):
            return httpx.Response(404, json={"detail": "not found"})
        items = self.payload[collection]
        if len(parts) == 2 and parts[1] in self.broken_details:
            return httpx.Response(500)
        if len(parts) == 2:
            found = next((i for i in items if i["id"] == parts[1]), None)
            return self._json(request, found) if found else httpx.Response(404, json={"detail": "not found"})
        if collection == "services" and not self.nested:
            items = [{k: v for k, v in i.items() if k in _ONE_TO_ONE} for i in items]
        if self.bare_arrays:
            return self._json(request, items)
        page = 1 if self.ignore_page else int(request.url.params.get("page", "1"))
        per_page = int(request.url.params.get("per_page", "50"))
        total_pages = math.ceil(len(items) / per_page)
        body = {
            "total_items": len(items),
            "total_pages": total_pages,
            "page_number": page,
            "size": len(items[(page - 1) * per_page : page * per_page]),
            "first_page": page == 1,
            "last_page": page >= total_pages,
            "empty": not items,
            "contents": items[(page - 1) * per_page : page * per_page],
        }
        return self._json(request, body)

    def _json(self, request: httpx.Request, body: Any) -> httpx.Response:
        raw = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.etag:
            tag = '"' + hashlib.sha1(raw).hexdigest() + '"'  # noqa: S324 - an ETag, not security
            headers["ETag"] = tag
            if request.headers.get("If-None-Match") == tag:
                self.not_modified += 1
                return httpx.Response(304, headers=headers)
        return httpx.Response(200, content=raw, headers=headers)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def payload() -> dict[str, Any]:
    return CatalogStore.from_dir(MINI_CATALOG).to_payload()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make(tmp_path: Path, sleeps: list[float]) -> Callable[..., tuple[RemoteCatalog, httpx.AsyncClient]]:
    clients: list[httpx.AsyncClient] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    def build(server: FakeHSDS, **kwargs: Any) -> tuple[RemoteCatalog, httpx.AsyncClient]:
        http = httpx.AsyncClient(transport=server.transport())
        clients.append(http)
        options: dict[str, Any] = {
            "ttl": 300.0,
            "snapshot_path": tmp_path / "snapshot.json",
            "per_page": 5,
            "now": lambda: FETCHED,
            "sleep": fake_sleep,
            "retries": 2,
        }
        options.update(kwargs)
        return RemoteCatalog(BASE, http, **options), http

    return build


async def test_pages_through_the_whole_catalogue(make: Any, payload: dict[str, Any]) -> None:
    server = FakeHSDS(payload)
    catalog, _ = make(server)
    matches = await catalog.match(CASA_COLLEGNO)
    assert [m.service.name for m in matches][:1] == ["Sportello casa di prova Collegno"]
    assert server.paths().count("/services") == 3  # 12 services, 5 a page
    pages = [r.url.params["page"] for r in server.requests if r.url.path.endswith("/services")]
    assert pages == ["1", "2", "3"]
    assert len(catalog._store or []) == 12
    status = await catalog.status()
    assert (status.source, status.data_as_of) == ("remote", FETCHED)
    card = await catalog.get(payload["services"][0]["id"])
    assert card is not None and card.name == payload["services"][0]["name"]


async def test_list_items_without_nested_data_are_completed(make: Any, payload: dict[str, Any]) -> None:
    server = FakeHSDS(payload, nested=False)
    catalog, _ = make(server)
    assert await catalog.refresh() is True
    details = [p for p in server.paths() if p.startswith("/services/")]
    assert len(details) == 12
    assert "Sportello casa di prova Collegno" in [m.service.name for m in await catalog.match(CASA_COLLEGNO)]


async def test_transient_errors_are_retried_with_backoff(
    make: Any, payload: dict[str, Any], sleeps: list[float]
) -> None:
    server = FakeHSDS(payload)
    server.fail_next = [503, httpx.ReadTimeout]
    catalog, _ = make(server, backoff=0.5)
    assert await catalog.refresh() is True
    assert len(sleeps) == 2
    assert 0.5 <= sleeps[0] <= 0.5 * 1.25 and 1.0 <= sleeps[1] <= 1.0 * 1.25  # exponential, with jitter


async def test_retry_after_is_honoured(make: Any, payload: dict[str, Any], sleeps: list[float]) -> None:
    server = FakeHSDS(payload)
    server.fail_next = [429]
    catalog, _ = make(server)
    assert await catalog.refresh() is True
    assert sleeps == [2.0]


async def test_client_errors_are_not_retried(make: Any, payload: dict[str, Any], sleeps: list[float]) -> None:
    server = FakeHSDS(payload)
    server.fail_next = [400]
    catalog, _ = make(server, fallback=None)
    assert await catalog.refresh() is False
    assert len(server.requests) == 1 and sleeps == []
    assert catalog.last_error is not None and "400" in catalog.last_error


async def test_conditional_requests_reuse_unchanged_pages(make: Any, payload: dict[str, Any]) -> None:
    server = FakeHSDS(payload)
    catalog, _ = make(server)
    assert await catalog.refresh() is True
    first = len(server.requests)
    assert await catalog.refresh() is True
    second = server.requests[first:]
    assert all(r.headers.get("If-None-Match") for r in second)
    assert server.not_modified == len(second)  # every page answered 304
    assert len(catalog._store or []) == 12

    payload["services"][0] = {**payload["services"][0], "name": "Nome nuovo"}
    assert await catalog.refresh() is True
    assert (await catalog.get(payload["services"][0]["id"])).name == "Nome nuovo"  # type: ignore[union-attr]


async def test_ttl_cache_and_background_refresh(make: Any, payload: dict[str, Any]) -> None:
    server = FakeHSDS(payload)
    clock = Clock()
    catalog, _ = make(server, clock=clock, ttl=60.0)
    await catalog.match(CASA_COLLEGNO)
    after_first = len(server.requests)
    clock.t += 59
    await catalog.match(CASA_COLLEGNO)
    await catalog.wait_idle()
    assert len(server.requests) == after_first  # fresh: served from memory

    clock.t += 2
    payload["services"][0] = {**payload["services"][0], "name": "Aggiornato"}
    stale = await catalog.get(payload["services"][0]["id"])
    assert stale is not None and stale.name != "Aggiornato"  # stale data served at once...
    await catalog.wait_idle()
    assert len(server.requests) > after_first  # ...while one refresh runs in the background
    fresh = await catalog.get(payload["services"][0]["id"])
    assert fresh is not None and fresh.name == "Aggiornato"


async def test_keeps_serving_when_the_api_goes_down(make: Any, payload: dict[str, Any]) -> None:
    server = FakeHSDS(payload)
    clock = Clock()
    catalog, _ = make(server, clock=clock, ttl=10.0, retry_after_failure=30.0)
    await catalog.refresh()
    server.down = True
    clock.t += 11
    assert await catalog.match(CASA_COLLEGNO)
    await catalog.wait_idle()
    status = await catalog.status()
    assert (status.source, status.data_as_of) == ("remote", FETCHED)  # the age of what we have
    tries = len(server.requests)
    clock.t += 10
    await catalog.match(CASA_COLLEGNO)
    await catalog.wait_idle()
    assert len(server.requests) == tries  # no hammering: next try only after retry_after_failure


async def test_snapshot_is_written_and_used_when_the_api_is_down(
    make: Any, payload: dict[str, Any], tmp_path: Path
) -> None:
    server = FakeHSDS(payload)
    catalog, _ = make(server)
    assert await catalog.refresh() is True
    snap = read_snapshot(tmp_path / "snapshot.json")
    assert snap is not None and snap.fetched_at == FETCHED and snap.source_url == BASE
    assert len(snap.payload["services"]) == 12

    server.down = True
    restarted, _ = make(server, now=lambda: datetime(2025, 3, 5, tzinfo=UTC), fallback=None)
    matches = await restarted.match(CASA_COLLEGNO)
    assert "Sportello casa di prova Collegno" in [m.service.name for m in matches]
    status = await restarted.status()
    assert (status.source, status.data_as_of) == ("snapshot", FETCHED)

    server.down = False
    await restarted.wait_idle()
    assert await restarted.refresh() is True
    assert (await restarted.status()).source == "remote"


async def test_falls_back_to_the_bundled_data_without_a_usable_snapshot(
    make: Any, payload: dict[str, Any], tmp_path: Path
) -> None:
    (tmp_path / "snapshot.json").write_text('{"format": "something else"}')
    server = FakeHSDS(payload)
    server.down = True
    bundled = CatalogStore.from_dir(MINI_CATALOG)
    catalog, _ = make(server, fallback=bundled)
    status = await catalog.status()
    assert (status.source, status.data_as_of) == ("embedded", bundled.data_as_of)
    assert await catalog.match(CASA_COLLEGNO)


async def test_snapshot_of_another_catalogue_is_ignored(
    make: Any, payload: dict[str, Any], tmp_path: Path
) -> None:
    server = FakeHSDS(payload)
    first, _ = make(server)
    await first.refresh()
    server.down = True
    other = RemoteCatalog(
        "http://another.test/hsds",
        httpx.AsyncClient(transport=server.transport()),
        snapshot_path=tmp_path / "snapshot.json",
        retries=0,
    )
    assert await other.match(CASA_COLLEGNO) == []
    assert (await other.status()).data_as_of is None
    await other.aclose()


async def test_defends_against_servers_that_ignore_paging(make: Any, payload: dict[str, Any]) -> None:
    server = FakeHSDS(payload)
    server.ignore_page = True
    catalog, _ = make(server)
    assert await catalog.refresh() is True
    assert server.paths().count("/services") == 2  # the repeated page stops the walk
    assert len(catalog._store or []) == 5

    bare = FakeHSDS(payload)
    bare.bare_arrays = True
    catalog, _ = make(bare)
    assert await catalog.refresh() is True
    assert len(catalog._store or []) == 12


async def test_cold_start_does_not_wait_forever(make: Any, payload: dict[str, Any]) -> None:
    import asyncio

    server = FakeHSDS(payload)
    bundled = CatalogStore.from_dir(MINI_CATALOG)
    catalog, http = make(server, fallback=bundled, cold_start_wait=0.05)
    gate = asyncio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        await gate.wait()
        return server.handle(request)

    http._transport = httpx.MockTransport(slow)  # a server that hangs
    assert await catalog.match(CASA_COLLEGNO)  # answered from the fallback, not blocked
    assert (await catalog.status()).source == "embedded"
    gate.set()
    await catalog.wait_idle()
    assert (await catalog.status()).source == "remote"
    await catalog.aclose()


async def test_make_catalog_picks_by_settings(payload: dict[str, Any], tmp_path: Path) -> None:
    store = CatalogStore.from_dir(MINI_CATALOG)
    async with httpx.AsyncClient() as http:
        embedded = make_catalog(Settings(catalog_url=""), http, store=store)
        assert isinstance(embedded, EmbeddedCatalog) and embedded.store is store
        remote = make_catalog(
            Settings(catalog_url=BASE + "/", catalog_snapshot_path=str(tmp_path / "s.json")),
            http,
            store=store,
        )
        assert isinstance(remote, RemoteCatalog) and remote.base_url == BASE
        assert not hasattr(remote, "store")
        default = make_catalog(Settings(catalog_url=""), http)
        assert isinstance(default, EmbeddedCatalog) and len(default.store) > 40  # the bundled data


async def test_a_broken_service_detail_does_not_sink_the_catalogue(
    make: Any, payload: dict[str, Any]
) -> None:
    server = FakeHSDS(payload, nested=False)
    catalog, _ = make(server, retries=0)
    broken = payload["services"][0]["id"]
    server.broken_details = {broken}
    assert await catalog.refresh() is True
    assert len(catalog._store or []) == 12
    summary = catalog._store.service(broken) if catalog._store else None
    assert summary is not None and "attributes" not in summary  # the list's summary, no invention

    server.broken_details = set()
    assert await catalog.refresh() is True
    server.broken_details = {s["id"] for s in payload["services"]}
    payload["services"][1] = {**payload["services"][1], "last_modified": "2031-01-01T00:00:00Z"}
    assert await catalog.refresh() is False  # every detail failed: keep the previous full copy
    assert "attributes" in (catalog._store.service(broken) if catalog._store else {})
