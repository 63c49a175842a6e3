"""Volunteers: invite codes (one use, expiry, guessing stopped, races), the request on behalf of a
neighbour with its consent record, the case flagged "tramite volontaria", the CLI; on SQLite and on
the real PostgreSQL."""

from __future__ import annotations

import argparse
import asyncio
import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.models import Conversation
from handoff.cli import run_command
from handoff.entry import HandoffRequest, create_handoff
from handoff.models import Handoff
from handoff.volunteer_models import Volunteer, VolunteerConsent, VolunteerInvite, VolunteerRequest
from handoff.volunteers import (
    CONSENT_VERSION,
    MAX_FAILED_REDEEMS,
    T,
    VolunteerDesk,
    clean_nickname,
    issue_invite,
    neighbour_sender,
    now_utc,
    reply_targets,
)
from handoff.volunteers_cli import volunteer_deactivate, volunteer_invite, volunteer_list
from tests.handoff_helpers import make_team

Sessions = async_sessionmaker[AsyncSession]


async def _team_and_code(sessionmaker: Sessions, **kw: int) -> tuple[int, str]:
    async with sessionmaker() as session:
        team = await make_team(session, "Ovest Solidale", is_default=True)
        code = await issue_invite(session, team.id, **kw)
        await session.commit()
        return team.id, code


async def test_an_invite_registers_one_volunteer_once(sessionmaker: Sessions) -> None:
    team_id, code = await _team_and_code(sessionmaker)
    desk = VolunteerDesk(sessionmaker)
    [welcome] = await desk.redeem("501", "501", "Anna", code.lower().replace("-", " "))  # typed loosely
    assert welcome.text.startswith("Benvenuta, Anna!") and "Ovest Solidale" in welcome.text
    assert await desk.is_volunteer("501")
    [again] = await desk.redeem("502", "502", "Bea", code)
    assert again.text == T["bad_code"] and not await desk.is_volunteer("502")
    [already] = await desk.redeem("501", "501", "Anna", code)
    assert already.text == T["already"]
    async with sessionmaker() as session:
        v = await session.scalar(select(Volunteer))
        invite = await session.scalar(select(VolunteerInvite))
    assert v is not None and v.team_id == team_id and v.first_name == "Anna"
    assert invite is not None and invite.volunteer_id == v.id and invite.code_hash != code  # only a hash


async def test_expired_and_revoked_codes_do_not_work(sessionmaker: Sessions) -> None:
    _team_id, code = await _team_and_code(sessionmaker)
    async with sessionmaker() as session:
        await session.execute(update(VolunteerInvite).values(expires_at=now_utc() - timedelta(minutes=1)))
        await session.commit()
    desk = VolunteerDesk(sessionmaker)
    assert (await desk.redeem("501", "501", "Anna", code))[0].text == T["bad_code"]
    async with sessionmaker() as session:
        team_id = await session.scalar(select(VolunteerInvite.team_id))
        assert team_id is not None
        fresh = await issue_invite(session, team_id)
        await session.execute(
            update(VolunteerInvite).where(VolunteerInvite.used_at.is_(None)).values(revoked_at=now_utc())
        )
        await session.commit()
    assert (await desk.redeem("501", "501", "Anna", fresh))[0].text == T["bad_code"]


async def test_guessing_is_stopped_after_a_few_failures(sessionmaker: Sessions) -> None:
    _team_id, code = await _team_and_code(sessionmaker)
    desk = VolunteerDesk(sessionmaker)
    for _ in range(MAX_FAILED_REDEEMS):
        assert (await desk.redeem("666", "666", "X", "ABCD-EFGH"))[0].text == T["bad_code"]
    assert (await desk.redeem("666", "666", "X", code))[0].text == T["too_many"]  # even the right one
    assert (await desk.redeem("667", "667", "Anna", code))[0].text.startswith("Benvenuta")


