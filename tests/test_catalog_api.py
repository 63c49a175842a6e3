"""The read-only HSDS API: pagination, filters, search, ETag / 304, JSON errors, mounting under /hsds."""

from __future__ import annotations

import copy
from datetime import timedelta
from email.utils import format_datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from catalog_client.api import STORE_ATTR, create_hsds_app, create_hsds_router, router
from catalog_client.store import CatalogStore
from tests.catalog_support import MINI_CATALOG


@pytest.fixture
def store() -> CatalogStore:
    return CatalogStore.from_dir(MINI_CATALOG)


@pytest.fixture
def client(store: CatalogStore) -> TestClient:
    return TestClient(create_hsds_app(store))


def _names(body: dict) -> list[str]:
    return [item["name"] for item in body["contents"]]


def _term(store: CatalogStore, code: str) -> str:
    return next(t["id"] for t in store.taxonomy_terms() if t["code"] == code)


def test_pagination_envelope(client: TestClient, store: CatalogStore) -> None:
    pages = [client.get("/services", params={"per_page": 5, "page": n}).json() for n in (1, 2, 3, 4)]
    assert [p["size"] for p in pages] == [5, 5, 2, 0]
    assert all(p["total_items"] == 12 and p["total_pages"] == 3 for p in pages)
    assert [p["first_page"] for p in pages] == [True, False, False, False]
    assert [p["last_page"] for p in pages] == [False, False, True, True]
    assert [p["page_number"] for p in pages] == [1, 2, 3, 4]
    seen = [item["id"] for p in pages for item in p["contents"]]
    assert seen == [s["id"] for s in store.services()]  # every service once, in catalogue order


def test_out_of_range_numbers_are_brought_into_range(client: TestClient) -> None:
    body = client.get("/services", params={"page": 0, "per_page": 100000}).json()
    assert body["page_number"] == 1 and body["size"] == 12
    assert client.get("/services", params={"per_page": -3}).json()["size"] == 12  # default 50


def test_list_items_are_one_to_one_and_full_on_request(client: TestClient) -> None:
    item = client.get("/services").json()["contents"][0]
    assert "attributes" not in item and "service_areas" not in item
    assert item["organization"]["name"] == "Rete di prova delle Case"  # joined from organization_id
    full = client.get("/services", params={"full": "true"}).json()["contents"][0]
    assert full["attributes"] and full["service_areas"]
    minimal = client.get("/services", params={"minimal": "true"}).json()["contents"][0]
    assert set(minimal) <= {"id", "name", "status", "last_modified"}


def test_filter_by_taxonomy_term_and_taxonomy(client: TestClient, store: CatalogStore) -> None:
    body = client.get("/services", params={"taxonomy_term_id": _term(store, "emergenza")}).json()
    assert sorted(_names(body)) == [
        "Numero antiviolenza 1522 (prova)",
        "Numero unico di emergenza 112 (prova)",
        "Pronto intervento sociale di prova",
    ]
    needs_taxonomy = next(t["id"] for t in store.taxonomies() if t["name"] == "bussola-bisogni")
    assert client.get("/services", params={"taxonomy_id": needs_taxonomy}).json()["total_items"] == 12
    assert client.get("/services", params={"taxonomy_term_id": "nessuno"}).json()["empty"] is True


def test_filter_by_organization(client: TestClient, store: CatalogStore) -> None:
    org = next(o for o in store.organizations() if o["name"].startswith("Numeri nazionali"))
    body = client.get("/services", params={"organization_id": org["id"]}).json()
    assert body["total_items"] == 2
    detail = client.get(f"/organizations/{org['id']}").json()
    assert sorted(s["name"] for s in detail["services"]) == sorted(_names(body))


def test_search_is_accent_and_inflection_insensitive(client: TestClient) -> None:
    assert _names(client.get("/services", params={"search": "DENTISTA"}).json()) == [
        "Cure dentistiche di prova"
    ]
    assert "Sportello casa di prova Collegno" in _names(
        client.get("/services", params={"search": "sfratti"}).json()
    )
    assert client.get("/services", params={"search": "astronave"}).json()["total_items"] == 0
    terms = client.get("/taxonomy_terms", params={"search": "disabilita"}).json()
    assert [t["code"] for t in terms["contents"]] == ["disabilita"]


