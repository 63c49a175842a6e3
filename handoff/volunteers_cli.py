"""``bussola volunteer …``: invite codes for volunteers (Madri di Quartiere) and their registrations.

    bussola volunteer invite --team "Ovest Solidale" [--giorni 14]
    bussola volunteer list [--team "Ovest Solidale"]
    bussola volunteer deactivate ID

The code is printed once and kept only as a hash: give it to the volunteer, who sends
``/volontaria CODICE`` to the bot on Telegram. A code works once, for ``--giorni`` days.
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from sqlalchemy import select

from handoff.audit import audit
from handoff.cli import CliError, Sessionmaker, _runner
from handoff.models import Team
from handoff.volunteer_models import Volunteer
from handoff.volunteers import INVITE_DAYS, issue_invite


def add_subcommands(subparsers: Any) -> None:
    vol = subparsers.add_parser("volunteer", help="volunteers who chat for a neighbour: invites and list")
    vsub = vol.add_subparsers(dest="volunteer_command", required=True)
    inv = vsub.add_parser("invite", help="print a one-time invite code for a team's volunteer")
    inv.add_argument("--team", required=True, help='the team\'s name, e.g. "Ovest Solidale"')
    inv.add_argument("--giorni", type=int, default=INVITE_DAYS, help="days the code stays valid")
    inv.set_defaults(func=_runner(volunteer_invite))
    lst = vsub.add_parser("list", help="list the registered volunteers")
    lst.add_argument("--team", default=None)
    lst.set_defaults(func=_runner(volunteer_list))
    off = vsub.add_parser("deactivate", help="stop a volunteer's access (her cases stay with the team)")
    off.add_argument("id", type=int)
    off.set_defaults(func=_runner(volunteer_deactivate))


async def _team(session: Any, name: str) -> Team:
    team = await session.scalar(select(Team).where(Team.name == name.strip()))
    if team is None:
        raise CliError(f"gruppo sconosciuto: {name!r} (vedi: bussola team list)")
    return team


async def volunteer_invite(
    args: argparse.Namespace, sessionmaker: Sessionmaker, out: TextIO, err: TextIO
) -> int:
    if not 1 <= args.giorni <= 90:
        raise CliError("--giorni deve essere tra 1 e 90")
    async with sessionmaker() as session:
        team = await _team(session, args.team)
        code = await issue_invite(session, team.id, days=args.giorni)
        await audit(session, None, "volunteer_invite", object_type="team", object_id=team.id)
        await session.commit()
    print(f"Codice di invito per una volontaria di «{team.name}»: {code}", file=out)
    print(f"Vale una sola volta, per {args.giorni} giorni. Su Telegram: /volontaria {code}", file=out)
    return 0


async def volunteer_list(
    args: argparse.Namespace, sessionmaker: Sessionmaker, out: TextIO, err: TextIO
) -> int:
    async with sessionmaker() as session:
        query = (
            select(Volunteer, Team.name).outerjoin(Team, Team.id == Volunteer.team_id).order_by(Volunteer.id)
        )
        if args.team:
            query = query.where(Volunteer.team_id == (await _team(session, args.team)).id)
        rows = (await session.execute(query)).all()
    if not rows:
        print("Nessuna volontaria registrata.", file=out)
    for v, team_name in rows:
        state = "attiva" if v.active else "disattivata"
        print(f"{v.id}\t{v.first_name}\t{team_name or '-'}\t{state}", file=out)
    return 0


async def volunteer_deactivate(
    args: argparse.Namespace, sessionmaker: Sessionmaker, out: TextIO, err: TextIO
) -> int:
    async with sessionmaker() as session:
        v = await session.get(Volunteer, args.id)
        if v is None:
            raise CliError(f"volontaria {args.id} non trovata")
        v.active = False
        v.active_request_id = None
        await audit(session, None, "volunteer_deactivate", object_type="volunteer", object_id=v.id)
        await session.commit()
    print(f"Volontaria {args.id} disattivata.", file=out)
    return 0
