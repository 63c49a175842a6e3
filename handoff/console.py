"""The facilitators' console: server-rendered pages in Italian (mounted under ``/console``).

Citizen text is only ever rendered by Jinja2 with autoescape, or put in the page by the static
scripts with ``textContent``: it stays inert. No inline script or style (a strict CSP is sent with
every page), nothing loaded from the internet; live updates come over Server-Sent Events.
Every form carries the session's CSRF token; pages need a login (argon2 hashes, lockout).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from functools import lru_cache
from hashlib import sha256
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.retention import export_person
from bot.texts import NEED_LABELS, REASON_LABELS
from handoff import catalog as upkeep
from handoff import dashboard, queue
from handoff.audit import ACTION_LABELS, audit
from handoff.models import (
    OUTCOME_LABELS,
    OUTCOMES,
    AuditLog,
    CannedReply,
    Facilitator,
    Handoff,
    Team,
    TeamMembership,
)
from handoff.security import (
    SESSION_COOKIE,
    SessionInfo,
    as_utc,
    authenticate,
    client_ip,
    cookie_options,
    destroy_session,
    load_session,
    same_origin,
    tokens_match,
    touch_presence,
)
from handoff.service import full_history, waited_minutes
from handoff.web import author_label, current_session, message_json, public_url, service_of

log = logging.getLogger("bussola.console")

router = APIRouter(include_in_schema=False)
CaseId = Annotated[int, PathParam(ge=1, le=2_147_483_647)]  # larger ids cannot exist in the database

HERE = Path(__file__).parent
STATIC = HERE / "static"
ROME = ZoneInfo("Europe/Rome")
LOGIN_CSRF_COOKIE = "bussola_login_csrf"
HEARTBEAT = 15.0
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; media-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
PRIORITY_LABELS = {"urgent": "Urgente", "high": "Alta", "normal": "Normale"}
STATUS_LABELS = {"waiting": "In attesa", "assigned": "In carico", "closed": "Chiuso"}
CHANNEL_LABELS = {"web": "Chat sul sito", "telegram": "Telegram"}
FLASH = {
    "preso": "Hai preso in carico il caso.",
    "inviato": "Messaggio inviato.",
    "nota": "Nota privata salvata.",
    "trasferito": "Caso trasferito.",
    "rilasciato": "Caso rimesso in coda.",
    "chiuso": "Caso chiuso. Il bot chiede alla persona se è stata aiutata.",
    "vuota": "Non ci sono casi in attesa nei tuoi gruppi.",
    "salvato": "Scheda salvata: il bot usa già le nuove informazioni.",
    "risposta": "Risposta pronta salvata.",
    "eliminata": "Risposta pronta eliminata.",
    "uscito": "Sei uscito dalla console.",
}


# --- rendering ---------------------------------------------------------------------------------


def _fmt_time(value: Any) -> str:
    dt = as_utc(value) if not isinstance(value, str) else _parse_iso(value)
    return dt.astimezone(ROME).strftime("%d/%m %H:%M") if dt else ""


def _parse_iso(value: str) -> Any:
    from datetime import datetime

    try:
        return as_utc(datetime.fromisoformat(value))
    except ValueError:
        return None


def _fmt_minutes(minutes: int | float | None) -> str:
    if minutes is None:
        return "—"
    m = int(minutes)
    if m < 1:
        return "meno di un minuto"
    if m < 60:
        return f"{m} min"
    h, rest = divmod(m, 60)
    if h < 48:
        return f"{h} h {rest} min" if rest else f"{h} h"
    return f"{h // 24} giorni"


@lru_cache(maxsize=1)
def _static_version() -> str:
    digest = sha256()
    for path in sorted(STATIC.glob("*")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


@lru_cache(maxsize=1)
def templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["ora"] = _fmt_time
    env.filters["durata"] = _fmt_minutes
    env.filters["num"] = lambda v: "—" if v is None else f"{v:.0f}"
    env.globals.update(
        NEED_LABELS=NEED_LABELS,
        REASON_LABELS=REASON_LABELS,
        OUTCOMES=OUTCOMES,
        OUTCOME_LABELS=OUTCOME_LABELS,
        PRIORITY_LABELS=PRIORITY_LABELS,
        STATUS_LABELS=STATUS_LABELS,
        CHANNEL_LABELS=CHANNEL_LABELS,
        ACTION_LABELS=ACTION_LABELS,
    )
    return env


def _headers(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": CSP,
        "Cache-Control": "no-store",
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }
    headers.update(extra or {})
    return headers


def render(
    request: Request,
    name: str,
    info: SessionInfo | None = None,
    *,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    def url(route: str, **params: Any) -> str:
        return str(request.app.url_path_for(route, **{k: str(v) for k, v in params.items()}))

    def static(file: str) -> str:
        return f"{url('console_static', name=file)}?v={_static_version()}"

    flash = FLASH.get(request.query_params.get("ok", ""))
    html = (
        templates()
        .get_template(name)
        .render(
            request=request,
            actor=info.actor if info else None,
            csrf_token=info.csrf_token if info else "",
            url=url,
            static=static,
            flash=flash,
            **context,
        )
    )
    return HTMLResponse(html, status_code=status, headers=_headers())


def _redirect(request: Request, route: str, *, ok: str | None = None, **params: Any) -> RedirectResponse:
    target = str(request.app.url_path_for(route, **{k: str(v) for k, v in params.items()}))
    if ok:
        target += f"?ok={ok}"
    return RedirectResponse(target, status_code=303, headers=_headers())


def _error_page(
    request: Request, info: SessionInfo | None, status: int, message: str, back: str | None = None
):  # type: ignore[no-untyped-def]
    return render(request, "error.html", info, status=status, message=message, back=back)


async def _session(request: Request) -> SessionInfo | None:
    return await current_session(request)


def _to_login(request: Request) -> RedirectResponse:
    return _redirect(request, "console_login_form")


async def _guard_post(request: Request) -> tuple[SessionInfo | None, Any, Response | None]:
    """Logged in, same site, right CSRF token: else the response to send instead."""
    info = await _session(request)
    if info is None:
        return None, None, _to_login(request)
    form = await request.form()
    token = form.get("csrf_token")
    if not same_origin(request, public_url(request)) or not tokens_match(
        info.csrf_token, token if isinstance(token, str) else None
    ):
        return (
            info,
            form,
            _error_page(request, info, 403, "Modulo scaduto o non valido: ricarica la pagina e riprova."),
        )
    return info, form, None


def _field(form: Any, name: str, limit: int = 4000) -> str:
    """A form field as text: NUL bytes (which PostgreSQL refuses) dropped, at most ``limit`` + 1 chars."""
    value = form.get(name) if form is not None else None
    return value.replace("\x00", "")[: limit + 1] if isinstance(value, str) else ""


def small_int(raw: str | None) -> int | None:
    """A non-negative id or count typed by someone: ASCII digits only, and small enough for the database."""
    raw = (raw or "").strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 9 else None


def _int_field(form: Any, name: str) -> int | None:
    return small_int(_field(form, name, 20))


# --- static files ------------------------------------------------------------------------------


@router.get("/static/{name}", name="console_static")
async def static_file(name: str) -> Response:
    """The console's own CSS and scripts (a fixed list: no path is ever built from the request)."""
    files = {p.name: p for p in STATIC.iterdir() if p.suffix in STATIC_TYPES}
    path = files.get(name)
    if path is None:
        return Response("Non trovato", status_code=404, media_type="text/plain")
    return Response(
        path.read_bytes(),
        media_type=STATIC_TYPES[path.suffix],
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


# --- login -------------------------------------------------------------------------------------


@router.get("/login", name="console_login_form")
async def login_form(request: Request) -> Response:
    if await _session(request) is not None:
        return _redirect(request, "console_queue")
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", None, login_csrf=token, error=None)
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        path="/",
        max_age=3600,
        secure=public_url(request).startswith("https://"),
    )
    return response


