"""A facilitator answers a web-chat citizen through the JSON API; the citizen's browser shows it live.

The whole path on the real app and the real Rasa model: the desk and the account are made with the
``bussola`` command (as an administrator would), the citizen asks for a person in Chromium, the
facilitator (httpx on ``/api``) claims the case and writes, the citizen's open page shows the reply
with the facilitator's first name, the citizen answers, and after the case is closed the bot's
feedback question arrives by itself too.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from typing import Any

import httpx
import pytest

from tests.fixtures_browser import ChatPage, LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.rasa]

PASSWORD = "una-password-lunga-per-i-test"


def bussola(live: LiveServer, *args: str, stdin: str = "") -> str:
    """Run the ``bussola`` command on the live app's database, as an administrator would."""
    env = {**os.environ, "DATABASE_URL": live.app.state.settings.database_url}
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def wait_for_text(page: Any, text: str, selector: str = "#log") -> None:
    page.wait_for_function(
        "([sel, text]) => document.querySelector(sel).innerText.includes(text)", arg=[selector, text]
    )


def test_a_facilitator_answers_through_the_api_and_the_citizen_sees_it_live(
    chat: ChatPage, live_server: LiveServer
) -> None:
    suffix = uuid.uuid4().hex[:6]
    team, username = f"Sportello Pinerolo {suffix}", f"marta{suffix}"
    bussola(live_server, "team", "add", team, "--comuni", "Pinerolo")
    out = bussola(
        live_server,
        "facilitator",
        "add",
        username,
        "--team",
        team,
        "--nome",
        "Marta",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert "Marta" in out

    # The citizen: a need in Pinerolo, then a person.
    chat.open()
    citizen = chat.page
    chat.send("cerco lavoro a Pinerolo")
    chat.tap("Vorrei parlare con una persona")
    chat.tap("Sì, va bene")
    assert "posto in coda" in citizen.locator("#log .queue").last.inner_text()

    with httpx.Client(base_url=live_server.url, timeout=15) as api:
        login = api.post("/api/login", json={"username": username, "password": PASSWORD})
        assert login.status_code == 200, login.text
        assert login.json()["first_name"] == "Marta"
        waiting = api.get("/api/handoffs", params={"status": "waiting"}).json()
        mine = [h for h in waiting if h["comune_name"] == "Pinerolo" and h["channel"] == "web"]
        assert len(mine) == 1, waiting
        case = mine[0]["id"]
        assert api.post(f"/api/handoffs/{case}/claim").status_code == 200

        citizen.focus("#input")
        reply = {"text": "Ciao, sono Marta. Ti posso chiamare domani alle 10?", "client_id": "r1"}
        sent = api.post(f"/api/handoffs/{case}/messages", json=reply)
        assert sent.status_code == 201, sent.text
        wait_for_text(citizen, "Ti posso chiamare domani alle 10?")
        person = citizen.locator("#log .msg.person").last
        assert person.locator(".who").inner_text().startswith("Marta")
        assert chat.active_id() == "input", "the reply must not move the focus"

        # A repeated request (same client_id) is delivered once.
        assert api.post(f"/api/handoffs/{case}/messages", json=reply).status_code == 201
        # The citizen answers; the facilitator reads it; the bot stays quiet meanwhile.
        bots_before = citizen.locator("#log .msg.bot").count()
        chat.send("Sì, va bene domani alle 10")
        transcript = api.get(f"/api/handoffs/{case}/messages").json()
        assert "Sì, va bene domani alle 10" in [m["text"] for m in transcript]
        assert citizen.locator("#log .msg.bot").count() == bots_before
        assert citizen.locator("#log .msg.person", has_text="domani alle 10?").count() == 1

        closed = api.post(f"/api/handoffs/{case}/close", json={"outcome": "risolto", "note": ""})
        assert closed.status_code == 200, closed.text

    wait_for_text(citizen, "Ti è stato utile?")
    assert "Sì, grazie" in chat.quick_replies()
    chat.tap("Sì, grazie")
    assert chat.bubbles("user")[-1] == "Sì, grazie"
