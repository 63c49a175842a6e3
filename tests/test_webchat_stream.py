"""The web chat's push channel (Server-Sent Events) over a real HTTP server (uvicorn).

httpx's in-process transport buffers whole responses, so a stream needs a real socket: the app runs
in uvicorn on a free port inside the test's event loop.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn

from bot.types import Outbound
from tests.fixtures_chat import FakeCatalog, FakeNLU, chat_settings, schema_from_models

GUARD = 10.0  # seconds: a broken stream fails the test instead of hanging it (not a speed check)


@pytest.fixture
async def served(sqlite_url: str) -> AsyncIterator[tuple[str, Any]]:
    from bot.app import create_app
    from bot.db import make_engine

    db_engine = make_engine(sqlite_url)
    await schema_from_models(db_engine)
    app = create_app(chat_settings(sqlite_url), nlu=FakeNLU(), catalog=FakeCatalog(), db_engine=db_engine)
    app.state.sse_keepalive = 0.3
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
        assert not task.done(), "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        await task


class Stream:
    """Reads SSE events (and comments) from an open response."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.aiter_lines()
        self.comments: list[str] = []
        self.retry: int | None = None

    async def next_event(self) -> dict[str, Any]:
        event: dict[str, Any] = {}
        async for line in self.lines:
            if line == "":
                if event:
                    return event
                continue
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                event["data"] = json.loads(value)
            elif name == "retry":
                self.retry = int(value)
            else:
                event[name] = value
        raise AssertionError("stream closed")

    async def comment(self) -> str:
        """Read up to the next comment line (keep-alives are comments)."""
        async for line in self.lines:
            if line.startswith(":"):
                return line[1:].strip()
        raise AssertionError("stream closed")

    async def events(self, n: int) -> list[dict[str, Any]]:
        return [await asyncio.wait_for(self.next_event(), GUARD) for _ in range(n)]


async def new_session(http: httpx.AsyncClient) -> tuple[str, str]:
    body = (await http.post("/webhooks/rest/session")).json()
    return body["sender"], body["token"]


async def send(http: httpx.AsyncClient, sender: str, token: str, message: str) -> list[dict[str, Any]]:
    r = await http.post(
        "/webhooks/rest/webhook",
        json={"sender": sender, "message": message},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200
    return list(r.json())


async def test_stream_pushes_new_messages_and_a_facilitator_reply(served: tuple[str, Any]) -> None:
    base, app = served
    async with httpx.AsyncClient(base_url=base, timeout=GUARD) as http:
        sender, token = await new_session(http)
        async with http.stream("GET", "/webhooks/rest/stream", params={"token": token}) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            stream = Stream(r)
            replies = await send(http, sender, token, "ciao")
            events = await stream.events(3)  # the citizen's message and the two replies
            assert [e["event"] for e in events] == ["message"] * 3
            assert [e["data"]["direction"] for e in events] == ["in", "out", "out"]
            assert [int(e["id"]) for e in events][1:] == [m["message_id"] for m in replies]
            assert events[0]["data"]["text"] == "ciao"
            assert stream.retry == 3000
            # A facilitator's reply, written later, arrives on the open stream.
            conv = await app.state.dialogue.conversation_for("web", sender, create=False)
            await app.state.dialogue.say(
                conv.id, Outbound("Ciao, sono Giulia"), author="facilitator", author_name="Giulia"
            )
            (event,) = await stream.events(1)
            assert event["data"]["text"] == "Ciao, sono Giulia"
            assert event["data"]["custom"] == {"type": "facilitator_message", "author": "Giulia"}
            assert event["data"]["author"] == "facilitator" and event["data"]["author_name"] == "Giulia"


async def test_stream_resumes_after_the_last_event_seen(served: tuple[str, Any]) -> None:
    base, _app = served
    async with httpx.AsyncClient(base_url=base, timeout=GUARD) as http:
        sender, token = await new_session(http)
        await send(http, sender, token, "ciao")
        await send(http, sender, token, "cerco casa a Collegno")
        history = (await http.get("/webhooks/rest/history", params={"token": token})).json()["messages"]
        seen = history[2]["message_id"]
        headers = {"Last-Event-ID": str(seen), "Authorization": f"Bearer {token}"}
        async with http.stream("GET", "/webhooks/rest/stream", headers=headers) as r:
            events = await Stream(r).events(2)
        assert [int(e["id"]) for e in events] == [m["message_id"] for m in history[3:]]
        # ?after= works the same, for clients that cannot set headers.
        async with http.stream("GET", "/webhooks/rest/stream", params={"token": token, "after": seen}) as r:
            assert [int(e["id"]) for e in await Stream(r).events(2)] == [m["message_id"] for m in history[3:]]


async def test_stream_with_the_session_cookie_keeps_alive_and_ends_on_delete(served: tuple[str, Any]) -> None:
    base, _app = served
    async with httpx.AsyncClient(base_url=base, timeout=GUARD) as http:
        sender, token = await new_session(http)  # sets the HttpOnly cookie, path /webhooks/rest
        assert http.cookies.get("bussola_chat") == token
        async with http.stream("GET", "/webhooks/rest/stream") as r:
            assert r.status_code == 200
            stream = Stream(r)
            assert await asyncio.wait_for(stream.comment(), GUARD) == "keep-alive"
            r2 = await http.delete(
                "/webhooks/rest/conversation", headers={"Authorization": f"Bearer {token}"}
            )
            assert r2.status_code == 200
            (event,) = await stream.events(1)
            assert event["event"] == "deleted"


async def test_stream_needs_a_valid_token(served: tuple[str, Any]) -> None:
    base, _app = served
    async with httpx.AsyncClient(base_url=base, timeout=GUARD) as http:
        r = await http.get("/webhooks/rest/stream", params={"token": "nope"})
        assert r.status_code == 401 and r.json()["error"] == "unauthorized"
        sender, token = await new_session(http)
        other, _ = await new_session(http)
        http.cookies.clear()
        r = await http.get("/webhooks/rest/stream", params={"token": token, "sender": other})
        assert r.status_code == 403
