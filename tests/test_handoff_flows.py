"""Claim, reply, transfer, release, close and the bot taking over again; stale cases; permissions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.models import Conversation, Message
from bot.pubsub import InMemoryBroker
from handoff import queue
from handoff.models import AuditLog, Facilitator, Handoff, PrivateNote
from handoff.security import Actor, utcnow
from handoff.service import HandoffService
from tests.handoff_helpers import FakeDialogue, actor_of, make_case, make_facilitator, make_team

TORINO = "001272"
COLLEGNO = "001090"


@pytest.fixture
def world(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> tuple[HandoffService, FakeDialogue, InMemoryBroker]:
    broker = InMemoryBroker()
    dialogue = FakeDialogue(sessionmaker, broker)
    return HandoffService(sessionmaker, dialogue, broker), dialogue, broker


async def _people(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, Actor]:
    async with sessionmaker() as session:
        ovest = await make_team(session, "Ovest Solidale", comuni=[COLLEGNO])
        default = await make_team(session, "Bussola", is_default=True)
        out = {
            "giulia": await make_facilitator(session, "giulia", [ovest]),
            "marco": await make_facilitator(session, "marco", [ovest]),
            "carla": await make_facilitator(session, "carla", [ovest], role="coordinatore"),
            "dario": await make_facilitator(session, "dario", [default]),
            "admin": await make_facilitator(session, "admin", [], role="admin"),
        }
        actors = {k: await actor_of(session, v) for k, v in out.items()}
        await session.commit()
    return actors


async def _owner(sessionmaker: async_sessionmaker[AsyncSession], h: Handoff) -> str:
    async with sessionmaker() as session:
        conv = await session.get(Conversation, h.conversation_id)
        assert conv is not None
        return conv.owner


async def test_cases_are_routed_to_the_team_covering_the_place(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        ovest = await make_team(session, "Ovest", comuni=[COLLEGNO, "001120"])
        torino = await make_team(session, "Torino", comuni=[TORINO])
        salvario = await make_team(session, "Casa del Quartiere San Salvario", quartieri=["San Salvario"])
        default = await make_team(session, "Bussola", is_default=True)
        cases = {
            "collegno": await make_case(session, comune_istat=COLLEGNO),
            "torino": await make_case(session, comune_istat=TORINO, quartiere="Aurora"),
            "salvario": await make_case(session, comune_istat=TORINO, quartiere="san salvario"),
            "ivrea": await make_case(session, comune_istat="001125"),
            "unknown": await make_case(session),
        }
        await session.commit()
    assert cases["collegno"].team_id == ovest.id
    assert cases["torino"].team_id == torino.id
    assert cases["salvario"].team_id == salvario.id
    assert cases["ivrea"].team_id == default.id
    assert cases["unknown"].team_id == default.id


async def test_a_facilitator_sees_and_claims_only_their_teams_cases(
    sessionmaker: async_sessionmaker[AsyncSession], world: tuple[HandoffService, FakeDialogue, InMemoryBroker]
) -> None:
    service, _, _ = world
    p = await _people(sessionmaker)
    async with sessionmaker() as session:
        ovest_case = await make_case(session, comune_istat=COLLEGNO)
        other_case = await make_case(session, comune_istat="001125")
        await session.commit()
        assert [h.id for h in await queue.list_cases(session, p["giulia"], status="waiting")] == [
            ovest_case.id
        ]
        assert [h.id for h in await queue.list_cases(session, p["dario"], status="waiting")] == [
            other_case.id
        ]
        assert len(await queue.list_cases(session, p["admin"], status="waiting")) == 2
    with pytest.raises(queue.Forbidden):
        await service.claim(p["giulia"], other_case.id)
    with pytest.raises(queue.Forbidden):
        await service.view(p["dario"], ovest_case.id)
    with pytest.raises(queue.NotFound):
        await service.view(p["admin"], 999_999)
    assert (await service.claim(p["admin"], other_case.id)).assigned_to == p["admin"].id


async def test_claim_reply_and_close_hand_the_conversation_back_to_the_bot(
    sessionmaker: async_sessionmaker[AsyncSession], world: tuple[HandoffService, FakeDialogue, InMemoryBroker]
) -> None:
    service, dialogue, broker = world
    p = await _people(sessionmaker)
    async with sessionmaker() as session:
        h = await make_case(session, comune_istat=COLLEGNO)
        await session.commit()
    async with broker.subscribe("queue") as events:
        await service.claim(p["giulia"], h.id)
        assert (await events.get())["type"] == "handoff_claimed"
    assert await _owner(sessionmaker, h) == "facilitator"
    assert dialogue.said("system") == ["Giulia ha preso in carico la tua richiesta e ti scrive qui tra poco."]
    # only the holder writes to the person
    with pytest.raises(queue.Conflict):
        await service.reply(p["marco"], h.id, "Ciao!")
    with pytest.raises(queue.Invalid):
        await service.reply(p["giulia"], h.id, "   ")
    mid = await service.reply(p["giulia"], h.id, "Ciao, sono Giulia. Come posso aiutarti?")
    assert mid is not None
    say = [args for name, args in dialogue.calls if name == "say" and args[1] == "facilitator"]
    assert say == [
        (
            h.conversation_id,
            "facilitator",
            "Giulia",
            "Ciao, sono Giulia. Come posso aiutarti?",
            {"type": "facilitator_message", "author": "Giulia"},
        )
    ]
    # a colleague cannot close someone else's case; an unknown outcome is refused
    with pytest.raises(queue.Forbidden):
        await service.close(p["marco"], h.id, "risolto")
    with pytest.raises(queue.Invalid):
        await service.close(p["giulia"], h.id, "boh")
    closed = await service.close(p["giulia"], h.id, "orientato", "Indirizzata allo sportello casa.")
    assert (closed.status, closed.outcome, closed.outcome_note) == (
        "closed",
        "orientato",
        "Indirizzata allo sportello casa.",
    )
    assert ("after_handoff_closed", h.conversation_id) in dialogue.calls
    assert await _owner(sessionmaker, h) == "bot"
    with pytest.raises(queue.Conflict):
        await service.reply(p["giulia"], h.id, "Ancora io")
    with pytest.raises(queue.Conflict):
        await service.close(p["giulia"], h.id, "risolto")
    async with sessionmaker() as session:
        actions = list(
            await session.scalars(
                select(AuditLog.action).where(AuditLog.handoff_id == h.id).order_by(AuditLog.id)
            )
        )
    assert actions == ["created", "claim", "reply", "close"]


async def test_a_double_submitted_reply_is_sent_once(
    sessionmaker: async_sessionmaker[AsyncSession], world: tuple[HandoffService, FakeDialogue, InMemoryBroker]
) -> None:
    service, dialogue, _ = world
    p = await _people(sessionmaker)
    async with sessionmaker() as session:
        h = await make_case(session, comune_istat=COLLEGNO)
        await session.commit()
    await service.claim(p["giulia"], h.id)
    first = await service.reply(p["giulia"], h.id, "Ti chiamo domani.", client_key="form-1")
    second = await service.reply(p["giulia"], h.id, "Ti chiamo domani.", client_key="form-1")
    assert first == second and first is not None
    assert dialogue.said("facilitator") == ["Ti chiamo domani."]
    # a reply that could not be sent may be retried with the same key
    dialogue.fail_say = True
    with pytest.raises(RuntimeError):
        await service.reply(p["giulia"], h.id, "Secondo messaggio", client_key="form-2")
    dialogue.fail_say = False
    assert await service.reply(p["giulia"], h.id, "Secondo messaggio", client_key="form-2") is not None
    assert dialogue.said("facilitator") == ["Ti chiamo domani.", "Secondo messaggio"]


async def test_private_notes_never_reach_the_citizen(
    sessionmaker: async_sessionmaker[AsyncSession], world: tuple[HandoffService, FakeDialogue, InMemoryBroker]
) -> None:
    service, dialogue, _ = world
    p = await _people(sessionmaker)
    async with sessionmaker() as session:
        h = await make_case(session, comune_istat=COLLEGNO)
        await session.commit()
    await service.claim(p["giulia"], h.id)
    await service.add_note(p["marco"], h.id, "Nota riservata: già seguita dal consorzio.")
    view = await service.view(p["giulia"], h.id)
    assert [n.text for n in view.notes] == ["Nota riservata: già seguita dal consorzio."]
    assert all("riservata" not in m.text for m in view.transcript)
    async with sessionmaker() as session:
        texts = list(await session.scalars(select(Message.text)))
    assert not any("riservata" in t for t in texts)
    assert not any("riservata" in t for t in dialogue.said())


async def test_transfer_to_a_team_and_to_a_person(
    sessionmaker: async_sessionmaker[AsyncSession], world: tuple[HandoffService, FakeDialogue, InMemoryBroker]
) -> None:
    service, dialogue, _ = world
    p = await _people(sessionmaker)
    async with sessionmaker() as session:
        h = await make_case(session, comune_istat=COLLEGNO)
        dario_team = (await session.scalars(select(Handoff.team_id).where(Handoff.id == h.id))).one()
        default_team_id = (
            await session.scalars(select(Facilitator.id).where(Facilitator.username == "dario"))
        ).one()
        await session.commit()
    await service.claim(p["giulia"], h.id)
    with pytest.raises(queue.Invalid):  # a note is required
        await service.transfer(p["giulia"], h.id, note=" ", facilitator_id=p["marco"].id)
    with pytest.raises(queue.Forbidden):  # a colleague who does not hold it
        await service.transfer(p["marco"], h.id, note="lo prendo io", facilitator_id=p["marco"].id)
    moved = await service.transfer(
        p["giulia"], h.id, note="Parla spagnolo: Marco lo conosce.", facilitator_id=p["marco"].id
    )
    assert (moved.status, moved.assigned_to, moved.team_id) == ("assigned", p["marco"].id, dario_team)
    assert dialogue.said("system")[-1] == "Da adesso ti aiuta Marco. Ti scrive qui tra poco."
    assert await _owner(sessionmaker, h) == "facilitator"
    # Marco sends it to the default team's queue: it waits there, the bot answers meanwhile
    default_team = next(iter(p["dario"].team_ids))
    back = await service.transfer(p["marco"], h.id, note="Fuori zona.", team_id=default_team)
    assert (back.status, back.assigned_to, back.team_id) == ("waiting", None, default_team)
    assert await _owner(sessionmaker, h) == "bot"
    with pytest.raises(queue.Forbidden):
        await service.claim(p["giulia"], h.id)
    assert (await service.claim(p["dario"], h.id)).assigned_to == p["dario"].id
    view = await service.view(p["dario"], h.id)
    assert [(n.kind, n.text) for n in view.notes] == [
        ("transfer", "Parla spagnolo: Marco lo conosce."),
        ("transfer", "Fuori zona."),
    ]
    assert default_team_id  # the account exists


async def test_a_coordinator_may_close_a_waiting_case_a_facilitator_may_not(
    sessionmaker: async_sessionmaker[AsyncSession], world: tuple[HandoffService, FakeDialogue, InMemoryBroker]
) -> None:
    service, _, _ = world
    p = await _people(sessionmaker)
    async with sessionmaker() as session:
        h = await make_case(session, comune_istat=COLLEGNO)
        await session.commit()
    with pytest.raises(queue.Forbidden):
        await service.close(p["giulia"], h.id, "duplicato")
    assert (await service.close(p["carla"], h.id, "duplicato")).status == "closed"


async def test_a_case_whose_facilitator_is_gone_goes_back_to_the_queue_keeping_its_place(
    sessionmaker: async_sessionmaker[AsyncSession], world: tuple[HandoffService, FakeDialogue, InMemoryBroker]
) -> None:
    service, dialogue, _ = world
    p = await _people(sessionmaker)
    long_ago = utcnow() - timedelta(hours=2)
    async with sessionmaker() as session:
        gone = await make_case(session, comune_istat=COLLEGNO, created_at=long_ago)
        present = await make_case(session, comune_istat=COLLEGNO, created_at=long_ago)
        await session.commit()
    await service.claim(p["giulia"], gone.id)
    await service.claim(p["marco"], present.id)
    async with sessionmaker() as session:
        await session.execute(
            update(Handoff).where(Handoff.id.in_([gone.id, present.id])).values(last_activity_at=long_ago)
        )
        await session.execute(
            update(Facilitator).where(Facilitator.id == p["giulia"].id).values(last_seen_at=long_ago)
        )
        await session.execute(
            update(Facilitator).where(Facilitator.id == p["marco"].id).values(last_seen_at=utcnow())
        )
        await session.commit()
    assert await service.release_stale() == [gone.id]
    assert await service.release_stale() == []  # nothing twice
    async with sessionmaker() as session:
        row = await session.get(Handoff, gone.id)
        assert row is not None
        assert (row.status, row.assigned_to, row.returned_count) == ("waiting", None, 1)
        assert (await session.get(Handoff, present.id)).status == "assigned"  # type: ignore[union-attr]
        note = await session.scalar(select(PrivateNote).where(PrivateNote.handoff_id == gone.id))
        assert note is not None and note.kind == "release"
    assert await _owner(sessionmaker, gone) == "bot"
    assert "non è più disponibile" in dialogue.said("system")[-1]
    # it is first in the queue again: a colleague taking the next case gets it
    assert (await service.take_next(p["marco"])).id == gone.id  # type: ignore[union-attr]


async def test_release_by_the_holder(
    sessionmaker: async_sessionmaker[AsyncSession], world: tuple[HandoffService, FakeDialogue, InMemoryBroker]
) -> None:
    service, _, _ = world
    p = await _people(sessionmaker)
    async with sessionmaker() as session:
        h = await make_case(session, comune_istat=COLLEGNO)
        await session.commit()
    await service.claim(p["giulia"], h.id)
    with pytest.raises(queue.Forbidden):
        await service.release(p["marco"], h.id)
    back = await service.release(p["giulia"], h.id, "Devo uscire.")
    assert back.status == "waiting" and back.assigned_to is None
    with pytest.raises(queue.Conflict):
        await service.release(p["giulia"], h.id)


async def test_the_audit_log_records_who_read_a_case(
    sessionmaker: async_sessionmaker[AsyncSession], world: tuple[HandoffService, FakeDialogue, InMemoryBroker]
) -> None:
    service, _, _ = world
    p = await _people(sessionmaker)
    async with sessionmaker() as session:
        h = await make_case(session, comune_istat=COLLEGNO)
        await session.commit()
    await service.view(p["marco"], h.id)
    async with sessionmaker() as session:
        row = await session.scalar(select(AuditLog).where(AuditLog.action == "view"))
    assert row is not None and (row.actor, row.handoff_id) == ("marco", h.id)
