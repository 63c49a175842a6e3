"""Console security: password hashes (argon2id), server-side sessions, CSRF, lockout, who may see what.

Sessions live in the database (a random token in an HttpOnly cookie, its SHA-256 in the table), so
that any replica recognises them and logging out really ends them. CSRF: HTML forms carry the
session's synchroniser token; the JSON API refuses cross-site requests (Origin / Sec-Fetch-Site) and
the content types an HTML form can send, so a foreign page cannot drive it with the cookie.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request

from handoff.models import ConsoleSession, Facilitator, LoginAttempt, TeamMembership

SESSION_COOKIE = "bussola_console"
SESSION_IDLE = timedelta(hours=8)
SESSION_MAX = timedelta(hours=12)
SEEN_EVERY = timedelta(seconds=60)  # how often a session's "last seen" is written
LOCK_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_IP = 30
MAX_PASSWORD_BYTES = 1024
MIN_PASSWORD_LENGTH = 10


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(dt: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes: every stored time is UTC, so say so."""
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


# --- passwords ---------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()  # argon2id, RFC 9106 low-memory profile


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher().hash(secrets.token_urlsafe(16))


class PasswordPolicyError(ValueError):
    pass


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"la password deve avere almeno {MIN_PASSWORD_LENGTH} caratteri")
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise PasswordPolicyError("la password è troppo lunga")


async def hash_password(password: str) -> str:
    """Hash off the event loop: argon2 is deliberately slow."""
    return await asyncio.to_thread(_hasher().hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not the account exists (a dummy hash stands in for a missing one)."""
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        return False

    def check() -> bool:
        try:
            return _hasher().verify(password_hash or _dummy_hash(), password) and password_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


# --- who is acting -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Actor:
    """The logged-in facilitator, as permission checks need it."""

    id: int
    username: str
    first_name: str
    role: str
    team_ids: frozenset[int]

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_coordinator(self) -> bool:
        return self.role in ("coordinatore", "admin")

    def can_see_team(self, team_id: int | None) -> bool:
        return self.is_admin or (team_id is not None and team_id in self.team_ids)


async def load_actor(session: AsyncSession, facilitator: Facilitator) -> Actor:
    team_ids = await session.scalars(
        select(TeamMembership.team_id).where(TeamMembership.facilitator_id == facilitator.id)
    )
    return Actor(
        id=facilitator.id,
        username=facilitator.username,
        first_name=facilitator.first_name,
        role=facilitator.role,
        team_ids=frozenset(team_ids),
    )


# --- sessions ----------------------------------------------------------------------------------


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class SessionInfo:
    actor: Actor
    csrf_token: str


async def create_session(session: AsyncSession, facilitator_id: int, now: datetime) -> tuple[str, str]:
    """A fresh token (never reused: no session fixation) and its CSRF token."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session.add(
        ConsoleSession(
            token_hash=token_hash(token),
            facilitator_id=facilitator_id,
            csrf_token=csrf,
            created_at=now,
            last_seen_at=now,
            expires_at=now + SESSION_MAX,
        )
    )
    await session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now))
    return token, csrf


async def load_session(
    sessionmaker: async_sessionmaker[AsyncSession], token: str | None, now: datetime | None = None
) -> SessionInfo | None:
    """The session of this cookie, if valid; refreshes "last seen" (also the facilitator's presence)."""
    if not token or len(token) > 128:
        return None
    now = now or utcnow()
    async with sessionmaker() as session:
        row = (
            await session.execute(
                select(ConsoleSession, Facilitator)
                .join(Facilitator, Facilitator.id == ConsoleSession.facilitator_id)
                .where(ConsoleSession.token_hash == token_hash(token))
            )
        ).first()
        if row is None:
            return None
        cs, fac = row
        last_seen = as_utc(cs.last_seen_at) or now
        expires = as_utc(cs.expires_at) or now
        if not fac.active or expires <= now or now - last_seen > SESSION_IDLE:
            return None
        actor = await load_actor(session, fac)
        if now - last_seen >= SEEN_EVERY:
            await session.execute(
                update(ConsoleSession)
                .where(ConsoleSession.token_hash == cs.token_hash)
                .values(last_seen_at=now)
            )
            await session.execute(
                update(Facilitator).where(Facilitator.id == fac.id).values(last_seen_at=now)
            )
            await session.commit()
        return SessionInfo(actor=actor, csrf_token=cs.csrf_token)


async def touch_presence(sessionmaker: async_sessionmaker[AsyncSession], facilitator_id: int) -> None:
    """Mark a facilitator as present (an open console page keeps them present)."""
    async with sessionmaker() as session:
        await session.execute(
            update(Facilitator).where(Facilitator.id == facilitator_id).values(last_seen_at=utcnow())
        )
        await session.commit()


