"""Contract test of the HSDS API against the official HSDS 3.0 ``openapi.json``, offline.

Two parts: schemathesis generates requests for every operation of the official spec and checks our
answers (no server error, JSON content type, response bodies valid against the official schemas,
schema-valid requests accepted); then every real record of the bundled catalogue is fetched by id
and validated against the response schema the spec declares for it, which random ids never reach.

``status_code_conformance`` is left out on purpose: the official spec documents only 200, while
our API answers 404 (JSON) for an unknown id and 422 (JSON) for a malformed parameter.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from schemathesis.checks import status_code_conformance

from catalog_client.api import create_hsds_app
from catalog_client.store import CatalogStore
from tests.catalog_support import HSDS_DIR, local_openapi


@pytest.fixture(scope="module")
def bundled_store() -> CatalogStore:
    return CatalogStore.bundled()


@pytest.fixture(scope="module")
def openapi_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return local_openapi(tmp_path_factory.mktemp("openapi"))


@pytest.fixture(scope="module")
def hsds_schema(openapi_path: Path, bundled_store: CatalogStore) -> Any:
    schema = schemathesis.openapi.from_path(openapi_path)
    schema.app = create_hsds_app(bundled_store)
    return schema


# schemathesis' own pytest integration does not work with pytest 9: drive hypothesis directly.
OFFICIAL_PATHS = sorted(json.loads((HSDS_DIR / "schema" / "openapi.json").read_text("utf-8"))["paths"])


@pytest.mark.parametrize("path", OFFICIAL_PATHS)
def test_every_operation_honours_the_official_contract(hsds_schema: Any, path: str) -> None:
    operation = hsds_schema[path]["GET"]

    @given(operation.as_strategy())
    @settings(max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def check(case: Any) -> None:
        case.call_and_validate(excluded_checks=[status_code_conformance])

    check()


def _validator(openapi_path: Path, path: str) -> Draft202012Validator:
    """The validator of the 200 response the official spec declares for ``GET path``."""

    def retrieve(uri: str) -> Resource[Any]:
        local = Path(uri.removeprefix("file://"))
        return Resource.from_contents(json.loads(local.read_text("utf-8")), default_specification=DRAFT202012)

    spec = json.loads(openapi_path.read_text("utf-8"))
    base = openapi_path.as_uri()
    registry: Registry[Any] = Registry(retrieve=retrieve).with_resource(  # type: ignore[call-arg]
        base, Resource.from_contents(spec, default_specification=DRAFT202012)
    )
    pointer = "/paths/" + path.replace("~", "~0").replace("/", "~1")
    pointer += "/get/responses/200/content/application~1json/schema"
    return Draft202012Validator({"$ref": base + "#" + pointer}, registry=registry)


def _ids(client: TestClient, path: str) -> list[str]:
    body = client.get(path, params={"per_page": 500}).json()
    assert body["total_items"] == len(body["contents"])
    return [item["id"] for item in body["contents"]]


@pytest.mark.parametrize(
    ("list_path", "item_path"),
    [
        ("/services", "/services/{id}"),
        ("/organizations", "/organizations/{id}"),
        ("/taxonomies", "/taxonomies/{id}"),
        ("/taxonomy_terms", "/taxonomy_terms/{id}"),
        ("/service_at_locations", "/service_at_locations/{id}"),
    ],
)
def test_every_real_record_conforms(
    openapi_path: Path, bundled_store: CatalogStore, list_path: str, item_path: str
) -> None:
    client = TestClient(create_hsds_app(bundled_store))
    list_validator = _validator(openapi_path, list_path)
    item_validator = _validator(openapi_path, item_path)
    for params in ({"per_page": 500}, {"per_page": 500, "full": "true"}, {"per_page": 7, "page": 2}):
        response = client.get(list_path, params=params)
        assert response.status_code == 200
        errors = [e.message for e in list_validator.iter_errors(response.json())]
        assert errors == [], (list_path, params, errors[:3])
    ids = _ids(client, list_path)
    assert ids, f"{list_path} is empty"
    for record_id in ids:
        response = client.get(item_path.format(id=record_id))
        assert response.status_code == 200
        errors = [e.message for e in item_validator.iter_errors(response.json())]
        assert errors == [], (item_path, record_id, errors[:3])


def test_root_describes_the_api(bundled_store: CatalogStore) -> None:
    body = TestClient(create_hsds_app(bundled_store)).get("/").json()
    assert body["version"] == "3.0"
    assert body["openapi_url"].endswith("/schema/openapi.json")


def test_the_record_validator_is_not_vacuous(openapi_path: Path, bundled_store: CatalogStore) -> None:
    """The walk above could pass by validating nothing: a broken record must be caught."""
    service = dict(bundled_store.services()[0])
    del service["name"]
    service["status"] = "open"
    errors = list(_validator(openapi_path, "/services/{id}").iter_errors(service))
    assert {e.validator for e in errors} >= {"required", "enum"}
    page = {"total_items": "many", "contents": [{"id": "x"}]}
    assert list(_validator(openapi_path, "/services").iter_errors(page))