@router.post("/login", name="console_login")
async def login(request: Request) -> Response:
    form = await request.form()
    expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    given = form.get("csrf_token")
    if not same_origin(request, public_url(request)) or not tokens_match(
        expected, given if isinstance(given, str) else None
    ):
        return _error_page(request, None, 403, "Modulo scaduto: ricarica la pagina di accesso e riprova.")
    username, password = _field(form, "username", 64), _field(form, "password", 1024)
    result = await authenticate(request.app.state.sessionmaker, username, password, client_ip(request))
    if result.status != "ok" or result.token is None:
        error = (
            "Troppi tentativi non riusciti. Riprova tra 15 minuti."
            if result.status == "locked"
            else "Nome utente o password non corretti."
        )
        token = secrets.token_urlsafe(24)
        page = render(
            request,
            "login.html",
            None,
            status=429 if result.status == "locked" else 401,
            login_csrf=token,
            error=error,
            username=username[:64],
        )
        page.set_cookie(
            LOGIN_CSRF_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            path="/",
            max_age=3600,
            secure=public_url(request).startswith("https://"),
        )
        return page
    response = _redirect(request, "console_queue")
    response.set_cookie(SESSION_COOKIE, result.token, **cookie_options(public_url(request)))  # type: ignore[arg-type]
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout", name="console_logout")
async def logout(request: Request) -> Response:
    info, _form, refused = await _guard_post(request)
    if refused is not None:
        return refused
    await destroy_session(request.app.state.sessionmaker, request.cookies.get(SESSION_COOKIE))
    async with request.app.state.sessionmaker() as session:
        await audit(session, info.actor if info else None, "logout")
        await session.commit()
    response = _redirect(request, "console_login_form", ok="uscito")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# --- queue and lists ---------------------------------------------------------------------------


