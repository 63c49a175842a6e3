"""``bussola team …`` and ``bussola facilitator …``: set up the desks and their accounts.

    bussola team add "Ovest Solidale" --comuni "Collegno,Grugliasco" [--quartieri "Aurora"]
        [--predefinito] [--orari "lun-ven 9-13,14-17"] [--festivi TO]
        [--organizzazioni "Consorzio Ovest Solidale"]
    bussola facilitator add giulia --team "Ovest Solidale" [--role coordinatore] [--nome Giulia]
        --password-stdin

Passwords are read from standard input only (never from the command line, which other users of the
machine and the shell history can see). Every change is written to the audit log.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TextIO

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff.audit import audit
from handoff.hours import HoursError, parse_hours_spec
from handoff.models import ROLES, Facilitator, LoginAttempt, Team, TeamMembership
from handoff.routing import TerritoryError, parse_comuni, parse_quartieri
from handoff.security import (
    PasswordPolicyError,
    check_password_policy,
    hash_password,
    normalise_username,
)

Sessionmaker = async_sessionmaker[AsyncSession]
Command = Callable[[argparse.Namespace, Sessionmaker, TextIO, TextIO], Awaitable[int]]


class CliError(Exception):
    """A problem with what was asked; the message is printed as is."""


def add_subcommands(subparsers: Any) -> None:
    team = subparsers.add_parser("team", help="teams (desks) and the territory they cover")
    tsub = team.add_subparsers(dest="team_command", required=True)
    for name, func, helptext in (
        ("add", team_add, "create a team"),
        ("update", team_update, "change a team's territory, hours or organisations"),
    ):
        p = tsub.add_parser(name, help=helptext)
        p.add_argument("name", help='the team\'s name, e.g. "Ovest Solidale"')
        p.add_argument("--comuni", default=None, help='comuni covered, e.g. "Collegno,Grugliasco"')
        p.add_argument(
            "--quartieri", default=None, help='Turin neighbourhoods covered, e.g. "Aurora,Barriera"'
        )
        p.add_argument("--predefinito", action="store_true", default=None, help="covers every other place")
        p.add_argument("--orari", default=None, help='office hours, e.g. "lun-ven 9-13,14-17; sab 9-12"')
        p.add_argument("--festivi", default=None, help='local patron holiday, e.g. "TO" (San Giovanni)')
        p.add_argument("--chiusure", default=None, help='extra closed days, e.g. "2025-08-14,2025-12-24"')
        p.add_argument(
            "--organizzazioni",
            default=None,
            help="HSDS organisations whose services the team keeps up to date",
        )
        p.add_argument("--telegram-chat", default=None, help="the team's Telegram group id (optional)")
        p.set_defaults(func=_runner(func))
    tsub.add_parser("list", help="list the teams").set_defaults(func=_runner(team_list))

    fac = subparsers.add_parser("facilitator", help="console accounts of facilitators and coordinators")
    fsub = fac.add_subparsers(dest="facilitator_command", required=True)
    add = fsub.add_parser("add", help="create an account (password from standard input)")
    add.add_argument("username")
    add.add_argument("--team", action="append", default=[], help="team name (repeatable)")
    add.add_argument("--role", choices=ROLES, default="facilitatore")
    add.add_argument("--nome", default=None, help="first name the citizens see (default: from the username)")
    add.add_argument("--telegram-user", default=None, help="Telegram user id, to act from the team's group")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(func=_runner(facilitator_add))
    pw = fsub.add_parser("password", help="set a new password (from standard input)")
    pw.add_argument("username")
    pw.add_argument("--password-stdin", action="store_true")
    pw.set_defaults(func=_runner(facilitator_password))
    for name, func, helptext in (
        ("disable", facilitator_disable, "disable an account (its sessions end)"),
        ("enable", facilitator_enable, "enable an account again"),
        ("unlock", facilitator_unlock, "forget failed logins (ends a lockout)"),
    ):
        p = fsub.add_parser(name, help=helptext)
        p.add_argument("username")
        p.set_defaults(func=_runner(func))
    fsub.add_parser("list", help="list the accounts").set_defaults(func=_runner(facilitator_list))


def _runner(command: Command) -> Callable[[argparse.Namespace], int]:
    """Open the configured database (migrated to the current schema), run, report errors plainly."""

    def run(args: argparse.Namespace) -> int:
        async def main() -> int:
            from bot.db import make_engine, make_sessionmaker
            from bot.migrate import migrate
            from bot.settings import Settings

            engine = make_engine(Settings().database_url)
            try:
                await migrate(engine)
                return await run_command(command, args, make_sessionmaker(engine), sys.stdout, sys.stderr)
            finally:
                await engine.dispose()

        return asyncio.run(main())

    run.command = command  # type: ignore[attr-defined]  # for tests: the async command itself
    return run


async def run_command(
    command: Command, args: argparse.Namespace, sessionmaker: Sessionmaker, out: TextIO, err: TextIO
) -> int:
    """Run one subcommand against an open database (used by the CLI and by tests)."""
    try:
        return await command(args, sessionmaker, out, err)
    except CliError as exc:
        print(f"Errore: {exc}", file=err)
        return 1


# --- teams -------------------------------------------------------------------------------------


def _split(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def _organisations(text: str) -> list[str]:
    """Names or ids of HSDS organisations; names are looked up in the bundled catalogue."""
    wanted = _split(text)
    try:
        from catalog_client.store import CatalogStore

        orgs = CatalogStore.bundled().organizations()
    except Exception:  # noqa: BLE001 - no bundled catalogue: take ids as given
        orgs = []
    by_name = {str(o.get("name", "")).casefold(): str(o["id"]) for o in orgs if o.get("id")}
    ids = {str(o["id"]) for o in orgs if o.get("id")}
    out = []
    for item in wanted:
        if item in ids or not orgs:
            out.append(item)
        elif item.casefold() in by_name:
            out.append(by_name[item.casefold()])
        else:
            raise CliError(f"organizzazione sconosciuta nel catalogo: {item!r}")
    return out


def _apply_team_options(team: Team, args: argparse.Namespace) -> list[str]:
    changed = []
    try:
        if args.comuni is not None:
            team.comuni = parse_comuni(args.comuni)
            changed.append("comuni")
        if args.quartieri is not None:
            team.quartieri = parse_quartieri(args.quartieri)
            changed.append("quartieri")
        if args.orari is not None:
            team.office_hours = parse_hours_spec(args.orari)
            changed.append("office_hours")
    except (TerritoryError, HoursError) as exc:
        raise CliError(str(exc)) from None
    if args.predefinito is not None:
        team.is_default = bool(args.predefinito)
        changed.append("is_default")
    if args.festivi is not None:
        import holidays

        code = args.festivi.strip().upper() or None
        if code is not None and code not in holidays.Italy.subdivisions:
            raise CliError(f"sigla di provincia o città sconosciuta per i festivi: {args.festivi!r}")
        team.holidays_subdiv = code
        changed.append("holidays_subdiv")
    if args.chiusure is not None:
        from datetime import date

        try:
            team.closed_days = [date.fromisoformat(d).isoformat() for d in _split(args.chiusure)]
        except ValueError:
            raise CliError("date di chiusura non valide: usa AAAA-MM-GG separate da virgole") from None
        changed.append("closed_days")
    if args.organizzazioni is not None:
        team.organization_ids = _organisations(args.organizzazioni)
        changed.append("organization_ids")
    if args.telegram_chat is not None:
        team.telegram_chat_id = args.telegram_chat.strip() or None
        changed.append("telegram_chat_id")
    return changed


def _describe(team: Team) -> str:
    from nlu.territory import comune_by_istat

    names = [c.name if (c := comune_by_istat(code)) else code for code in team.comuni or ()]
    parts = [f"«{team.name}»"]
    if names:
        parts.append("comuni: " + ", ".join(names))
    if team.quartieri:
        parts.append("quartieri: " + ", ".join(team.quartieri))
    if team.is_default:
        parts.append("gruppo predefinito (tutto il resto)")
    if not names and not team.quartieri and not team.is_default:
        parts.append("nessun territorio: riceverà solo casi trasferiti")
    return "; ".join(parts)


async def team_add(args: argparse.Namespace, sessionmaker: Sessionmaker, out: TextIO, err: TextIO) -> int:
    name = " ".join(args.name.split())
    if not name or len(name) > 80:
        raise CliError("il nome del gruppo deve avere da 1 a 80 caratteri")
    async with sessionmaker() as session:
        if await session.scalar(select(Team).where(Team.name == name)):
            raise CliError(f"il gruppo «{name}» esiste già (per cambiarlo: bussola team update)")
        team = Team(name=name, comuni=[], quartieri=[], closed_days=[], organization_ids=[])
        _apply_team_options(team, args)
        session.add(team)
        await session.flush()
        await audit(session, None, "team_add", object_type="team", object_id=team.id)
        await session.commit()
        print(f"Gruppo creato: {_describe(team)}.", file=out)
    return 0


async def team_update(args: argparse.Namespace, sessionmaker: Sessionmaker, out: TextIO, err: TextIO) -> int:
    async with sessionmaker() as session:
        team = await session.scalar(select(Team).where(Team.name == " ".join(args.name.split())))
        if team is None:
            raise CliError(f"nessun gruppo si chiama «{args.name}»")
        changed = _apply_team_options(team, args)
        await audit(session, None, "team_update", object_type="team", object_id=team.id, fields=changed)
        await session.commit()
        print(f"Gruppo aggiornato: {_describe(team)}.", file=out)
    return 0


async def team_list(args: argparse.Namespace, sessionmaker: Sessionmaker, out: TextIO, err: TextIO) -> int:
    async with sessionmaker() as session:
        for team in (await session.scalars(select(Team).order_by(Team.name))).all():
            print(f"{team.id}\t{_describe(team)}", file=out)
    return 0


# --- facilitators ------------------------------------------------------------------------------


def _read_password(args: argparse.Namespace, stdin: TextIO | None = None) -> str:
    if not getattr(args, "password_stdin", False):
        raise CliError("la password si legge solo dallo standard input: aggiungi --password-stdin")
    line = (stdin or sys.stdin).readline()
    password = line.rstrip("\r\n")
    try:
        check_password_policy(password)
    except PasswordPolicyError as exc:
        raise CliError(str(exc)) from None
    return password


async def facilitator_add(
    args: argparse.Namespace,
    sessionmaker: Sessionmaker,
    out: TextIO,
    err: TextIO,
    stdin: TextIO | None = None,
) -> int:
    username = normalise_username(args.username)
    if not username or not all(ch.isalnum() or ch in "._-" for ch in username):
        raise CliError("nome utente non valido: usa lettere, numeri, punto, trattino")
    if args.role != "admin" and not args.team:
        raise CliError("indica almeno un gruppo con --team (solo un admin può non averne)")
    password = _read_password(args, stdin)
    async with sessionmaker() as session:
        if await session.scalar(select(Facilitator).where(Facilitator.username == username)):
            raise CliError(f"l'utente «{username}» esiste già")
        teams = []
        for name in args.team:
            team = await session.scalar(select(Team).where(Team.name == " ".join(name.split())))
            if team is None:
                raise CliError(f"nessun gruppo si chiama «{name}» (crealo con: bussola team add)")
            teams.append(team)
        first = (args.nome or username.split(".")[0].rstrip("0123456789") or username).strip().capitalize()
        fac = Facilitator(
            username=username,
            first_name=first[:64],
            role=args.role,
            password_hash=await hash_password(password),
            telegram_user_id=(args.telegram_user or None),
        )
        session.add(fac)
        await session.flush()
        for team in teams:
            session.add(TeamMembership(team_id=team.id, facilitator_id=fac.id))
        await audit(
            session, None, "facilitator_add", object_type="facilitator", object_id=username, role=args.role
        )
        await session.commit()
    where = ", ".join(t.name for t in teams) or "tutti i gruppi"
    print(f"Account creato: {username} ({args.role}, {where}). Ai cittadini appare come «{first}».", file=out)
    return 0


async def _set_active(username: str, active: bool, sessionmaker: Sessionmaker, out: TextIO) -> int:
    from handoff.models import ConsoleSession

    async with sessionmaker() as session:
        fac = await session.scalar(
            select(Facilitator).where(Facilitator.username == normalise_username(username))
        )
        if fac is None:
            raise CliError(f"nessun utente «{username}»")
        fac.active = active
        if not active:
            await session.execute(delete(ConsoleSession).where(ConsoleSession.facilitator_id == fac.id))
        await audit(
            session,
            None,
            "facilitator_update",
            object_type="facilitator",
            object_id=fac.username,
            active=active,
        )
        await session.commit()
    print(f"Account {'riattivato' if active else 'disattivato'}: {fac.username}.", file=out)
    return 0


async def facilitator_disable(
    args: argparse.Namespace, sessionmaker: Sessionmaker, out: TextIO, err: TextIO
) -> int:
    return await _set_active(args.username, False, sessionmaker, out)


async def facilitator_enable(
    args: argparse.Namespace, sessionmaker: Sessionmaker, out: TextIO, err: TextIO
) -> int:
    return await _set_active(args.username, True, sessionmaker, out)


async def facilitator_password(
    args: argparse.Namespace,
    sessionmaker: Sessionmaker,
    out: TextIO,
    err: TextIO,
    stdin: TextIO | None = None,
) -> int:
    from handoff.models import ConsoleSession

    password = _read_password(args, stdin)
    async with sessionmaker() as session:
        fac = await session.scalar(
            select(Facilitator).where(Facilitator.username == normalise_username(args.username))
        )
        if fac is None:
            raise CliError(f"nessun utente «{args.username}»")
        fac.password_hash = await hash_password(password)
        await session.execute(delete(ConsoleSession).where(ConsoleSession.facilitator_id == fac.id))
        await audit(
            session,
            None,
            "facilitator_update",
            object_type="facilitator",
            object_id=fac.username,
            fields=["password"],
        )
        await session.commit()
    print(f"Password cambiata per {fac.username}; le sessioni aperte sono state chiuse.", file=out)
    return 0


async def facilitator_unlock(
    args: argparse.Namespace, sessionmaker: Sessionmaker, out: TextIO, err: TextIO
) -> int:
    username = normalise_username(args.username)
    async with sessionmaker() as session:
        await session.execute(
            delete(LoginAttempt).where(LoginAttempt.username == username, LoginAttempt.success.is_(False))
        )
        await audit(
            session,
            None,
            "facilitator_update",
            object_type="facilitator",
            object_id=username,
            fields=["unlock"],
        )
        await session.commit()
    print(f"Tentativi falliti dimenticati per {username}.", file=out)
    return 0


async def facilitator_list(
    args: argparse.Namespace, sessionmaker: Sessionmaker, out: TextIO, err: TextIO
) -> int:
    async with sessionmaker() as session:
        teams = {t.id: t.name for t in (await session.scalars(select(Team))).all()}
        members: dict[int, list[str]] = {}
        for fid, tid in (
            await session.execute(select(TeamMembership.facilitator_id, TeamMembership.team_id))
        ).all():
            members.setdefault(fid, []).append(teams.get(tid, str(tid)))
        for fac in (await session.scalars(select(Facilitator).order_by(Facilitator.username))).all():
            state = "attivo" if fac.active else "disattivato"
            where = ", ".join(sorted(members.get(fac.id, []))) or "—"
            print(f"{fac.username}\t{fac.first_name}\t{fac.role}\t{state}\t{where}", file=out)
    return 0
