"""``bussola team`` and ``bussola facilitator``: territory parsed from names, passwords from stdin
only, plain Italian errors, and the account then logs in to the console."""

from __future__ import annotations

import argparse
import functools
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff import cli
from handoff.models import AuditLog, Facilitator, Team, TeamMembership
from tests.handoff_helpers import build_app

ROOT = Path(__file__).resolve().parent.parent


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bussola")
    sub = parser.add_subparsers(dest="command", required=True)
    cli.add_subcommands(sub)
    return parser.parse_args(argv)


async def _run(
    sessionmaker: async_sessionmaker[AsyncSession], *argv: str, stdin: str | None = None
) -> tuple[int, str, str]:
    args = _parse(*argv)
    command: Any = args.func.command  # the async command behind the sync runner
    if stdin is not None:
        command = functools.partial(command, stdin=io.StringIO(stdin))
    out, err = io.StringIO(), io.StringIO()
    code = await cli.run_command(command, args, sessionmaker, out, err)
    return code, out.getvalue(), err.getvalue()


async def test_team_and_facilitator_setup(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    code, out, _ = await _run(
        sessionmaker,
        "team",
        "add",
        "Ovest Solidale",
        "--comuni",
        "Collegno, grugliasco",
        "--orari",
        "lun-ven 9-13,14-17",
        "--festivi",
        "TO",
        "--organizzazioni",
        "Consorzio Ovest Solidale",
    )
    assert code == 0 and "comuni: Collegno, Grugliasco" in out
    code, out, _ = await _run(
        sessionmaker, "team", "add", "Torino Centro", "--quartieri", "San Salvario,aurora"
    )
    assert code == 0 and "quartieri: San Salvario, Aurora" in out
    code, _, _ = await _run(sessionmaker, "team", "add", "Bussola", "--predefinito")
    assert code == 0
    code, _, err = await _run(sessionmaker, "team", "add", "Ovest Solidale")
    assert code == 1 and "esiste già" in err
    code, _, err = await _run(sessionmaker, "team", "add", "Lombardia", "--comuni", "Milano")
    assert code == 1 and "comune sconosciuto" in err
    code, _, err = await _run(sessionmaker, "team", "add", "Orari strani", "--orari", "tutti i giorni")
    assert code == 1 and "Errore:" in err
    async with sessionmaker() as session:
        team = await session.scalar(select(Team).where(Team.name == "Ovest Solidale"))
        assert team is not None
        assert team.comuni == ["001090", "001120"] and team.holidays_subdiv == "TO"
        assert team.office_hours is not None and team.office_hours["0"] == [
            ["09:00", "13:00"],
            ["14:00", "17:00"],
        ]
        assert team.organization_ids == ["7172cca8-3f6b-5d2e-a5cb-d9f6bc177646"]
        assert await session.scalar(select(Team.is_default).where(Team.name == "Bussola")) is True

    code, _, err = await _run(sessionmaker, "facilitator", "add", "giulia", "--team", "Ovest Solidale")
    assert code == 1 and "--password-stdin" in err
    code, _, err = await _run(
        sessionmaker,
        "facilitator",
        "add",
        "giulia",
        "--team",
        "Ovest Solidale",
        "--password-stdin",
        stdin="corta\n",
    )
    assert code == 1 and "almeno 10 caratteri" in err
    code, _, err = await _run(
        sessionmaker,
        "facilitator",
        "add",
        "giulia",
        "--team",
        "Nessuno",
        "--password-stdin",
        stdin="x" * 12 + "\n",
    )
    assert code == 1 and "nessun gruppo" in err
    code, out, _ = await _run(
        sessionmaker,
        "facilitator",
        "add",
        "Giulia",
        "--team",
        "Ovest Solidale",
        "--role",
        "coordinatore",
        "--password-stdin",
        stdin="una password lunga e sua\n",
    )
    assert code == 0 and "«Giulia»" in out
    async with sessionmaker() as session:
        fac = await session.scalar(select(Facilitator).where(Facilitator.username == "giulia"))
        assert fac is not None and fac.role == "coordinatore" and fac.password_hash.startswith("$argon2id$")
        assert "una password" not in fac.password_hash
        assert await session.scalar(select(TeamMembership).where(TeamMembership.facilitator_id == fac.id))
        actions = set(await session.scalars(select(AuditLog.action)))
    assert {"team_add", "facilitator_add"} <= actions

    app = build_app(sessionmaker)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        ok = await c.post("/api/login", json={"username": "giulia", "password": "una password lunga e sua"})
        assert ok.status_code == 200 and ok.json()["role"] == "coordinatore"
    code, _, _ = await _run(sessionmaker, "facilitator", "disable", "giulia")
    assert code == 0
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        r = await c.post("/api/login", json={"username": "giulia", "password": "una password lunga e sua"})
        assert r.status_code == 401
    code, out, _ = await _run(sessionmaker, "facilitator", "list")
    assert "giulia\tGiulia\tcoordinatore\tdisattivato\tOvest Solidale" in out


def test_the_bussola_command_end_to_end(tmp_path: Path) -> None:
    """The real entry point: migrations, then the commands, the password piped in."""
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/cli.db"}

    def bussola(*argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot.cli", *argv],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=120,
        )

    r = bussola("team", "add", "Ovest Solidale", "--comuni", "Collegno,Grugliasco")
    assert r.returncode == 0, r.stderr
    r = bussola(
        "facilitator",
        "add",
        "marco",
        "--team",
        "Ovest Solidale",
        "--password-stdin",
        stdin="passw0rd-lunga\n",
    )
    assert r.returncode == 0 and "marco" in r.stdout, r.stderr
    r = bussola(
        "facilitator",
        "add",
        "marco",
        "--team",
        "Ovest Solidale",
        "--password-stdin",
        stdin="passw0rd-lunga\n",
    )
    assert r.returncode == 1 and "esiste già" in r.stderr
    assert "Traceback" not in r.stderr