async def _names(session: AsyncSession) -> tuple[dict[int, str], dict[int, str]]:
    teams = {t.id: t.name for t in (await session.scalars(select(Team))).all()}
    people = {f.id: f.first_name for f in (await session.scalars(select(Facilitator))).all()}
    return teams, people


def _row(h: Handoff) -> dict[str, Any]:
    return {"h": h, "waited": waited_minutes(h)}


async def _queue_context(request: Request, info: SessionInfo) -> dict[str, Any]:
    async with request.app.state.sessionmaker() as session:
        waiting = await queue.list_cases(session, info.actor, status="waiting")
        assigned = await queue.list_cases(session, info.actor, status="assigned")
        teams, people = await _names(session)
    return {
        "waiting": [_row(h) for h in waiting],
        "assigned": [_row(h) for h in assigned],
        "team_names": teams,
        "people": people,
        "urgent_waiting": sum(1 for h in waiting if h.priority == "urgent"),
    }


@router.get("/", name="console_queue")
async def queue_page(request: Request) -> Response:
    info = await _session(request)
    if info is None:
        return _to_login(request)
    return render(request, "queue.html", info, page="coda", **await _queue_context(request, info))


@router.get("/coda/righe", name="console_queue_rows")
async def queue_rows(request: Request) -> Response:
    """The queue tables alone, for the live refresh."""
    info = await _session(request)
    if info is None:
        return Response(status_code=401, headers=_headers())
    return render(request, "_queue_tables.html", info, **await _queue_context(request, info))


@router.get("/miei", name="console_mine")
async def mine(request: Request) -> Response:
    info = await _session(request)
    if info is None:
        return _to_login(request)
    async with request.app.state.sessionmaker() as session:
        open_cases = await queue.list_cases(session, info.actor, status="assigned", mine=True)
        closed = await queue.list_cases(session, info.actor, status="closed", mine=False, limit=500)
        teams, people = await _names(session)
    closed_mine = [h for h in closed if h.closed_by == info.actor.id or h.assigned_to == info.actor.id][:30]
    return render(
        request,
        "mine.html",
        info,
        page="miei",
        open_cases=[_row(h) for h in open_cases],
        closed=[_row(h) for h in closed_mine],
        team_names=teams,
        people=people,
    )


@router.get("/chiusi", name="console_closed")
async def closed_cases(request: Request) -> Response:
    info = await _session(request)
    if info is None:
        return _to_login(request)
    async with request.app.state.sessionmaker() as session:
        rows = await queue.list_cases(session, info.actor, status="closed", limit=100)
        teams, people = await _names(session)
    return render(
        request,
        "closed.html",
        info,
        page="chiusi",
        closed=[_row(h) for h in rows],
        team_names=teams,
        people=people,
    )


@router.post("/prossimo", name="console_take_next")
async def take_next(request: Request) -> Response:
    info, _form, refused = await _guard_post(request)
    if refused is not None or info is None:
        return refused or _to_login(request)
    h = await service_of(request).take_next(info.actor)
    if h is None:
        return _redirect(request, "console_queue", ok="vuota")
    return _redirect(request, "console_case", ok="preso", handoff_id=h.id)


# --- one case ----------------------------------------------------------------------------------


async def _case_extras(session: AsyncSession, info: SessionInfo, h: Handoff) -> dict[str, Any]:
    teams = (await session.scalars(select(Team).order_by(Team.name))).all()
    colleagues = (
        await session.scalars(
            select(Facilitator)
            .where(Facilitator.active.is_(True), Facilitator.id != info.actor.id)
            .order_by(Facilitator.first_name)
        )
    ).all()
    memberships = (await session.execute(select(TeamMembership.facilitator_id, TeamMembership.team_id))).all()
    team_of: dict[int, list[int]] = {}
    for fid, tid in memberships:
        team_of.setdefault(fid, []).append(tid)
    team_names = {t.id: t.name for t in teams}
    people = [
        {
            "id": f.id,
            "name": f.first_name,
            "teams": ", ".join(team_names.get(t, "") for t in team_of.get(f.id, [])),
        }
        for f in colleagues
        if f.role == "admin" or team_of.get(f.id)
    ]
    canned = (
        await session.scalars(
            select(CannedReply)
            .where(or_(CannedReply.team_id.is_(None), CannedReply.team_id.in_(sorted(info.actor.team_ids))))
            .order_by(CannedReply.title)
        )
    ).all()
    return {"teams": teams, "colleagues": people, "canned": canned}


