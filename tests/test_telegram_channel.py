"""The Telegram channel end to end: the real app and python-telegram-bot's real HTTP stack, polling a
local fake Bot API server (tests/fake_bot_api.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.models import Conversation, Message
from bot.telegram_models import TelegramChat
from bot.types import Outbound
from handoff.models import Handoff
from handoff.service import HandoffService
from tests.fake_bot_api import BOT_USERNAME, FakeBotAPI
from tests.fixtures_chat import FakeCatalog
from tests.handoff_helpers import actor_of, make_facilitator, make_team
from tests.telegram_support import button_titles, callback_data, telegram_app

CHAT = 4242


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    api = await FakeBotAPI().start()
    try:
        yield api
    finally:
        await api.stop()


def texts_with(fake: FakeBotAPI, chat: int, needle: str) -> list[str]:
    return [t for t in fake.texts(chat) if needle in t]


async def wait_text(fake: FakeBotAPI, chat: int, needle: str) -> str:
    await fake.wait_for(lambda: texts_with(fake, chat, needle))
    return texts_with(fake, chat, needle)[-1]


async def eventually(
    app: Any, query: Callable[[Any], Awaitable[Any]], until: Callable[[Any], Any] = bool, within: float = 15.0
) -> Any:
    """Re-run a database query until its result satisfies ``until`` (the app works in the background)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        async with app.state.sessionmaker() as session:
            value = await query(session)
        if until(value):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met; last value {value!r}")
        await asyncio.sleep(0.05)


async def conversation(app: Any, sender: str) -> Conversation:
    async with app.state.sessionmaker() as session:
        conv = await session.scalar(
            select(Conversation).where(Conversation.channel == "telegram", Conversation.sender == sender)
        )
    assert conv is not None
    return conv


async def test_a_whole_conversation_with_inline_buttons(sqlite_url: str, fake: FakeBotAPI) -> None:
    async with telegram_app(sqlite_url, fake) as app:
        commands = fake.sent(method="setMyCommands")[0]["commands"]
        assert [c["command"] for c in commands] == [
            "start",
            "aiuto",
            "operatore",
            "privacy",
            "cancella",
            "stop",
        ]
        assert all(c["description"] for c in commands)

        await fake.text(CHAT, "/start")
        menu = await fake.wait_for(
            lambda: [p for p in fake.sent(CHAT) if "Cerco aiuto per me" in button_titles(p)]
        )
        assert "privacy" in menu[0]["text"]
        await fake.press(CHAT, "Cerco aiuto per me")
        await fake.wait_for(lambda: fake.last_buttons(CHAT) and fake.last_buttons(CHAT)[0][0] == "Casa")
        await fake.press(CHAT, "Casa")
        await fake.wait_for(lambda: any(t == "Torino" for t, _d, _m in fake.last_buttons(CHAT)))
        await fake.press(CHAT, "Torino")
        await fake.wait_for(lambda: any(t == "Non lo so" for t, _d, _m in fake.last_buttons(CHAT)))
        await fake.press(CHAT, "Non lo so")
        outro = await fake.wait_for(
            lambda: [p for p in fake.sent(CHAT) if "Altri servizi" in button_titles(p)]
        )
        cards = [t for t in fake.texts(CHAT) if t.startswith("<b>1. ") or t.startswith("<b>2. ")]
        assert len(cards) == 2 and all("📞 +39 011 4013111" in c for c in cards)
        assert outro[-1]["parse_mode"] == "HTML"
        await fake.press(CHAT, "Vorrei parlare con una persona")
        await fake.wait_for(lambda: any(t == "Sì, va bene" for t, _d, _m in fake.last_buttons(CHAT)))
        await fake.press(CHAT, "Sì, va bene")
        await fake.wait_for(
            lambda: any("ho passato la tua richiesta a un operatore" in t for t in fake.texts(CHAT))
        )

        async with app.state.sessionmaker() as session:
            h = await session.scalar(select(Handoff))
        assert h is not None and h.channel == "telegram" and h.status == "waiting" and "casa" in h.needs
        presses = 6
        assert fake.count("answerCallbackQuery") == presses
        assert len(fake.sent(method="editMessageReplyMarkup")) == presses  # pressed keyboards are cleared
        for params in fake.sent(CHAT):
            assert params["parse_mode"] == "HTML"
            assert all(len(d.encode()) <= 64 for d in callback_data(params))


async def test_a_stale_button_gets_a_kind_answer(sqlite_url: str, fake: FakeBotAPI) -> None:
    async with telegram_app(sqlite_url, fake):
        await fake.press_data(CHAT, "/bisogno che-non-esiste", message_id=1)
        reply = await wait_text(fake, CHAT, "non è più attivo")
        assert "Dimmi pure" in reply


