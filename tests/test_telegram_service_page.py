"""The printable service page /servizi/{id}: contacts first and tappable, how to get there, what to
bring; escaped; no scripts (its own strict CSP, the one inline style allowed by hash); every service of
the real bundled catalogue renders."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from catalog_client.types import Phone
from tests.fixtures_chat import FakeCatalog, FakeNLU, card, chat_settings
from tests.telegram_support import prepared_engine

CARDS = (
    card(
        "casa-1",
        "Sportello <casa> & affitti",
        ("casa",),
        phones=(Phone("+390114013111", "mattina"), Phone("800123456")),
        address="Via Roma 1, Collegno",
        documents=("Documento d'identità", "ISEE aggiornato"),
        cost="Gratuito",
        url="javascript:alert(1)",
        to_verify=True,
    ),
)


@pytest.fixture
async def app(sqlite_url: str) -> AsyncIterator[Any]:
    from bot.app import create_app

    application = create_app(
        chat_settings(sqlite_url),
        nlu=FakeNLU(),
        catalog=FakeCatalog(cards=CARDS),
        db_engine=await prepared_engine(sqlite_url),
        retention=False,
    )
    async with application.router.lifespan_context(application):
        yield application


async def get(app: Any, path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        return await c.get(path)


async def test_the_page_has_what_a_person_needs_in_plain_italian(app: Any) -> None:
    r = await get(app, "/servizi/casa-1")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert '<html lang="it">' in page and 'name="viewport"' in page
    assert "<h1>Sportello &lt;casa&gt; &amp; affitti</h1>" in page
    assert '<a class="phone" href="tel:+390114013111">011 4013111</a>' in page
    assert 'href="tel:800123456"' in page
    for heading in ("Contatti", "Come fare", "Come arrivarci", "Cosa portare", "Costo"):
        assert f"<h2>{heading}</h2>" in page
    assert "<li>ISEE aggiornato</li>" in page and "Via Roma 1, Collegno" in page
    assert "openstreetmap.org/search?query=Via+Roma+1%2C+Collegno" in page
    assert "javascript:" not in page  # a bad catalogue URL is not turned into a link
    assert "telefona per controllare" in page


async def test_the_page_allows_no_script_and_only_its_own_style(app: Any) -> None:
    r = await get(app, "/servizi/casa-1")
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "unsafe-inline" not in csp
    assert "<script" not in r.text.lower() and not re.search(r"<[^>]+\son\w+=", r.text)
    style = re.search(r"<style>(.*?)</style>", r.text, re.S)
    assert style is not None
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    assert f"'sha256-{digest}'" in csp  # the browser will apply it
    assert "@media print" in style.group(1)


async def test_unknown_and_malformed_ids_get_a_kind_404_page(app: Any) -> None:
    for path in ("/servizi/non-esiste", "/servizi/" + "x" * 200, "/servizi/%3Cscript%3E"):
        r = await get(app, path)
        assert r.status_code == 404 and "Servizio non trovato" in r.text and "<script>" not in r.text


async def test_every_service_of_the_bundled_catalogue_has_a_page(sqlite_url: str) -> None:
    from bot.app import create_app

    application = create_app(
        chat_settings(sqlite_url), nlu=FakeNLU(), db_engine=await prepared_engine(sqlite_url), retention=False
    )
    async with application.router.lifespan_context(application):
        store = application.state.catalog_store
        assert store is not None and len(store) > 10
        for record in store.services():
            r = await get(application, f"/servizi/{record['id']}")
            assert r.status_code == 200, record["id"]
            assert "<h1>" in r.text and "Contatti" in r.text
