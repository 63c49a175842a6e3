"""``RemoteCatalog``: any HSDS 3.0 API as Bussola's catalogue, resilient to the API being slow or down.

The whole catalogue (a few hundred services at most for a metropolitan area) is fetched page by page
and matched in-process, so a citizen's search never waits on the network:

- pagination through the HSDS Page envelope, defensive against servers that ignore ``page`` or fill
  the counters wrongly (repeated pages and a page cap stop the walk);
- list items without nested data are completed from ``/services/{id}`` (few at a time);
- per-request timeout, retries with exponential backoff and jitter on network errors, 429 and 5xx
  (``Retry-After`` honoured up to a cap); other 4xx fail at once;
- conditional requests: every response's ETag / Last-Modified is remembered and sent back, and a
  304 reuses the body already held;
- a TTL: fresh data is served from memory; stale data is served while one background refresh runs;
- after each successful full fetch a snapshot file is written; when the API is down at start-up the
  snapshot is used (status "snapshot", with its age), and failing that the bundled catalogue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from catalog_client.embedded import EmbeddedCatalog
from catalog_client.matching import match
from catalog_client.models import Page
from catalog_client.snapshot import read_snapshot, write_snapshot
from catalog_client.store import CatalogStore
from catalog_client.types import Catalog, CatalogStatus, Match, MatchQuery, ServiceCard

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)

_RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}
_FULL_KEYS = ("attributes", "service_areas", "service_at_locations", "phones", "schedules")
_MAX_RETRY_AFTER = 10.0
_MAX_BACKOFF = 8.0


class CatalogFetchError(Exception):
    """The remote catalogue could not be fetched (after retries)."""


class _NotFound(CatalogFetchError):
    pass


@dataclass(slots=True)
class _Cached:
    etag: str | None
    last_modified: str | None
    body: Any


class RemoteCatalog:
    """``Catalog`` over a remote HSDS 3.0 API (``CATALOG_URL``). The httpx client is the caller's."""

    def __init__(
        self,
        base_url: str,
        http: httpx.AsyncClient,
        *,
        ttl: float = 300.0,
        snapshot_path: str | Path | None = None,
        fallback: CatalogStore | None = None,
        timeout: float = 5.0,
        retries: int = 3,
        backoff: float = 0.25,
        per_page: int = 100,
        max_pages: int = 200,
        concurrency: int = 6,
        cold_start_wait: float = 3.0,
        retry_after_failure: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = http
        self._ttl = ttl
        self._snapshot_path = Path(snapshot_path) if snapshot_path else None
        self._fallback = fallback
        self._timeout = timeout
        self._retries = max(0, retries)
        self._backoff = backoff
        self._per_page = per_page
        self._max_pages = max_pages
        self._concurrency = max(1, concurrency)
        self._cold_start_wait = cold_start_wait
        self._retry_after_failure = retry_after_failure
        self._clock = clock
        self._now = now
        self._sleep = sleep
        self._store: CatalogStore | None = None
        self._source = "remote"
        self._data_as_of: datetime | None = None
        self._fresh_until = float("-inf")
        self._task: asyncio.Task[bool] | None = None
        self._http_cache: dict[str, _Cached] = {}
        self.last_error: str | None = None

    # ---- Catalog protocol ----------------------------------------------------------------------

    async def match(self, query: MatchQuery) -> list[Match]:
        store = await self.current()
        return match(store.index, store.terms, query)

    async def get(self, service_id: str) -> ServiceCard | None:
        return (await self.current()).card(service_id)

    async def status(self) -> CatalogStatus:
        await self.current()
        return CatalogStatus(source=self._source, data_as_of=self._data_as_of)

    # ---- freshness -----------------------------------------------------------------------------

    async def current(self) -> CatalogStore:
        """The store to search now: fresh, stale (while a refresh runs) or the fallback."""
        if self._store is not None:
            if self._clock() >= self._fresh_until:
                self._kick()
            return self._store
        task = self._kick()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), self._cold_start_wait)
        if self._store is None:
            self._use_fallback()
        if self._store is None:
            self._store = CatalogStore(services=[])
            self._source, self._data_as_of = "snapshot", None
        return self._store

    def _kick(self) -> asyncio.Task[bool]:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.refresh(), name="catalog-refresh")
        return self._task

    async def wait_idle(self) -> None:
        """Wait for a background refresh in flight, if any (tests, graceful shutdown)."""
        if self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def aclose(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def refresh(self) -> bool:
        """Fetch the whole catalogue now. True on success; on failure the current data stays."""
        try:
            payload = await self._fetch_all()
            store = CatalogStore.from_payload(payload)
        except (CatalogFetchError, httpx.HTTPError) as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"[:300]
            log.warning("catalogue API unavailable (%s)", type(exc).__name__)
            self._fresh_until = self._clock() + self._retry_after_failure
            if self._store is None:
                self._use_fallback()
            return False
        fetched_at = self._now()
        self._store, self._source, self._data_as_of = store, "remote", fetched_at
        self._fresh_until = self._clock() + self._ttl
        self.last_error = None
        if self._snapshot_path is not None:
            try:
                await asyncio.to_thread(
                    write_snapshot,
                    self._snapshot_path,
                    source_url=self.base_url,
                    fetched_at=fetched_at,
                    payload=store.to_payload(),
                )
            except OSError as exc:
                log.warning("catalogue snapshot not written (%s)", type(exc).__name__)
        return True

    def _use_fallback(self) -> None:
        if self._snapshot_path is not None:
            snap = read_snapshot(self._snapshot_path)
            if snap is not None and snap.source_url.rstrip("/") == self.base_url:
                self._store = CatalogStore.from_payload(snap.payload)
                self._source, self._data_as_of = "snapshot", snap.fetched_at
                log.info("catalogue served from the snapshot of %s", snap.fetched_at.isoformat())
                return
        if self._fallback is not None:
            self._store, self._source = self._fallback, "embedded"
            self._data_as_of = self._fallback.data_as_of
            log.info("catalogue served from the bundled data")

    # ---- fetching ------------------------------------------------------------------------------

    async def _fetch_all(self) -> dict[str, Any]:
        listed = await self._fetch_list("services", {"full": "true"})
        previous = {
            s["id"]: s for s in (self._store.services() if self._store and self._source == "remote" else [])
        }
        services: list[dict[str, Any] | None] = [None] * len(listed)
        missing: list[int] = []
        for i, item in enumerate(listed):
            if any(k in item for k in _FULL_KEYS):
                services[i] = item
            elif (
                (old := previous.get(item["id"])) is not None
                and item.get("last_modified")
                and (old.get("last_modified") == item.get("last_modified"))
            ):
                services[i] = old
            else:
                missing.append(i)
        semaphore = asyncio.Semaphore(self._concurrency)
        failed: list[int] = []

        async def complete(i: int) -> None:
            sid = str(listed[i]["id"])
            async with semaphore:
                try:
                    body = await self._get_json(f"services/{sid}", {})
                except _NotFound:
                    return  # deleted between the list and the detail
                except CatalogFetchError:
                    # One record the server cannot produce must not sink the catalogue: keep what
                    # we had for it, or at least its summary from the list.
                    failed.append(i)
                    services[i] = previous.get(sid) or listed[i]
                    return
            if isinstance(body, dict):
                services[i] = {**body, "id": body.get("id") or sid}

        await asyncio.gather(*(complete(i) for i in missing))
        if failed:
            log.warning("catalogue API: %d of %d service details unavailable", len(failed), len(missing))
            if previous and len(failed) == len(missing):
                raise CatalogFetchError("no service detail could be fetched")
        terms = await self._fetch_list("taxonomy_terms", {}, optional=True)
        taxonomies = await self._fetch_list("taxonomies", {}, optional=True)
        organizations = await self._fetch_list("organizations", {}, optional=True)
        return {
            "services": [s for s in services if s is not None],
            "taxonomy_terms": terms,
            "taxonomies": taxonomies,
            "organizations": organizations,
            "meta": {"data_as_of": self._now().isoformat(), "sources": [self.base_url]},
        }

    async def _fetch_list(
        self, path: str, params: dict[str, str], *, optional: bool = False
    ) -> list[dict[str, Any]]:
        """Every item of a paginated HSDS list endpoint."""
        items: list[dict[str, Any]] = []
        seen: set[str] = set()
        for page in range(1, self._max_pages + 1):
            try:
                body = await self._get_json(
                    path, {**params, "page": str(page), "per_page": str(self._per_page)}
                )
            except (_NotFound, CatalogFetchError):
                if optional:
                    return items
                raise
            if isinstance(body, list):  # a server that answers with a bare array: no pagination
                return [x for x in body if isinstance(x, dict) and x.get("id")]
            if not isinstance(body, dict):
                raise CatalogFetchError(f"/{path}: not an HSDS page")
            env = Page[Any].model_validate(body)
            fresh = [
                c for c in env.contents if isinstance(c, dict) and c.get("id") and str(c["id"]) not in seen
            ]
            if not fresh:
                break  # empty page, or the server ignores `page` and repeats itself
            for c in fresh:
                seen.add(str(c["id"]))
            items.extend(fresh)
            if env.last_page is True or (env.total_pages is not None and page >= env.total_pages):
                break
            if env.last_page is None and env.total_pages is None and len(env.contents) < self._per_page:
                break
        else:
            log.warning("/%s: stopped after %d pages", path, self._max_pages)
        return items

    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        if response is not None:
            retry_after = response.headers.get("Retry-After", "")
            if retry_after.isdigit():
                return min(float(retry_after), _MAX_RETRY_AFTER)
        return min(self._backoff * (2**attempt), _MAX_BACKOFF) * (1.0 + random.random() * 0.25)

    async def _get_json(self, path: str, params: dict[str, str]) -> Any:
        """GET with timeout, retries and conditional headers; the decoded JSON body."""
        url = f"{self.base_url}/{path}"
        key = str(httpx.URL(url, params=sorted(params.items())))
        cached = self._http_cache.get(key)
        headers = {"Accept": "application/json"}
        if cached is not None:
            if cached.etag:
                headers["If-None-Match"] = cached.etag
            if cached.last_modified:
                headers["If-Modified-Since"] = cached.last_modified
        for attempt in range(self._retries + 1):
            last = attempt == self._retries
            try:
                response = await self._http.get(url, params=params, headers=headers, timeout=self._timeout)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                if last:
                    raise CatalogFetchError(f"/{path}: {type(exc).__name__}") from exc
                await self._sleep(self._delay(attempt, None))
                continue
            status = response.status_code
            if status == 304 and cached is not None:
                return cached.body
            if status in _RETRY_STATUS:
                if last:
                    raise CatalogFetchError(f"/{path}: HTTP {status}")
                await self._sleep(self._delay(attempt, response))
                continue
            if status == 404:
                raise _NotFound(f"/{path}: HTTP 404")
            if status != 200:
                raise CatalogFetchError(f"/{path}: HTTP {status}")
            try:
                body = response.json()
            except ValueError as exc:
                raise CatalogFetchError(f"/{path}: not JSON") from exc
            etag, modified = response.headers.get("ETag"), response.headers.get("Last-Modified")
            if etag or modified:
                self._http_cache[key] = _Cached(etag, modified, body)
            return body
        raise CatalogFetchError(f"/{path}: no response")  # unreachable: the loop returns or raises


def make_catalog(
    settings: Settings, http_client: httpx.AsyncClient, store: CatalogStore | None = None
) -> Catalog:
    """The ``Catalog`` for these settings: the bundled one, or the HSDS API at ``CATALOG_URL``.

    ``store`` is the bundled catalogue when the caller already loaded it; it is loaded here
    otherwise. ``EmbeddedCatalog.store`` is that same object (the one the HSDS API serves and the
    console edits). With ``CATALOG_URL`` the bundled store is only the remote catalogue's last
    resort, after its snapshot, so that the bot always has somewhere to send people; a
    ``RemoteCatalog`` has no ``store`` attribute because its data is not ours to edit.
    """
    if store is None:
        try:
            store = CatalogStore.bundled()
        except FileNotFoundError:
            if not settings.catalog_url:
                raise
            log.warning("no bundled catalogue: the remote one has no last-resort fallback")
    if not settings.catalog_url:
        assert store is not None
        return EmbeddedCatalog(store)
    return RemoteCatalog(
        settings.catalog_url,
        http_client,
        ttl=settings.catalog_cache_ttl,
        snapshot_path=settings.catalog_snapshot_path or None,
        fallback=store,
    )