@router.get("/casi/{handoff_id}", name="console_case")
async def case_page(handoff_id: CaseId, request: Request) -> Response:
    info = await _session(request)
    if info is None:
        return _to_login(request)
    try:
        view = await service_of(request).view(info.actor, handoff_id)
    except queue.QueueError as exc:
        return _error_page(request, info, exc.status, exc.message)
    h = view.handoff
    async with request.app.state.sessionmaker() as session:
        extras = await _case_extras(session, info, h)
    prefill = ""
    chosen = request.query_params.get("risposta", "")
    if (chosen_id := small_int(chosen)) is not None:
        prefill = next((c.text for c in extras["canned"] if c.id == chosen_id), "")
    last_id = view.transcript[-1].id if view.transcript else 0
    neighbour = await _neighbour_target(request, h)
    return render(
        request,
        "case.html",
        info,
        page="caso",
        h=h,
        view=view,
        transcript=[(m, author_label(m)) for m in view.transcript],
        last_id=last_id,
        waited=waited_minutes(h),
        mine=h.status == "assigned" and h.assigned_to == info.actor.id,
        can_manage=queue.can_manage(info.actor, h),
        client_key=uuid.uuid4().hex,
        prefill=prefill,
        neighbour=neighbour,
        **extras,
    )


async def _neighbour_target(request: Request, h: Handoff) -> Any:
    """For a volunteer's case: the neighbour herself, when she linked her own Telegram chat."""
    if h.volunteer_id is None:
        return None
    try:
        from handoff.volunteers import reply_targets
    except ImportError:  # pragma: no cover - the volunteers' package is optional
        return None
    async with request.app.state.sessionmaker() as session:
        targets = await reply_targets(session, h.id)
    return next((t for t in targets if t.is_neighbour), None)


async def _case_action(request: Request, handoff_id: int, action: str) -> Response:
    info, form, refused = await _guard_post(request)
    if refused is not None or info is None:
        return refused or _to_login(request)
    service = service_of(request)
    try:
        if action == "claim":
            await service.claim(info.actor, handoff_id)
            ok = "preso"
        elif action == "reply":
            await service.reply(
                info.actor, handoff_id, _field(form, "text"), _field(form, "client_key", 64) or None
            )
            ok = "inviato"
        elif action == "neighbour":
            from handoff.volunteers import reply_to_neighbour

            await reply_to_neighbour(
                request.app.state.sessionmaker,
                request.app.state.dialogue,
                info.actor,
                handoff_id,
                _field(form, "text"),
            )
            async with request.app.state.sessionmaker() as session:
                await audit(session, info.actor, "reply", handoff_id=handoff_id, object_type="neighbour")
                await session.commit()
            ok = "inviato"
        elif action == "note":
            await service.add_note(info.actor, handoff_id, _field(form, "text", 2000))
            ok = "nota"
        elif action == "transfer":
            target = _field(form, "target", 40)
            kind, _, raw = target.partition(":")
            target_id = small_int(raw)
            await service.transfer(
                info.actor,
                handoff_id,
                note=_field(form, "note", 2000),
                team_id=target_id if kind == "team" else None,
                facilitator_id=target_id if kind == "person" else None,
            )
            ok = "trasferito"
        elif action == "release":
            await service.release(info.actor, handoff_id, _field(form, "note", 2000))
            ok = "rilasciato"
        else:
            await service.close(
                info.actor, handoff_id, _field(form, "outcome", 32), _field(form, "note", 2000)
            )
            ok = "chiuso"
    except queue.QueueError as exc:
        back = str(request.app.url_path_for("console_case", handoff_id=str(handoff_id)))
        return _error_page(request, info, exc.status, exc.message, back=back)
    except Exception as exc:  # noqa: BLE001 - e.g. the channel is down: say so, never a trace
        log.warning("console action %s on handoff %s failed: %s", action, handoff_id, type(exc).__name__)
        back = str(request.app.url_path_for("console_case", handoff_id=str(handoff_id)))
        return _error_page(
            request, info, 503, "Non è stato possibile completare l'operazione. Riprova.", back=back
        )
    return _redirect(request, "console_case", ok=ok, handoff_id=handoff_id)


@router.post("/casi/{handoff_id}/prendi", name="console_claim")
async def claim(handoff_id: CaseId, request: Request) -> Response:
    return await _case_action(request, handoff_id, "claim")


