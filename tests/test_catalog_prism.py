"""RemoteCatalog against an HSDS server no one here wrote: Stoplight Prism mocking the official
HSDS 3.0 ``openapi.json`` (its schema addresses rewritten to local files in a temporary copy).

Prism answers with the official examples (which break a few of their own types: ages as strings),
repeats the same page whatever ``page`` says, reports zero pages, and cannot produce a fully nested
service (500 "schema too complex"). The client must cope with all of that and still build a
catalogue, write its snapshot, and serve from the snapshot once Prism is gone.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from catalog_client.client import RemoteCatalog
from catalog_client.snapshot import read_snapshot
from tests.catalog_support import local_openapi
from tests.conftest import require

pytestmark = pytest.mark.prism

PRISM = Path(__file__).resolve().parents[1] / "node_modules" / ".bin" / "prism"
EXAMPLE_SERVICE = "ac148810-d857-441c-9679-408f346de14b"  # the id in the official examples


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    require(PRISM.exists(), "Stoplight Prism is not installed (make prism, i.e. npm ci)")
    spec = local_openapi(tmp_path_factory.mktemp("prism"))
    port = _free_port()
    log = (spec.parent / "prism.log").open("w")
    process = subprocess.Popen(
        [str(PRISM), "mock", "-h", "127.0.0.1", "-p", str(port), str(spec)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                pytest.fail(f"Prism exited: {(spec.parent / 'prism.log').read_text()[-2000:]}")
            try:
                if httpx.get(url + "/", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("Prism did not start within 90 s")
            time.sleep(0.3)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


async def test_remote_catalog_against_prism(
    prism: tuple[str, subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    url, process = prism
    snapshot = tmp_path / "snapshot.json"
    async with httpx.AsyncClient() as http:
        catalog = RemoteCatalog(url, http, snapshot_path=snapshot, retries=1, backoff=0.01, per_page=10)
        assert await catalog.refresh() is True, catalog.last_error
        status = await catalog.status()
        assert status.source == "remote" and status.data_as_of is not None

        card = await catalog.get(EXAMPLE_SERVICE)
        assert card is not None
        assert card.name == "Community Counselling"
        assert card.organization == "Example Organization Inc."
        assert card.needs == ()  # Prism's taxonomy is not Bussola's: nothing to match, nothing invented
        store = catalog._store
        assert store is not None and len(store) == 1  # the repeated page did not loop
        assert store.service_model(EXAMPLE_SERVICE).minimum_age == 12  # type: ignore[union-attr]
        assert store.taxonomy_terms(), "taxonomy terms were fetched too"
        await catalog.aclose()

    saved = read_snapshot(snapshot)
    assert saved is not None and saved.source_url == url
    assert [s["id"] for s in saved.payload["services"]] == [EXAMPLE_SERVICE]

    process.terminate()  # the catalogue server goes away
    process.wait(timeout=10)
    async with httpx.AsyncClient() as http:
        restarted = RemoteCatalog(url, http, snapshot_path=snapshot, retries=0, cold_start_wait=5)
        status = await restarted.status()
        assert (status.source, status.data_as_of) == ("snapshot", saved.fetched_at)
        assert (await restarted.get(EXAMPLE_SERVICE)) == card
        await restarted.aclose()