async def test_a_shared_location_finds_the_nearest_services(sqlite_url: str, fake: FakeBotAPI) -> None:
    catalog = FakeCatalog()
    async with telegram_app(sqlite_url, fake, catalog=catalog):
        await fake.location(CHAT, 45.0703, 7.6869)
        await fake.wait_for(lambda: fake.last_buttons(CHAT) and fake.last_buttons(CHAT)[0][0] == "Casa")
        await fake.press(CHAT, "Casa")
        await fake.wait_for(lambda: [t for t in fake.texts(CHAT) if t.startswith("<b>1. ")])
    located = [q for q in catalog.queries if q.latitude is not None]
    assert (
        located
        and located[-1].latitude == pytest.approx(45.0703)
        and located[-1].longitude == pytest.approx(7.6869)
    )
    assert located[-1].needs == ("casa",)


async def test_a_voice_note_gets_a_kind_answer_and_the_offer_of_a_person(
    sqlite_url: str, fake: FakeBotAPI
) -> None:
    async with telegram_app(sqlite_url, fake):
        await fake.voice(CHAT)
        await wait_text(fake, CHAT, "Non riesco ad ascoltare i vocali")
        await fake.wait_for(lambda: [t for t, _d, _m in fake.last_buttons(CHAT) if t == "Sì, va bene"])
        await fake.photo(CHAT + 1, caption="guarda questa lettera")
        await wait_text(fake, CHAT + 1, "Non riesco a guardare le foto")
        await fake.sticker(CHAT + 2)
        await wait_text(fake, CHAT + 2, "sticker")


async def test_an_edited_message_is_read_again(sqlite_url: str, fake: FakeBotAPI) -> None:
    async with telegram_app(sqlite_url, fake) as app:
        sent = await fake.text(CHAT, "ciao")
        await fake.wait_sent(CHAT, 1)
        before = len(fake.sent(CHAT))
        await fake.edit(CHAT, sent["message"]["message_id"], "cerco lavoro a Collegno")
        await fake.wait_for(lambda: [t for t in fake.texts(CHAT) if t.startswith("<b>1. ")])
        assert len(fake.sent(CHAT)) > before
        conv = await conversation(app, str(CHAT))
        async with app.state.sessionmaker() as session:
            texts = list(
                await session.scalars(
                    select(Message.text).where(Message.conversation_id == conv.id, Message.direction == "in")
                )
            )
        assert texts == ["ciao", "cerco lavoro a Collegno"]


async def test_group_chats_get_a_pointer_to_the_private_chat(sqlite_url: str, fake: FakeBotAPI) -> None:
    async with telegram_app(sqlite_url, fake) as app:
        await fake.group_text(-5005, 31, f"/start@{BOT_USERNAME}")
        pointer = await fake.wait_sent(-5005, 1)
        assert f"https://t.me/{BOT_USERNAME}" in pointer[0]["text"] and "privato" in pointer[0]["text"]
        async with app.state.sessionmaker() as session:
            assert await session.scalar(select(func.count()).select_from(Conversation)) == 0  # nothing stored


async def test_a_facilitator_reply_arrives_in_the_telegram_chat(sqlite_url: str, fake: FakeBotAPI) -> None:
    async with telegram_app(sqlite_url, fake) as app:
        async with app.state.sessionmaker() as session:
            team = await make_team(session, "Bussola", is_default=True)
            giulia = await make_facilitator(session, "giulia", [team], first_name="Giulia")
            actor = await actor_of(session, giulia)
            await session.commit()
        await fake.text(CHAT, "vorrei parlare con un operatore")
        await fake.wait_for(lambda: [t for t, _d, _m in fake.last_buttons(CHAT) if t == "Sì, va bene"])
        await fake.press(CHAT, "Sì, va bene")
        h = await eventually(app, lambda s: s.scalar(select(Handoff)))
        service = HandoffService.from_state(app.state)
        await service.claim(actor, h.id)
        await wait_text(fake, CHAT, "Giulia ha preso in carico")
        await service.reply(actor, h.id, "Buongiorno, sono Giulia. <Ti> chiamo domani & ti spiego.")
        reply = await wait_text(fake, CHAT, "Giulia ti scrive:")
        assert (
            reply
            == "<b>Giulia ti scrive:</b>\nBuongiorno, sono Giulia. &lt;Ti&gt; chiamo domani &amp; ti spiego."
        )
        before = len(fake.sent(CHAT))
        update = await fake.text(
            CHAT, "grazie mille"
        )  # while the facilitator holds the case the bot is quiet
        external = f"u{update['update_id']}"
        await eventually(app, lambda s: s.scalar(select(Message.id).where(Message.external_id == external)))
        assert len(fake.sent(CHAT)) == before
        undelivered = await eventually(
            app,
            lambda s: s.scalar(
                select(func.count())
                .select_from(Message)
                .where(Message.direction == "out", Message.delivered_at.is_(None))
            ),
            until=lambda n: n == 0,
        )
        assert undelivered == 0
        assert len(texts_with(fake, CHAT, "Giulia ti scrive")) == 1


