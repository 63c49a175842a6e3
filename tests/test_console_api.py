"""The JSON API under /api: login, 401/403 rules, JSON errors, the case lifecycle, and claims raced
over HTTP by twenty facilitators."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff.models import Handoff
from tests.handoff_helpers import PASSWORD, FakeDialogue, build_app, make_case, make_facilitator, make_team

COLLEGNO = "001090"


@pytest.fixture
async def app(sessionmaker: async_sessionmaker[AsyncSession]) -> Any:
    return build_app(sessionmaker)


def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(app) as c:
        yield c


@pytest.fixture
async def seeded(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
    async with sessionmaker() as session:
        ovest = await make_team(session, "Ovest Solidale", comuni=[COLLEGNO])
        other = await make_team(session, "Canavese", is_default=True)
        people = {
            "giulia": await make_facilitator(session, "giulia", [ovest]),
            "marco": await make_facilitator(session, "marco", [ovest]),
            "dario": await make_facilitator(session, "dario", [other]),
            "admin": await make_facilitator(session, "admin", [], role="admin"),
        }
        mine = await make_case(session, comune_istat=COLLEGNO, comune_name="Collegno")
        theirs = await make_case(session, comune_istat="001125")
        await session.commit()
    return {
        "mine": mine.id,
        "theirs": theirs.id,
        "conv": mine.conversation_id,
        "ids": {k: v.id for k, v in people.items()},
        "teams": {"ovest": ovest.id, "other": other.id},
    }


async def _login(client: httpx.AsyncClient, username: str) -> dict[str, Any]:
    r = await client.post("/api/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()


async def test_login_returns_the_account_and_a_cookie(
    client: httpx.AsyncClient, seeded: dict[str, Any]
) -> None:
    bad = await client.post("/api/login", json={"username": "giulia", "password": "no-no-no-no-no"})
    assert bad.status_code == 401 and bad.json()["error"] == "bad_credentials"
    assert (await client.post("/api/login", json={"username": "chi?", "password": "x"})).status_code == 401
    body = await _login(client, "GIULIA ")
    assert body["username"] == "giulia" and body["role"] == "facilitatore" and body["csrf_token"]
    assert body["team_ids"] == [seeded["teams"]["ovest"]]
    assert "bussola_console" in client.cookies
    assert (await client.get("/api/me")).json()["first_name"] == "Giulia"


async def test_bad_input_gets_json_errors(client: httpx.AsyncClient, seeded: dict[str, Any]) -> None:
    r = await client.post("/api/login", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["error"] == "invalid_request"
    r = await client.post("/api/login", json={"username": "giulia"})
    assert r.status_code == 422
    r = await client.post("/api/login", json={"username": "a" * 65, "password": "x"})
    assert r.status_code == 422
    await _login(client, "giulia")
    hid = seeded["mine"]
    await client.post(f"/api/handoffs/{hid}/claim")
    for body in ({"text": ""}, {"text": "   "}, {"text": "x" * 4001}, {"txt": "ciao"}, {"text": 5}):
        r = await client.post(f"/api/handoffs/{hid}/messages", json=body)
        assert r.status_code == 422, body
        assert r.json()["error"] == "invalid_request"
    r = await client.post(f"/api/handoffs/{hid}/close", json={"outcome": "boh", "note": ""})
    assert r.status_code == 422 and "Esito" in r.json()["detail"]
    assert (await client.get("/api/handoffs/abc")).status_code == 422
    assert (await client.get("/api/handoffs?status=perso")).status_code == 422
    assert (await client.get("/api/handoffs/999999")).status_code == 404


async def test_401_without_a_session_and_403_across_teams(
    app: Any, client: httpx.AsyncClient, seeded: dict[str, Any]
) -> None:
    for method, path in (
        ("GET", "/api/handoffs?status=waiting"),
        ("GET", f"/api/handoffs/{seeded['mine']}"),
        ("POST", f"/api/handoffs/{seeded['mine']}/claim"),
    ):
        r = await client.request(method, path)
        assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    client.cookies.set("bussola_console", "made-up")
    assert (await client.get("/api/me")).status_code == 401
    client.cookies.clear()
    await _login(client, "giulia")
    listed = (await client.get("/api/handoffs", params={"status": "waiting"})).json()
    assert [h["id"] for h in listed] == [seeded["mine"]]
    assert (await client.get(f"/api/handoffs/{seeded['theirs']}")).status_code == 403
    assert (await client.post(f"/api/handoffs/{seeded['theirs']}/claim")).status_code == 403
    async with _client(app) as admin:
        await _login(admin, "admin")
        assert len((await admin.get("/api/handoffs", params={"status": "waiting"})).json()) == 2
        assert (await admin.get(f"/api/handoffs/{seeded['theirs']}")).status_code == 200


async def test_cross_site_and_form_posts_are_refused(
    client: httpx.AsyncClient, seeded: dict[str, Any]
) -> None:
    me = await _login(client, "giulia")
    url = f"/api/handoffs/{seeded['mine']}/claim"
    r = await client.post(url, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and r.json()["error"] == "csrf"
    r = await client.post(url, headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403
    r = await client.post(url, content=b"a=1", headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 403
    r = await client.post(url, headers={"X-CSRF-Token": "wrong"})
    assert r.status_code == 403
    r = await client.post(url, headers={"X-CSRF-Token": me["csrf_token"], "Origin": "http://testserver"})
    assert r.status_code == 200


async def test_case_lifecycle_over_the_api(
    app: Any, client: httpx.AsyncClient, seeded: dict[str, Any]
) -> None:
    dialogue: FakeDialogue = app.state.dialogue
    hid = seeded["mine"]
    await dialogue.citizen_writes(seeded["conv"], "Ho bisogno di una casa <subito>")
    await _login(client, "giulia")
    detail = (await client.get(f"/api/handoffs/{hid}")).json()
    assert detail["status"] == "waiting" and detail["comune_name"] == "Collegno"
    assert [m["text"] for m in detail["messages"]] == ["Ho bisogno di una casa <subito>"]
    assert (await client.post(f"/api/handoffs/{hid}/messages", json={"text": "Ciao"})).status_code == 409
    claimed = await client.post(f"/api/handoffs/{hid}/claim")
    assert claimed.status_code == 200 and claimed.json()["assigned_to"] == seeded["ids"]["giulia"]
    sent = await client.post(
        f"/api/handoffs/{hid}/messages", json={"text": "Ciao, sono Giulia", "client_id": "k1"}
    )
    again = await client.post(
        f"/api/handoffs/{hid}/messages", json={"text": "Ciao, sono Giulia", "client_id": "k1"}
    )
    assert sent.status_code == 201 and sent.json() == again.json()
    assert dialogue.said("facilitator") == ["Ciao, sono Giulia"]
    note = await client.post(f"/api/handoffs/{hid}/notes", json={"text": "privata"})
    assert note.status_code == 201
    after = (
        await client.get(f"/api/handoffs/{hid}/messages", params={"after_id": detail["messages"][0]["id"]})
    ).json()
    assert [m["author"] for m in after] == ["system", "facilitator"]
    assert all("privata" not in m["text"] for m in after)
    moved = await client.post(f"/api/handoffs/{hid}/transfer", json={"username": "marco", "note": "A te"})
    assert moved.status_code == 200 and moved.json()["assigned_to"] == seeded["ids"]["marco"]
    assert (
        await client.post(f"/api/handoffs/{hid}/close", json={"outcome": "risolto", "note": ""})
    ).status_code == 403
    async with _client(app) as marco:
        await _login(marco, "marco")
        back = await marco.post(
            f"/api/handoffs/{hid}/transfer", json={"team": "Canavese", "note": "Fuori zona"}
        )
        assert back.status_code == 200 and back.json()["status"] == "waiting"
        assert (await marco.get(f"/api/handoffs/{hid}")).status_code == 403  # now the other team's case
    async with _client(app) as dario:
        await _login(dario, "dario")
        assert (await dario.post(f"/api/handoffs/{hid}/claim")).status_code == 200
        closed = await dario.post(
            f"/api/handoffs/{hid}/close", json={"outcome": "orientato", "note": "Sportello"}
        )
        assert closed.status_code == 200 and closed.json()["status"] == "closed"
        assert (
            await dario.post(f"/api/handoffs/{hid}/close", json={"outcome": "orientato"})
        ).status_code == 409
    assert ("after_handoff_closed", seeded["conv"]) in dialogue.calls
    assert (
        await client.post(f"/api/handoffs/{hid}/transfer", json={"team": "Nessuno", "note": "x"})
    ).status_code == 422


async def test_take_next_and_logout(client: httpx.AsyncClient, seeded: dict[str, Any]) -> None:
    await _login(client, "dario")
    first = await client.post("/api/handoffs/next")
    assert first.status_code == 200 and first.json()["id"] == seeded["theirs"]
    assert (await client.post("/api/handoffs/next")).json() is None
    assert (await client.post("/api/logout")).status_code == 204
    assert (await client.get("/api/me")).status_code == 401


async def test_the_api_is_in_the_openapi_document(app: Any) -> None:
    paths = app.openapi()["paths"]
    for path in (
        "/api/login",
        "/api/handoffs",
        "/api/handoffs/{handoff_id}",
        "/api/handoffs/{handoff_id}/claim",
        "/api/handoffs/{handoff_id}/messages",
        "/api/handoffs/{handoff_id}/transfer",
        "/api/handoffs/{handoff_id}/close",
    ):
        assert path in paths, path
    assert not any(p.startswith("/console") for p in paths)


async def test_twenty_facilitators_race_for_cases_over_http(
    app: Any, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    n_people, n_cases = 20, 100
    async with sessionmaker() as session:
        team = await make_team(session, "Sportello", is_default=True)
        for i in range(n_people):
            await make_facilitator(session, f"op{i:02d}", [team])
        ids = [(await make_case(session)).id for _ in range(n_cases)]
        await session.commit()

    async def facilitator(i: int) -> list[int]:
        async with _client(app) as c:
            await _login(c, f"op{i:02d}")
            order = [hid for j, hid in enumerate(ids) if j % 2 == i % 2]  # ten contenders per case
            random.Random(i).shuffle(order)
            won = []
            for hid in order:
                r = await c.post(f"/api/handoffs/{hid}/claim")
                assert r.status_code in (200, 409), r.text
                if r.status_code == 200:
                    won.append(hid)
            return won

    results = await asyncio.gather(*(facilitator(i) for i in range(n_people)))
    wins = Counter(h for won in results for h in won)
    assert set(wins.values()) <= {1}, "a case answered 200 to two facilitators"
    async with sessionmaker() as session:
        rows = (await session.execute(select(Handoff.id, Handoff.status, Handoff.assigned_to))).all()
    assigned = {r.id: r.assigned_to for r in rows if r.status == "assigned"}
    assert set(assigned) == set(wins) == set(ids), "every case taken, each by the one who got 200"
    winner = {h: i for i, won in enumerate(results) for h in won}
    assert len(set(winner.values())) > 1


async def test_hostile_input_never_reaches_the_database_as_an_error(
    client: httpx.AsyncClient, seeded: dict[str, Any]
) -> None:
    """Values PostgreSQL would refuse (ids beyond its integers, NUL bytes) get a 4xx, never a 500."""
    r = await client.post("/api/login", json={"username": "giu\u0000lia", "password": "x\u0000y"})
    assert r.status_code == 401
    await _login(client, "giulia")
    huge = 2**40
    for method, path in (
        ("GET", f"/api/handoffs/{huge}"),
        ("POST", f"/api/handoffs/{huge}/claim"),
        ("GET", f"/api/handoffs/{seeded['mine']}/messages?after_id={huge}"),
        ("GET", f"/api/handoffs?team_id={huge}"),
        ("GET", "/api/handoffs/-1"),
    ):
        assert (await client.request(method, path)).status_code == 422, path
    hid = seeded["mine"]
    await client.post(f"/api/handoffs/{hid}/claim")
    r = await client.post(f"/api/handoffs/{hid}/transfer", json={"team_id": huge, "note": "x"})
    assert r.status_code == 422
    r = await client.post(f"/api/handoffs/{hid}/transfer", json={"team": "Nes\u0000suno", "note": "x"})
    assert r.status_code == 422
    r = await client.post(f"/api/handoffs/{hid}/notes", json={"text": "nota\u0000 con NUL"})
    assert r.status_code == 201 and r.json()["text"] == "nota con NUL"
    r = await client.post(f"/api/handoffs/{hid}/messages", json={"text": "\u0000\u0000"})
    assert r.status_code == 422
    assert (await client.get(f"/console/casi/{huge}")).status_code == 422
    assert (await client.get("/console/registro?caso=99999999999999")).status_code in (200, 403)


async def test_every_read_of_a_case_is_audited(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], seeded: dict[str, Any]
) -> None:
    from handoff.models import AuditLog

    await _login(client, "marco")
    hid = seeded["mine"]
    assert (await client.get(f"/api/handoffs/{hid}")).status_code == 200
    assert (await client.get(f"/api/handoffs/{hid}/messages", params={"after_id": 3})).status_code == 200
    async with sessionmaker() as session:
        rows = (
            await session.execute(
                select(AuditLog.actor, AuditLog.object_type, AuditLog.object_id).where(
                    AuditLog.action == "view"
                )
            )
        ).all()
    assert [tuple(r) for r in rows] == [("marco", "handoff", str(hid)), ("marco", "messages", "3")]