async def test_two_people_racing_for_one_code_one_wins(sessionmaker: Sessions) -> None:
    _team_id, code = await _team_and_code(sessionmaker)
    desk = VolunteerDesk(sessionmaker)
    results = await asyncio.gather(
        *(desk.redeem(str(900 + i), str(900 + i), f"V{i}", code) for i in range(10))
    )
    assert sum(1 for [r] in results if r.text.startswith("Benvenuta")) == 1
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Volunteer)) == 1


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("Fatima", "Fatima"),
        ("  la   signora Rosa ", "la signora Rosa"),
        ("Nonna Pina", "Nonna Pina"),
        ("Fatima Rossi via Roma 3", None),  # an address is not a nickname
        ("333 1234567", None),
        ("", None),
        ("x" * 41, None),
        ("<script>", None),
    ],
)
def test_only_a_first_name_or_a_nickname_is_kept(typed: str, kept: str | None) -> None:
    assert clean_nickname(typed) == kept


async def _registered(sessionmaker: Sessions) -> VolunteerDesk:
    _team_id, code = await _team_and_code(sessionmaker)
    desk = VolunteerDesk(sessionmaker)
    await desk.redeem("501", "501", "Anna", code)
    return desk


async def test_a_request_for_a_neighbour_asks_the_name_then_consent_and_records_it(
    sessionmaker: Sessions,
) -> None:
    desk = await _registered(sessionmaker)
    assert await desk.start_request("999") is None  # not a volunteer: the ordinary "per altri" applies
    [ask] = await desk.start_request("501") or []
    assert ask.text == T["ask_name"]
    bad = await desk.on_text("501", "Fatima, via Roma 3, 333 1234567")
    assert bad is not None and bad.messages[0].text == T["bad_name"]
    question = await desk.on_text("501", "Fatima")
    assert question is not None and "La persona che aiuti è d'accordo" in question.messages[0].text
    assert [b.payload for b in question.messages[0].buttons] == ["/vconsenso si", "/vconsenso no"]
    unclear = await desk.on_text("501", "forse")
    assert unclear is not None and "mi serve una risposta" in unclear.messages[0].text

    done = await desk.on_consent("501", True)
    assert done.engine_payload == "/per_altri" and done.label == "Fatima" and done.conversation_id
    assert done.note and "Fatima è d'accordo" in done.note and "Anna" in done.note
    route = await desk.route("501", "501")
    assert route.sender == done.engine_sender and route.label == "Fatima"
    async with sessionmaker() as session:
        consent = await session.scalar(select(VolunteerConsent))
        conv = await session.get(Conversation, done.conversation_id)
    assert consent is not None and consent.agreed and consent.text_version == CONSENT_VERSION
    assert conv is not None and conv.channel == "telegram" and conv.sender.startswith("501:v")

    [listing] = await desk.cases("501")
    assert "Fatima: nessuna richiesta a un operatore (adesso scrivi per lei)" in listing.text
    [back] = await desk.finish("501")
    assert back.text == T["back_home"] and (await desk.route("501", "501")).sender == "501"
    [now] = await desk.switch("501", str(route.request_id))
    assert "Ora scrivi per Fatima" in now.text and (await desk.route("501", "501")).label == "Fatima"


async def test_a_neighbour_who_does_not_agree_is_not_recorded(sessionmaker: Sessions) -> None:
    desk = await _registered(sessionmaker)
    await desk.start_request("501")
    await desk.on_text("501", "Rosa")
    reply = await desk.on_text("501", "no")
    assert reply is not None and reply.messages[0].text == T["declined"].format(name="Rosa")
    assert reply.conversation_id is None and (await desk.route("501", "501")).sender == "501"
    async with sessionmaker() as session:
        consent = await session.scalar(select(VolunteerConsent))
        assert consent is not None and consent.agreed is False
        assert await session.scalar(select(VolunteerRequest.nickname)) is None  # her name is not kept
        assert await session.scalar(select(func.count()).select_from(Conversation)) == 0


