"""What the console pages and the JSON API share: who is logged in, the service, transcripts, and the
JSON shapes of cases and messages."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from bot.types import StoredMessage
from handoff.security import SESSION_COOKIE, SessionInfo, as_utc, load_session
from handoff.service import HandoffService


async def current_session(request: Request) -> SessionInfo | None:
    """The logged-in facilitator of this request (looked up once per request)."""
    if hasattr(request.state, "console_session"):
        cached: SessionInfo | None = request.state.console_session
        return cached
    info = await load_session(request.app.state.sessionmaker, request.cookies.get(SESSION_COOKIE))
    request.state.console_session = info
    return info


def service_of(request: Request) -> HandoffService:
    return HandoffService.from_state(request.app.state)


def public_url(request: Request) -> str:
    settings = getattr(request.app.state, "settings", None)
    return str(getattr(settings, "public_url", "") or "")


AUTHOR_LABELS = {"citizen": "Persona", "bot": "Bussola", "system": "Bussola (avviso)"}


def author_label(m: StoredMessage) -> str:
    if m.author == "facilitator":
        return f"{m.author_name or 'Operatore'} (operatore)"
    if m.author == "citizen" and m.direction == "in":
        return "Persona"
    return AUTHOR_LABELS.get(m.author, m.author)


def message_json(m: StoredMessage) -> dict[str, Any]:
    """A transcript line for the console's live view and the API (text stays text: never HTML)."""
    return {
        "id": m.id,
        "direction": m.direction,
        "author": m.author,
        "author_name": m.author_name,
        "author_label": author_label(m),
        "kind": m.kind,
        "text": m.text,
        "buttons": [b.title for b in m.buttons],
        "created_at": m.created_at,
    }


def iso(value: Any) -> str | None:
    dt = as_utc(value)
    return dt.isoformat() if dt else None