def test_modified_after(client: TestClient, store: CatalogStore) -> None:
    record = copy.deepcopy(store.services()[0])
    record["last_modified"] = "2030-01-01T00:00:00Z"
    store.replace_service(record)
    body = client.get("/services", params={"modified_after": "2029-12-31T00:00:00Z"}).json()
    assert [i["id"] for i in body["contents"]] == [record["id"]]
    assert client.get("/services", params={"modified_after": "ieri"}).json()["total_items"] == 12


def test_taxonomy_terms_filters(client: TestClient, store: CatalogStore) -> None:
    meta = next(t["id"] for t in store.taxonomies() if t["name"] == "bussola-meta")
    body = client.get("/taxonomy_terms", params={"taxonomy_id": meta}).json()
    assert sorted(t["code"] for t in body["contents"]) == [
        "da_verificare",
        "destinatari",
        "fonte",
        "quartiere",
    ]
    assert client.get("/taxonomy_terms", params={"top_only": "true"}).json()["total_items"] == 18


def test_service_at_locations(client: TestClient) -> None:
    body = client.get("/service_at_locations").json()
    assert body["total_items"] == 2
    first = body["contents"][0]
    assert first["service"]["name"] == "Sportello sociale di prova Vallette"
    assert "addresses" not in first["location"]
    detail = client.get(f"/service_at_locations/{first['id']}").json()
    assert detail["location"]["addresses"][0]["city"] == "Torino"
    assert client.get("/service_at_locations", params={"postcode": "10125"}).json()["total_items"] == 1
    assert client.get("/service_at_locations", params={"search": "Vallette"}).json()["total_items"] == 1


def test_details_and_json_errors(client: TestClient, store: CatalogStore) -> None:
    sid = store.services()[0]["id"]
    assert client.get(f"/services/{sid}").json() == store.service(sid)
    for path in (
        "/services/x",
        "/organizations/x",
        "/taxonomies/x",
        "/taxonomy_terms/x",
        "/service_at_locations/x",
    ):
        response = client.get(path)
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/json"
        assert "non trovat" in response.json()["detail"]
    bad = client.get("/services", params={"page": "abc"})
    assert bad.status_code == 422 and bad.json()["detail"]
    assert client.get("/services", params={"full": "forse"}).status_code == 422


def test_etag_and_conditional_requests(client: TestClient, store: CatalogStore) -> None:
    first = client.get("/services", params={"per_page": 3})
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert first.headers["cache-control"] == "no-cache"
    again = client.get("/services", params={"per_page": 3}, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert (
        client.get(
            "/services", params={"per_page": 3}, headers={"If-None-Match": f'W/{etag}, "x"'}
        ).status_code
        == 304
    )
    assert client.get("/services", params={"per_page": 4}, headers={"If-None-Match": etag}).status_code == 200
    assert (
        client.get("/services", params={"per_page": 3}, headers={"If-Modified-Since": modified}).status_code
        == 304
    )
    earlier = format_datetime(store.modified_at - timedelta(hours=1), usegmt=True)
    assert (
        client.get("/services", params={"per_page": 3}, headers={"If-Modified-Since": earlier}).status_code
        == 200
    )

    record = copy.deepcopy(store.services()[0])
    record["name"] = "Nome cambiato dal team"
    store.replace_service(record)
    changed = client.get("/services", params={"per_page": 3}, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert changed.json()["contents"][0]["name"] == "Nome cambiato dal team"


def test_router_mounted_in_the_main_app_reads_app_state(store: CatalogStore) -> None:
    app = FastAPI()
    app.include_router(router, prefix="/hsds")
    client = TestClient(app)
    assert client.get("/hsds/services").status_code == 503  # no catalogue loaded yet
    setattr(app.state, STORE_ATTR, store)
    body = client.get("/hsds/services", params={"per_page": 1}).json()
    assert body["total_items"] == 12
    other = FastAPI()
    other.include_router(create_hsds_router(), prefix="/hsds")
    other.state.catalog_store = CatalogStore(services=[])
    assert TestClient(other).get("/hsds/services").json()["empty"] is True
