"""A volunteer's whole journey on Telegram: invite (CLI), redeem (/volontaria), a request for a
neighbour with the consent step, the case flagged "tramite volontaria" in the console's API, the
facilitator's reply in her chat, the neighbour linking her own Telegram and being answered directly."""

from __future__ import annotations

import argparse
import io
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from handoff.cli import run_command
from handoff.models import Handoff
from handoff.volunteer_models import VolunteerConsent
from handoff.volunteers import CONSENT_VERSION, reply_to_neighbour
from handoff.volunteers_cli import volunteer_invite
from tests.fake_bot_api import BOT_USERNAME, FakeBotAPI
from tests.handoff_helpers import PASSWORD, actor_of, make_facilitator, make_team
from tests.telegram_support import telegram_app

ANNA = 6001  # the volunteer (private chat id == user id)
FATIMA = 6002  # the neighbour, who later opens the link on her own phone


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    api = await FakeBotAPI().start()
    try:
        yield api
    finally:
        await api.stop()


def containing(fake: FakeBotAPI, chat: int, needle: str) -> list[str]:
    return [t for t in fake.texts(chat) if needle in t]


async def wait_text(fake: FakeBotAPI, chat: int, needle: str) -> str:
    await fake.wait_for(lambda: containing(fake, chat, needle))
    return containing(fake, chat, needle)[-1]


async def say(fake: FakeBotAPI, text: str) -> None:
    await fake.text(ANNA, text, first_name="Anna")


async def test_a_volunteers_full_journey(sqlite_url: str, fake: FakeBotAPI) -> None:
    async with telegram_app(sqlite_url, fake) as app:
        async with app.state.sessionmaker() as session:
            team = await make_team(session, "Ovest Solidale", is_default=True)
            giulia = await make_facilitator(session, "giulia", [team], first_name="Giulia")
            actor = await actor_of(session, giulia)
            await session.commit()
        out = io.StringIO()
        args = argparse.Namespace(team="Ovest Solidale", giorni=14)
        assert await run_command(volunteer_invite, args, app.state.sessionmaker, out, io.StringIO()) == 0
        code = out.getvalue().split(": ", 1)[1].split()[0]

        # Redeem: registered, and her menu gains the volunteers' commands.
        await say(fake, f"/volontaria {code}")
        assert "Benvenuta, Anna!" in await wait_text(fake, ANNA, "Benvenuta")
        scoped = await fake.wait_for(lambda: [p for p in fake.sent(method="setMyCommands") if p.get("scope")])
        assert {"aiuta", "casi", "fine"} <= {c["command"] for c in scoped[-1]["commands"]}
        assert scoped[-1]["scope"] == {"type": "chat", "chat_id": ANNA}

        # A request for Fatima: her name, then the consent question, with buttons.
        await say(fake, "/aiuta")
        await wait_text(fake, ANNA, "Come si chiama la persona che aiuti?")
        await say(fake, "Fatima")
        await wait_text(fake, ANNA, "La persona che aiuti è d'accordo a condividere queste informazioni?")
        await fake.press(ANNA, "Sì, è d'accordo", first_name="Anna")
        await wait_text(fake, ANNA, "Ho registrato che Fatima è d'accordo")
        await fake.wait_for(lambda: [t for t, _d, _m in fake.last_buttons(ANNA) if t == "Casa"])

        # The ordinary dialogue, on behalf of Fatima, up to a person.
        await say(fake, "ha bisogno di una casa a Collegno")
        await fake.wait_for(lambda: [t for t in fake.texts(ANNA) if "<b>1. " in t])
        await fake.press(ANNA, "Vorrei parlare con una persona", first_name="Anna")
        await fake.wait_for(lambda: [t for t, _d, _m in fake.last_buttons(ANNA) if t == "Sì, va bene"])
        await fake.press(ANNA, "Sì, va bene", first_name="Anna")
        await wait_text(fake, ANNA, "ho passato la tua richiesta a un operatore")
        link_message = await wait_text(fake, ANNA, f"https://t.me/{BOT_USERNAME}?start=n")
        assert link_message.startswith("Ciao Fatima! Anna ti ha aiutata")

        async with app.state.sessionmaker() as session:
            h = await session.scalar(select(Handoff))
            consent = await session.scalar(select(VolunteerConsent))
        assert h is not None and consent is not None and consent.agreed
        assert (h.volunteer_name, h.on_behalf, h.on_behalf_of, h.consent_text_version) == (
            "Anna",
            True,
            "Fatima",
            CONSENT_VERSION,
        )
        assert "casa" in h.needs and h.comune_name == "Collegno"

        # The console (JSON API) shows the case as made through the volunteer; Giulia claims and answers.
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            r = await client.post("/api/login", json={"username": "giulia", "password": PASSWORD})
            assert r.status_code == 200, r.text
            headers = {"X-CSRF-Token": r.json()["csrf_token"], "Origin": "http://testserver"}
            detail = (await client.get(f"/api/handoffs/{h.id}")).json()
            assert detail["volunteer_name"] == "Anna"
            assert (await client.post(f"/api/handoffs/{h.id}/claim", headers=headers)).status_code == 200
            r = await client.post(
                f"/api/handoffs/{h.id}/messages",
                json={"text": "Ciao Anna, domani chiamo Fatima."},
                headers=headers,
            )
            assert r.status_code == 201, r.text
        reply = await wait_text(fake, ANNA, "Giulia ti scrive")
        assert reply == "<b>Giulia ti scrive (per Fatima):</b>\nCiao Anna, domani chiamo Fatima."

        # /casi: Fatima's case, now followed by Giulia.
        await say(fake, "/casi")
        listing = await wait_text(fake, ANNA, "Le persone che segui")
        assert "Fatima: seguita da Giulia" in listing

        # Fatima opens the link on her own Telegram; Giulia can now write to her directly.
        token = link_message.split("start=n", 1)[1].split()[0]
        await fake.text(FATIMA, f"/start n{token}", first_name="Fatima")
        assert "Anna ti ha aiutata" in await wait_text(fake, FATIMA, "Anna ti ha aiutata")
        await wait_text(fake, ANNA, "Fatima ha collegato il suo Telegram")
        await reply_to_neighbour(
            app.state.sessionmaker, app.state.dialogue, actor, h.id, "Ciao Fatima, sono Giulia."
        )
        direct = await wait_text(fake, FATIMA, "Giulia ti scrive")
        assert direct == "<b>Giulia ti scrive:</b>\nCiao Fatima, sono Giulia."
        note = await wait_text(fake, ANNA, "ha scritto direttamente a Fatima")
        assert "Ciao Fatima, sono Giulia." in note  # the volunteer and the transcript know what was said

        # Back to her own conversation: her messages are hers again.
        await say(fake, "/fine")
        await wait_text(fake, ANNA, "tornata alla tua conversazione")


