"""Security headers, body size limits and rate limits, on a tiny app wrapped like the real one."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.security import BodySizeLimit, RateLimit, SecurityHeaders, TokenBuckets


async def echo(request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse({"len": len(body)})


def _app(**kw) -> Starlette:  # type: ignore[no-untyped-def]
    app = Starlette(
        routes=[
            Route("/webhooks/rest/webhook", echo, methods=["POST", "GET"]),
            Route("/telegram/webhook", echo, methods=["POST"]),
        ]
    )
    app.add_middleware(
        RateLimit,
        per_ip=TokenBuckets(kw.get("ip_rate", 600), burst=kw.get("ip_burst", 100)),
        per_session=TokenBuckets(kw.get("s_rate", 60), burst=kw.get("s_burst", 3)),
    )
    app.add_middleware(BodySizeLimit, max_bytes=1000)
    app.add_middleware(SecurityHeaders, allowed_origins=["https://casa.example"], https=True)
    return app


def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_headers_forbid_inline_scripts_and_allow_only_listed_frames() -> None:
    async with _client(_app()) as c:
        r = await c.get("/webhooks/rest/webhook")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self';" in csp
    assert "script-src 'self' 'unsafe-inline'" not in csp
    assert "frame-ancestors 'self' https://casa.example" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "max-age" in r.headers["strict-transport-security"]


async def test_body_over_limit_is_413_json_declared_or_streamed() -> None:
    async with _client(_app()) as c:
        ok = await c.post("/webhooks/rest/webhook", content=b"x" * 900)
        big = await c.post("/webhooks/rest/webhook", content=b"x" * 5000)

        async def chunks():  # type: ignore[no-untyped-def]
            for _ in range(10):
                yield b"y" * 500

        streamed = await c.post("/webhooks/rest/webhook", content=chunks())
    assert ok.status_code == 200 and ok.json()["len"] == 900
    for r in (big, streamed):
        assert r.status_code == 413
        assert r.json()["error"] == "too_large" and "lungo" in r.json()["detail"]


async def test_session_rate_limit_answers_429_with_retry_after_and_spares_others() -> None:
    async with _client(_app(s_burst=3, s_rate=6)) as c:
        codes = [
            (await c.post("/webhooks/rest/webhook", headers={"Authorization": "Bearer a"})).status_code
            for _ in range(5)
        ]
        other = await c.post("/webhooks/rest/webhook", headers={"Authorization": "Bearer b"})
        limited = await c.post("/webhooks/rest/webhook", headers={"Authorization": "Bearer a"})
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
    assert other.status_code == 200
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert "Aspetta" in limited.json()["detail"]


def test_token_bucket_refills_over_time() -> None:
    b = TokenBuckets(rate_per_minute=60, burst=2)
    assert b.take("k", now=0.0) == 0 and b.take("k", now=0.0) == 0
    assert b.take("k", now=0.0) > 0
    assert b.take("k", now=1.5) == 0  # one token back after a second


async def test_per_ip_limit_spares_the_telegram_webhook() -> None:
    """Telegram sends every update from a few addresses; its path is guarded by the secret instead."""
    async with _client(_app(ip_burst=2, ip_rate=1)) as c:
        api = [(await c.post("/webhooks/rest/webhook")).status_code for _ in range(3)]
        tg = [(await c.post("/telegram/webhook")).status_code for _ in range(5)]
    assert api[-1] == 429
    assert tg == [200] * 5
