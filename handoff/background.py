"""Periodic jobs of the facilitators' side, started by the app lifespan: cases whose facilitator is
gone go back to the queue, and waiting people hear their place and wait. Safe with several replicas
(every change is a conditional UPDATE), so each replica simply runs them.

Also the start-up hook that re-applies the teams' catalogue corrections to the in-memory catalogue.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff.catalog import apply_override
from handoff.models import CatalogOverride
from handoff.service import HandoffService
from handoff.waiting import notify_waiting

log = logging.getLogger("bussola.handoff.jobs")


class BackgroundJobs:
    """``await jobs.start()`` in the lifespan, ``await jobs.stop()`` on shutdown."""

    def __init__(self, state: Any, *, every: float = 30.0) -> None:
        self.state = state
        self.every = every
        self._tasks: list[asyncio.Task[None]] = []

    async def run_once(self) -> None:
        service = HandoffService.from_state(self.state)
        for name, job in (
            ("release_stale", service.release_stale),
            ("notify_waiting", lambda: notify_waiting(self.state.sessionmaker, self.state.dialogue)),
        ):
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a failing job must not stop the loop (DB restart...)
                log.warning("background job %s failed: %s", name, type(exc).__name__)

    async def _loop(self) -> None:
        while True:
            await self.run_once()
            await asyncio.sleep(self.every)

    async def _catalog_listener(self) -> None:
        """Apply catalogue corrections saved through another app process."""
        store = getattr(self.state, "catalog_store", None)
        if store is None:
            return
        while True:
            try:
                async with self.state.broker.subscribe("catalog") as events:
                    while True:
                        event = await events.get()
                        sid = event.get("service_id")
                        if event.get("type") == "service_updated" and isinstance(sid, str):
                            await apply_override(self.state.sessionmaker, store, sid)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - resubscribe after a broker hiccup
                log.warning("catalogue listener failed: %s", type(exc).__name__)
                await asyncio.sleep(self.every)

    async def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._loop(), name="handoff-jobs"),
                asyncio.create_task(self._catalog_listener(), name="handoff-catalog"),
            ]

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def run_background(app_state: Any, every: float = 30.0) -> None:
    """The same jobs as a plain coroutine that runs until cancelled."""
    jobs = BackgroundJobs(app_state, every=every)
    await jobs._loop()


async def load_catalog_overrides(sessionmaker: async_sessionmaker[AsyncSession], store: Any) -> int:
    """Re-apply the teams' corrections to the catalogue at start; returns how many were applied.

    A record that no longer validates (say, after a schema upgrade) is skipped and logged, never
    fatal: the catalogue then shows the bundled version until a team fixes it again.
    """
    async with sessionmaker() as session:
        rows = (await session.scalars(select(CatalogOverride).order_by(CatalogOverride.updated_at))).all()
    applied = 0
    for row in rows:
        try:
            result = store.replace_service(row.data)
            if inspect.isawaitable(result):
                await result
            applied += 1
        except Exception as exc:  # noqa: BLE001
            log.warning("catalogue correction %s not applied: %s", row.service_id, type(exc).__name__)
    return applied
