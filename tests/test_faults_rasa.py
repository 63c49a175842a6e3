"""Rasa down, then slow, then back: the bot goes to degraded mode and back to normal without a restart.

A real ``bussola serve`` process talks to a fake Rasa server (FakeNLU's rules in Rasa's JSON) that is
stopped, started again slower than ``RASA_TIMEOUT``, and finally started again healthy on the same
port, as when a Rasa container restarts. The test is about the app's behaviour, not the NLU's
quality. In degraded mode nothing is lost: the person's words are stored and answered with the
needs as buttons; readiness still holds (the database is fine) and reports Rasa as down.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bot import texts
from tests.fixtures_proc import ChatClient, Processes, audit_log

pytestmark = pytest.mark.postgres


def kinds(replies: list[dict[str, Any]]) -> list[str]:
    return [r["custom"]["type"] for r in replies if r.get("custom")]


def text_of(replies: list[dict[str, Any]]) -> str:
    return "\n".join(r["text"] for r in replies)


def payloads(replies: list[dict[str, Any]]) -> list[str]:
    return [b["payload"] for r in replies for b in r.get("buttons") or ()]


async def metric(http: httpx.AsyncClient, url: str, name: str) -> float:
    body = (await http.get(url + "/metrics")).text
    return sum(float(line.split()[-1]) for line in body.splitlines() if line.startswith(name + " "))


async def test_rasa_down_slow_and_back_without_restarting_the_app(
    procs: Processes, postgres_url: str
) -> None:
    rasa = procs.rasa().start()
    app = procs.app("app", postgres_url, rasa.url, rasa_timeout="3").start()
    pid = app.pid
    async with httpx.AsyncClient(timeout=30) as http:
        c = await ChatClient(http, [app.url]).start()
        await c.send("ciao")
        assert kinds(await c.send("cerco casa a Collegno")) == ["services"]
        ready = (await http.get(app.url + "/readyz")).json()
        assert ready["checks"]["rasa"] == "ok"
        errors = await metric(http, app.url, "bussola_nlu_errors_total")

        # Down: the port refuses connections.
        rasa.stop()
        down = await c.send("ho bisogno di aiuto per pagare l'affitto")
        assert texts.DEGRADED in text_of(down)
        assert "/bisogno casa" in payloads(down) and "/persona" in payloads(down)
        ready = await http.get(app.url + "/readyz")
        assert ready.status_code == 200 and ready.json()["checks"]["rasa"] == "down"
        assert kinds(await c.send("/bisogno casa")) == ["services"]  # buttons work without Rasa

        # Slow: answers after the app's deadline, which the person never waits beyond.
        slow = procs.rasa(delay=10.0, port=rasa.port).start()
        assert texts.DEGRADED in text_of(await c.send("cerco lavoro"))
        slow.stop()
        assert await metric(http, app.url, "bussola_nlu_errors_total") >= errors + 2

        # Back: the same process understands again.
        procs.rasa(port=rasa.port).start()
        back = await c.send("cerco lavoro a Moncalieri")
        assert texts.DEGRADED not in text_of(back)
        services = [r["custom"] for r in back if (r.get("custom") or {}).get("type") == "services"]
        assert services and services[0]["needs"] == ["lavoro"]  # understood, not picked from buttons
        assert (await http.get(app.url + "/readyz")).json()["checks"]["rasa"] == "ok"
        assert await metric(http, app.url, "bussola_nlu_degraded_seconds_total") > 0
    assert app.pid == pid and app.running

    audit = await audit_log(postgres_url, [c])
    assert audit.sent == audit.stored == 6 and audit.problems() == {}
