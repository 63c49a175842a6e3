"""Catalogue upkeep from the console: a team edits its own services, validated against HSDS 3.0,
audited, used by the bot at once and re-applied after a restart; others' services are off limits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog_client.store import CatalogStore
from handoff.background import load_catalog_overrides
from handoff.catalog import form_values
from handoff.models import AuditLog, CatalogOverride
from tests.handoff_helpers import build_app, console_login, csrf_of, make_facilitator, make_team

OVEST_ORG = "7172cca8-3f6b-5d2e-a5cb-d9f6bc177646"
OVEST_SERVICE = "50ecd7c5-b9b1-5526-85da-9825d7147555"  # Servizi sociali del Consorzio Ovest Solidale
OTHER_SERVICE = "f9f1dfad-6e71-5153-8825-d4a96984ced8"  # a Casa del Quartiere desk in Turin


@pytest.fixture
async def store() -> CatalogStore:
    return CatalogStore.bundled()


@pytest.fixture
async def app(sessionmaker: async_sessionmaker[AsyncSession], store: CatalogStore) -> Any:
    async with sessionmaker() as session:
        team = await make_team(session, "Ovest Solidale", comuni=["001090"])
        team.organization_ids = [OVEST_ORG]
        await make_facilitator(session, "giulia", [team])
        await make_facilitator(session, "admin", [], role="admin")
        await session.commit()
    return build_app(sessionmaker, catalog_store=store)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        await console_login(c, "giulia")
        yield c


async def test_a_team_sees_and_edits_only_its_own_services(
    app: Any, client: httpx.AsyncClient, store: CatalogStore, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    listing = (await client.get("/console/catalogo")).text
    assert "Servizi sociali del Consorzio Ovest Solidale" in listing and "Cecchi Point" not in listing
    assert (await client.get(f"/console/catalogo/{OTHER_SERVICE}")).status_code == 403
    page = await client.get(f"/console/catalogo/{OTHER_SERVICE}")
    refused = await client.post(
        f"/console/catalogo/{OTHER_SERVICE}",
        data={"csrf_token": csrf_of((await client.get("/console/catalogo")).text), "name": "Preso!"},
    )
    assert refused.status_code == 403 and page.status_code == 403
    assert store.service(OTHER_SERVICE)["name"] != "Preso!"  # type: ignore[index]

    values = form_values(store.service(OVEST_SERVICE))  # type: ignore[arg-type]
    values.update(
        alert="Chiuso per ferie fino al 20 agosto",
        phones=(
            "+39 011 9501401 | Sede di Rivoli\n"
            "+39 011 4037121 | Sede di Grugliasco\n"
            "011 1234567 | Nuovo numero"
        ),
        hours="Lunedì e giovedì 9-12",
    )
    page = await client.get(f"/console/catalogo/{OVEST_SERVICE}")
    saved = await client.post(
        f"/console/catalogo/{OVEST_SERVICE}", data={"csrf_token": csrf_of(page.text), **values}
    )
    assert saved.status_code == 303, saved.text
    record = store.service(OVEST_SERVICE)
    assert record is not None and record["alert"] == "Chiuso per ferie fino al 20 agosto"
    assert [p["number"] for p in record["phones"]][-1] == "011 1234567"
    card = store.card(OVEST_SERVICE)  # what the bot shows next
    assert card is not None and any(p.description == "Nuovo numero" for p in card.phones)
    async with sessionmaker() as session:
        row = await session.get(CatalogOverride, OVEST_SERVICE)
        entry = await session.scalar(select(AuditLog).where(AuditLog.action == "catalog_update"))
    assert row is not None and row.data["alert"] == record["alert"]
    assert entry is not None and entry.actor == "giulia"
    assert set(entry.detail["fields"]) == {"alert", "phones", "schedules"}

    # after a restart the correction is applied again to the fresh catalogue
    fresh = CatalogStore.bundled()
    assert fresh.service(OVEST_SERVICE).get("alert") is None  # type: ignore[union-attr]
    assert await load_catalog_overrides(sessionmaker, fresh) == 1
    assert fresh.service(OVEST_SERVICE)["alert"] == "Chiuso per ferie fino al 20 agosto"  # type: ignore[index]


async def test_invalid_records_are_refused_with_reasons(
    client: httpx.AsyncClient, store: CatalogStore
) -> None:
    before = dict(store.service(OVEST_SERVICE))  # type: ignore[arg-type]
    for change, reason in (
        ({"email": "non-una-email"}, "email non è valido"),
        ({"url": "javascript:alert(1)"}, "https://"),
        ({"name": "   "}, "nome del servizio è obbligatorio"),
        ({"phones": "chiamami"}, "Numero di telefono non valido"),
        ({"status": "forse"}, "Stato del servizio non valido"),
    ):
        values = form_values(before)
        values.update(change)
        page = await client.get(f"/console/catalogo/{OVEST_SERVICE}")
        r = await client.post(
            f"/console/catalogo/{OVEST_SERVICE}", data={"csrf_token": csrf_of(page.text), **values}
        )
        assert r.status_code == 422 and reason in r.text, change
    assert store.service(OVEST_SERVICE) == before


async def test_edited_text_stays_text(client: httpx.AsyncClient, store: CatalogStore) -> None:
    values = form_values(store.service(OVEST_SERVICE))  # type: ignore[arg-type]
    values["description"] = "Aiuto <script>alert(1)</script> per tutti"
    page = await client.get(f"/console/catalogo/{OVEST_SERVICE}")
    r = await client.post(
        f"/console/catalogo/{OVEST_SERVICE}", data={"csrf_token": csrf_of(page.text), **values}
    )
    assert r.status_code == 303
    html = (await client.get(f"/console/catalogo/{OVEST_SERVICE}")).text
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


async def test_an_admin_may_edit_any_service(app: Any, store: CatalogStore) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as admin:
        await console_login(admin, "admin")
        values = form_values(store.service(OTHER_SERVICE))  # type: ignore[arg-type]
        values["alert"] = "Aperto anche il sabato"
        page = await admin.get(f"/console/catalogo/{OTHER_SERVICE}")
        r = await admin.post(
            f"/console/catalogo/{OTHER_SERVICE}", data={"csrf_token": csrf_of(page.text), **values}
        )
        assert r.status_code == 303
    assert store.service(OTHER_SERVICE)["alert"] == "Aperto anche il sabato"  # type: ignore[index]
