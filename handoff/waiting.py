"""Waiting honestly: the person's place in the queue, a realistic wait, and when the desk reopens.

The wait comes from how long this team's recent cases took (median of claim → close over the last
cases, divided among the team's facilitators online now), not from a promise. Outside office hours
the person is told, once, when someone will answer. Updates go out when the place improves, or now
and then as a reassurance, never in a flood; several replicas never send the same notice twice (a
conditional UPDATE on what was last told).
"""

from __future__ import annotations

import logging
import math
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.types import Outbound
from handoff.hours import OfficeHours, describe_opening
from handoff.models import Facilitator, Handoff, Team, TeamMembership
from handoff.security import as_utc, utcnow

log = logging.getLogger("bussola.handoff.waiting")

DEFAULT_HANDLING_MINUTES = 15.0
RECENT_CASES = 30
PRESENT_WITHIN = timedelta(minutes=10)
FIRST_UPDATE_AFTER = timedelta(minutes=3)  # the dialogue already told the place when the case was made
BETTER_PLACE_EVERY = timedelta(minutes=3)
REASSURE_EVERY = timedelta(minutes=20)


@dataclass(frozen=True, slots=True)
class WaitInfo:
    position: int  # 1-based, 0 when not waiting
    minutes: int | None  # realistic wait once the desk is open
    open_now: bool
    next_opening: datetime | None  # UTC; None when open now or unknown


async def team_hours(session: AsyncSession, team_id: int | None) -> OfficeHours:
    team = await session.get(Team, team_id) if team_id is not None else None
    if team is None:
        return OfficeHours.from_team(None)
    try:
        return OfficeHours.from_team(team.office_hours, team.holidays_subdiv, team.closed_days or ())
    except (ValueError, TypeError):
        log.warning("team %s has unreadable office hours: using the default", team.id)
        return OfficeHours.from_team(None)


async def position_of(session: AsyncSession, h: Handoff) -> int:
    """1-based place among the waiting cases of the same team, by priority then waiting time."""
    if h.status != "waiting":
        return 0
    same_team = Handoff.team_id.is_(None) if h.team_id is None else Handoff.team_id == h.team_id
    ahead = await session.scalar(
        select(func.count())
        .select_from(Handoff)
        .where(
            Handoff.status == "waiting",
            same_team,
            Handoff.id != h.id,
            (Handoff.priority_rank < h.priority_rank)
            | (
                (Handoff.priority_rank == h.priority_rank)
                & (
                    (Handoff.created_at < h.created_at)
                    | ((Handoff.created_at == h.created_at) & (Handoff.id < h.id))
                )
            ),
        )
    )
    return int(ahead or 0) + 1


async def handling_minutes(session: AsyncSession, team_id: int | None) -> float:
    """Median minutes from claim to close of the team's last cases (all teams' when too few)."""
    for scope in (team_id, None):
        stmt = (
            select(Handoff.claimed_at, Handoff.closed_at)
            .where(
                Handoff.status == "closed", Handoff.claimed_at.is_not(None), Handoff.closed_at.is_not(None)
            )
            .order_by(Handoff.closed_at.desc())
            .limit(RECENT_CASES)
        )
        if scope is not None:
            stmt = stmt.where(Handoff.team_id == scope)
        rows = (await session.execute(stmt)).all()
        durations = [
            ((as_utc(b) or utcnow()) - (as_utc(a) or utcnow())).total_seconds() / 60
            for a, b in rows
            if a and b
        ]
        durations = [d for d in durations if d >= 0]
        if len(durations) >= 5:
            return max(1.0, statistics.median(durations))
    return DEFAULT_HANDLING_MINUTES


async def present_facilitators(session: AsyncSession, team_id: int | None, now: datetime) -> int:
    if team_id is None:
        return 0
    count = await session.scalar(
        select(func.count())
        .select_from(Facilitator)
        .join(TeamMembership, TeamMembership.facilitator_id == Facilitator.id)
        .where(
            TeamMembership.team_id == team_id,
            Facilitator.active.is_(True),
            Facilitator.last_seen_at >= now - PRESENT_WITHIN,
        )
    )
    return int(count or 0)


