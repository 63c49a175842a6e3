"""Prometheus metrics. One registry per app (no globals); the queue gauges are read at scrape time."""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from sqlalchemy import func, select

from handoff.models import PRIORITIES, Handoff

router = APIRouter(tags=["salute"])
log = logging.getLogger("bussola.metrics")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.messages = Counter(
            "bussola_messages_total", "Messages processed", ["channel", "direction"], registry=self.registry
        )
        self.reply_seconds = Histogram(
            "bussola_reply_seconds",
            "Time from a citizen message to the bot's stored replies",
            ["channel"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.nlu_errors = Counter(
            "bussola_nlu_errors_total", "Parses that failed (Rasa down or slow)", registry=self.registry
        )
        self.nlu_degraded_seconds = Counter(
            "bussola_nlu_degraded_seconds_total",
            "Time spent in degraded mode (no NLU)",
            registry=self.registry,
        )
        self.handoffs_waiting = Gauge(
            "bussola_handoffs_waiting",
            "Handoffs waiting for a facilitator",
            ["priority"],
            registry=self.registry,
        )
        self.oldest_wait_seconds = Gauge(
            "bussola_handoff_oldest_wait_seconds",
            "Wait of the oldest waiting handoff",
            ["priority"],
            registry=self.registry,
        )


class InstrumentedNLU:
    """Wraps the NLU client: counts failures and the time between the first failure and recovery."""

    def __init__(self, inner: Any, metrics: Metrics) -> None:
        self.inner = inner
        self.metrics = metrics
        self._degraded_since: float | None = None

    async def parse(self, text: str) -> Any:
        try:
            result = await self.inner.parse(text)
        except Exception:
            self.metrics.nlu_errors.inc()
            if self._degraded_since is None:
                self._degraded_since = time.monotonic()
            raise
        if self._degraded_since is not None:
            self.metrics.nlu_degraded_seconds.inc(time.monotonic() - self._degraded_since)
            self._degraded_since = None
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class InstrumentedDialogue:
    """Wraps the dialogue engine: counts messages in and out, and times each turn."""

    def __init__(self, inner: Any, metrics: Metrics) -> None:
        self.inner = inner
        self.metrics = metrics

    async def handle(self, inbound: Any) -> Any:
        start = time.perf_counter()
        replies = await self.inner.handle(inbound)
        self.metrics.reply_seconds.labels(inbound.channel).observe(time.perf_counter() - start)
        self.metrics.messages.labels(inbound.channel, "in").inc()
        self.metrics.messages.labels(inbound.channel, "out").inc(len(replies or ()))
        return replies

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@router.get("/metrics", include_in_schema=False)
async def metrics_endpoint(request: Request) -> Response:
    metrics: Metrics = request.app.state.metrics
    try:
        async with request.app.state.sessionmaker() as session:
            rows = (
                await session.execute(
                    select(Handoff.priority, func.count(), func.min(Handoff.created_at))
                    .where(Handoff.status == "waiting")
                    .group_by(Handoff.priority)
                )
            ).all()
        now = time.time()
        seen = {p: (n, oldest) for p, n, oldest in rows}
        for p in PRIORITIES:
            n, oldest = seen.get(p, (0, None))
            metrics.handoffs_waiting.labels(p).set(n)
            metrics.oldest_wait_seconds.labels(p).set(max(0.0, now - _epoch(oldest)) if oldest else 0.0)
    except Exception as exc:  # noqa: BLE001 - metrics must answer even while the database restarts
        log.warning("queue gauges not refreshed: %s", type(exc).__name__)
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _epoch(value: Any) -> float:
    if value.tzinfo is None:  # SQLite returns naive UTC datetimes
        from datetime import UTC

        value = value.replace(tzinfo=UTC)
    return float(value.timestamp())