async def destroy_session(sessionmaker: async_sessionmaker[AsyncSession], token: str | None) -> None:
    if not token:
        return
    async with sessionmaker() as session:
        await session.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == token_hash(token)))
        await session.commit()


def cookie_secure(public_url: str) -> bool:
    return public_url.lower().startswith("https://")


def cookie_options(public_url: str) -> dict[str, object]:
    return {
        "httponly": True,
        "samesite": "lax",
        "secure": cookie_secure(public_url),
        "path": "/",
        "max_age": int(SESSION_MAX.total_seconds()),
    }


# --- login and lockout -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoginResult:
    status: str  # "ok" | "bad" | "locked"
    actor: Actor | None = None
    token: str | None = None
    csrf_token: str | None = None


def normalise_username(username: str) -> str:
    """Case and spaces do not matter; control characters (NUL breaks PostgreSQL) are dropped."""
    return "".join(ch for ch in username if ch.isprintable()).strip().lower()[:64]


async def _failures_since(session: AsyncSession, column: Any, value: str, since: datetime) -> int:
    stmt = (
        select(func.count())
        .select_from(LoginAttempt)
        .where(column == value, LoginAttempt.success.is_(False), LoginAttempt.at >= since)
    )
    return int(await session.scalar(stmt) or 0)


async def is_locked(session: AsyncSession, username: str, ip: str, now: datetime) -> bool:
    """Locked when too many failures in the window, counting a user's only since their last success."""
    since = now - LOCK_WINDOW
    last_ok = as_utc(
        await session.scalar(
            select(func.max(LoginAttempt.at)).where(
                LoginAttempt.username == username, LoginAttempt.success.is_(True)
            )
        )
    )
    user_since = max(since, last_ok) if last_ok else since
    if await _failures_since(session, LoginAttempt.username, username, user_since) >= MAX_FAILURES_PER_USER:
        return True
    return bool(ip) and await _failures_since(session, LoginAttempt.ip, ip, since) >= MAX_FAILURES_PER_IP


async def authenticate(
    sessionmaker: async_sessionmaker[AsyncSession], username: str, password: str, ip: str
) -> LoginResult:
    """Check a login and open a session. Failures are recorded; a locked account is not even tried."""
    from handoff.audit import audit

    name = normalise_username(username)
    now = utcnow()
    async with sessionmaker() as session:
        if await is_locked(session, name, ip, now):
            return LoginResult("locked")
        fac = await session.scalar(select(Facilitator).where(Facilitator.username == name))
    ok = await verify_password(fac.password_hash if fac is not None else None, password)
    ok = ok and fac is not None and fac.active
    async with sessionmaker() as session:
        session.add(LoginAttempt(username=name, ip=ip[:64], success=ok, at=now))
        if not ok or fac is None:
            await audit(session, None, "login_failed", object_type="facilitator", object_id=name)
            await session.commit()
            return LoginResult("bad")
        token, csrf = await create_session(session, fac.id, now)
        fac_row = await session.get(Facilitator, fac.id)
        if fac_row is not None:
            fac_row.last_seen_at = now
        actor = await load_actor(session, fac)
        await audit(session, actor, "login", object_type="facilitator", object_id=name)
        await session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - timedelta(days=30)))
        await session.commit()
    return LoginResult("ok", actor=actor, token=token, csrf_token=csrf)


# --- CSRF --------------------------------------------------------------------------------------

FORM_CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")


def tokens_match(expected: str | None, provided: str | None) -> bool:
    if not expected or not provided:
        return False
    return hmac.compare_digest(expected.encode(), provided.encode())


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


def same_origin(request: Request, public_url: str = "") -> bool:
    """False when the browser tells us the request comes from another site."""
    if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
        return False
    origin = request.headers.get("origin") or _origin_of(request.headers.get("referer", ""))
    if origin == "null":
        return False  # sandboxed or privacy-stripped: cannot vouch for it
    if not origin:
        return True  # not a browser (browsers send Origin on every POST)
    allowed = {_origin_of(str(request.base_url))}
    if public_url:
        allowed.add(_origin_of(public_url))
    host = request.headers.get("host", "")
    if host:
        allowed.update({f"http://{host}".lower(), f"https://{host}".lower()})
    return origin.lower() in allowed


def api_request_is_safe(request: Request, session_csrf: str, public_url: str = "") -> bool:
    """A state-changing JSON API call with the session cookie: not from another site, not a form."""
    header = request.headers.get("x-csrf-token")
    if header is not None:
        return tokens_match(session_csrf, header) and same_origin(request, public_url)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype in FORM_CONTENT_TYPES:
        return False
    return same_origin(request, public_url)


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""
