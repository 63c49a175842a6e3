"""Which team takes a case: the one covering the person's place, else the default team.

A team covers comuni (ISTAT codes) and, in Turin, may narrow itself to some quartieri. The most
specific cover wins: a Turin neighbourhood desk beats a team covering all of Turin, which beats the
default team. Ties go to the oldest team so that routing is stable.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.models import Team
from nlu.territory import TORINO_ISTAT, find_comune, find_quartiere, fold


class TeamLike(Protocol):
    id: int
    comuni: list[str]
    quartieri: list[str]
    is_default: bool


class TerritoryError(ValueError):
    """A comune or neighbourhood name we do not know; the message names it."""


def covers(team: TeamLike, comune_istat: str | None, quartiere: str | None) -> int:
    """How specifically ``team`` covers the place: 2 neighbourhood, 1 whole comune, 0 not at all."""
    team_quartieri = {fold(q) for q in team.quartieri or ()}
    comuni = set(team.comuni or ())
    if team_quartieri:
        comuni.add(TORINO_ISTAT)  # neighbourhoods are Turin's
    in_turin = comune_istat == TORINO_ISTAT or (comune_istat is None and quartiere is not None)
    if in_turin and team_quartieri:
        if quartiere and fold(quartiere) in team_quartieri:
            return 2
        # A neighbourhood desk also covering other comuni still covers those, not the rest of Turin.
        return 0
    if comune_istat is not None and comune_istat in comuni:
        return 1
    return 0


def pick_team(teams: Iterable[TeamLike], comune_istat: str | None, quartiere: str | None) -> TeamLike | None:
    ordered = sorted(teams, key=lambda t: t.id)
    best: TeamLike | None = None
    best_score = 0
    for team in ordered:
        score = covers(team, comune_istat, quartiere)
        if score > best_score:
            best, best_score = team, score
    if best is not None:
        return best
    return next((t for t in ordered if t.is_default), None)


async def route_team_id(session: AsyncSession, comune_istat: str | None, quartiere: str | None) -> int | None:
    """The id of the team that should take a case from this place (None if no team exists yet)."""
    teams = (await session.scalars(select(Team))).all()
    team = pick_team(teams, comune_istat, quartiere)
    return team.id if team is not None else None


def parse_comuni(text: str) -> list[str]:
    """ "Collegno,Grugliasco" (names, everyday variants, CAP or ISTAT codes) into ISTAT codes."""
    out: list[str] = []
    for raw in (p.strip() for p in text.split(",")):
        if not raw:
            continue
        comune = find_comune(raw)
        if comune is None:
            raise TerritoryError(f"comune sconosciuto nella Città metropolitana di Torino: {raw!r}")
        if comune.istat not in out:
            out.append(comune.istat)
    return out


def parse_quartieri(text: str) -> list[str]:
    """ "San Salvario, Aurora" into the canonical names of Turin's neighbourhoods."""
    out: list[str] = []
    for raw in (p.strip() for p in text.split(",")):
        if not raw:
            continue
        q = find_quartiere(raw)
        if q is None:
            raise TerritoryError(f"quartiere di Torino sconosciuto: {raw!r}")
        if q.name not in out:
            out.append(q.name)
    return out
