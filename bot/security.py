"""HTTP hardening as plain ASGI middleware: security headers, request size limits, rate limits.

Rate limits are kept per process (token buckets in memory): with N replicas the effective limit is at
most N times the configured one, which is acceptable for abuse protection and needs no extra service.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send


async def _json_error(
    send: Send, status: int, error: str, detail: str, headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    body = json.dumps({"error": error, "detail": detail}, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    """CSP without inline scripts; frame-ancestors limited to the widget's allowed origins."""

    def __init__(self, app: ASGIApp, *, allowed_origins: list[str], https: bool) -> None:
        self.app = app
        ancestors = " ".join(["'self'", *allowed_origins])
        csp = (
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; "
            f"base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}"
        )
        self.headers = [
            (b"content-security-policy", csp.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        if https:
            self.headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.headers if k not in names]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodySizeLimit:
    """Refuses request bodies over ``max_bytes`` (declared or streamed) with a 413 JSON error."""

    def __init__(self, app: ASGIApp, *, max_bytes: int = 64 * 1024) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await _json_error(send, 413, "too_large", "Il messaggio è troppo lungo.")
                return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _json_error(send, 413, "too_large", "Il messaggio è troppo lungo.")


class _TooLarge(Exception):
    pass


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class TokenBuckets:
    """Many small token buckets, least recently used evicted beyond ``max_keys``."""

    def __init__(self, rate_per_minute: float, burst: int, max_keys: int = 50_000) -> None:
        self.rate = rate_per_minute / 60.0
        self.burst = float(burst)
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, key: str, now: float | None = None) -> float:
        """0 when allowed, else the seconds to wait before the next request is allowed."""
        now = time.monotonic() if now is None else now
        b = self._buckets.pop(key, None) or _Bucket(self.burst, now)
        b.tokens = min(self.burst, b.tokens + (now - b.stamp) * self.rate)
        b.stamp = now
        self._buckets[key] = b
        if len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        if b.tokens >= 1.0:
            b.tokens -= 1.0
            return 0.0
        return (1.0 - b.tokens) / self.rate


class RateLimit:
    """Per client IP on every API call, and per web-chat session on messages (keyed by token hash)."""

    def __init__(self, app: ASGIApp, *, per_ip: TokenBuckets, per_session: TokenBuckets) -> None:
        self.app = app
        self.per_ip = per_ip
        self.per_session = per_session

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] in {"GET", "HEAD", "OPTIONS"}
            # Telegram posts every update from a few addresses; the secret header guards that path.
            or scope["path"] == "/telegram/webhook"
        ):
            await self.app(scope, receive, send)
            return
        client = scope.get("client") or ("unknown", 0)
        wait = self.per_ip.take(f"ip:{client[0]}")
        if not wait and scope["path"].startswith("/webhooks/rest/"):
            auth = dict(scope.get("headers", [])).get(b"authorization", b"")
            if auth:
                wait = self.per_session.take("s:" + hashlib.sha256(auth).hexdigest()[:32])
        if wait:
            await _json_error(
                send,
                429,
                "rate_limited",
                "Stai scrivendo molto in fretta. Aspetta un momento e riprova.",
                [(b"retry-after", str(max(1, int(wait + 0.999))).encode())],
            )
            return
        await self.app(scope, receive, send)