@router.post("/casi/{handoff_id}/rispondi", name="console_reply")
async def reply(handoff_id: CaseId, request: Request) -> Response:
    return await _case_action(request, handoff_id, "reply")


@router.post("/casi/{handoff_id}/rispondi-vicina", name="console_reply_neighbour")
async def reply_neighbour(handoff_id: CaseId, request: Request) -> Response:
    return await _case_action(request, handoff_id, "neighbour")


@router.post("/casi/{handoff_id}/nota", name="console_note")
async def note(handoff_id: CaseId, request: Request) -> Response:
    return await _case_action(request, handoff_id, "note")


@router.post("/casi/{handoff_id}/trasferisci", name="console_transfer")
async def transfer(handoff_id: CaseId, request: Request) -> Response:
    return await _case_action(request, handoff_id, "transfer")


@router.post("/casi/{handoff_id}/rilascia", name="console_release")
async def release(handoff_id: CaseId, request: Request) -> Response:
    return await _case_action(request, handoff_id, "release")


@router.post("/casi/{handoff_id}/chiudi", name="console_close")
async def close(handoff_id: CaseId, request: Request) -> Response:
    return await _case_action(request, handoff_id, "close")


# --- live updates (Server-Sent Events) ---------------------------------------------------------


def sse(event: str, data: Mapping[str, Any], event_id: int | None = None) -> str:
    lines = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append(f"event: {event}")
    lines.append("data: " + json.dumps(data, ensure_ascii=False))
    return "\n".join(lines) + "\n\n"


