"""Test helpers for the facilitators' side: a dialogue stand-in writing the real message log, and
builders for teams, facilitators, conversations and handoffs.

The stand-in has the methods of ``bot.engine.DialogueEngine`` the queue calls (say, set_owner,
after_handoff_closed, history) and stores every message in the ``messages`` table and announces it on
``conv:{id}``, as the engine does, so that transcripts and live relay are exercised for real.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.models import Conversation, Message
from bot.pubsub import InMemoryBroker
from bot.settings import Settings
from bot.store import lock_conversation
from bot.types import Button, Outbound, StoredMessage
from handoff.entry import HandoffRequest, create_handoff
from handoff.models import Facilitator, Handoff, Team, TeamMembership
from handoff.security import Actor, load_actor

PASSWORD = "una-password-lunga"
_counter = itertools.count(1)


@lru_cache(maxsize=1)
def password_hash() -> str:
    """One hash for every test account: argon2 is slow on purpose."""
    return PasswordHasher().hash(PASSWORD)


def to_stored(m: Message) -> StoredMessage:
    return StoredMessage(
        id=m.id,
        conversation_id=m.conversation_id,
        direction=m.direction,
        author=m.author,
        text=m.text,
        author_name=m.author_name,
        kind=m.kind,
        buttons=tuple(Button(**b) for b in m.buttons or ()),
        custom=m.custom,
        created_at=m.created_at.isoformat() if m.created_at else "",
    )


@dataclass
class FakeDialogue:
    """The engine's surface used by the queue, recording every call."""

    sessionmaker: async_sessionmaker[AsyncSession]
    broker: Any
    calls: list[tuple[str, Any]] = field(default_factory=list)
    fail_say: bool = False

    async def _store(
        self, conversation_id: int, direction: str, author: str, text: str, **extra: Any
    ) -> StoredMessage:
        async with self.sessionmaker() as session:
            # As the engine does: insert under the conversation's lock, so that on PostgreSQL ids
            # within a conversation follow commit order (the console streams "after the last id").
            await lock_conversation(session, conversation_id)
            m = Message(
                conversation_id=conversation_id, direction=direction, author=author, text=text, **extra
            )
            session.add(m)
            await session.commit()
            stored = to_stored(m)
        await self.broker.publish(
            f"conv:{conversation_id}",
            {"type": "message", "conversation_id": conversation_id, "message_id": m.id},
        )
        return stored

    async def say(
        self,
        conversation_id: int,
        message: Outbound,
        *,
        author: str = "bot",
        author_name: str | None = None,
    ) -> StoredMessage:
        if self.fail_say:
            raise RuntimeError("channel down")
        self.calls.append(("say", (conversation_id, author, author_name, message.text, message.custom)))
        return await self._store(
            conversation_id, "out", author, message.text, author_name=author_name, custom=message.custom
        )

    async def citizen_writes(self, conversation_id: int, text: str) -> StoredMessage:
        return await self._store(conversation_id, "in", "citizen", text)

    async def set_owner(self, conversation_id: int, owner: str) -> None:
        self.calls.append(("set_owner", (conversation_id, owner)))
        async with self.sessionmaker() as session:
            conv = await session.get(Conversation, conversation_id)
            assert conv is not None
            conv.owner = owner
            await session.commit()

    async def after_handoff_closed(self, conversation_id: int) -> None:
        self.calls.append(("after_handoff_closed", conversation_id))
        await self.set_owner(conversation_id, "bot")
        await self.say(conversation_id, Outbound(text="Ti è stato utile?"), author="bot")

    async def history(self, conversation_id: int, after_id: int = 0) -> list[StoredMessage]:
        async with self.sessionmaker() as session:
            rows = await session.scalars(
                select(Message)
                .where(Message.conversation_id == conversation_id, Message.id > after_id)
                .order_by(Message.id)
            )
            return [to_stored(m) for m in rows]

    def said(self, author: str | None = None) -> list[str]:
        return [
            args[3] for name, args in self.calls if name == "say" and (author is None or args[1] == author)
        ]