async def test_the_case_is_flagged_as_made_through_the_volunteer(sessionmaker: Sessions) -> None:
    desk = await _registered(sessionmaker)
    await desk.start_request("501")
    await desk.on_text("501", "Fatima")
    done = await desk.on_consent("501", True)
    assert done.conversation_id is not None
    async with sessionmaker() as session:
        await create_handoff(
            session,
            HandoffRequest(conversation_id=done.conversation_id, reason="richiesta", priority="normal"),
        )
        await session.commit()
    link = await desk.stamp_handoff(done.conversation_id, "bussola_test_bot")
    assert "https://t.me/bussola_test_bot?start=n" in link[1].text and "Fatima" in link[1].text
    assert await desk.stamp_handoff(done.conversation_id, "bussola_test_bot") == []  # once
    async with sessionmaker() as session:
        h = await session.scalar(select(Handoff))
        v = await session.scalar(select(Volunteer))
        assert h is not None and v is not None
        assert (h.volunteer_id, h.volunteer_name, h.on_behalf, h.on_behalf_of, h.consent_text_version) == (
            v.id,
            "Anna",
            True,
            "Fatima",
            CONSENT_VERSION,
        )
        targets = await reply_targets(session, h.id)
        assert [t.label for t in targets] == ["La volontaria Anna"]
        req = await session.scalar(select(VolunteerRequest))
        assert req is not None and req.handoff_id == h.id and req.link_token

    # The neighbour opens the link on her own Telegram: the facilitator may now write to her too.
    async with sessionmaker() as session:
        mine = Conversation(channel="telegram", sender="777", state={}, owner="bot")
        session.add(mine)
        await session.commit()
    outs, case, note = await desk.link_neighbour(req.link_token, mine.id)
    assert "Anna ti ha aiutata" in outs[0].text and case == done.conversation_id and note
    async with sessionmaker() as session:
        assert [t.conversation_id for t in await reply_targets(session, h.id)] == [
            done.conversation_id,
            mine.id,
        ]
    assert (await desk.link_neighbour("sbagliato", mine.id))[0][0].text == T["link_bad"]
    assert (await desk.link_neighbour(req.link_token, mine.id + 1000))[0][0].text == T[
        "link_bad"
    ]  # one person


async def test_the_cli_prints_a_code_that_works(sessionmaker: Sessions) -> None:
    async with sessionmaker() as session:
        await make_team(session, "Ovest Solidale")
        await session.commit()
    out, err = io.StringIO(), io.StringIO()
    args = argparse.Namespace(team="Ovest Solidale", giorni=14)
    assert await run_command(volunteer_invite, args, sessionmaker, out, err) == 0
    code = out.getvalue().split(": ", 1)[1].split()[0]
    assert len(code) == 9 and code[4] == "-"
    assert (await VolunteerDesk(sessionmaker).redeem("501", "501", "Anna", code))[0].text.startswith(
        "Benvenuta"
    )

    out = io.StringIO()
    assert await run_command(volunteer_list, argparse.Namespace(team=None), sessionmaker, out, err) == 0
    assert "Anna\tOvest Solidale\tattiva" in out.getvalue()
    assert (
        await run_command(volunteer_deactivate, argparse.Namespace(id=1), sessionmaker, io.StringIO(), err)
        == 0
    )
    assert not await VolunteerDesk(sessionmaker).is_volunteer("501")

    err = io.StringIO()
    args = argparse.Namespace(team="Nessuno", giorni=14)
    assert await run_command(volunteer_invite, args, sessionmaker, io.StringIO(), err) == 1
    assert "gruppo sconosciuto" in err.getvalue()


def test_the_subcommand_is_registered_in_bussola() -> None:
    from bot.cli import build_parser

    args = build_parser().parse_args(["volunteer", "invite", "--team", "Ovest Solidale"])
    assert args.team == "Ovest Solidale" and args.giorni == 14 and callable(args.func)


def test_the_neighbours_conversation_key() -> None:
    assert neighbour_sender("501", 7) == "501:v7"
