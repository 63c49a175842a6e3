"""The app killed with SIGKILL in the middle of many conversations, then restarted: nothing lost or doubled.

Forty web-chat users talk to one ``bussola serve`` process on PostgreSQL at the same time. When about
a third of their messages have been answered the process is killed with SIGKILL (no shutdown code
runs; transactions in flight are cut) and started again on the same port. The clients do what the
widget does: they send again every message that got no answer, with the same ``message_id``.

Then the database must show: every message stored exactly once; every citizen message followed by
its replies; the replies each client finally got are the stored ones (a retry of a message that had
been committed returns its replies, it is not processed twice); no dialogue-state update lost; every
handoff asked for exists once, and a facilitator can take it and write to the person after the restart.

The fake Rasa (FakeNLU's rules, a small delay like a model's) is used: this is about the app.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bot.db import make_engine, make_sessionmaker
from bot.models import Conversation
from handoff.models import Handoff
from tests.fixtures_proc import ChatClient, Processes, api_login, audit_log, seed_team

pytestmark = pytest.mark.postgres

CLIENTS = 40
EVERYDAY = (
    "ciao",
    "cerco casa a Collegno",
    "/altri",
    "cerco lavoro",
    "mi servono soldi per le bollette",
    "Moncalieri",
    "cosa sai fare",
    "grazie",
)
ASKS_A_PERSON = (
    "ciao",
    "ho bisogno di aiuto per l'affitto a Collegno",
    "/persona",
    "/handoff si",
    "abito in via Roma e ho due figli",
    "quanto devo aspettare?",
    "cerco anche lavoro",
    "grazie",
)


def script(k: int) -> tuple[str, ...]:
    return ASKS_A_PERSON if k % 5 == 0 else EVERYDAY


async def test_sigkill_mid_conversations_loses_and_doubles_nothing(
    procs: Processes, postgres_url: str
) -> None:
    rasa = procs.rasa(delay=0.02).start()
    app = procs.app("app", postgres_url, rasa.url).start()
    await seed_team(postgres_url, "Tutti", ["giulia"], default=True)
    total = sum(len(script(k)) for k in range(CLIENTS))
    answered = 0
    a_third = asyncio.Event()
    at_kill: dict[str, Any] = {}

    async def killer() -> None:
        await a_third.wait()
        old_pid = app.pid
        app.kill()
        at_kill.update(answered=answered, pid=old_pid)
        await asyncio.to_thread(app.start)

    async def talk(c: ChatClient, k: int) -> None:
        nonlocal answered
        await c.start()
        for text in script(k):
            await c.send(text)
            answered += 1
            if answered >= total // 3:
                a_third.set()

    async with httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=2.0)) as http:
        clients = [ChatClient(http, [app.url], patience=120) for _ in range(CLIENTS)]
        await asyncio.gather(killer(), *(talk(c, k) for k, c in enumerate(clients)))

        assert at_kill["answered"] < total and app.pid != at_kill["pid"]
        assert sum(c.retries for c in clients) > 0  # the kill did cut messages in flight

        # A message answered before the kill and sent again after the restart gets the same replies.
        for c in clients:
            again = c.replies[c.sent[0]]
            assert await c.send(script(0)[0], message_id=c.sent[0]) == again

        audit = await audit_log(postgres_url, clients)
        assert audit.sent == audit.stored == total
        assert audit.problems() == {}

        # Handoffs: exactly one per person who asked, all still waiting after the restart.
        askers = [c.sender for k, c in enumerate(clients) if k % 5 == 0]
        engine = make_engine(postgres_url)
        try:
            async with make_sessionmaker(engine)() as s:
                rows = (
                    await s.execute(
                        select(Conversation.sender, func.count(Handoff.id), func.min(Handoff.id))
                        .join(Handoff, Handoff.conversation_id == Conversation.id)
                        .group_by(Conversation.sender)
                    )
                ).all()
        finally:
            await engine.dispose()
        per_sender = {sender: (n, hid) for sender, n, hid in rows}
        assert sorted(per_sender) == sorted(askers)
        assert all(n == 1 for n, _ in per_sender.values()), per_sender

        # The conversation goes on with a person, on the restarted process.
        first = clients[0]
        hid = per_sender[first.sender][1]
        async with httpx.AsyncClient(timeout=30) as fac:
            await api_login(fac, app.url, "giulia")
            assert (await fac.post(f"{app.url}/api/handoffs/{hid}/claim")).status_code == 200
            r = await fac.post(f"{app.url}/api/handoffs/{hid}/messages", json={"text": "Ciao, sono Giulia."})
            assert r.status_code == 201, r.text
        history = await http.get(f"{app.url}/webhooks/rest/history", headers=first.auth)
        assert history.json()["messages"][-1]["text"] == "Ciao, sono Giulia."
        assert await first.send("grazie Giulia") == []  # the bot is silent while she holds the case