async def make_team(
    session: AsyncSession,
    name: str,
    *,
    comuni: list[str] | None = None,
    quartieri: list[str] | None = None,
    is_default: bool = False,
    always_open: bool = True,
) -> Team:
    hours = {str(d): [["00:00", "23:59"]] for d in range(7)} if always_open else None
    team = Team(
        name=name, comuni=comuni or [], quartieri=quartieri or [], is_default=is_default, office_hours=hours
    )
    session.add(team)
    await session.flush()
    return team


async def make_facilitator(
    session: AsyncSession,
    username: str,
    teams: list[Team],
    *,
    role: str = "facilitatore",
    first_name: str | None = None,
) -> Facilitator:
    fac = Facilitator(
        username=username,
        first_name=first_name or username.capitalize(),
        role=role,
        password_hash=password_hash(),
    )
    session.add(fac)
    await session.flush()
    for t in teams:
        session.add(TeamMembership(team_id=t.id, facilitator_id=fac.id))
    await session.flush()
    return fac


async def actor_of(session: AsyncSession, fac: Facilitator) -> Actor:
    return await load_actor(session, fac)


async def make_case(
    session: AsyncSession,
    *,
    comune_istat: str | None = None,
    quartiere: str | None = None,
    priority: str = "normal",
    reason: str = "richiesta",
    needs: tuple[str, ...] = ("casa",),
    created_at: datetime | None = None,
    channel: str = "web",
    **extra: Any,
) -> Handoff:
    conv = Conversation(channel=channel, sender=f"s{next(_counter)}", state={})
    session.add(conv)
    await session.flush()
    h = await create_handoff(
        session,
        HandoffRequest(
            conversation_id=conv.id,
            reason=reason,
            priority=priority,
            needs=needs,
            comune_istat=comune_istat,
            quartiere=quartiere,
            channel=channel,
            **extra,
        ),
    )
    if created_at is not None:
        h.created_at = created_at
    await session.flush()
    return h


def build_app(
    sessionmaker: async_sessionmaker[AsyncSession], *, public_url: str = "", catalog_store: Any = None
) -> FastAPI:
    """The console and its API on a bare app with the state the real lifespan provides."""
    from bot.app import _install_error_handlers
    from handoff import api, console

    broker = InMemoryBroker()
    app = FastAPI()
    _install_error_handlers(app)
    app.state.sessionmaker = sessionmaker
    app.state.broker = broker
    app.state.dialogue = FakeDialogue(sessionmaker, broker)
    app.state.settings = Settings(public_url=public_url, claim_timeout_minutes=30)
    app.state.catalog_store = catalog_store
    app.include_router(api.router, prefix="/api")
    app.include_router(console.router, prefix="/console")
    return app


async def console_login(client: Any, username: str, password: str = PASSWORD) -> Any:
    """Log in through the HTML form, as a browser does (login CSRF cookie and hidden field)."""
    import re

    page = await client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    return await client.post(
        "/console/login", data={"csrf_token": token.group(1), "username": username, "password": password}
    )


def csrf_of(html: str) -> str:
    import re

    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token is not None, "no CSRF token in the page"
    return token.group(1)


def build_live_app(database_url: str) -> FastAPI:
    """The console on its own, for a real server in a thread: the database is opened in the server's
    event loop (async drivers cannot cross loops), seeded through ``LiveServer.run``."""
    from contextlib import asynccontextmanager

    from bot.app import _install_error_handlers
    from bot.db import Base, make_engine, make_sessionmaker
    from bot.models_registry import import_all_models
    from handoff import api, console

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        import_all_models()
        engine = make_engine(database_url)
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        sm = make_sessionmaker(engine)
        broker = InMemoryBroker()
        app.state.sessionmaker = sm
        app.state.broker = broker
        app.state.dialogue = FakeDialogue(sm, broker)
        app.state.settings = Settings(claim_timeout_minutes=30)
        app.state.catalog_store = None
        yield
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)
    _install_error_handlers(app)
    app.include_router(api.router, prefix="/api")
    app.include_router(console.router, prefix="/console")
    return app
