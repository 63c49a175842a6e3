"""The web chat's server side: Rasa-REST-shaped endpoints, history, a push stream and erasure.

Shapes (see README "Web chat API" and bot/schemas/custom.schema.json):
- ``POST /webhooks/rest/session`` -> ``{"sender", "token"}`` (the token also set as an HttpOnly cookie
  for the stream, since EventSource cannot send headers).
- ``POST /webhooks/rest/webhook`` with ``Authorization: Bearer <token>`` and
  ``{"sender", "message", "message_id"?}`` -> ``[{"recipient_id", "text", "buttons"?, "custom"?,
  "message_id"}]``. A button's ``payload`` is sent back as the next ``message``. ``message_id`` (the
  client's) makes a retry safe: the same id returns the same replies, processed once.
- ``GET /webhooks/rest/history?after=<id>`` -> ``{"sender", "messages": [...]}``.
- ``GET /webhooks/rest/stream?after=<id>`` -> Server-Sent Events, one ``message`` event per stored
  message (``id:`` is the message id, so a reconnect resumes with ``Last-Event-ID``), keep-alive
  comments, a ``deleted`` event when the conversation is erased.
- ``DELETE /webhooks/rest/conversation`` -> erases the conversation (privacy).

Errors are JSON with an Italian ``detail`` and a machine ``error`` code.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DBAPIError, OperationalError

from bot import store
from bot.engine import MAX_TEXT, ConversationGone, DialogueEngine
from bot.types import Inbound, StoredMessage

log = logging.getLogger("bussola.webchat")

router = APIRouter(prefix="/webhooks/rest", tags=["web chat"])

COOKIE = "bussola_chat"
KEEPALIVE_SECONDS = 15.0
HISTORY_PAGE = 200
MAX_ID = 2_147_483_647  # message ids are 32-bit integers: a larger one must not reach the driver


# --- shapes ------------------------------------------------------------------------------------


class ButtonOut(BaseModel):
    title: str
    payload: str


class BotMessageOut(BaseModel):
    """One reply, in the shape of Rasa's REST channel, plus the stored message's id."""

    recipient_id: str
    text: str
    buttons: list[ButtonOut] | None = None
    custom: dict[str, Any] | None = None
    message_id: int = Field(description="id of the stored message (0 when nothing could be stored)")


class SessionOut(BaseModel):
    sender: str
    token: str


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    sender: str = Field(min_length=1, max_length=128)
    message: str = Field(description="the text written, or a button's payload")
    message_id: str | int | None = Field(default=None, description="the client's id, for safe retries")


class LogMessageOut(BaseModel):
    """A message of the transcript as history and the stream return it."""

    message_id: int
    direction: str
    author: str
    author_name: str | None = None
    kind: str
    text: str
    buttons: list[ButtonOut] = []
    custom: dict[str, Any] | None = None
    created_at: str


class HistoryOut(BaseModel):
    sender: str
    messages: list[LogMessageOut]


class ErrorOut(BaseModel):
    error: str
    detail: str


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "missing or wrong token"},
    403: {"model": ErrorOut, "description": "the token belongs to another sender"},
    422: {"model": ErrorOut, "description": "malformed request"},
    503: {"model": ErrorOut, "description": "temporarily unavailable"},
}


def _error(status: int, error: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status, headers=headers)


UNAUTHORIZED = (
    401,
    "unauthorized",
    "La sessione della chat non è valida o è scaduta. Ricarica la pagina per iniziarne una nuova.",
)
FORBIDDEN = (403, "forbidden", "Questa conversazione appartiene a un'altra sessione.")
UNAVAILABLE = (503, "unavailable", "Il servizio non è disponibile in questo momento. Riprova tra poco.")


def log_item(m: StoredMessage) -> dict[str, Any]:
    return {
        "message_id": m.id,
        "direction": m.direction,
        "author": m.author,
        "author_name": m.author_name,
        "kind": m.kind,
        "text": m.text,
        "buttons": [{"title": b.title, "payload": b.payload} for b in m.buttons],
        "custom": m.custom,
        "created_at": m.created_at,
    }


def reply_item(sender: str, m: StoredMessage) -> dict[str, Any]:
    item: dict[str, Any] = {"recipient_id": sender, "text": m.text}
    if m.buttons:
        item["buttons"] = [{"title": b.title, "payload": b.payload} for b in m.buttons]
    if m.custom:
        item["custom"] = m.custom
    item["message_id"] = m.id
    return item


# --- authentication ----------------------------------------------------------------------------


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


async def _session_of(request: Request, token: str | None) -> store.WebSession | None:
    if not token or len(token) > 256:
        return None
    async with request.app.state.sessionmaker() as session:
        return await store.web_session(session, token)


def _engine(request: Request) -> DialogueEngine:
    engine: DialogueEngine = request.app.state.dialogue
    return engine


async def _authorise(
    request: Request, token: str | None, sender: str | None
) -> store.WebSession | JSONResponse:
    try:
        conv = await _session_of(request, token)
    except (OperationalError, DBAPIError):
        return _error(*UNAVAILABLE)
    if conv is None:
        return _error(*UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})
    if sender is not None and sender != conv.sender:
        return _error(*FORBIDDEN)
    return conv


# --- endpoints ---------------------------------------------------------------------------------


@router.get("/", summary="Stato del canale (come il canale REST di Rasa)")
async def status() -> dict[str, str]:
    return {"status": "ok"}


@router.post("/session", response_model=SessionOut, responses={503: ERRORS[503]}, summary="Nuova sessione")
async def new_session(request: Request, response: Response) -> Any:
    """A new conversation: an opaque ``sender`` id and a secret ``token`` for the other endpoints."""
    token = store.new_token()
    sender = store.new_web_sender()
    try:
        await store.get_or_create(
            request.app.state.sessionmaker, "web", sender, token_hash=store.hash_token(token)
        )
    except (OperationalError, DBAPIError):
        return _error(*UNAVAILABLE)
    secure = request.url.scheme == "https"
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="lax", secure=secure, path="/webhooks/rest", max_age=30 * 86400
    )
    return {"sender": sender, "token": token}


@router.post(
    "/webhook",
    response_model=list[BotMessageOut],
    response_model_exclude_none=True,
    responses={**ERRORS, 413: {"model": ErrorOut, "description": "message too long"}},
    summary="Invia un messaggio e ricevi le risposte",
)
async def webhook(
    body: WebhookIn, request: Request, authorization: Annotated[str | None, Header()] = None
) -> Any:
    auth = await _authorise(request, _bearer(authorization), body.sender)
    if isinstance(auth, JSONResponse):
        return auth
    if len(body.message) > MAX_TEXT:
        return _error(
            413,
            "message_too_long",
            f"Il messaggio è troppo lungo: scrivimi in poche righe (al massimo {MAX_TEXT} caratteri).",
        )
    message_id = None if body.message_id is None else str(body.message_id)[:128]
    inbound = Inbound(
        channel="web", sender=auth.sender, kind="text", text=body.message, message_id=message_id
    )
    try:
        replies = await _engine(request).handle(inbound)
    except ConversationGone:
        return _error(*UNAUTHORIZED)
    except (OperationalError, DBAPIError) as exc:
        log.warning("database unavailable for a web message: %s", type(exc).__name__)
        return _error(*UNAVAILABLE)
    return [reply_item(auth.sender, m) for m in replies]


@router.get(
    "/history",
    response_model=HistoryOut,
    responses=ERRORS,
    summary="I messaggi della conversazione dopo un certo id",
)
async def history(
    request: Request,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = HISTORY_PAGE,
    sender: Annotated[str | None, Query(max_length=128)] = None,
    token: Annotated[str | None, Query(max_length=256)] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> Any:
    auth = await _authorise(request, _token(request, authorization, token), sender)
    if isinstance(auth, JSONResponse):
        return auth
    try:
        messages = await _engine(request).history(auth.id, after, limit)
    except (OperationalError, DBAPIError):
        return _error(*UNAVAILABLE)
    return {"sender": auth.sender, "messages": [log_item(m) for m in messages]}


def _token(request: Request, authorization: str | None, query_token: str | None) -> str | None:
    """Header first; EventSource cannot set one, so a query parameter or the session cookie also work."""
    return _bearer(authorization) or query_token or request.cookies.get(COOKIE)


@router.get(
    "/stream",
    responses={**ERRORS, 200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}},
    response_class=StreamingResponse,
    summary="Canale push (Server-Sent Events) dei nuovi messaggi",
)
async def stream(
    request: Request,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    sender: Annotated[str | None, Query(max_length=128)] = None,
    token: Annotated[str | None, Query(max_length=256)] = None,
    authorization: Annotated[str | None, Header()] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> Any:
    auth = await _authorise(request, _token(request, authorization, token), sender)
    if isinstance(auth, JSONResponse):
        return auth
    if last_event_id and last_event_id.strip().isdigit():
        after = max(after, min(int(last_event_id.strip()), MAX_ID))
    keepalive = float(getattr(request.app.state, "sse_keepalive", KEEPALIVE_SECONDS))
    return StreamingResponse(
        _events(request, auth.id, after, keepalive),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"},
    )


def _sse(m: StoredMessage) -> str:
    data = json.dumps(log_item(m), ensure_ascii=False, separators=(",", ":"))
    return f"id: {m.id}\nevent: message\ndata: {data}\n\n"


async def _events(request: Request, conversation_id: int, after: int, keepalive: float) -> AsyncIterator[str]:
    """Backlog after ``after``, then every new message; the database is read, events only wake us up."""
    engine = _engine(request)
    broker = request.app.state.broker
    last = after
    async with broker.subscribe(f"conv:{conversation_id}") as queue:
        yield "retry: 3000\n\n"
        while True:
            try:
                while True:
                    batch = await engine.history(conversation_id, last, HISTORY_PAGE)
                    for m in batch:
                        last = m.id
                        yield _sse(m)
                    if len(batch) < HISTORY_PAGE:
                        break
            except (OperationalError, DBAPIError):
                yield ": database non raggiungibile, riprovo\n\n"
            try:
                event = await asyncio.wait_for(queue.get(), timeout=keepalive)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            if event.get("type") == "deleted":
                yield "event: deleted\ndata: {}\n\n"
                return


@router.delete(
    "/conversation",
    responses=ERRORS,
    summary="Cancella la conversazione e i dati della sessione",
)
async def delete_conversation(
    request: Request,
    sender: Annotated[str | None, Query(max_length=128)] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> Any:
    """Erasure on request (GDPR): messages and state go; handoffs stay only anonymised."""
    auth = await _authorise(request, _bearer(authorization), sender)
    if isinstance(auth, JSONResponse):
        return auth
    try:
        await _engine(request).delete_conversation(auth.id)
    except (OperationalError, DBAPIError):
        return _error(*UNAVAILABLE)
    response = JSONResponse({"deleted": True})
    response.delete_cookie(COOKIE, path="/webhooks/rest")
    return response
