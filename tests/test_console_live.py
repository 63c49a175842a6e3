"""Live relay to the console: the case stream gives every message once, in order, resumable; the queue
stream nudges only the facilitators who may see the case, flagging urgent ones."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request

from handoff.console import case_stream, queue_stream
from handoff.security import SESSION_COOKIE, create_session, load_session, utcnow
from handoff.service import HandoffService
from tests.handoff_helpers import FakeDialogue, actor_of, build_app, make_case, make_facilitator, make_team


async def _request(app: Any, sessionmaker: async_sessionmaker[AsyncSession], facilitator_id: int) -> Request:
    async with sessionmaker() as session:
        token, _ = await create_session(session, facilitator_id, utcnow())
        await session.commit()
    scope = {
        "type": "http",
        "app": app,
        "method": "GET",
        "path": "/",
        "headers": [(b"cookie", f"{SESSION_COOKIE}={token}".encode())],
        "query_string": b"",
    }
    return Request(scope)


def _events(chunks: list[str]) -> list[tuple[str, dict[str, Any], str | None]]:
    out = []
    for chunk in chunks:
        fields = dict(line.split(": ", 1) for line in chunk.strip().splitlines() if not line.startswith(":"))
        if "event" in fields:
            out.append((fields["event"], json.loads(fields["data"]), fields.get("id")))
    return out


async def _collect(
    stream: AsyncIterator[str], until: int, kind: str = "message"
) -> list[tuple[str, dict[str, Any], str | None]]:
    seen: list[str] = []
    async with asyncio.timeout(45):  # a guard against hanging, generous for a loaded CI machine
        async for chunk in stream:
            seen.append(chunk)
            if sum(1 for e in _events(seen) if e[0] == kind) >= until:
                break
    return _events(seen)


async def test_case_stream_relays_every_message_once_in_order_and_resumes(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    app = build_app(sessionmaker)
    dialogue: FakeDialogue = app.state.dialogue
    async with sessionmaker() as session:
        team = await make_team(session, "Sportello", is_default=True)
        fac = await make_facilitator(session, "giulia", [team])
        h = await make_case(session)
        actor = await actor_of(session, fac)
        await session.commit()
    conv = h.conversation_id
    assert conv is not None
    first = await dialogue.citizen_writes(conv, "Primo messaggio")
    request = await _request(app, sessionmaker, fac.id)
    info = await load_session(sessionmaker, request.cookies[SESSION_COOKIE])
    assert info is not None
    stream = case_stream(request, info, h.id, conv, 0)
    service = HandoffService(sessionmaker, dialogue, app.state.broker)

    async def conversation() -> None:
        await asyncio.sleep(0.05)
        await service.claim(actor, h.id)  # a system notice and a status change
        writers = [dialogue.citizen_writes(conv, f"Messaggio {i}") for i in range(20)]
        await asyncio.gather(*writers)
        await service.reply(actor, h.id, "<b>Risposta</b> di Giulia")

    task = asyncio.create_task(conversation())
    events = await _collect(stream, until=23)
    await task
    await stream.aclose()
    messages = [(data, eid) for kind, data, eid in events if kind == "message"]
    ids = [data["id"] for data, _ in messages]
    history = await dialogue.history(conv)
    assert ids == [m.id for m in history], "every message once, in the log's order"
    assert [eid for _, eid in messages] == [str(i) for i in ids]  # resumable with Last-Event-ID
    assert messages[0][0]["text"] == "Primo messaggio" and messages[0][0]["author_label"] == "Persona"
    assert messages[-1][0]["text"] == "<b>Risposta</b> di Giulia"  # text, never HTML
    assert messages[-1][0]["author_label"] == "Giulia (operatore)"
    assert any(kind == "status" and data["type"] == "handoff_claimed" for kind, data, _ in events), [
        (k, d.get("type"), d.get("text")) for k, d, _ in events
    ]

    # a reconnect from the last id seen gets only what came after
    later = await dialogue.citizen_writes(conv, "Dopo la riconnessione")
    resumed = case_stream(request, info, h.id, conv, ids[-1])
    again = await _collect(resumed, until=1)
    await resumed.aclose()
    assert [d["id"] for k, d, _ in again if k == "message"] == [later.id]
    assert first.id == ids[0]


async def test_queue_stream_nudges_only_the_teams_concerned(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    app = build_app(sessionmaker)
    broker = app.state.broker
    async with sessionmaker() as session:
        ovest = await make_team(session, "Ovest", comuni=["001090"])
        other = await make_team(session, "Altro", is_default=True)
        giulia = await make_facilitator(session, "giulia", [ovest])
        await make_facilitator(session, "dario", [other])
        mine = await make_case(session, comune_istat="001090", priority="urgent")
        theirs = await make_case(session, comune_istat="001125")
        await session.commit()
    request = await _request(app, sessionmaker, giulia.id)
    info = await load_session(sessionmaker, request.cookies[SESSION_COOKIE])
    assert info is not None
    stream = queue_stream(request, info)
    assert (await anext(stream)).startswith("retry:")  # subscribed from here on

    async def announce() -> None:
        await broker.publish("queue", {"type": "handoff_created", "handoff_id": theirs.id})
        await broker.publish("queue", {"type": "handoff_created", "handoff_id": mine.id})
        await broker.publish("queue", {"type": "handoff_created", "handoff_id": "not-an-id"})

    await announce()
    events = await _collect(stream, until=1, kind="queue")
    await stream.aclose()
    assert [(k, d["handoff_id"], d["urgent"]) for k, d, _ in events] == [("queue", mine.id, True)]