async def test_a_button_on_an_old_neighbours_message_goes_to_that_neighbour(
    sqlite_url: str, fake: FakeBotAPI
) -> None:
    async with telegram_app(sqlite_url, fake) as app:
        async with app.state.sessionmaker() as session:
            await make_team(session, "Ovest Solidale", is_default=True)
            await session.commit()
        out = io.StringIO()
        await run_command(
            volunteer_invite,
            argparse.Namespace(team="Ovest Solidale", giorni=14),
            app.state.sessionmaker,
            out,
            out,
        )
        await say(fake, f"/volontaria {out.getvalue().split(': ', 1)[1].split()[0]}")
        await wait_text(fake, ANNA, "Benvenuta")
        for name in ("Fatima", "Rosa"):
            await say(fake, "/aiuta")
            await fake.wait_for(lambda: fake.texts(ANNA)[-1].startswith("Come si chiama"))
            await say(fake, name)
            await fake.wait_for(
                lambda: [t for t, _d, _m in fake.last_buttons(ANNA) if t == "Sì, è d'accordo"]
            )
            await fake.press(ANNA, "Sì, è d'accordo", first_name="Anna")
            await fake.wait_for(lambda: [t for t, _d, _m in fake.last_buttons(ANNA) if t == "Casa"])
        # Rosa is the current neighbour; Anna taps "Lavoro" on Fatima's (older) question.
        fatima_menu = _menus(fake)[0]
        await fake.press_data(ANNA, "/bisogno lavoro", fatima_menu, first_name="Anna")
        await fake.wait_for(lambda: any(t.startswith("<i>Per Fatima</i>") for t in fake.texts(ANNA)[-3:]))
        convs = await _states(app)
        assert convs["Fatima"].get("needs") == ["lavoro"] and not convs["Rosa"].get("needs")


def _menus(fake: FakeBotAPI) -> list[int]:
    """Telegram ids of the messages that carried the need buttons, oldest first."""
    ids = []
    for c in fake.calls:
        if c.method == "sendMessage" and c.status == 200 and str(c.params.get("chat_id")) == str(ANNA):
            markup = c.params.get("reply_markup")
            if isinstance(markup, dict) and "/bisogno casa" in str(markup):
                ids.append(int(c.params["_message_id"]))
    return ids


async def _states(app: Any) -> dict[str, dict[str, Any]]:
    from bot.models import Conversation
    from handoff.volunteer_models import VolunteerRequest

    async with app.state.sessionmaker() as session:
        rows = (
            await session.execute(
                select(VolunteerRequest.nickname, Conversation.state).join(
                    Conversation, Conversation.id == VolunteerRequest.conversation_id
                )
            )
        ).all()
    return {name: state for name, state in rows}
