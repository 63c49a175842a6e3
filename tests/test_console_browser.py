"""The console in Debian's Chromium: citizen text stays inert (also when it arrives live), urgent cases
are signalled, nothing breaks the Content-Security-Policy; and, on the whole app with the real Rasa
model, a facilitator answers a web-chat citizen whose browser shows the reply live."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures_browser import ChatPage, LiveServer, PageProblems, axe_violations, serve_in_thread
from tests.handoff_helpers import PASSWORD, build_live_app, make_case, make_facilitator, make_team

pytestmark = [pytest.mark.browser]

EVIL = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'
EVIL_LIVE = '<img src=y onerror="window.__xss = 3"><b>grassetto?</b>'


@pytest.fixture
def console_server(tmp_path: Path) -> Iterator[LiveServer]:
    server, stop = serve_in_thread(build_live_app(f"sqlite+aiosqlite:///{tmp_path}/console.db"))
    try:
        yield server
    finally:
        stop()


def _console_page(
    browser: Any, base: str, username: str, password: str = PASSWORD
) -> tuple[Any, Any, PageProblems]:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="it-IT")
    problems = PageProblems()
    context.on("page", problems.watch)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{base}/console/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/(\?.*)?$"))
    page.dialogs = dialogs  # type: ignore[attr-defined]
    return context, page, problems


def test_citizen_text_stays_inert_in_the_console_also_live(browser: Any, console_server: LiveServer) -> None:
    state = console_server.app.state

    async def seed() -> dict[str, int]:
        async with state.sessionmaker() as session:
            team = await make_team(session, "Sportello", is_default=True)
            await make_facilitator(session, "giulia", [team])
            h = await make_case(session, on_behalf=True, on_behalf_of='<img src=z onerror="window.__xss=4">')
            await session.commit()
        assert h.conversation_id is not None
        await state.dialogue.citizen_writes(h.conversation_id, EVIL)
        return {"id": h.id, "conv": h.conversation_id}

    case = console_server.run(seed())
    context, page, problems = _console_page(browser, console_server.url, "giulia")
    try:
        page.goto(f"{console_server.url}/console/casi/{case['id']}")
        first = page.locator("#transcript li.msg .text").first
        assert first.inner_text() == EVIL
        assert page.locator("#transcript img").count() == 0 and page.locator("#transcript b").count() == 0
        assert 'onerror="window.__xss=4"' in page.locator(".summary").inner_text()
        # a message arriving while the page is open is drawn as text too
        page.wait_for_function("() => document.querySelector('#transcript').dataset.lastId !== undefined")
        page.wait_for_timeout(300)  # the live stream is connected
        console_server.run(state.dialogue.citizen_writes(case["conv"], EVIL_LIVE))
        page.wait_for_function(
            "() => document.querySelectorAll('#transcript li.msg').length === 2", timeout=10_000
        )
        assert page.locator("#transcript li.msg .text").last.inner_text() == EVIL_LIVE
        assert page.locator("#transcript img").count() == 0
        page.wait_for_timeout(200)
        assert page.evaluate("() => window.__xss") is None, "citizen text ran as code"
        assert page.dialogs == []  # type: ignore[attr-defined]
    finally:
        context.close()
    assert not problems.csp, problems.csp
    assert not problems.errors, problems.errors


def test_console_pages_pass_axe_on_a_phone(browser: Any, console_server: LiveServer) -> None:
    """Login, queue, case and dashboard: no serious or critical WCAG 2.1 AA violation (axe-core)."""
    state = console_server.app.state

    async def seed() -> int:
        async with state.sessionmaker() as session:
            team = await make_team(session, "Sportello", is_default=True)
            await make_facilitator(session, "carla", [team], role="coordinatore")
            h = await make_case(session, priority="urgent", comune_name="Collegno", volunteer_name="Amina")
            await session.commit()
        assert h.conversation_id is not None
        await state.dialogue.citizen_writes(h.conversation_id, "Ho bisogno di aiuto per l'affitto")
        return h.id

    hid = console_server.run(seed())
    anonymous = browser.new_context(viewport={"width": 360, "height": 740}, locale="it-IT")
    try:
        login = anonymous.new_page()
        login.goto(f"{console_server.url}/console/login")
        assert axe_violations(login) == []
    finally:
        anonymous.close()
    context, page, problems = _console_page(browser, console_server.url, "carla")
    try:
        for path in ("/console/", f"/console/casi/{hid}", "/console/cruscotto", "/console/risposte"):
            page.goto(console_server.url + path)
            assert axe_violations(page) == [], path
    finally:
        context.close()
    assert not problems.csp, problems.csp


def test_a_new_urgent_case_is_signalled_in_the_queue(browser: Any, console_server: LiveServer) -> None:
    state = console_server.app.state

    async def seed() -> None:
        async with state.sessionmaker() as session:
            team = await make_team(session, "Sportello", is_default=True)
            await make_facilitator(session, "giulia", [team])
            await session.commit()

    async def urgent_case() -> int:
        async with state.sessionmaker() as session:
            h = await make_case(session, priority="urgent", reason="emergenza", needs=("emergenza",))
            await session.commit()
        await state.broker.publish("queue", {"type": "handoff_created", "handoff_id": h.id})
        return h.id

    console_server.run(seed())
    context, page, problems = _console_page(browser, console_server.url, "giulia")
    try:
        assert page.locator("#urgent-banner").is_hidden()
        page.click("#sound-toggle")  # the sound cue needs a user gesture first
        assert page.locator("#sound-toggle").get_attribute("aria-pressed") == "true"
        page.wait_for_timeout(300)
        hid = console_server.run(urgent_case())
        page.wait_for_selector("#urgent-banner", state="visible", timeout=10_000)
        page.wait_for_selector(f"a[href='/console/casi/{hid}']", timeout=10_000)
        assert page.locator("tr.urgent").count() == 1
        assert page.title().startswith("(!)")
    finally:
        context.close()
    assert not problems.csp, problems.csp
    assert not problems.errors, problems.errors


@pytest.mark.rasa
def test_a_facilitator_answers_a_web_chat_citizen_live(
    browser: Any, chat: ChatPage, live_server: LiveServer
) -> None:
    """The whole path: the citizen asks for a person in the web chat, the facilitator claims the case in
    the console and writes; the citizen's open page shows the reply (and the claim notice) by itself."""
    state = live_server.app.state
    username = f"op{id(chat) % 100000}"

    async def account() -> None:
        async with state.sessionmaker() as session:
            from sqlalchemy import select

            from handoff.models import Team

            team = await session.scalar(select(Team).where(Team.is_default.is_(True)))
            if team is None:
                team = await make_team(session, "Bussola", is_default=True)
            await make_facilitator(session, username, [team], first_name="Giulia")
            await session.commit()

    live_server.run(account())
    chat.open()
    chat.send("Buongiorno <script>alert(1)</script>")
    chat.tap("Vorrei parlare con una persona")
    chat.tap("Sì, va bene")
    sender = chat.stored_session()["sender"]
    conv = live_server.run(state.dialogue.conversation_for("web", sender, create=False))
    assert conv is not None

    async def case_id() -> int:
        from sqlalchemy import select

        from handoff.models import Handoff

        async with state.sessionmaker() as session:
            hid = await session.scalar(select(Handoff.id).where(Handoff.conversation_id == conv.id))
        assert hid is not None
        return int(hid)

    hid = live_server.run(case_id())
    context, page, problems = _console_page(browser, live_server.url, username)
    try:
        page.goto(f"{live_server.url}/console/casi/{hid}")
        assert "Buongiorno <script>alert(1)</script>" in page.locator("#transcript").inner_text()
        page.click("text=Prendi in carico")
        page.wait_for_selector("#reply-text")
        page.fill("#reply-text", "Ciao, sono Giulia. Ho letto quello che mi hai scritto.")
        page.click("form.reply button[type=submit]")
        page.wait_for_url(re.compile(r".*ok=inviato"))

        citizen = chat.page
        citizen.wait_for_function(
            "() => [...document.querySelectorAll('#log .msg.person')]"
            ".some(m => m.innerText.includes('Ho letto'))",
            timeout=15_000,
        )
        person = citizen.locator("#log .msg.person").last
        assert person.locator(".who").inner_text().startswith("Giulia")
        assert "Giulia ha preso in carico la tua richiesta" in citizen.locator("#log").inner_text()

        # the citizen answers; the console shows it live, as text
        citizen.fill("#input", "Grazie! <b>Quando</b> mi chiami?")
        citizen.press("#input", "Enter")
        page.wait_for_function(
            "() => document.querySelector('#transcript').innerText.includes('Quando</b> mi chiami?')",
            timeout=15_000,
        )
        # the bot stays quiet while the facilitator holds the conversation
        bot_after = citizen.locator("#log .msg.bot").count()
        page.wait_for_timeout(500)
        assert citizen.locator("#log .msg.bot").count() == bot_after

        page.select_option("#close-outcome", "risolto")
        page.click("form >> text=Chiudi il caso")
        page.wait_for_url(re.compile(r".*ok=chiuso"))
        citizen.wait_for_function(
            "() => document.querySelector('#log').innerText.includes('Ti è stato utile?')", timeout=15_000
        )
    finally:
        context.close()
    assert not problems.csp, problems.csp
    assert not problems.errors, problems.errors