async def test_an_update_delivered_twice_is_processed_once(sqlite_url: str, fake: FakeBotAPI) -> None:
    async with telegram_app(sqlite_url, fake):
        first = await fake.text(CHAT, "cerco lavoro a Collegno")
        await fake.wait_for(lambda: [t for t in fake.texts(CHAT) if t.startswith("<b>1. ")])
    answered = len(fake.sent(CHAT))
    await fake.no_poll_in_flight()
    await fake.push(first)  # Telegram sends it again (the process died before confirming it)
    async with telegram_app(sqlite_url, fake) as app:
        await fake.text(CHAT, "grazie")
        await wait_text(fake, CHAT, "Grazie a te")
        assert fake.delivered.count(first["update_id"]) == 2  # the second process did receive it again
        assert len(fake.sent(CHAT)) == answered + 1  # and answered only the new message
        conv = await conversation(app, str(CHAT))
        async with app.state.sessionmaker() as session:
            stored = await session.scalar(
                select(func.count())
                .select_from(Message)
                .where(Message.conversation_id == conv.id, Message.external_id == f"u{first['update_id']}")
            )
        assert stored == 1


async def test_flood_control_retry_after_is_respected(sqlite_url: str, fake: FakeBotAPI) -> None:
    fake.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    async with telegram_app(sqlite_url, fake):
        await fake.text(CHAT, "ciao")
        await fake.wait_sent(CHAT, 1)
    sends = [c for c in fake.calls if c.method == "sendMessage"]
    assert [c.status for c in sends[:2]] == [429, 200]
    assert sends[1].at - sends[0].at >= 1.0  # it waited as long as Telegram asked
    assert sends[1].params["text"] == sends[0].params["text"]  # and sent the same message, once
    assert fake.texts(CHAT).count(sends[0].params["text"]) == 1


async def test_a_blocked_bot_is_remembered_and_nothing_is_lost(sqlite_url: str, fake: FakeBotAPI) -> None:
    async with telegram_app(sqlite_url, fake) as app:
        await fake.text(CHAT, "ciao")
        await fake.wait_for(lambda: fake.last_buttons(CHAT))  # the welcome, with its menu, arrived
        conv = await conversation(app, str(CHAT))
        fake.blocked.add(str(CHAT))
        await app.state.dialogue.say(conv.id, Outbound(text="Un messaggio per te"), author="system")
        refused = await fake.wait_for(lambda: [c for c in fake.calls if c.status == 403])
        assert refused[0].params["text"] == "Un messaggio per te"
        blocked = await eventually(
            app, lambda s: s.get(TelegramChat, conv.id), until=lambda c: c and c.blocked_at
        )
        assert blocked.blocked_at is not None
        pending = await eventually(
            app,
            lambda s: s.scalar(select(Message.delivered_at).where(Message.text == "Un messaggio per te")),
            until=lambda v: True,
        )
        assert pending is None  # given back, not lost
        fake.blocked.discard(str(CHAT))
        await fake.text(CHAT, "ci sono di nuovo")
        await wait_text(fake, CHAT, "Un messaggio per te")
        assert len(texts_with(fake, CHAT, "Un messaggio per te")) == 1


async def test_cancella_asks_for_confirmation_then_erases_everything(
    sqlite_url: str, fake: FakeBotAPI
) -> None:
    from bot.telegram_models import TelegramSent

    async with telegram_app(sqlite_url, fake) as app:
        await fake.text(CHAT, "cerco lavoro a Collegno")
        await fake.wait_for(lambda: [t for t in fake.texts(CHAT) if t.startswith("<b>1. ")])
        await fake.text(CHAT, "/cancella")
        await fake.wait_for(lambda: [t for t, _d, _m in fake.last_buttons(CHAT) if t == "Sì, cancella tutto"])
        await fake.press(CHAT, "Sì, cancella tutto")
        await wait_text(fake, CHAT, "ho cancellato la conversazione")  # sent although nothing is stored
        models: list[Any] = [Conversation, Message, TelegramChat, TelegramSent]
        for model in models:

            def count(s: Any, m: Any = model) -> Awaitable[Any]:
                return s.scalar(select(func.count()).select_from(m))

            left = await eventually(app, count, until=lambda n: n == 0)
            assert left == 0, model.__name__
        before = len(fake.sent(CHAT))
        await fake.text(CHAT, "ciao")  # a new start, as promised: the welcome again
        await fake.wait_for(
            lambda: any("Cerco aiuto per me" in str(p.get("reply_markup")) for p in fake.sent(CHAT)[before:])
        )
        fresh = await conversation(app, str(CHAT))
        async with app.state.sessionmaker() as session:
            said = list(
                await session.scalars(
                    select(Message.text).where(Message.conversation_id == fresh.id, Message.direction == "in")
                )
            )
        assert said == ["ciao"]  # nothing of the erased conversation came back


async def test_telegram_down_at_start_does_not_stop_the_app(sqlite_url: str, fake: FakeBotAPI) -> None:
    fake.fail_next("getMe", 502, "Bad Gateway")
    fake.fail_next("getMe", 502, "Bad Gateway")
    async with telegram_app(sqlite_url, fake) as app:  # the lifespan finished; the channel caught up
        assert [c.status for c in fake.calls if c.method == "getMe"] == [502, 502, 200]
        await fake.text(CHAT, "ciao")
        await fake.wait_sent(CHAT, 1)
        assert app.state.telegram.ready.is_set()
