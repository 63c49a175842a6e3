"""A team's Telegram group: new cases announced with "Prendi in carico" (the console's atomic claim),
and replies to a case's announcement reach the person."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from handoff.models import Handoff
from tests.fake_bot_api import FakeBotAPI
from tests.handoff_helpers import make_facilitator, make_team
from tests.telegram_support import telegram_app

GROUP = -1001234
CHAT = 5151
GIULIA, MARCO, STRANGER = 7001, 7002, 7999


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    api = await FakeBotAPI().start()
    try:
        yield api
    finally:
        await api.stop()


def alerts(fake: FakeBotAPI) -> list[str]:
    return [
        str(p.get("text"))
        for p in fake.sent(method="answerCallbackQuery")
        if p.get("show_alert") in (True, "true", "True")
    ]


async def test_a_case_is_announced_claimed_once_and_answered_from_the_group(
    sqlite_url: str, fake: FakeBotAPI
) -> None:
    async with telegram_app(sqlite_url, fake) as app:
        async with app.state.sessionmaker() as session:
            team = await make_team(session, "Ovest Solidale", is_default=True)
            team.telegram_chat_id = str(GROUP)
            giulia = await make_facilitator(session, "giulia", [team], first_name="Giulia")
            giulia.telegram_user_id = str(GIULIA)
            marco = await make_facilitator(session, "marco", [team], first_name="Marco")
            marco.telegram_user_id = str(MARCO)
            await session.commit()

        await fake.text(CHAT, "vorrei parlare con un operatore")
        await fake.wait_for(lambda: [t for t, _d, _m in fake.last_buttons(CHAT) if t == "Sì, va bene"])
        await fake.press(CHAT, "Sì, va bene")
        [announcement] = await fake.wait_sent(GROUP, 1)
        assert "Nuova richiesta n." in announcement["text"] and "Prendi in carico" in str(
            announcement["reply_markup"]
        )
        assert "<" not in announcement["text"].replace("<b>", "").replace("</b>", "")  # summary escaped

        await fake.press(GROUP, "Prendi in carico", user_id=STRANGER, first_name="Ignoto")
        await fake.wait_for(lambda: alerts(fake))
        assert "non è collegato" in alerts(fake)[-1]

        await fake.press(GROUP, "Prendi in carico", user_id=GIULIA, first_name="Giulia")
        await fake.wait_for(lambda: any("Giulia ha preso in carico" in t for t in fake.texts(CHAT)))
        edited = await fake.wait_for(lambda: fake.sent(GROUP, method="editMessageText"))
        assert "Presa in carico da Giulia" in edited[-1]["text"] and "reply_markup" not in edited[-1]
        async with app.state.sessionmaker() as session:
            h = await session.scalar(select(Handoff))
        assert h is not None and h.status == "assigned" and h.assigned_to == giulia.id

        await fake.press(GROUP, "Prendi in carico", user_id=MARCO, first_name="Marco")  # too late
        await fake.wait_for(lambda: len(alerts(fake)) == 2)
        assert "già preso in carico" in alerts(fake)[-1]
        async with app.state.sessionmaker() as session:
            h = await session.scalar(select(Handoff))
        assert h is not None and h.assigned_to == giulia.id

        # Marco (not the holder) answers in the thread: refused, nothing reaches the person.
        await fake.group_text(
            GROUP, MARCO, "Provo io", first_name="Marco", reply_to=announcement["_message_id"]
        )
        await fake.wait_for(lambda: any("Prendi in carico il caso" in t for t in fake.texts(GROUP)))
        await fake.group_text(
            GROUP,
            GIULIA,
            "Ciao, sono Giulia: ti chiamo domani.",
            first_name="Giulia",
            reply_to=announcement["_message_id"],
        )
        reply = await fake.wait_for(lambda: [t for t in fake.texts(CHAT) if "Giulia ti scrive" in t])
        assert reply == ["<b>Giulia ti scrive:</b>\nCiao, sono Giulia: ti chiamo domani."]
        assert not any("Provo io" in t for t in fake.texts(CHAT))
        assert len(fake.sent(GROUP, method="editMessageText")) == 1  # the claim is shown once
        await fake.wait_for(lambda: fake.count("setMessageReaction") == 1)  # a quiet "sent" for Giulia


async def test_a_group_gets_its_code_for_the_set_up(sqlite_url: str, fake: FakeBotAPI) -> None:
    async with telegram_app(sqlite_url, fake):
        await fake.group_text(GROUP, GIULIA, "/id")
        [answer] = await fake.wait_sent(GROUP, 1)
        assert str(GROUP) in answer["text"] and str(GIULIA) in answer["text"]
