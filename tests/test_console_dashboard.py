"""The coordinators' dashboard: the figures are right, the charts are server-side SVG with escaped
labels, a coordinator sees only their teams; the audit page; the background jobs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff import dashboard
from handoff.background import BackgroundJobs
from handoff.models import Facilitator, Handoff
from handoff.security import utcnow
from tests.handoff_helpers import actor_of, build_app, console_login, make_case, make_facilitator, make_team


async def _history(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
    now = utcnow()
    async with sessionmaker() as session:
        ovest = await make_team(session, "Ovest", comuni=["001090", "001120"])
        other = await make_team(session, "Altro", is_default=True)
        carla = await make_facilitator(session, "carla", [ovest], role="coordinatore")
        await make_facilitator(session, "admin", [], role="admin")

        async def case(days: int, needs: tuple[str, ...], comune: str, name: str, **kw: Any) -> Handoff:
            return await make_case(
                session,
                comune_istat=comune,
                comune_name=name,
                needs=needs,
                created_at=now - timedelta(days=days),
                **kw,
            )

        done = []
        for days, wait, spent, outcome in (
            (20, 10, 30, "risolto"),
            (13, 20, 40, "orientato"),
            (6, 30, 50, "risolto"),
        ):
            h = await case(days, ("casa",), "001090", "Collegno")
            h.status, h.outcome = "closed", outcome
            h.first_claimed_at = h.created_at + timedelta(minutes=wait)
            h.claimed_at = h.first_claimed_at
            h.closed_at = h.first_claimed_at + timedelta(minutes=spent)
            done.append(h)
        await case(2, ("cibo", "casa"), "001120", "<Grugliasco>", reason="nessun_servizio")
        await case(1, ("cibo",), "001120", "<Grugliasco>", reason="nessun_servizio")
        await case(1, ("lavoro",), "001125", "Ivrea")  # the other team's
        assert other.id
        actor = await actor_of(session, carla)
        await session.commit()
    return {"actor": actor}


async def test_figures_of_the_dashboard(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    seeded = await _history(sessionmaker)
    async with sessionmaker() as session:
        d = await dashboard.collect(session, seeded["actor"], weeks=4)
    assert d.total == 5 and d.closed == 3 and d.waiting_now == 2  # Ivrea is another team's
    assert sum(d.by_need["Casa"]) == 4 and sum(d.by_need["Cibo e spesa"]) == 2
    assert "Lavoro" not in d.by_need
    assert sum(d.by_comune["Collegno"]) == 3 and sum(d.by_comune["<Grugliasco>"]) == 2
    assert d.no_service == [("Cibo e spesa", "<Grugliasco>", 2), ("Casa", "<Grugliasco>", 1)]
    assert d.overall_wait_median == 20 and d.overall_handling_median == 40
    assert dict(d.outcomes) == {"Risolto": 2, "Indirizzata a un servizio": 1}
    assert sorted(v for v in d.wait_median if v is not None) == [10, 20, 30]


async def test_dashboard_page_draws_escaped_svg_charts(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await _history(sessionmaker)
    app = build_app(sessionmaker)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        await console_login(c, "carla")
        r = await c.get("/console/cruscotto", params={"settimane": "4"})
        assert r.status_code == 200
        html = r.text
        assert html.count("<svg") == 5 and 'role="img"' in html
        assert "<Grugliasco>" not in html and "&lt;Grugliasco&gt;" in html
        assert "Bisogni emergenti" in html and "Ivrea" not in html
        assert "<script>" not in html and "cdn" not in html.lower()
        audit = await c.get("/console/registro")
        assert audit.status_code == 200 and "accesso" in audit.text


async def test_background_jobs_release_stale_cases_and_tell_waiting_people(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    app = build_app(sessionmaker)
    long_ago = utcnow() - timedelta(hours=3)
    async with sessionmaker() as session:
        team = await make_team(session, "Sportello", is_default=True)
        fac = await make_facilitator(session, "giulia", [team])
        stale = await make_case(session, created_at=long_ago)
        waiting = await make_case(session, created_at=long_ago)
        await session.commit()
    async with sessionmaker() as session:
        await session.execute(
            update(Handoff)
            .where(Handoff.id == stale.id)
            .values(status="assigned", assigned_to=fac.id, claimed_at=long_ago, last_activity_at=long_ago)
        )
        await session.execute(update(Facilitator).values(last_seen_at=long_ago))
        await session.commit()
    jobs = BackgroundJobs(app.state, every=3600)
    await jobs.run_once()
    async with sessionmaker() as session:
        status = await session.scalar(select(Handoff.status).where(Handoff.id == stale.id))
        told = await session.scalar(select(Handoff.notice_at).where(Handoff.id == waiting.id))
    assert status == "waiting"
    assert told is not None
    await jobs.start()
    await jobs.stop()  # starts and stops cleanly