async def wait_info(session: AsyncSession, h: Handoff, now: datetime | None = None) -> WaitInfo:
    """Where the person stands. The dialogue may use it (with ``waiting_text``) when it queues a case."""
    now = now or utcnow()
    position = await position_of(session, h)
    hours = await team_hours(session, h.team_id)
    open_now = hours.is_open(now)
    opening = None if open_now else hours.next_opening(now)
    per_case = await handling_minutes(session, h.team_id)
    helpers = max(1, await present_facilitators(session, h.team_id, now))
    minutes = int(math.ceil(position / helpers) * per_case) if position else None
    return WaitInfo(position=position, minutes=minutes, open_now=open_now, next_opening=opening)


def wait_phrase(minutes: int | None) -> str:
    if minutes is None:
        return "non so dirti quanto, ma non ci siamo dimenticati di te"
    if minutes <= 5:
        return "pochi minuti"
    if minutes < 55:
        return f"circa {int(5 * round(minutes / 5))} minuti"
    if minutes < 90:
        return "circa un'ora"
    if minutes < 180:
        return "un paio d'ore"
    return "qualche ora"


def waiting_text(info: WaitInfo, now: datetime | None = None) -> str:
    """What the person reads about their wait, in plain Italian."""
    now = now or utcnow()
    if not info.open_now:
        if info.next_opening is None:
            return (
                "In questo momento non c'è nessuno allo sportello. La tua richiesta resta in coda: "
                "ti risponderà una persona appena possibile, qui in chat."
            )
        return (
            "In questo momento non c'è nessuno allo sportello. Ti risponderà una persona "
            f"{describe_opening(info.next_opening, now)}. Non devi fare niente: la risposta arriva qui."
        )
    if info.position <= 1:
        place = "Sei la prossima persona in coda."
    elif info.position == 2:
        place = "Davanti a te c'è una persona."
    else:
        place = f"Davanti a te ci sono {info.position - 1} persone."
    return (
        f"{place} Attesa stimata: {wait_phrase(info.minutes)}. Resta pure qui: ti scriviamo appena possibile."
    )


def _due(h: Handoff, info: WaitInfo, now: datetime) -> str | None:
    """Which notice, if any, this waiting person should get now."""
    last = as_utc(h.notice_at)
    if not info.open_now:
        return "closed" if h.notice_kind != "closed" else None
    if h.notice_kind == "closed":
        return "position"  # the desk has just opened
    if last is None:
        created = as_utc(h.created_at) or now
        return "position" if now - created >= FIRST_UPDATE_AFTER else None
    if h.notice_position and info.position < h.notice_position and now - last >= BETTER_PLACE_EVERY:
        return "position"
    if now - last >= REASSURE_EVERY:
        return "position"
    return None


async def notify_waiting(
    sessionmaker: async_sessionmaker[AsyncSession], dialogue: Any, now: datetime | None = None
) -> int:
    """Send the notices that are due; returns how many were sent."""
    now = now or utcnow()
    sent = 0
    async with sessionmaker() as session:
        waiting = (
            await session.scalars(
                select(Handoff)
                .where(Handoff.status == "waiting", Handoff.conversation_id.is_not(None))
                .order_by(Handoff.priority_rank, Handoff.created_at)
                .limit(500)
            )
        ).all()
    for h in waiting:
        async with sessionmaker() as session:
            info = await wait_info(session, h, now)
            kind = _due(h, info, now)
            if kind is None:
                continue
            last = h.notice_at
            claimed = await session.execute(
                update(Handoff)
                .where(
                    Handoff.id == h.id,
                    Handoff.status == "waiting",
                    Handoff.notice_at.is_(None) if last is None else Handoff.notice_at == last,
                )
                .values(notice_at=now, notice_kind=kind, notice_position=info.position)
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                continue  # another replica told them, or the case moved on
            await session.commit()
        try:
            assert h.conversation_id is not None
            await dialogue.say(h.conversation_id, Outbound(text=waiting_text(info, now)), author="system")
            sent += 1
        except Exception as exc:  # noqa: BLE001 - one failed notice must not stop the others
            log.warning("waiting notice for handoff %s failed: %s", h.id, type(exc).__name__)
    return sent
