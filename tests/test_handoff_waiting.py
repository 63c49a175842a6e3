"""Waiting honestly: office hours with Italian holidays, the realistic wait, notices without floods."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.pubsub import InMemoryBroker
from handoff.hours import HoursError, OfficeHours, describe_opening, parse_hours_spec
from handoff.models import Handoff, Team
from handoff.routing import TerritoryError, parse_comuni, parse_quartieri, pick_team
from handoff.security import utcnow
from handoff.waiting import WaitInfo, notify_waiting, wait_info, wait_phrase, waiting_text
from tests.handoff_helpers import FakeDialogue, make_case, make_facilitator, make_team

WEEKDAYS = parse_hours_spec("lun-ven 9-13,14-17")


def rome(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(y, m, d, hh, mm, tzinfo=ZoneInfo("Europe/Rome"))


def test_hours_are_parsed_from_everyday_writing() -> None:
    assert parse_hours_spec("lun-ven 9-13,14-17; sab 9:30-12") == {
        **{str(d): [["09:00", "13:00"], ["14:00", "17:00"]] for d in range(5)},
        "5": [["09:30", "12:00"]],
    }
    for bad in ("", "lun", "xyz 9-12", "lun 13-9", "lun 9-25", "ven-lun 9-12"):
        with pytest.raises(HoursError):
            parse_hours_spec(bad)


def test_open_closed_and_next_opening_with_italian_holidays() -> None:
    hours = OfficeHours.from_team(WEEKDAYS, subdiv="TO")
    assert hours.is_open(rome(2025, 3, 4, 10))  # a Tuesday morning
    assert not hours.is_open(rome(2025, 3, 4, 13, 30))  # lunch
    assert not hours.is_open(rome(2025, 3, 8, 10))  # Saturday
    assert not hours.is_open(rome(2025, 12, 25, 10))  # Christmas (a Thursday)
    assert not hours.is_open(rome(2025, 6, 24, 10))  # San Giovanni, Turin's patron (a Tuesday)
    assert OfficeHours.from_team(WEEKDAYS).is_open(rome(2025, 6, 24, 10))  # not a holiday elsewhere
    # Friday evening → Monday 9:00; Christmas Eve evening → Saturday is closed → Monday 29th
    assert hours.next_opening(rome(2025, 3, 7, 18)) == rome(2025, 3, 10, 9).astimezone(UTC)
    assert hours.next_opening(rome(2025, 12, 24, 18)) == rome(2025, 12, 29, 9).astimezone(UTC)
    assert hours.next_opening(rome(2025, 3, 4, 13, 30)) == rome(2025, 3, 4, 14).astimezone(UTC)
    closed = OfficeHours.from_team(WEEKDAYS, closed_days=["2025-03-10"])
    assert closed.next_opening(rome(2025, 3, 7, 18)) == rome(2025, 3, 11, 9).astimezone(UTC)


def test_opening_described_in_italian() -> None:
    now = rome(2025, 3, 7, 18)  # Friday
    assert describe_opening(rome(2025, 3, 7, 19), now) == "oggi alle 19:00"
    assert describe_opening(rome(2025, 3, 8, 9), now) == "domani alle 9:00"
    assert describe_opening(rome(2025, 3, 10, 9, 30), now) == "lunedì 10 marzo alle 9:30"


def test_wait_texts() -> None:
    assert wait_phrase(3) == "pochi minuti"
    assert wait_phrase(22) == "circa 20 minuti"
    assert wait_phrase(70) == "circa un'ora"
    first = waiting_text(WaitInfo(position=1, minutes=10, open_now=True, next_opening=None))
    assert first.startswith("Sei la prossima persona in coda.") and "circa 10 minuti" in first
    third = waiting_text(WaitInfo(position=3, minutes=30, open_now=True, next_opening=None))
    assert third.startswith("Davanti a te ci sono 2 persone.")
    now = rome(2025, 3, 7, 18)
    closed = waiting_text(WaitInfo(1, 10, False, rome(2025, 3, 10, 9).astimezone(UTC)), now)
    assert "lunedì 10 marzo alle 9:00" in closed


def test_territory_parsing_for_the_cli() -> None:
    assert parse_comuni("Collegno, grugliasco,Collegno") == ["001090", "001120"]
    assert parse_quartieri("san salvario, Barriera") == ["San Salvario", "Barriera di Milano"]
    with pytest.raises(TerritoryError):
        parse_comuni("Milano")
    with pytest.raises(TerritoryError):
        parse_quartieri("Trastevere")


def test_the_most_specific_team_wins() -> None:
    teams = [
        Team(id=1, name="Bussola", comuni=[], quartieri=[], is_default=True),
        Team(id=2, name="Torino", comuni=["001272"], quartieri=[], is_default=False),
        Team(id=3, name="Aurora", comuni=[], quartieri=["Aurora"], is_default=False),
    ]
    assert pick_team(teams, "001272", "Aurora").id == 3  # type: ignore[union-attr]
    assert pick_team(teams, "001272", "Lingotto").id == 2  # type: ignore[union-attr]
    assert pick_team(teams, "001272", None).id == 2  # type: ignore[union-attr]
    assert pick_team(teams, None, "Aurora").id == 3  # type: ignore[union-attr]
    assert pick_team(teams, "001090", None).id == 1  # type: ignore[union-attr]
    assert pick_team(teams[1:], "001090", None) is None


async def test_position_and_realistic_wait_from_recent_handling_times(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    now = utcnow()
    async with sessionmaker() as session:
        team = await make_team(session, "Sportello", is_default=True)
        fac = await make_facilitator(session, "giulia", [team])
        fac.last_seen_at = now
        for minutes in (10, 20, 20, 20, 40):  # five recent cases: median 20 minutes
            done = await make_case(session, created_at=now - timedelta(hours=3))
            done.status, done.claimed_at = "closed", now - timedelta(hours=2)
            done.closed_at = done.claimed_at + timedelta(minutes=minutes)
        first = await make_case(session, created_at=now - timedelta(minutes=9))
        second = await make_case(session, created_at=now - timedelta(minutes=5))
        urgent = await make_case(session, priority="urgent", created_at=now - timedelta(minutes=1))
        await session.commit()
        infos = [await wait_info(session, h, now) for h in (urgent, first, second)]
    assert [i.position for i in infos] == [1, 2, 3]
    assert [i.minutes for i in infos] == [20, 40, 60]
    assert all(i.open_now for i in infos)


async def test_notices_tell_the_place_when_it_improves_and_the_reopening_once(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    broker = InMemoryBroker()
    dialogue = FakeDialogue(sessionmaker, broker)
    now = utcnow()
    async with sessionmaker() as session:
        open_team = await make_team(session, "Aperto", comuni=["001090"])
        closed_team = await make_team(session, "Chiuso", comuni=["001120"], always_open=False)
        closed_team.office_hours = {"0": [["00:00", "00:01"]]}  # practically never open
        fresh = await make_case(session, comune_istat="001090", created_at=now)
        older = await make_case(session, comune_istat="001090", created_at=now - timedelta(minutes=10))
        night = await make_case(session, comune_istat="001120", created_at=now)
        await session.commit()
    assert open_team.id != closed_team.id
    assert await notify_waiting(sessionmaker, dialogue, now) == 2  # older (3+ min) and the closed desk
    texts = dialogue.said("system")
    assert any(t.startswith("Sei la prossima persona in coda.") for t in texts)
    assert any("non c'è nessuno allo sportello" in t for t in texts)
    # nothing new a minute later: no flood
    assert await notify_waiting(sessionmaker, dialogue, now + timedelta(minutes=1)) == 0
    # the older case is taken: after a few minutes the fresh one hears it moved up (and is 3+ min old)
    async with sessionmaker() as session:
        await session.execute(update(Handoff).where(Handoff.id == older.id).values(status="assigned"))
        await session.commit()
    later = now + timedelta(minutes=4)
    assert await notify_waiting(sessionmaker, dialogue, later) == 1
    assert dialogue.calls[-1][1][0] == fresh.conversation_id
    # two replicas running the job at once send each notice once
    much_later = now + timedelta(minutes=30)
    counts = await asyncio.gather(*(notify_waiting(sessionmaker, dialogue, much_later) for _ in range(2)))
    assert sum(counts) == 1  # the reassurance to the fresh case; the closed desk was told already
    assert night.id
