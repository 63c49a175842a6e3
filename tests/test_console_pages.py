"""The console in HTML: login, cookies, CSRF, lockout, permissions across teams, inert citizen text,
and the case actions through the forms."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.models import Conversation
from handoff.models import AuditLog, CannedReply, Handoff
from tests.handoff_helpers import (
    FakeDialogue,
    build_app,
    console_login,
    csrf_of,
    make_case,
    make_facilitator,
    make_team,
)

COLLEGNO = "001090"
EVIL = '<script>alert("x")</script><img src=x onerror="alert(1)">'


@pytest.fixture
async def seeded(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
    async with sessionmaker() as session:
        ovest = await make_team(session, "Ovest Solidale", comuni=[COLLEGNO])
        other = await make_team(session, "Canavese", is_default=True)
        await make_facilitator(session, "giulia", [ovest])
        await make_facilitator(session, "marco", [ovest])
        await make_facilitator(session, "carla", [ovest], role="coordinatore")
        await make_facilitator(session, "dario", [other])
        await make_facilitator(session, "admin", [], role="admin")
        mine = await make_case(
            session,
            comune_istat=COLLEGNO,
            comune_name="Collegno",
            on_behalf=True,
            on_behalf_of="<b>la vicina</b>",
            volunteer_name="Amina",
            suggested_services=({"id": "s1", "name": "Sportello casa <i>Ovest</i>"},),
            summary="Cerca casa & lavoro <subito>",
        )
        theirs = await make_case(session, comune_istat="001125", comune_name="Ivrea", priority="urgent")
        await session.commit()
    return {"mine": mine.id, "theirs": theirs.id, "conv": mine.conversation_id}


@pytest.fixture
async def app(sessionmaker: async_sessionmaker[AsyncSession]) -> Any:
    return build_app(sessionmaker)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        yield c


async def _client(app: Any, base: str = "http://testserver") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base)


async def test_pages_need_a_login(client: httpx.AsyncClient, seeded: dict[str, Any]) -> None:
    for path in ("/console/", "/console/miei", f"/console/casi/{seeded['mine']}", "/console/cruscotto"):
        r = await client.get(path)
        assert r.status_code == 303 and r.headers["location"] == "/console/login", path
    assert (await client.get("/console/eventi")).status_code == 401


async def test_login_sets_a_secure_session_cookie(
    sessionmaker: async_sessionmaker[AsyncSession], seeded: dict[str, Any]
) -> None:
    app = build_app(sessionmaker, public_url="https://bussola.example.org")
    async with await _client(app, "https://bussola.example.org") as c:
        bad = await console_login(c, "giulia", "sbagliata-davvero")
        assert bad.status_code == 401 and "Nome utente o password non corretti" in bad.text
        r = await console_login(c, "giulia")
        assert r.status_code == 303 and r.headers["location"] == "/console/"
        cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("bussola_console="))
        assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=lax" in cookie
        page = await c.get("/console/")
        assert page.status_code == 200 and "Coda dei tuoi gruppi" in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert "unsafe-inline" not in page.headers["content-security-policy"]
    async with await _client(build_app(sessionmaker)) as c:  # plain http in development: no Secure flag
        r = await console_login(c, "giulia")
        cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("bussola_console="))
        assert "Secure" not in cookie and "HttpOnly" in cookie


async def test_login_form_and_every_post_need_the_csrf_token(
    client: httpx.AsyncClient, seeded: dict[str, Any]
) -> None:
    r = await client.post("/console/login", data={"username": "giulia", "password": "una-password-lunga"})
    assert r.status_code == 403
    assert (await console_login(client, "giulia")).status_code == 303
    claim = f"/console/casi/{seeded['mine']}/prendi"
    assert (await client.post(claim, data={})).status_code == 403
    assert (await client.post(claim, data={"csrf_token": "indovinato"})).status_code == 403
    page = await client.get(f"/console/casi/{seeded['mine']}")
    token = csrf_of(page.text)
    foreign = await client.post(claim, data={"csrf_token": token}, headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403
    ok = await client.post(claim, data={"csrf_token": token}, headers={"Origin": "http://testserver"})
    assert ok.status_code == 303 and ok.headers["location"].endswith("?ok=preso")


async def test_repeated_failures_lock_the_account(client: httpx.AsyncClient, seeded: dict[str, Any]) -> None:
    for _ in range(5):
        assert (await console_login(client, "giulia", "sbagliata-davvero")).status_code == 401
    locked = await console_login(client, "giulia")  # even the right password now
    assert locked.status_code == 429 and "Troppi tentativi" in locked.text
    api = await client.post("/api/login", json={"username": "giulia", "password": "una-password-lunga"})
    assert api.status_code == 429 and api.json()["error"] == "locked"
    # another account is not affected
    assert (await console_login(client, "marco")).status_code == 303


async def test_citizen_text_is_inert_in_the_case_page(
    app: Any, client: httpx.AsyncClient, seeded: dict[str, Any]
) -> None:
    dialogue: FakeDialogue = app.state.dialogue
    await dialogue.citizen_writes(seeded["conv"], EVIL)
    await console_login(client, "giulia")
    page = await client.get(f"/console/casi/{seeded['mine']}")
    assert page.status_code == 200
    html = page.text
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "&lt;b&gt;la vicina&lt;/b&gt;" in html  # on behalf of whom, escaped too
    assert "Cerca casa &amp; lavoro &lt;subito&gt;" in html
    assert "Sportello casa &lt;i&gt;Ovest&lt;/i&gt;" in html
    assert "tramite volontaria Amina" in html
    # the only scripts are the console's own files
    assert re.findall(r"<script[^>]*>", html) == [
        re.search(r'<script src="[^"]+case\.js[^"]*" defer>', html).group(0)
    ]  # type: ignore[union-attr]
    # the summary comes before the transcript
    assert html.index("Riepilogo") < html.index("Conversazione")


async def test_a_facilitator_sees_only_their_teams_cases(
    app: Any, client: httpx.AsyncClient, seeded: dict[str, Any]
) -> None:
    await console_login(client, "giulia")
    queue_page = (await client.get("/console/")).text
    assert f"/console/casi/{seeded['mine']}" in queue_page
    assert f"/console/casi/{seeded['theirs']}" not in queue_page
    r = await client.get(f"/console/casi/{seeded['theirs']}")
    assert r.status_code == 403 and "un altro gruppo" in r.text
    assert (await client.get(f"/console/casi/{seeded['theirs']}/eventi")).status_code == 403
    async with await _client(app) as admin:
        await console_login(admin, "admin")
        assert (await admin.get(f"/console/casi/{seeded['theirs']}")).status_code == 200
        page = (await admin.get("/console/")).text
        assert f"/console/casi/{seeded['theirs']}" in page and f"/console/casi/{seeded['mine']}" in page
    async with await _client(app) as facilitator:
        await console_login(facilitator, "giulia")
        assert (await facilitator.get("/console/cruscotto")).status_code == 403
        assert (await facilitator.get("/console/registro")).status_code == 403


async def _post(client: httpx.AsyncClient, handoff_id: int, action: str, **data: str) -> httpx.Response:
    page = await client.get(f"/console/casi/{handoff_id}")
    return await client.post(
        f"/console/casi/{handoff_id}/{action}", data={"csrf_token": csrf_of(page.text), **data}
    )


async def test_claim_reply_note_transfer_and_close_through_the_forms(
    app: Any, sessionmaker: async_sessionmaker[AsyncSession], seeded: dict[str, Any]
) -> None:
    dialogue: FakeDialogue = app.state.dialogue
    hid = seeded["mine"]
    async with await _client(app) as giulia, await _client(app) as marco:
        await console_login(giulia, "giulia")
        await console_login(marco, "marco")
        assert (await _post(giulia, hid, "prendi")).status_code == 303
        late = await _post(marco, hid, "prendi")
        assert late.status_code == 409 and "già preso in carico" in late.text
        # only the holder has the reply box
        assert 'name="client_key"' not in (await marco.get(f"/console/casi/{hid}")).text
        page = await giulia.get(f"/console/casi/{hid}")
        key = re.search(r'name="client_key" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        form = {"csrf_token": csrf_of(page.text), "client_key": key, "text": "Ciao, sono Giulia."}
        assert (await giulia.post(f"/console/casi/{hid}/rispondi", data=form)).status_code == 303
        assert (
            await giulia.post(f"/console/casi/{hid}/rispondi", data=form)
        ).status_code == 303  # double submit
        assert dialogue.said("facilitator") == ["Ciao, sono Giulia."]
        assert (await _post(marco, hid, "nota", text="La conosco: ha già un ISEE.")).status_code == 303
        page = (await giulia.get(f"/console/casi/{hid}")).text
        assert "La conosco: ha già un ISEE." in page and "Ciao, sono Giulia." in page
        assert not any("ISEE" in t for t in dialogue.said())
        # transfer to Marco with a note, then Marco closes
        moved = await _post(
            giulia,
            hid,
            "trasferisci",
            target=f"person:{await _id(sessionmaker, 'marco')}",
            note="Tocca a te.",
        )
        assert moved.status_code == 303
        assert (await _post(marco, hid, "chiudi", outcome="non_esiste")).status_code == 422
        assert (await _post(marco, hid, "chiudi", outcome="risolto", note="Fatto.")).status_code == 303
    async with sessionmaker() as session:
        h = await session.get(Handoff, hid)
        assert h is not None and (h.status, h.outcome, h.closed_by) == (
            "closed",
            "risolto",
            await _id(sessionmaker, "marco"),
        )
        conv = await session.get(Conversation, seeded["conv"])
        assert conv is not None and conv.owner == "bot"
        actions = list(
            await session.scalars(
                select(AuditLog.action).where(AuditLog.handoff_id == hid).order_by(AuditLog.id)
            )
        )
    assert actions[:3] == ["created", "view", "claim"]
    assert {"reply", "note", "transfer_person", "close"} <= set(actions)
    assert ("after_handoff_closed", seeded["conv"]) in dialogue.calls


async def _id(sessionmaker: async_sessionmaker[AsyncSession], username: str) -> int:
    from handoff.models import Facilitator

    async with sessionmaker() as session:
        fid = await session.scalar(select(Facilitator.id).where(Facilitator.username == username))
    assert fid is not None
    return fid


async def test_take_next_and_my_cases(app: Any, client: httpx.AsyncClient, seeded: dict[str, Any]) -> None:
    await console_login(client, "dario")
    page = await client.get("/console/")
    r = await client.post("/console/prossimo", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 303 and r.headers["location"] == f"/console/casi/{seeded['theirs']}?ok=preso"
    mine = (await client.get("/console/miei")).text
    assert f"/console/casi/{seeded['theirs']}" in mine
    again = await client.post("/console/prossimo", data={"csrf_token": csrf_of(page.text)})
    assert again.headers["location"] == "/console/?ok=vuota"


async def test_canned_replies_by_coordinators_fill_the_reply_box(
    app: Any, sessionmaker: async_sessionmaker[AsyncSession], seeded: dict[str, Any]
) -> None:
    async with await _client(app) as giulia, await _client(app) as carla:
        await console_login(giulia, "giulia")
        await console_login(carla, "carla")
        page = await giulia.get("/console/risposte")
        refused = await giulia.post(
            "/console/risposte", data={"csrf_token": csrf_of(page.text), "title": "x", "text": "y"}
        )
        assert refused.status_code == 403
        page = await carla.get("/console/risposte")
        team_id = re.search(r'<option value="(\d+)">Ovest Solidale', page.text).group(1)  # type: ignore[union-attr]
        saved = await carla.post(
            "/console/risposte",
            data={
                "csrf_token": csrf_of(page.text),
                "title": "Saluto",
                "text": "Ciao! Sono qui per aiutarti.",
                "team_id": team_id,
            },
        )
        assert saved.status_code == 303
        async with sessionmaker() as session:
            canned = await session.scalar(select(CannedReply))
        assert canned is not None
        await _post(giulia, seeded["mine"], "prendi")
        filled = await giulia.get(f"/console/casi/{seeded['mine']}", params={"risposta": canned.id})
        assert ">Ciao! Sono qui per aiutarti.</textarea>" in filled.text


async def test_logout_ends_the_session(client: httpx.AsyncClient, seeded: dict[str, Any]) -> None:
    await console_login(client, "giulia")
    page = await client.get("/console/")
    cookie = client.cookies.get("bussola_console")
    r = await client.post("/console/logout", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 303
    client.cookies.set("bussola_console", cookie or "")  # a stolen copy of the cookie is dead too
    assert (await client.get("/console/")).status_code == 303


async def test_static_files_are_served_from_a_fixed_list(client: httpx.AsyncClient) -> None:
    assert (await client.get("/console/static/console.css")).headers["content-type"].startswith("text/css")
    assert (await client.get("/console/static/case.js")).status_code == 200
    assert (await client.get("/console/static/..%2Fconsole.py")).status_code == 404
    assert (await client.get("/console/static/nope.js")).status_code == 404


async def test_an_erased_conversation_leaves_an_anonymous_case(
    app: Any,
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    seeded: dict[str, Any],
) -> None:
    async with sessionmaker() as session:
        h = await session.get(Handoff, seeded["mine"])
        assert h is not None
        h.suggested_services = [{"id": "s9", "name": "Emporio solidale", "org": "Caritas"}]
        h.conversation_id, h.anonymised, h.status, h.outcome = None, True, "closed", "dati_cancellati"
        await session.commit()
    await console_login(client, "giulia")
    page = await client.get(f"/console/casi/{seeded['mine']}")
    assert page.status_code == 200
    assert "La persona ha cancellato i suoi dati" in page.text
    assert "Emporio solidale – Caritas" in page.text
    assert "Nessun messaggio." in page.text and 'name="client_key"' not in page.text
    assert (await client.get(f"/console/casi/{seeded['mine']}/eventi")).status_code == 204


async def test_only_an_admin_exports_a_persons_data_and_the_export_is_audited(
    app: Any,
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    seeded: dict[str, Any],
) -> None:
    dialogue: FakeDialogue = app.state.dialogue
    await dialogue.citizen_writes(seeded["conv"], "Mi hanno staccato la luce")
    export = f"/console/casi/{seeded['mine']}/esporta"
    await console_login(client, "carla")  # a coordinator of the team: may read the case, not export
    assert "Scarica i dati" not in (await client.get(f"/console/casi/{seeded['mine']}")).text
    refused = await client.get(export)
    assert refused.status_code == 403 and "amministratore" in refused.text
    async with await _client(app) as admin:
        await console_login(admin, "admin")
        assert "Scarica i dati" in (await admin.get(f"/console/casi/{seeded['mine']}")).text
        r = await admin.get(export)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/json")
        assert "attachment" in r.headers["content-disposition"] and r.headers["cache-control"] == "no-store"
        data = r.json()
        assert data["conversation"]["id"] == seeded["conv"]
        assert [m["text"] for m in data["messages"]] == ["Mi hanno staccato la luce"]
        assert [h["id"] for h in data["handoffs"]] == [seeded["mine"]]
        assert (await admin.get("/console/casi/999999/esporta")).status_code == 404
    async with sessionmaker() as session:
        rows = (await session.scalars(select(AuditLog).where(AuditLog.action == "export"))).all()
    assert [(r.handoff_id, r.object_id) for r in rows] == [(seeded["mine"], str(seeded["conv"]))]
    async with sessionmaker() as session:  # erased: nothing left to export, and the admin is told so
        h = await session.get(Handoff, seeded["mine"])
        assert h is not None
        h.conversation_id, h.anonymised = None, True
        await session.commit()
    async with await _client(app) as admin:
        await console_login(admin, "admin")
        gone = await admin.get(export)
        assert gone.status_code == 410 and "cancellato" in gone.text
