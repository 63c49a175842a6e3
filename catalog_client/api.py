"""The project's catalogue as a read-only HSDS 3.0 API (the official ``openapi.json``).

``router`` (or a fresh ``create_hsds_router()``) is included by the main app under ``/hsds``; it
reads the catalogue from ``request.app.state.catalog_store`` (a ``CatalogStore``) on every request,
so console edits are served at once.
``create_hsds_app(store)`` runs the same API alone.

Every response carries a strong ETag (hash of the body) and Last-Modified (the store's last
change); ``If-None-Match`` / ``If-Modified-Since`` get a 304. ``Cache-Control: no-cache`` asks
caches to revalidate, so an edit is never hidden behind a stale copy. Errors are JSON: 404 for an
unknown id, 422 for a malformed parameter (``page=abc``). Values the official contract allows but
that make no sense here are brought into range rather than refused (``page=0`` is page 1,
``per_page`` is capped at 500, ``format`` other than json is answered in JSON).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request, Response

from catalog_client.store import CatalogStore, parse_datetime
from catalog_client.text import normalise, query_terms

STORE_ATTR = "catalog_store"
HSDS_VERSION = "3.0"
OPENAPI_URL = "https://raw.githubusercontent.com/openreferral/specification/3.0/schema/openapi.json"
PROFILE_URL = "https://docs.openreferral.org/en/latest/hsds/"
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 500
_CACHE_SIZE = 512

_SERVICE_ONE_TO_ONE = (
    "id",
    "organization_id",
    "program_id",
    "name",
    "alternate_name",
    "description",
    "url",
    "email",
    "status",
    "interpretation_services",
    "application_process",
    "fees_description",
    "wait_time",
    "fees",
    "accreditations",
    "eligibility_description",
    "minimum_age",
    "maximum_age",
    "assured_date",
    "assurer_email",
    "licenses",
    "alert",
    "last_modified",
)
_ORG_ONE_TO_ONE = (
    "id",
    "name",
    "alternate_name",
    "description",
    "email",
    "website",
    "tax_status",
    "tax_id",
    "year_incorporated",
    "legal_status",
    "logo",
    "uri",
    "parent_organization_id",
)
_LOCATION_ONE_TO_ONE = (
    "id",
    "location_type",
    "url",
    "organization_id",
    "name",
    "alternate_name",
    "description",
    "transportation",
    "latitude",
    "longitude",
    "external_identifier",
    "external_identifier_type",
)
_PROGRAM_ONE_TO_ONE = ("id", "organization_id", "name", "alternate_name", "description")


def _pick(record: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    return {k: record[k] for k in keys if k in record and record[k] is not None}


class _Responder:
    """Serialises a payload once per store version and URL, with ETag and conditional GET."""

    def __init__(self) -> None:
        self._cache: OrderedDict[tuple[str, int, str], tuple[bytes, str]] = OrderedDict()

    def __call__(self, request: Request, store: CatalogStore, build: Callable[[], Any]) -> Response:
        key = (store.instance, store.version, str(request.url.path) + "?" + str(request.url.query))
        hit = self._cache.get(key)
        if hit is None:
            body = json.dumps(build(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            hit = (body, '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"')
            self._cache[key] = hit
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        body, etag = hit
        headers = {
            "ETag": etag,
            "Last-Modified": format_datetime(store.modified_at, usegmt=True),
            "Cache-Control": "no-cache",
        }
        if _not_modified(request, etag, store.modified_at):
            return Response(status_code=304, headers=headers)
        return Response(content=body, media_type="application/json", headers=headers)


def _not_modified(request: Request, etag: str, modified_at: datetime) -> bool:
    inm = request.headers.get("if-none-match")
    if inm is not None:
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return "*" in tags or etag in tags
    ims = request.headers.get("if-modified-since")
    if ims:
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
        return since.tzinfo is not None and modified_at <= since
    return False


def _page(items: list[Any], page: int, per_page: int) -> dict[str, Any]:
    """The HSDS Page envelope. Out-of-range numbers are brought into range, not refused: the
    official contract allows any integer, so ``page=0`` is page 1 and ``per_page`` is capped."""
    page = max(1, page)
    per_page = DEFAULT_PER_PAGE if per_page < 1 else min(per_page, MAX_PER_PAGE)
    total = len(items)
    total_pages = math.ceil(total / per_page) if total else 0
    contents = items[(page - 1) * per_page : page * per_page]
    return {
        "total_items": total,
        "total_pages": total_pages,
        "page_number": page,
        "size": len(contents),
        "first_page": page == 1,
        "last_page": page >= total_pages,
        "empty": total == 0,
        "contents": contents,
    }


def _since(value: str | None) -> datetime | None:
    """``modified_after`` as a date-time; an unreadable value filters nothing (a superset is safe
    for a client that syncs, and the official contract allows any string)."""
    return parse_datetime(value) if value else None


def _text_matches(query: str | None, *texts: Any) -> bool:
    """Every word of ``query`` appears (accent- and case-insensitive) in one of ``texts``."""
    if not query:
        return True
    haystack = normalise(" ".join(str(t) for t in texts if t))
    return all(w in haystack for w in normalise(query[:500]).split())


def _service_search(store: CatalogStore, query: str | None) -> set[str] | None:
    """Ids of the services matching a full-text query (stemmed, every word must match)."""
    if not query or not query.strip():
        return None
    terms = query_terms(query[:500])
    if not terms:
        return {sid for sid in store.index.entries}  # only stop words: nothing to narrow by
    expansions = [store.index.expand(s, synonyms=False) for s, _ in terms]
    if any(not e for e in expansions):
        return set()
    return {
        e.id
        for e in store.index.entries.values()
        if all(any(v in e.stems for v in exp) for exp in expansions)
    }


def _found(record: Mapping[str, Any] | None, detail: str) -> Mapping[str, Any]:
    """The record, or a JSON 404 with an Italian detail (one rule for every ``/{id}`` endpoint)."""
    if record is None:
        raise HTTPException(status_code=404, detail=detail)
    return record


def _store(request: Request) -> CatalogStore:
    store = getattr(request.app.state, STORE_ATTR, None)
    if not isinstance(store, CatalogStore):
        raise HTTPException(status_code=503, detail="catalogue not loaded")
    return store


def _service_filter(
    store: CatalogStore,
    *,
    search: str | None,
    taxonomy_term_id: str | None,
    taxonomy_id: str | None,
    organization_id: str | None,
    modified_after: datetime | None,
) -> Callable[[dict[str, Any]], bool]:
    found = _service_search(store, search)
    taxonomy_terms: set[str] | None = None
    if taxonomy_id:
        taxonomy_terms = {
            t["id"]
            for t in store.taxonomy_terms()
            if t.get("taxonomy_id") == taxonomy_id
            or (t.get("taxonomy_detail") or {}).get("id") == taxonomy_id
        }

    def keep(service: dict[str, Any]) -> bool:
        sid = service["id"]
        if found is not None and sid not in found:
            return False
        if taxonomy_term_id and taxonomy_term_id not in store.term_ids_of(sid):
            return False
        if taxonomy_terms is not None and not (taxonomy_terms & store.term_ids_of(sid)):
            return False
        if organization_id and _organization_id(service) != organization_id:
            return False
        if modified_after is not None:
            changed = parse_datetime(service.get("last_modified"))
            if changed is None or changed < modified_after:
                return False
        return True

    return keep


def _organization_id(service: Mapping[str, Any]) -> str | None:
    org = service.get("organization")
    if isinstance(org, Mapping) and org.get("id"):
        return str(org["id"])
    return service.get("organization_id")


def _service_summary(store: CatalogStore, service: Mapping[str, Any]) -> dict[str, Any]:
    """A service with its one-to-one fields only (``service_list.json``)."""
    out = _pick(service, _SERVICE_ONE_TO_ONE)
    org = service.get("organization")
    if not isinstance(org, Mapping):
        org_id = service.get("organization_id")
        org = store.organization(org_id) if org_id else None
    if isinstance(org, Mapping):
        out["organization"] = _pick(org, _ORG_ONE_TO_ONE)
    program = service.get("program")
    if isinstance(program, Mapping):
        out["program"] = _pick(program, _PROGRAM_ONE_TO_ONE)
    return out


def _sal_summary(store: CatalogStore, sal: Mapping[str, Any], *, full: bool) -> dict[str, Any]:
    out = dict(sal) if full else _pick(sal, ("id", "service_id", "location_id", "description"))
    loc = sal.get("location")
    if isinstance(loc, Mapping) and not full:
        out["location"] = _pick(loc, _LOCATION_ONE_TO_ONE)
    service = store.service(str(sal.get("service_id")))
    if service is not None:
        out["service"] = _service_summary(store, service)
    return out


def create_hsds_router() -> APIRouter:
    """The HSDS 3.0 read-only endpoints. Needs ``app.state.catalog_store`` (a ``CatalogStore``)."""
    router = APIRouter(tags=["HSDS 3.0"])
    respond = _Responder()

    @router.get("/")
    def api_meta(request: Request) -> Response:
        store = _store(request)
        return respond(
            request,
            store,
            lambda: {"version": HSDS_VERSION, "profile": PROFILE_URL, "openapi_url": OPENAPI_URL},
        )

    @router.get("/services")
    def list_services(
        request: Request,
        search: str | None = Query(None),
        page: int = Query(1),
        per_page: int = Query(DEFAULT_PER_PAGE),
        format: str | None = Query(None),
        taxonomy_term_id: str | None = Query(None),
        taxonomy_id: str | None = Query(None),
        organization_id: str | None = Query(None),
        modified_after: str | None = Query(None),
        minimal: bool = Query(False),
        full: bool = Query(False),
    ) -> Response:
        since = _since(modified_after)
        store = _store(request)

        def build() -> dict[str, Any]:
            keep = _service_filter(
                store,
                search=search,
                taxonomy_term_id=taxonomy_term_id,
                taxonomy_id=taxonomy_id,
                organization_id=organization_id,
                modified_after=since,
            )
            chosen = [s for s in store.services() if keep(s)]
            if minimal:
                items = [_pick(s, ("id", "name", "status", "last_modified")) for s in chosen]
            elif full:
                items = chosen
            else:
                items = [_service_summary(store, s) for s in chosen]
            return _page(items, page, per_page)

        return respond(request, store, build)

    @router.get("/services/{id}")
    def get_service(request: Request, id: str) -> Response:
        store = _store(request)
        service = _found(store.service(id), "Servizio non trovato.")
        return respond(request, store, lambda: service)

    @router.get("/taxonomies")
    def list_taxonomies(
        request: Request,
        search: str | None = Query(None),
        page: int = Query(1),
        per_page: int = Query(DEFAULT_PER_PAGE),
        format: str | None = Query(None),
    ) -> Response:
        store = _store(request)

        def build() -> dict[str, Any]:
            items = [
                t for t in store.taxonomies() if _text_matches(search, t.get("name"), t.get("description"))
            ]
            return _page(items, page, per_page)

        return respond(request, store, build)

    @router.get("/taxonomies/{id}")
    def get_taxonomy(request: Request, id: str) -> Response:
        store = _store(request)
        taxonomy = _found(store.taxonomy(id), "Tassonomia non trovata.")
        return respond(request, store, lambda: taxonomy)

    @router.get("/taxonomy_terms")
    def list_taxonomy_terms(
        request: Request,
        search: str | None = Query(None),
        page: int = Query(1),
        per_page: int = Query(DEFAULT_PER_PAGE),
        format: str | None = Query(None),
        taxonomy_id: str | None = Query(None),
        top_only: bool = Query(False),
        parent_id: str | None = Query(None),
    ) -> Response:
        store = _store(request)

        def keep(t: Mapping[str, Any]) -> bool:
            if taxonomy_id and taxonomy_id not in (
                t.get("taxonomy_id"),
                (t.get("taxonomy_detail") or {}).get("id"),
            ):
                return False
            if top_only and t.get("parent_id"):
                return False
            if parent_id and t.get("parent_id") != parent_id:
                return False
            return _text_matches(search, t.get("code"), t.get("name"), t.get("description"))

        return respond(
            request, store, lambda: _page([t for t in store.taxonomy_terms() if keep(t)], page, per_page)
        )

    @router.get("/taxonomy_terms/{id}")
    def get_taxonomy_term(request: Request, id: str) -> Response:
        store = _store(request)
        term = _found(store.taxonomy_term(id), "Voce di tassonomia non trovata.")
        return respond(request, store, lambda: term)

    @router.get("/organizations")
    def list_organizations(
        request: Request,
        search: str | None = Query(None),
        full_service: bool = Query(False),
        full: bool = Query(False),
        page: int = Query(1),
        per_page: int = Query(DEFAULT_PER_PAGE),
        format: str | None = Query(None),
    ) -> Response:
        store = _store(request)

        def build() -> dict[str, Any]:
            orgs = [
                o
                for o in store.organizations()
                if _text_matches(search, o.get("name"), o.get("alternate_name"), o.get("description"))
            ]
            items = [
                _organization(store, o, full_service=full_service)
                if (full or full_service)
                else _pick(o, _ORG_ONE_TO_ONE)
                for o in orgs
            ]
            return _page(items, page, per_page)

        return respond(request, store, build)

    @router.get("/organizations/{id}")
    def get_organization(request: Request, id: str, full_service: bool = Query(False)) -> Response:
        store = _store(request)
        org = _found(store.organization(id), "Organizzazione non trovata.")
        return respond(request, store, lambda: _organization(store, org, full_service=full_service))

    @router.get("/service_at_locations")
    def list_service_at_locations(
        request: Request,
        search: str | None = Query(None),
        taxonomy_term_id: str | None = Query(None),
        taxonomy_id: str | None = Query(None),
        organization_id: str | None = Query(None),
        modified_after: str | None = Query(None),
        full: bool = Query(False),
        page: int = Query(1),
        per_page: int = Query(DEFAULT_PER_PAGE),
        format: str | None = Query(None),
        postcode: str | None = Query(None),
        proximity: str | None = Query(None),  # accepted; no postcode centroids here
    ) -> Response:
        since = _since(modified_after)
        store = _store(request)

        def build() -> dict[str, Any]:
            keep = _service_filter(
                store,
                search=None,
                taxonomy_term_id=taxonomy_term_id,
                taxonomy_id=taxonomy_id,
                organization_id=organization_id,
                modified_after=since,
            )
            found = _service_search(store, search)
            items = []
            for sal in store.service_at_locations():
                service = store.service(str(sal.get("service_id")))
                if service is None or not keep(service):
                    continue
                raw_loc = sal.get("location")
                loc: Mapping[str, Any] = raw_loc if isinstance(raw_loc, Mapping) else {}
                if (
                    found is not None
                    and sal["service_id"] not in found
                    and not _text_matches(search, loc.get("name"))
                ):
                    continue
                if postcode and not any(
                    normalise(str(a.get("postal_code", ""))) == normalise(postcode)
                    for a in loc.get("addresses") or []
                    if isinstance(a, Mapping)
                ):
                    continue
                items.append(_sal_summary(store, sal, full=full))
            return _page(items, page, per_page)

        return respond(request, store, build)

    @router.get("/service_at_locations/{id}")
    def get_service_at_location(request: Request, id: str) -> Response:
        store = _store(request)
        sal = _found(store.service_at_location(id), "Servizio in questa sede non trovato.")
        return respond(request, store, lambda: _sal_summary(store, sal, full=True))

    return router


def _organization(store: CatalogStore, org: Mapping[str, Any], *, full_service: bool) -> dict[str, Any]:
    """An organization with its services: summaries, or fully nested with ``full_service``."""
    out = dict(org)
    services = [s for s in store.services() if _organization_id(s) == org.get("id")]
    out["services"] = [
        {k: v for k, v in s.items() if k != "organization"} if full_service else _pick(s, _SERVICE_ONE_TO_ONE)
        for s in services
    ]
    return out


# What the main app includes under ``/hsds`` (it holds no state: the store comes from app.state).
router = create_hsds_router()


def create_hsds_app(store: CatalogStore) -> FastAPI:
    """The HSDS API alone (``bussola catalog serve``), over ``store``."""
    app = FastAPI(
        title="Bussola – catalogo dei servizi (HSDS 3.0)",
        version=HSDS_VERSION,
        description="Read-only Open Referral HSDS 3.0 API of the Bussola catalogue.",
    )
    setattr(app.state, STORE_ATTR, store)
    app.include_router(create_hsds_router())
    return app
