"""Volunteers in the console: coordinators issue one-time invite codes; a volunteer's case is flagged
"tramite volontaria X" and, when the neighbour linked her own Telegram, the holder can write to her."""

from __future__ import annotations

import re
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.models import Conversation
from handoff.models import AuditLog
from handoff.volunteer_models import Volunteer, VolunteerInvite, VolunteerRequest
from handoff.volunteers import code_hash
from tests.handoff_helpers import (
    FakeDialogue,
    build_app,
    console_login,
    csrf_of,
    make_case,
    make_facilitator,
    make_team,
)


def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def test_coordinators_issue_invite_codes_shown_once(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        team = await make_team(session, "Case del Quartiere", is_default=True)
        other = await make_team(session, "Altro")
        await make_facilitator(session, "carla", [team], role="coordinatore")
        await make_facilitator(session, "giulia", [team])
        await session.commit()
    app = build_app(sessionmaker)
    async with _client(app) as giulia:
        await console_login(giulia, "giulia")
        assert (await giulia.get("/console/volontarie")).status_code == 403
    async with _client(app) as carla:
        await console_login(carla, "carla")
        page = await carla.get("/console/volontarie")
        assert page.status_code == 200 and "Nessuna volontaria registrata" in page.text
        refused = await carla.post(
            "/console/volontarie/invito", data={"csrf_token": csrf_of(page.text), "team_id": str(other.id)}
        )
        assert refused.status_code == 403
        r = await carla.post(
            "/console/volontarie/invito", data={"csrf_token": csrf_of(page.text), "team_id": str(team.id)}
        )
        assert r.status_code == 200
        code = re.search(r'<p class="code" role="status"><strong>([A-Z0-9]{4}-[A-Z0-9]{4})</strong>', r.text)
        assert code is not None
        again = await carla.get("/console/volontarie")
        assert code.group(1) not in again.text, "the code is shown once only"
    async with sessionmaker() as session:
        invite = await session.scalar(select(VolunteerInvite))
        entry = await session.scalar(select(AuditLog).where(AuditLog.action == "volunteer_invite"))
    assert invite is not None and invite.team_id == team.id and invite.code_hash == code_hash(code.group(1))
    assert entry is not None and entry.actor == "carla"


async def test_the_holder_writes_to_the_volunteer_or_to_the_neighbour(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        team = await make_team(session, "Case del Quartiere", is_default=True)
        await make_facilitator(session, "giulia", [team])
        volunteer = Volunteer(team_id=team.id, telegram_user_id="111", chat_id="111", first_name="Amina")
        session.add(volunteer)
        await session.flush()
        h = await make_case(
            session,
            channel="telegram",
            on_behalf=True,
            on_behalf_of="Fatima",
            volunteer_id=volunteer.id,
            volunteer_name="Amina",
        )
        neighbour = Conversation(channel="telegram", sender="222", state={})
        session.add(neighbour)
        await session.flush()
        session.add(
            VolunteerRequest(
                volunteer_id=volunteer.id,
                nickname="Fatima",
                status="active",
                conversation_id=h.conversation_id,
                handoff_id=h.id,
                neighbour_conversation_id=neighbour.id,
            )
        )
        await session.commit()
    app = build_app(sessionmaker)
    dialogue: FakeDialogue = app.state.dialogue
    async with _client(app) as giulia:
        await console_login(giulia, "giulia")
        page = await giulia.get(f"/console/casi/{h.id}")
        assert "tramite volontaria Amina" in page.text
        assert "Scrivi direttamente" not in page.text  # not before the case is hers
        await giulia.post(f"/console/casi/{h.id}/prendi", data={"csrf_token": csrf_of(page.text)})
        page = await giulia.get(f"/console/casi/{h.id}")
        assert "Scrivi alla volontaria" in page.text and "Scrivi direttamente a Fatima" in page.text
        r = await giulia.post(
            f"/console/casi/{h.id}/rispondi-vicina",
            data={"csrf_token": csrf_of(page.text), "text": "Ciao Fatima, sono Giulia."},
        )
        assert r.status_code == 303
    sent = [args for name, args in dialogue.calls if name == "say" and args[1] == "facilitator"]
    assert sent == [
        (
            neighbour.id,
            "facilitator",
            "Giulia",
            "Ciao Fatima, sono Giulia.",
            {"type": "facilitator_message", "author": "Giulia"},
        )
    ]
    notes = [args for name, args in dialogue.calls if name == "say" and args[0] == h.conversation_id]
    assert any("Ciao Fatima" in args[3] for args in notes), "the volunteer's conversation keeps a note"
