"""A whole web-chat conversation in Chromium: the real app, the real Rasa model, the embedded catalogue.

What a citizen sees and does: the welcome with its buttons, a need and a place answered with service
cards and tappable phone numbers, the emergency numbers, the handoff offer and the place in the queue,
a reload that keeps the conversation, the erasure, a network failure that loses nothing, and a
facilitator's reply arriving by itself, even after the connection dropped.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from bot.types import Outbound
from tests.fixtures_browser import ChatPage, LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.rasa]
GIULIA = {"author": "facilitator", "author_name": "Giulia"}


def conversation_id(live: LiveServer, sender: str) -> int:
    conv = live.run(live.app.state.dialogue.conversation_for("web", sender, create=False))
    assert conv is not None, "the page's session is not in the database"
    return int(conv.id)


def history(live: LiveServer, token: str) -> httpx.Response:
    return httpx.get(
        f"{live.url}/webhooks/rest/history", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


def test_welcome_shows_the_menu_and_a_tap_shows_its_title(chat: ChatPage) -> None:
    chat.open()
    page = chat.page
    assert page.locator("html").get_attribute("lang") == "it"
    assert any("Bussola" in b for b in chat.bubbles("bot"))
    assert "Cerco aiuto per me" in chat.quick_replies()
    assert not any(b.startswith("/") for b in chat.bubbles()), "a command leaked into the transcript"
    chat.tap("Cerco aiuto per me")
    assert chat.bubbles("user")[-1] == "Cerco aiuto per me", "the payload, not the title, was shown"
    assert chat.active_id() == "input", "after a quick reply the keyboard user should be back in the box"


def test_need_and_place_give_service_cards_with_phone_links(chat: ChatPage) -> None:
    chat.open()
    chat.send("Cerco casa a Collegno, mi hanno sfrattato")
    page = chat.page
    assert chat.active_id() == "input", "focus must stay in the text box after sending"
    assert chat.bubbles("user")[-1] == "Cerco casa a Collegno, mi hanno sfrattato"
    cards = page.locator("#log .card")
    assert 1 <= cards.count() <= 3
    first = cards.first
    assert first.locator("h2").inner_text().strip()
    tels = page.locator("#log .card a[href^='tel:']")
    assert tels.count() >= 1, "no tappable phone number on any card"
    for href in tels.evaluate_all("els => els.map(e => e.getAttribute('href'))"):
        assert re.fullmatch(r"tel:\+?\d{3,15}", href), href
    assert "Altri servizi" in chat.quick_replies()
    # The card's text is drawn once, as a card, not also as the plain-text list of other channels.
    assert page.locator("#log .msg.bot").last.inner_text().count(first.locator("h2").inner_text()) == 1


def test_emergency_numbers_come_first_and_handoff_is_urgent(chat: ChatPage, live_server: LiveServer) -> None:
    chat.open()
    chat.send("mio marito mi picchia e ho paura")
    page = chat.page
    numbers = page.locator("#log .emergency a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert "tel:112" in numbers and "tel:1522" in numbers
    box = page.locator("#log .emergency a[href='tel:112']").bounding_box()
    assert box is not None and box["height"] >= 44, "emergency numbers must be big enough to tap"
    chat.tap("Sì, avvisa una persona")
    queue = page.locator("#log .queue").last.inner_text()
    assert re.search(r"posto in coda: \d+", queue), queue
    assert "urgente" in chat.bubbles("bot")[-1]


def test_handoff_offer_and_acceptance_show_the_queue_position(chat: ChatPage) -> None:
    chat.open()
    chat.tap("Vorrei parlare con una persona")
    assert "Sì, va bene" in chat.quick_replies()
    chat.tap("Sì, va bene")
    text = chat.page.locator("#log .queue").last.inner_text()
    assert re.search(r"posto in coda: [1-9]\d*", text), text


def test_reload_keeps_the_conversation(chat: ChatPage) -> None:
    chat.open()
    chat.tap("Cerco aiuto per me")
    chat.send("cerco lavoro a Rivoli")
    before = chat.bubbles()
    session = chat.stored_session()
    chat.page.reload()
    chat.wait_idle()
    assert chat.stored_session()["sender"] == session["sender"]
    assert chat.bubbles() == before, "the transcript after a reload differs from the one before"
    assert chat.bubbles("user")[0] == "Cerco aiuto per me", "a tapped button must come back as its title"


def test_delete_clears_everything_and_starts_again(chat: ChatPage, live_server: LiveServer) -> None:
    chat.open()
    chat.send("cerco lavoro a Rivoli")
    old = chat.stored_session()
    page = chat.page
    page.click("#delete")
    dialog = page.locator("#confirm")
    assert dialog.is_visible()
    assert chat.active_id() == "confirm-no", "the safe choice should have the focus"
    page.keyboard.press("Escape")  # a native dialog: Escape closes it, nothing is erased
    assert not dialog.is_visible()
    assert history(live_server, old["token"]).status_code == 200
    page.click("#delete")
    page.click("#confirm-yes")
    page.wait_for_function("() => document.querySelector('#log .msg.system')")
    chat.wait_idle()
    assert "Ho cancellato la conversazione" in page.locator("#log").inner_text()
    assert "cerco lavoro a Rivoli" not in page.locator("#log").inner_text()
    new = chat.stored_session()
    assert new["sender"] != old["sender"]
    assert history(live_server, old["token"]).status_code == 401, "the old conversation still exists"
    assert chat.active_id() == "input"


def test_network_failure_keeps_the_message_and_sends_it_once(chat: ChatPage, live_server: LiveServer) -> None:
    chat.open()
    page = chat.page
    page.route("**/webhooks/rest/webhook", lambda route: route.abort("internetdisconnected"))
    page.fill("#input", "cerco lavoro a Rivoli")
    page.press("#input", "Enter")
    page.wait_for_selector("#log .msg.failed")
    status = page.locator("#status").inner_text()
    assert "Il tuo messaggio è salvato" in status
    assert page.locator("#log .msg.failed .note").inner_text() == "Non ancora inviato"
    assert page.locator("#status button", has_text="Riprova ora").is_visible()
    page.unroute("**/webhooks/rest/webhook")
    page.click("#status button")
    chat.wait_idle()
    assert page.locator("#status").inner_text().strip() == ""
    assert page.locator("#log .msg.failed").count() == 0, "the bubble still says it was not sent"
    token = chat.stored_session()["token"]
    texts = [m["text"] for m in history(live_server, token).json()["messages"] if m["author"] == "citizen"]
    assert texts.count("cerco lavoro a Rivoli") == 1


def test_retry_after_a_lost_answer_does_not_duplicate(chat: ChatPage, live_server: LiveServer) -> None:
    """The server got the message but the answer was lost: the retry (same message_id) is answered once."""
    chat.open()
    page = chat.page
    lost: list[bool] = []

    def drop_answer(route: Any) -> None:
        if not lost:
            route.fetch()  # the server processes it...
            lost.append(True)
            route.abort("connectionreset")  # ...but the phone never hears back
        else:
            route.continue_()

    page.route("**/webhooks/rest/webhook", drop_answer)
    page.fill("#input", "cerco lavoro a Rivoli")
    page.press("#input", "Enter")
    page.wait_for_selector("#log .msg.failed")
    page.click("#status button")
    chat.wait_idle()
    token = chat.stored_session()["token"]
    messages = history(live_server, token).json()["messages"]
    assert [m["text"] for m in messages if m["author"] == "citizen"].count("cerco lavoro a Rivoli") == 1
    shown = chat.bubbles("bot")
    stored = [m["text"] for m in messages if m["author"] == "bot"]
    assert len(shown) == len(stored), "a reply is missing or drawn twice"


def test_facilitator_message_arrives_live_and_after_a_dropped_stream(
    chat: ChatPage, live_server: LiveServer
) -> None:
    chat.open()
    page = chat.page
    page.focus("footer a")  # somewhere else than the text box: a new message must not move focus
    sender = chat.stored_session()["sender"]
    conv = conversation_id(live_server, sender)
    engine = live_server.app.state.dialogue
    live_server.run(engine.say(conv, Outbound(text="Ciao, sono Giulia. Ho letto tutto."), **GIULIA))
    page.wait_for_selector("#log .msg.person")
    person = page.locator("#log .msg.person").last
    assert person.locator(".who").inner_text().startswith("Giulia")
    assert "Ho letto tutto." in person.inner_text()
    assert page.evaluate("() => document.activeElement.tagName") == "A", "a new message stole the focus"

    # The network drops; a message is written meanwhile; the first reconnection fails too. The page
    # must come back by itself and show the message once, resuming after the last one it saw.
    attempts: list[dict[str, str]] = []

    def stream_route(route: Any) -> None:
        attempts.append({"url": route.request.url, **route.request.headers})
        if len(attempts) == 1:
            live_server.run(engine.say(conv, Outbound(text="Ti chiamo domani mattina."), **GIULIA))
            route.fulfill(status=503, content_type="application/json", body='{"error":"unavailable"}')
        else:
            route.continue_()

    page.route("**/webhooks/rest/stream*", stream_route)
    assert live_server.drop_connections() >= 1
    page.wait_for_function(
        "() => document.getElementById('log').innerText.includes('Ti chiamo domani mattina.')", timeout=45_000
    )
    assert len(attempts) >= 2, "the page did not reconnect by itself"
    resumed = attempts[-1]
    after = re.search(r"[?&]after=(\d+)", resumed["url"])
    resume_from = max(int(after.group(1)) if after else 0, int(resumed.get("last-event-id") or 0))
    assert resume_from > 0, f"the reconnection did not resume from the last message seen: {resumed}"
    assert page.locator("#log .msg.person").count() == 2, "a message was lost or shown twice"
    assert page.evaluate("() => document.activeElement.tagName") == "A", "a new message stole the focus"


def test_a_long_conversation_comes_back_whole_after_reload(chat: ChatPage, live_server: LiveServer) -> None:
    """History comes in pages: more messages than one page (500) must all come back, in order."""
    chat.open()
    conv = conversation_id(live_server, chat.stored_session()["sender"])
    engine = live_server.app.state.dialogue

    async def write_many() -> None:
        for i in range(1, 521):
            await engine.say(conv, Outbound(text=f"Messaggio numero {i}."), **GIULIA)

    live_server.run(write_many(), timeout=120)
    chat.page.reload()
    chat.wait_idle()
    # wait_idle sees the first page on screen; the second page may still be on its way.
    chat.page.wait_for_function(
        "() => document.querySelectorAll('#log .msg.person .bubble').length >= 520", timeout=30_000
    )
    texts = chat.bubbles("person")
    assert len(texts) == 520
    assert texts[0] == "Messaggio numero 1." and texts[-1] == "Messaggio numero 520."