async def _next_events(queues: list[asyncio.Queue[dict[str, Any]]], wait: float) -> list[dict[str, Any]]:
    """The events waiting in any of ``queues`` (at least one), or [] after ``wait`` seconds.

    Every getter that completed is returned: none is dropped. A getter still pending is cancelled,
    which leaves its item (if any arrived meanwhile) in the queue for the next call.
    """
    ready = [e for q in queues for e in _drain(q)]
    if ready:
        return ready
    getters = [asyncio.ensure_future(q.get()) for q in queues]
    try:
        done, _pending = await asyncio.wait(getters, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for g in getters:
            if not g.done():
                g.cancel()
    return [g.result() for g in getters if g in done and not g.cancelled()]


def _drain(q: asyncio.Queue[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    while not q.empty():
        out.append(q.get_nowait())
    return out


class _Presence:
    """Re-checks the session and marks the facilitator present, at most once a minute."""

    def __init__(self, request: Request, info: SessionInfo) -> None:
        self.request, self.info = request, info
        self.last = time.monotonic()

    async def still_valid(self) -> bool:
        if time.monotonic() - self.last < 60:
            return True
        self.last = time.monotonic()
        state = self.request.app.state
        if await load_session(state.sessionmaker, self.request.cookies.get(SESSION_COOKIE)) is None:
            return False
        await touch_presence(state.sessionmaker, self.info.actor.id)
        return True


async def case_stream(
    request: Request, info: SessionInfo, handoff_id: int, conversation_id: int, after_id: int
) -> AsyncIterator[str]:
    """New transcript lines, in order, each once (ids, resumable with Last-Event-ID), and case changes.

    Subscribes first, then catches up from the log: a message stored in between is not lost, and
    reading from the last id sent means nothing is repeated. Every wake-up (event or heartbeat)
    re-reads the log, so an event dropped between processes only delays a line by a heartbeat.
    """
    state = request.app.state
    presence = _Presence(request, info)
    last = after_id
    async with (
        state.broker.subscribe(f"conv:{conversation_id}") as conv_q,
        state.broker.subscribe(f"handoff:{handoff_id}") as case_q,
    ):
        yield "retry: 3000\n\n"
        while True:
            for m in await full_history(state.dialogue, conversation_id, last):
                last = m.id
                yield sse("message", message_json(m), event_id=m.id)
            events = await _next_events([conv_q, case_q], HEARTBEAT)
            if not events:
                if not await presence.still_valid():
                    yield sse("logout", {})
                    return
                yield ": ping\n\n"
                continue
            for ev in events + _drain(conv_q) + _drain(case_q):  # one log read for a burst of events
                if ev.get("type") == "deleted":
                    yield sse("status", {"type": "deleted"})
                elif "handoff_id" in ev and ev.get("type") != "message":
                    yield sse("status", {"type": ev.get("type"), "status": ev.get("status")})


@router.get("/casi/{handoff_id}/esporta", name="console_case_export")
async def case_export(handoff_id: CaseId, request: Request) -> Response:
    """A person's data as a JSON download (GDPR access request): admins only, and audited."""
    info = await _session(request)
    if info is None:
        return _to_login(request)
    if not info.actor.is_admin:
        return _error_page(request, info, 403, "Solo un amministratore può esportare i dati di una persona.")
    async with request.app.state.sessionmaker() as session:
        h = await session.get(Handoff, handoff_id)
        if h is None:
            return _error_page(request, info, 404, "Questo caso non esiste.")
        data = await export_person(session, h.conversation_id) if h.conversation_id is not None else None
        if data is None:
            back = str(request.app.url_path_for("console_case", handoff_id=str(handoff_id)))
            erased = "La persona ha cancellato i suoi dati: non c'è nulla da esportare."
            return _error_page(request, info, 410, erased, back=back)
        conv_id = h.conversation_id
        await audit(
            session, info.actor, "export", handoff_id=h.id, object_type="conversation", object_id=conv_id
        )
        await session.commit()
    body = json.dumps(data, ensure_ascii=False, indent=2)
    filename = f"bussola-dati-caso-{handoff_id}.json"
    return Response(
        body,
        media_type="application/json",
        headers=_headers({"Content-Disposition": f'attachment; filename="{filename}"'}),
    )


@router.get("/casi/{handoff_id}/eventi", name="console_case_events")
async def case_events(handoff_id: CaseId, request: Request) -> Response:
    info = await _session(request)
    if info is None:
        return Response(status_code=401, headers=_headers())
    async with request.app.state.sessionmaker() as session:
        try:
            h = await queue.get_visible(session, info.actor, handoff_id)
        except queue.QueueError as exc:
            return Response(status_code=exc.status, headers=_headers())
        raw = request.headers.get("last-event-id") or request.query_params.get("dopo", "0")
        after = small_int(raw) or 0
        if h.conversation_id is not None:  # reading the transcript live is a read of the case
            await audit(session, info.actor, "view", handoff_id=h.id, object_type="stream", object_id=after)
            await session.commit()
    if h.conversation_id is None:
        return Response(status_code=204, headers=_headers())
    return StreamingResponse(
        case_stream(request, info, handoff_id, h.conversation_id, after),
        media_type="text/event-stream",
        headers=_headers({"X-Accel-Buffering": "no"}),
    )


async def _queue_event_for(
    request: Request, info: SessionInfo, event: Mapping[str, Any]
) -> dict[str, Any] | None:
    hid = event.get("handoff_id")
    if not isinstance(hid, int):
        return None
    async with request.app.state.sessionmaker() as session:
        h = await session.get(Handoff, hid)
    if h is None or not info.actor.can_see_team(h.team_id):
        return None
    kind = str(event.get("type", ""))
    alert = (
        h.status == "waiting"
        and h.priority == "urgent"
        and kind in ("handoff_created", "handoff_updated", "handoff_released", "handoff_transferred")
    )
    return {"type": kind, "handoff_id": h.id, "status": h.status, "urgent": alert}


async def queue_stream(request: Request, info: SessionInfo) -> AsyncIterator[str]:
    """A "the queue changed" nudge for every visible change; the page then reloads its tables."""
    presence = _Presence(request, info)
    await touch_presence(request.app.state.sessionmaker, info.actor.id)
    async with request.app.state.broker.subscribe("queue") as q:
        yield "retry: 3000\n\n"
        while True:
            events = await _next_events([q], HEARTBEAT)
            if not events:
                if not await presence.still_valid():
                    yield sse("logout", {})
                    return
                yield ": ping\n\n"
                continue
            for event in events:
                payload = await _queue_event_for(request, info, event)
                if payload is not None:
                    yield sse("queue", payload)


@router.get("/eventi", name="console_queue_events")
async def queue_events(request: Request) -> Response:
    info = await _session(request)
    if info is None:
        return Response(status_code=401, headers=_headers())
    return StreamingResponse(
        queue_stream(request, info),
        media_type="text/event-stream",
        headers=_headers({"X-Accel-Buffering": "no"}),
    )


# --- canned replies ----------------------------------------------------------------------------


@router.get("/risposte", name="console_canned")
async def canned_page(request: Request) -> Response:
    info = await _session(request)
    if info is None:
        return _to_login(request)
    async with request.app.state.sessionmaker() as session:
        stmt = select(CannedReply).order_by(CannedReply.title)
        if not info.actor.is_admin:
            stmt = stmt.where(
                or_(CannedReply.team_id.is_(None), CannedReply.team_id.in_(sorted(info.actor.team_ids)))
            )
        rows = (await session.scalars(stmt)).all()
        teams = (await session.scalars(select(Team).order_by(Team.name))).all()
    mine = [t for t in teams if info.actor.can_see_team(t.id)]
    return render(
        request,
        "canned.html",
        info,
        page="risposte",
        replies=rows,
        teams=mine,
        team_names={t.id: t.name for t in teams},
    )


@router.post("/risposte", name="console_canned_add")
async def canned_add(request: Request) -> Response:
    info, form, refused = await _guard_post(request)
    if refused is not None or info is None:
        return refused or _to_login(request)
    if not info.actor.is_coordinator:
        return _error_page(request, info, 403, "Solo i coordinatori possono scrivere risposte pronte.")
    title, text = _field(form, "title", 80).strip(), _field(form, "text", 2000).strip()
    team_id = _int_field(form, "team_id")
    if not title or not text or len(title) > 80 or len(text) > 2000:
        return _error_page(
            request,
            info,
            422,
            "Scrivi un titolo (fino a 80 caratteri) e un testo (fino a 2000).",
            back=str(request.app.url_path_for("console_canned")),
        )
    if team_id is not None and not info.actor.can_see_team(team_id):
        return _error_page(request, info, 403, "Puoi scrivere risposte pronte solo per i tuoi gruppi.")
    if team_id is None and not info.actor.is_admin:
        return _error_page(
            request, info, 403, "Solo un amministratore può scrivere risposte per tutti i gruppi."
        )
    async with request.app.state.sessionmaker() as session:
        reply_row = CannedReply(team_id=team_id, title=title, text=text, created_by=info.actor.id)
        session.add(reply_row)
        await session.flush()
        await audit(session, info.actor, "canned_add", object_type="canned_reply", object_id=reply_row.id)
        await session.commit()
    return _redirect(request, "console_canned", ok="risposta")


@router.post("/risposte/{reply_id}/elimina", name="console_canned_delete")
async def canned_delete(reply_id: CaseId, request: Request) -> Response:
    info, _form, refused = await _guard_post(request)
    if refused is not None or info is None:
        return refused or _to_login(request)
    async with request.app.state.sessionmaker() as session:
        row = await session.get(CannedReply, reply_id)
        if row is None:
            return _error_page(request, info, 404, "Risposta non trovata.")
        allowed = info.actor.is_admin or (info.actor.is_coordinator and info.actor.can_see_team(row.team_id))
        if not allowed:
            return _error_page(request, info, 403, "Non puoi eliminare questa risposta pronta.")
        await session.delete(row)
        await audit(session, info.actor, "canned_delete", object_type="canned_reply", object_id=reply_id)
        await session.commit()
    return _redirect(request, "console_canned", ok="eliminata")


# --- catalogue upkeep --------------------------------------------------------------------------


@router.get("/catalogo", name="console_catalog")
async def catalog_page(request: Request) -> Response:
    info = await _session(request)
    if info is None:
        return _to_login(request)
    store = getattr(request.app.state, "catalog_store", None)
    if store is None:
        return _error_page(
            request,
            info,
            503,
            "Il catalogo dei servizi non si può modificare da qui (è gestito da un server esterno).",
        )
    async with request.app.state.sessionmaker() as session:
        orgs = await upkeep.editable_organizations(session, info.actor)
    services = upkeep.services_of(store, orgs, everything=info.actor.is_admin)
    return render(request, "catalog.html", info, page="catalogo", services=services, has_orgs=bool(orgs))


@router.get("/catalogo/{service_id}", name="console_catalog_edit")
async def catalog_edit(service_id: str, request: Request) -> Response:
    info = await _session(request)
    if info is None:
        return _to_login(request)
    store = getattr(request.app.state, "catalog_store", None)
    record = store.service(service_id) if store is not None else None
    if record is None:
        return _error_page(request, info, 404, "Servizio non trovato.")
    async with request.app.state.sessionmaker() as session:
        if not await upkeep.may_edit(session, info.actor, record):
            return _error_page(request, info, 403, "Questo servizio è di un'organizzazione che non segui.")
    return render(
        request,
        "catalog_edit.html",
        info,
        page="catalogo",
        record=record,
        form=upkeep.form_values(record),
        errors=[],
    )


@router.post("/catalogo/{service_id}", name="console_catalog_save")
async def catalog_save(service_id: str, request: Request) -> Response:
    info, form, refused = await _guard_post(request)
    if refused is not None or info is None:
        return refused or _to_login(request)
    store = getattr(request.app.state, "catalog_store", None)
    record = store.service(service_id) if store is not None else None
    if record is None:
        return _error_page(request, info, 404, "Servizio non trovato.")
    values = {name: _field(form, name, 4000) for name in upkeep.FIELDS}
    try:
        await upkeep.save(request.app.state, info.actor, record, values)
    except upkeep.NotAllowed:
        return _error_page(request, info, 403, "Questo servizio è di un'organizzazione che non segui.")
    except upkeep.Rejected as exc:
        return render(
            request,
            "catalog_edit.html",
            info,
            status=422,
            page="catalogo",
            record=record,
            form=values,
            errors=exc.errors,
        )
    return _redirect(request, "console_catalog_edit", ok="salvato", service_id=service_id)


# --- coordinators: dashboard and audit log -----------------------------------------------------


@router.get("/cruscotto", name="console_dashboard")
async def dashboard_page(request: Request) -> Response:
    info = await _session(request)
    if info is None:
        return _to_login(request)
    if not info.actor.is_coordinator:
        return _error_page(request, info, 403, "Il cruscotto è per coordinatori e amministratori.")
    raw = request.query_params.get("settimane", "12")
    asked = small_int(raw)
    weeks = min(52, max(2, asked)) if asked is not None else 12
    async with request.app.state.sessionmaker() as session:
        data = await dashboard.collect(session, info.actor, weeks=weeks)
    return render(
        request, "dashboard.html", info, page="cruscotto", d=data, charts=dashboard.charts(data), weeks=weeks
    )


@router.get("/registro", name="console_audit")
async def audit_page(request: Request) -> Response:
    info = await _session(request)
    if info is None:
        return _to_login(request)
    if not info.actor.is_coordinator:
        return _error_page(request, info, 403, "Il registro è per coordinatori e amministratori.")
    case_id = small_int(request.query_params.get("caso"))
    async with request.app.state.sessionmaker() as session:
        stmt = select(AuditLog).order_by(AuditLog.id.desc()).limit(300)
        if case_id is not None:
            stmt = stmt.where(AuditLog.handoff_id == case_id)
        if not info.actor.is_admin:
            visible = select(Handoff.id).where(Handoff.team_id.in_(sorted(info.actor.team_ids)))
            members = select(TeamMembership.facilitator_id).where(
                TeamMembership.team_id.in_(sorted(info.actor.team_ids))
            )
            stmt = stmt.where(or_(AuditLog.handoff_id.in_(visible), AuditLog.actor_id.in_(members)))
        rows = (await session.scalars(stmt)).all()
        total = await session.scalar(select(func.count()).select_from(AuditLog))
    return render(request, "audit.html", info, page="registro", rows=rows, total=total, case=case_id or "")


# --- volunteers (Madri di Quartiere) -----------------------------------------------------------


async def _volunteers_context(request: Request, info: SessionInfo) -> dict[str, Any]:
    from handoff.volunteer_models import Volunteer

    async with request.app.state.sessionmaker() as session:
        teams = [
            t
            for t in (await session.scalars(select(Team).order_by(Team.name))).all()
            if info.actor.can_see_team(t.id)
        ]
        stmt = select(Volunteer).order_by(Volunteer.first_name)
        if not info.actor.is_admin:
            stmt = stmt.where(Volunteer.team_id.in_(sorted(info.actor.team_ids)))
        people = (await session.scalars(stmt)).all()
    return {"teams": teams, "volunteers": people, "team_names": {t.id: t.name for t in teams}}


@router.get("/volontarie", name="console_volunteers")
async def volunteers_page(request: Request) -> Response:
    info = await _session(request)
    if info is None:
        return _to_login(request)
    if not info.actor.is_coordinator:
        return _error_page(request, info, 403, "Gli inviti per le volontarie sono per i coordinatori.")
    return render(
        request,
        "volunteers.html",
        info,
        page="volontarie",
        code=None,
        **await _volunteers_context(request, info),
    )


@router.post("/volontarie/invito", name="console_volunteer_invite")
async def volunteer_invite(request: Request) -> Response:
    """A one-time invite code, shown once on this page (never in a URL, never stored in clear)."""
    info, form, refused = await _guard_post(request)
    if refused is not None or info is None:
        return refused or _to_login(request)
    if not info.actor.is_coordinator:
        return _error_page(request, info, 403, "Gli inviti per le volontarie sono per i coordinatori.")
    team_id = _int_field(form, "team_id")
    if team_id is None or not info.actor.can_see_team(team_id):
        return _error_page(request, info, 403, "Puoi invitare volontarie solo nei tuoi gruppi.")
    from handoff.volunteers import INVITE_DAYS, issue_invite

    async with request.app.state.sessionmaker() as session:
        try:
            code = await issue_invite(session, team_id, created_by=info.actor.id)
        except LookupError:
            return _error_page(request, info, 404, "Gruppo non trovato.")
        await audit(session, info.actor, "volunteer_invite", object_type="team", object_id=team_id)
        await session.commit()
    context = await _volunteers_context(request, info)
    return render(
        request,
        "volunteers.html",
        info,
        page="volontarie",
        code=code,
        code_team=team_id,
        days=INVITE_DAYS,
        **context,
    )
