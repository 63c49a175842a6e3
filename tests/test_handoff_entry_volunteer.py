"""A case opened during a volunteer's request is flagged when it is created, whatever the channel."""

from __future__ import annotations

from bot.models import Conversation
from handoff.entry import HandoffRequest, create_handoff
from handoff.volunteer_models import Volunteer, VolunteerRequest
from handoff.volunteers import CONSENT_VERSION


async def test_case_is_flagged_at_creation_only_for_an_active_request(sessionmaker) -> None:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s, s.begin():
        helped = Conversation(channel="telegram", sender="n1", state={})
        alone = Conversation(channel="telegram", sender="n2", state={})
        finished = Conversation(channel="telegram", sender="n3", state={})
        s.add_all([helped, alone, finished])
        await s.flush()
        amina = Volunteer(telegram_user_id="77", chat_id="77", first_name="Amina")
        s.add(amina)
        await s.flush()
        s.add_all(
            [
                VolunteerRequest(
                    volunteer_id=amina.id, nickname="Fatima", status="active", conversation_id=helped.id
                ),
                VolunteerRequest(
                    volunteer_id=amina.id, nickname="Rosa", status="closed", conversation_id=finished.id
                ),
            ]
        )
    async with sessionmaker() as s, s.begin():
        flagged = await create_handoff(s, HandoffRequest(helped.id, "richiesta", "normal", needs=("casa",)))
        plain = await create_handoff(s, HandoffRequest(alone.id, "richiesta", "normal"))
        old = await create_handoff(s, HandoffRequest(finished.id, "richiesta", "normal"))
    assert (flagged.volunteer_id, flagged.volunteer_name, flagged.on_behalf, flagged.on_behalf_of) == (
        amina.id,
        "Amina",
        True,
        "Fatima",
    )
    assert flagged.consent_text_version == CONSENT_VERSION
    for case in (plain, old):
        assert case.volunteer_id is None and not case.on_behalf
