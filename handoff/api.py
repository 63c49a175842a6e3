"""The facilitators' JSON API (mounted under ``/api``, part of the app's OpenAPI document).

Authentication: ``POST /api/login`` sets the same HttpOnly session cookie as the console. Every
other call needs it (401 without). State-changing calls refuse cross-site requests and HTML-form
content types (403), or accept an ``X-CSRF-Token`` header with the token returned at login.
A facilitator reaches only their teams' cases (403 otherwise); an admin reaches all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select

from handoff import queue
from handoff.audit import audit
from handoff.models import OUTCOMES, Facilitator, Handoff, PrivateNote, Team
from handoff.security import (
    SESSION_COOKIE,
    SessionInfo,
    api_request_is_safe,
    authenticate,
    client_ip,
    cookie_options,
    destroy_session,
    normalise_username,
)
from handoff.service import full_history, waited_minutes
from handoff.web import current_session, iso, message_json, public_url, service_of

router = APIRouter(tags=["operatori"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Non hai effettuato l'accesso."},
    403: {"description": "Non puoi vedere o cambiare questo caso."},
    404: {"description": "Caso non trovato."},
    409: {"description": "Il caso è cambiato (per esempio, qualcun altro l'ha già preso)."},
    422: {"description": "Richiesta non valida."},
}


def _error(status: int, code: str, message: str) -> HTTPException:
    return HTTPException(status, detail={"error": code, "detail": message})


def _queue_error(exc: queue.QueueError) -> HTTPException:
    return _error(exc.status, exc.code, exc.message)


async def logged_in(request: Request) -> SessionInfo:
    info = await current_session(request)
    if info is None:
        raise _error(401, "unauthorized", "Accedi per continuare.")
    return info


async def logged_in_writer(request: Request, info: Annotated[SessionInfo, Depends(logged_in)]) -> SessionInfo:
    if not api_request_is_safe(request, info.csrf_token, public_url(request)):
        raise _error(403, "csrf", "Richiesta rifiutata: non arriva dalla console.")
    return info


MAX_ID = 2_147_483_647  # database integer columns: a larger id cannot exist (and must not reach the driver)
CaseId = Annotated[int, Path(ge=1, le=MAX_ID)]
RefId = Annotated[int, Field(ge=1, le=MAX_ID)]
Session = Annotated[SessionInfo, Depends(logged_in)]
Writer = Annotated[SessionInfo, Depends(logged_in_writer)]
Text = Annotated[str, StringConstraints(max_length=4000)]
Note = Annotated[str, StringConstraints(max_length=2000)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(Strict):
    username: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class Me(BaseModel):
    id: int
    username: str
    first_name: str
    role: Literal["facilitatore", "coordinatore", "admin"]
    team_ids: list[int]


class LoginOut(Me):
    csrf_token: str = Field(description="for the X-CSRF-Token header (optional for JSON requests)")


class HandoffOut(BaseModel):
    id: int
    status: Literal["waiting", "assigned", "closed"]
    priority: Literal["urgent", "high", "normal"]
    reason: str
    needs: list[str]
    comune_istat: str | None
    comune_name: str | None
    quartiere: str | None
    on_behalf: bool
    on_behalf_of: str | None
    volunteer_name: str | None = Field(description='shown as "tramite volontaria X"')
    summary: str
    channel: str
    team_id: int | None
    assigned_to: int | None
    created_at: datetime | None
    claimed_at: datetime | None
    closed_at: datetime | None
    outcome: str | None
    waited_minutes: int
    anonymised: bool


class MessageOut(BaseModel):
    id: int
    direction: str
    author: str
    author_name: str | None
    author_label: str
    kind: str
    text: str
    buttons: list[str]
    created_at: str


class NoteOut(BaseModel):
    id: int
    author_name: str
    kind: str
    text: str
    created_at: datetime | None


class HandoffDetail(HandoffOut):
    outcome_note: str | None
    suggested_services: list[dict[str, Any]]
    messages: list[MessageOut]
    notes: list[NoteOut] = Field(description="private: never shown to the citizen")


class MessageIn(Strict):
    text: Text
    client_id: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        None, description="one per message: a repeated request with the same id sends once"
    )


class MessageSent(BaseModel):
    message_id: int | None


class NoteIn(Strict):
    text: Note


class TransferIn(Strict):
    note: Note = Field(description="for whoever receives the case (private)")
    team_id: RefId | None = None
    facilitator_id: RefId | None = None
    team: Annotated[str, StringConstraints(max_length=80)] | None = Field(None, description="team name")
    username: Annotated[str, StringConstraints(max_length=64)] | None = None


class ReleaseIn(Strict):
    note: Note = ""


class CloseIn(Strict):
    outcome: str = Field(description="one of: " + ", ".join(OUTCOMES))
    note: Note = ""


class TeamOut(BaseModel):
    id: int
    name: str
    comuni: list[str]
    quartieri: list[str]
    is_default: bool


def handoff_out(h: Handoff) -> dict[str, Any]:
    return {
        "id": h.id,
        "status": h.status,
        "priority": h.priority,
        "reason": h.reason,
        "needs": list(h.needs or ()),
        "comune_istat": h.comune_istat,
        "comune_name": h.comune_name,
        "quartiere": h.quartiere,
        "on_behalf": h.on_behalf,
        "on_behalf_of": h.on_behalf_of,
        "volunteer_name": h.volunteer_name,
        "summary": h.summary,
        "channel": h.channel,
        "team_id": h.team_id,
        "assigned_to": h.assigned_to,
        "created_at": iso(h.created_at),
        "claimed_at": iso(h.claimed_at),
        "closed_at": iso(h.closed_at),
        "outcome": h.outcome,
        "waited_minutes": waited_minutes(h),
        "anonymised": h.anonymised,
    }


def _me(info: SessionInfo) -> dict[str, Any]:
    a = info.actor
    return {
        "id": a.id,
        "username": a.username,
        "first_name": a.first_name,
        "role": a.role,
        "team_ids": sorted(a.team_ids),
    }


@router.post(
    "/login",
    response_model=LoginOut,
    responses={401: {"description": "Credenziali errate."}, 429: {"description": "Troppi tentativi."}},
)
async def login(body: LoginIn, request: Request, response: Response) -> dict[str, Any]:
    """Open a session (HttpOnly cookie). Repeated failures lock the account for 15 minutes."""
    from handoff.security import same_origin

    if not same_origin(request, public_url(request)):
        raise _error(403, "csrf", "Richiesta rifiutata: non arriva dalla console.")
    result = await authenticate(
        request.app.state.sessionmaker, body.username, body.password, client_ip(request)
    )
    if result.status == "locked":
        raise HTTPException(
            429,
            detail={"error": "locked", "detail": "Troppi tentativi. Riprova tra 15 minuti."},
            headers={"Retry-After": "900"},
        )
    if result.status != "ok" or result.actor is None or result.token is None or result.csrf_token is None:
        raise _error(401, "bad_credentials", "Nome utente o password non corretti.")
    response.set_cookie(SESSION_COOKIE, result.token, **cookie_options(public_url(request)))  # type: ignore[arg-type]
    return {**_me(SessionInfo(result.actor, result.csrf_token)), "csrf_token": result.csrf_token}


@router.post("/logout", status_code=204, responses=ERRORS)
async def logout(request: Request, info: Writer) -> Response:
    await destroy_session(request.app.state.sessionmaker, request.cookies.get(SESSION_COOKIE))
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/me", response_model=Me, responses=ERRORS)
async def me(info: Session) -> dict[str, Any]:
    return _me(info)


@router.get("/handoffs", response_model=list[HandoffOut], responses=ERRORS)
async def list_handoffs(
    request: Request,
    info: Session,
    status: Literal["waiting", "assigned", "closed"] | None = None,
    mine: bool = False,
    team_id: Annotated[int, Query(ge=1, le=MAX_ID)] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> list[dict[str, Any]]:
    """The cases of your teams (all for an admin), waiting ones by priority then waiting time."""
    async with request.app.state.sessionmaker() as session:
        rows = await queue.list_cases(
            session, info.actor, status=status, mine=mine, team_id=team_id, limit=limit
        )
    return [handoff_out(h) for h in rows]


@router.post("/handoffs/next", response_model=HandoffOut | None, responses=ERRORS)
async def take_next(request: Request, info: Writer) -> dict[str, Any] | None:
    """Claim the first waiting case of your teams; ``null`` when the queue is empty."""
    h = await service_of(request).take_next(info.actor)
    return handoff_out(h) if h is not None else None


@router.get("/handoffs/{handoff_id}", response_model=HandoffDetail, responses=ERRORS)
async def get_handoff(handoff_id: CaseId, request: Request, info: Session) -> dict[str, Any]:
    """Summary, transcript and private notes of one case. The read is recorded in the audit log."""
    try:
        view = await service_of(request).view(info.actor, handoff_id)
    except queue.QueueError as exc:
        raise _queue_error(exc) from None
    h = view.handoff
    return {
        **handoff_out(h),
        "outcome_note": h.outcome_note,
        "suggested_services": list(h.suggested_services or ()),
        "messages": [message_json(m) for m in view.transcript],
        "notes": [_note_out(n) for n in view.notes],
    }


def _note_out(n: PrivateNote) -> dict[str, Any]:
    return {
        "id": n.id,
        "author_name": n.author_name,
        "kind": n.kind,
        "text": n.text,
        "created_at": iso(n.created_at),
    }


@router.get("/handoffs/{handoff_id}/messages", response_model=list[MessageOut], responses=ERRORS)
async def messages(
    handoff_id: CaseId, request: Request, info: Session, after_id: Annotated[int, Query(ge=0, le=MAX_ID)] = 0
) -> list[dict[str, Any]]:
    """The transcript after ``after_id`` (to poll instead of the live stream). Audited as a read."""
    async with request.app.state.sessionmaker() as session:
        try:
            h = await queue.get_visible(session, info.actor, handoff_id)
        except queue.QueueError as exc:
            raise _queue_error(exc) from None
        await audit(session, info.actor, "view", handoff_id=h.id, object_type="messages", object_id=after_id)
        await session.commit()
    if h.conversation_id is None:
        return []
    return [
        message_json(m) for m in await full_history(request.app.state.dialogue, h.conversation_id, after_id)
    ]


@router.post("/handoffs/{handoff_id}/claim", response_model=HandoffOut, responses=ERRORS)
async def claim(handoff_id: CaseId, request: Request, info: Writer) -> dict[str, Any]:
    """Take a waiting case: 200 to the one facilitator who gets it, 409 to everyone else."""
    try:
        h = await service_of(request).claim(info.actor, handoff_id)
    except queue.QueueError as exc:
        raise _queue_error(exc) from None
    return handoff_out(h)


@router.post("/handoffs/{handoff_id}/messages", response_model=MessageSent, status_code=201, responses=ERRORS)
async def send_message(handoff_id: CaseId, body: MessageIn, request: Request, info: Writer) -> dict[str, Any]:
    """Write to the person (only the facilitator holding the case). Delivered on their channel."""
    try:
        mid = await service_of(request).reply(info.actor, handoff_id, body.text, body.client_id)
    except queue.QueueError as exc:
        raise _queue_error(exc) from None
    return {"message_id": mid}


@router.post("/handoffs/{handoff_id}/notes", response_model=NoteOut, status_code=201, responses=ERRORS)
async def add_note(handoff_id: CaseId, body: NoteIn, request: Request, info: Writer) -> dict[str, Any]:
    """A private note for colleagues. It never reaches the person."""
    try:
        note = await service_of(request).add_note(info.actor, handoff_id, body.text)
    except queue.QueueError as exc:
        raise _queue_error(exc) from None
    return _note_out(note)


@router.post("/handoffs/{handoff_id}/transfer", response_model=HandoffOut, responses=ERRORS)
async def transfer(handoff_id: CaseId, body: TransferIn, request: Request, info: Writer) -> dict[str, Any]:
    """Pass the case to another team (by ``team_id`` or ``team`` name: it waits in that queue) or to a
    person (by ``facilitator_id`` or ``username``: it is theirs at once), with a note."""
    team_id, facilitator_id = body.team_id, body.facilitator_id
    async with request.app.state.sessionmaker() as session:
        if body.team is not None and team_id is None:
            team_id = await session.scalar(
                select(Team.id).where(Team.name == body.team.replace("\x00", "").strip())
            )
            if team_id is None:
                raise _error(422, "invalid_request", "Gruppo non trovato.")
        if body.username is not None and facilitator_id is None:
            facilitator_id = await session.scalar(
                select(Facilitator.id).where(Facilitator.username == normalise_username(body.username))
            )
            if facilitator_id is None:
                raise _error(422, "invalid_request", "Persona non trovata.")
    try:
        h = await service_of(request).transfer(
            info.actor, handoff_id, note=body.note, team_id=team_id, facilitator_id=facilitator_id
        )
    except queue.QueueError as exc:
        raise _queue_error(exc) from None
    return handoff_out(h)


@router.post("/handoffs/{handoff_id}/release", response_model=HandoffOut, responses=ERRORS)
async def release(
    handoff_id: CaseId, request: Request, info: Writer, body: ReleaseIn | None = None
) -> dict[str, Any]:
    """Give the case back to the queue; it keeps its place."""
    try:
        h = await service_of(request).release(info.actor, handoff_id, body.note if body else "")
    except queue.QueueError as exc:
        raise _queue_error(exc) from None
    return handoff_out(h)


@router.post("/handoffs/{handoff_id}/close", response_model=HandoffOut, responses=ERRORS)
async def close(handoff_id: CaseId, body: CloseIn, request: Request, info: Writer) -> dict[str, Any]:
    """Close with an outcome code and a note; the bot then asks the person whether they were helped."""
    try:
        h = await service_of(request).close(info.actor, handoff_id, body.outcome, body.note)
    except queue.QueueError as exc:
        raise _queue_error(exc) from None
    return handoff_out(h)


@router.get("/teams", response_model=list[TeamOut], responses=ERRORS)
async def teams(request: Request, info: Session) -> list[dict[str, Any]]:
    """Every team (a case may be transferred to any of them)."""
    async with request.app.state.sessionmaker() as session:
        rows = (await session.scalars(select(Team).order_by(Team.name))).all()
    return [
        {"id": t.id, "name": t.name, "comuni": t.comuni, "quartieri": t.quartieri, "is_default": t.is_default}
        for t in rows
    ]


@router.get("/outcomes", responses=ERRORS)
async def outcomes(info: Session) -> dict[str, str]:
    """Outcome codes for closing a case, with their Italian labels."""
    return dict(OUTCOMES)
