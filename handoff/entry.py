"""The entry side of the queue: the dialogue creates handoffs here and asks for queue positions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.models import PRIORITY_RANK, Handoff


@dataclass(frozen=True, slots=True)
class HandoffRequest:
    conversation_id: int
    reason: str  # one of handoff.models.REASONS
    priority: str  # "urgent" | "high" | "normal"
    needs: tuple[str, ...] = ()
    comune_istat: str | None = None
    comune_name: str | None = None
    quartiere: str | None = None
    on_behalf: bool = False
    on_behalf_of: str | None = None
    volunteer_id: int | None = None
    volunteer_name: str | None = None  # shown to facilitators as "tramite volontaria X"
    consent_text_version: str | None = None
    suggested_services: tuple[dict[str, Any], ...] = ()
    summary: str = ""
    channel: str = "web"
    extra: dict[str, Any] = field(default_factory=dict)


async def create_handoff(session: AsyncSession, req: HandoffRequest) -> Handoff:
    """Insert a waiting handoff (or return the conversation's open one: one open case per person).

    The new case goes to the team covering the person's place (``handoff.routing``), else the
    default team.
    """
    from handoff.audit import audit
    from handoff.routing import route_team_id

    existing = await session.scalar(
        select(Handoff).where(
            Handoff.conversation_id == req.conversation_id, Handoff.status.in_(("waiting", "assigned"))
        )
    )
    if existing is not None:
        if PRIORITY_RANK[req.priority] < existing.priority_rank:
            existing.priority = req.priority
            existing.priority_rank = PRIORITY_RANK[req.priority]
        return existing
    h = Handoff(
        conversation_id=req.conversation_id,
        status="waiting",
        priority=req.priority,
        priority_rank=PRIORITY_RANK[req.priority],
        reason=req.reason,
        needs=list(req.needs),
        comune_istat=req.comune_istat,
        comune_name=req.comune_name,
        quartiere=req.quartiere,
        on_behalf=req.on_behalf,
        on_behalf_of=req.on_behalf_of,
        volunteer_id=req.volunteer_id,
        volunteer_name=req.volunteer_name,
        consent_text_version=req.consent_text_version,
        suggested_services=list(req.suggested_services),
        summary=req.summary,
        channel=req.channel,
        team_id=await route_team_id(session, req.comune_istat, req.quartiere),
    )
    await _mark_volunteer_request(session, h)
    session.add(h)
    await session.flush()
    await audit(session, None, "created", handoff_id=h.id, object_type="team", object_id=h.team_id)
    return h


async def _mark_volunteer_request(session: AsyncSession, h: Handoff) -> None:
    """A case opened during a volunteer's request for a neighbour is flagged at birth, on any channel,
    so the queue event and the team's announcement already say "tramite volontaria X"."""
    from handoff.volunteer_models import Volunteer, VolunteerRequest
    from handoff.volunteers import CONSENT_VERSION

    req = await session.scalar(
        select(VolunteerRequest).where(
            VolunteerRequest.conversation_id == h.conversation_id, VolunteerRequest.status == "active"
        )
    )
    volunteer = await session.get(Volunteer, req.volunteer_id) if req is not None else None
    if req is None or volunteer is None:
        return
    h.volunteer_id = volunteer.id
    h.volunteer_name = volunteer.first_name
    h.on_behalf = True
    h.on_behalf_of = req.nickname
    h.consent_text_version = CONSENT_VERSION


async def queue_position(session: AsyncSession, handoff: Handoff) -> int:
    """1-based position among waiting cases of the same team, by priority then waiting time."""
    from handoff.waiting import position_of

    return await position_of(session, handoff)
