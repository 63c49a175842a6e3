"""The web chat's REST API through the real app (create_app), with the fake NLU and catalogue."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from bot import texts
from bot.models import Conversation, Message
from handoff.models import Handoff
from tests.fixtures_chat import WebChat, assert_customs_valid


@pytest.fixture(autouse=True)
async def _customs_validate(chat_app: Any, custom_validator: Any):  # type: ignore[no-untyped-def]
    yield
    await assert_customs_valid(chat_app.state.sessionmaker, custom_validator)


async def test_a_session_gives_an_opaque_sender_and_a_secret_token(
    client: httpx.AsyncClient, chat_app: Any
) -> None:
    r = await client.post("/webhooks/rest/session")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"sender", "token"}
    assert body["sender"].startswith("web-") and len(body["token"]) >= 40
    assert r.cookies.get("bussola_chat") == body["token"]
    async with chat_app.state.sessionmaker() as s:
        conv = await s.scalar(select(Conversation).where(Conversation.sender == body["sender"]))
    assert conv is not None and conv.token_hash and body["token"] not in conv.token_hash
    other = (await client.post("/webhooks/rest/session")).json()
    assert other["sender"] != body["sender"] and other["token"] != body["token"]


async def test_replies_have_the_rasa_rest_shape(new_chat: Callable[[], Any]) -> None:
    chat: WebChat = await new_chat()
    replies = await chat.send("ciao")
    assert len(replies) == 2
    for item in replies:
        assert item["recipient_id"] == chat.sender
        assert isinstance(item["text"], str) and item["text"]
        assert isinstance(item["message_id"], int) and item["message_id"] > 0
    assert "buttons" not in replies[0] and "custom" not in replies[0]  # absent, not null
    assert replies[1]["buttons"] == [
        {"title": texts.BTN_FOR_ME, "payload": "/per_me"},
        {"title": texts.BTN_FOR_OTHER, "payload": "/per_altri"},
        {"title": texts.BTN_PERSON, "payload": "/persona"},
    ]
    # A button's payload comes back as the next message.
    await chat.tap(texts.BTN_FOR_ME)
    assert chat.customs() == [{"type": "question", "slot": "bisogno"}]


async def test_a_whole_conversation_through_the_api(new_chat: Callable[[], Any], chat_app: Any) -> None:
    chat: WebChat = await new_chat()
    await chat.send("cerco casa")
    assert chat.custom_types() == ["question"]
    await chat.send("Collegno")
    assert chat.custom_types() == ["services"]
    card = chat.customs()[0]["services"][0]
    assert {"id", "name", "organization", "description", "needs", "why"} <= set(card)
    assert card["phones"][0]["tel"].startswith("tel:")
    await chat.tap(texts.BTN_PERSON)
    assert chat.customs() == [{"type": "handoff_offer", "reason": "richiesta", "needs": ["casa"]}]
    await chat.tap(texts.BTN_HANDOFF_YES)
    (handoff,) = chat.customs()
    assert handoff["type"] == "handoff" and handoff["status"] == "waiting" and handoff["queue_position"] == 1
    async with chat_app.state.sessionmaker() as s:
        h = await s.get(Handoff, handoff["handoff_id"])
    assert h is not None and h.channel == "web" and h.comune_name == "Collegno"


async def test_emergency_through_the_api(new_chat: Callable[[], Any]) -> None:
    chat: WebChat = await new_chat()
    await chat.send("mi picchia, ho paura")
    assert chat.custom_types()[0] == "emergency"
    assert chat.last[0]["custom"]["contacts"][0] == {
        "name": "Numero unico di emergenza",
        "phone": "112",
        "tel": "tel:112",
        "description": "polizia, ambulanza, vigili del fuoco",
    }
    assert chat.custom_types()[-1] == "handoff_offer"


async def test_wrong_or_missing_token_is_401_and_someone_elses_sender_403(
    client: httpx.AsyncClient, new_chat: Callable[[], Any]
) -> None:
    alice: WebChat = await new_chat()
    bob: WebChat = await new_chat()
    body = {"sender": alice.sender, "message": "ciao"}
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {alice.token}"}):
        r = await client.post("/webhooks/rest/webhook", json=body, headers=headers)
        assert r.status_code == 401
        assert r.json()["error"] == "unauthorized" and "sessione" in r.json()["detail"]
        assert r.headers["www-authenticate"] == "Bearer"
    r = await client.post("/webhooks/rest/webhook", json=body, headers=bob.auth)
    assert r.status_code == 403
    assert r.json() == {
        "error": "forbidden",
        "detail": "Questa conversazione appartiene a un'altra sessione.",
    }
    r = await client.get("/webhooks/rest/history", params={"sender": alice.sender}, headers=bob.auth)
    assert r.status_code == 403


@pytest.mark.parametrize(
    ("content", "status", "error"),
    [
        (b"{not json", 422, "invalid_request"),
        (b"[]", 422, "invalid_request"),
        (b'{"message": "ciao"}', 422, "invalid_request"),
        (b'{"sender": "SENDER"}', 422, "invalid_request"),
        (b'{"sender": "SENDER", "message": 42}', 422, "invalid_request"),
        (b'{"sender": "SENDER", "message": null}', 422, "invalid_request"),
        (b'{"sender": "SENDER", "message": "' + b"a" * 4001 + b'"}', 413, "message_too_long"),
        (b'{"sender": "SENDER", "message": "' + b"a" * 70_000 + b'"}', 413, None),
        (b"\xff\xfe\x00binary", 400, "invalid_request"),
    ],
)
async def test_malformed_input_is_a_4xx_with_a_json_error(
    client: httpx.AsyncClient, new_chat: Callable[[], Any], content: bytes, status: int, error: str | None
) -> None:
    chat: WebChat = await new_chat()
    r = await client.post(
        "/webhooks/rest/webhook",
        content=content.replace(b"SENDER", chat.sender.encode()),
        headers={**chat.auth, "Content-Type": "application/json"},
    )
    assert r.status_code == status
    body = r.json()
    assert body["detail"] and isinstance(body["detail"], str)
    assert "There was" not in body["detail"] and "error" not in body["detail"].lower()  # Italian
    if error:
        assert body["error"] == error
    if status == 413 and error:
        assert "troppo lungo" in body["detail"]


async def test_a_retry_with_the_same_message_id_is_processed_once(
    new_chat: Callable[[], Any], chat_app: Any
) -> None:
    chat: WebChat = await new_chat()
    first = await chat.send("cerco casa a Collegno", message_id="m-1")
    again = await chat.send("cerco casa a Collegno", message_id="m-1")
    assert again == first
    numeric = await chat.send("grazie", message_id=7)  # numbers are accepted as ids too
    assert await chat.send("grazie", message_id=7) == numeric
    async with chat_app.state.sessionmaker() as s:
        n_in = await s.scalar(select(func.count()).select_from(Message).where(Message.direction == "in"))
    assert n_in == 2


async def test_history_after_an_id(client: httpx.AsyncClient, new_chat: Callable[[], Any]) -> None:
    chat: WebChat = await new_chat()
    await chat.send("ciao")
    replies = await chat.send("cerco casa a Collegno")
    r = await client.get("/webhooks/rest/history", headers=chat.auth)
    assert r.status_code == 200
    body = r.json()
    assert body["sender"] == chat.sender
    log = body["messages"]
    assert [m["direction"] for m in log] == ["in", "out", "out", "in", "out"]
    assert log[0]["text"] == "ciao" and log[0]["author"] == "citizen"
    assert log[-1]["message_id"] == replies[-1]["message_id"] and log[-1]["custom"]["type"] == "services"
    assert set(log[-1]) == {
        "message_id", "direction", "author", "author_name", "kind", "text", "buttons", "custom", "created_at"
    }  # fmt: skip
    assert log[-1]["created_at"].endswith("Z")
    r = await client.get("/webhooks/rest/history", params={"after": log[2]["message_id"]}, headers=chat.auth)
    assert [m["message_id"] for m in r.json()["messages"]] == [m["message_id"] for m in log[3:]]
    # The token may also come as a query parameter or as the session cookie (for EventSource).
    r = await client.get("/webhooks/rest/history", params={"token": chat.token, "limit": 1})
    assert r.status_code == 200 and len(r.json()["messages"]) == 1
    client.cookies.set("bussola_chat", chat.token)
    assert (await client.get("/webhooks/rest/history")).status_code == 200
    client.cookies.clear()
    assert (await client.get("/webhooks/rest/history")).status_code == 401


async def test_delete_erases_the_conversation_and_ends_the_session(
    client: httpx.AsyncClient, new_chat: Callable[[], Any], chat_app: Any
) -> None:
    chat: WebChat = await new_chat()
    await chat.send("voglio un operatore")
    await chat.send("sì")
    r = await client.delete("/webhooks/rest/conversation", params={"sender": chat.sender}, headers=chat.auth)
    assert r.status_code == 200 and r.json() == {"deleted": True}
    async with chat_app.state.sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(Message)) == 0
        h = await s.scalar(select(Handoff))
    assert h is not None and h.anonymised and h.conversation_id is None
    r = await client.post(
        "/webhooks/rest/webhook", json={"sender": chat.sender, "message": "ciao"}, headers=chat.auth
    )
    assert r.status_code == 401
    # Deleting needs the header: a cookie alone (a cross-site request) is not enough.
    other: WebChat = await new_chat()
    client.cookies.set("bussola_chat", other.token)
    assert (await client.delete("/webhooks/rest/conversation")).status_code == 401
    client.cookies.clear()


async def test_database_down_is_a_503_with_a_kind_detail(
    new_chat: Callable[[], Any], client: httpx.AsyncClient, chat_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat: WebChat = await new_chat()

    async def broken(_inbound: Any) -> Any:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError())

    monkeypatch.setattr(chat_app.state.dialogue, "handle", broken)
    r = await client.post(
        "/webhooks/rest/webhook", json={"sender": chat.sender, "message": "ciao"}, headers=chat.auth
    )
    assert r.status_code == 503
    assert r.json() == {
        "error": "unavailable",
        "detail": "Il servizio non è disponibile in questo momento. Riprova tra poco.",
    }


async def test_empty_and_odd_messages_get_kind_answers_not_errors(new_chat: Callable[[], Any]) -> None:
    chat: WebChat = await new_chat()
    for message in ("", "   ", "😀", "\u0000", "<img src=x onerror=alert(1)>", "/non-esiste", "x" * 4000):
        replies = await chat.send(message)
        assert replies and all(r["text"] for r in replies)
        assert "<img" not in chat.text()


async def test_the_privacy_page(client: httpx.AsyncClient) -> None:
    r = await client.get("/privacy")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert '<html lang="it">' in r.text and "30 giorni" in r.text and "12 mesi" in r.text
    assert "<script" not in r.text


async def test_the_channel_is_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path in ("session", "webhook", "history", "stream", "conversation"):
        assert f"/webhooks/rest/{path}" in paths
    assert (await client.get("/webhooks/rest/")).json() == {"status": "ok"}
