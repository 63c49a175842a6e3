"""hypothesis on the dialogue: arbitrary text, payloads and events never crash it or go unanswered.

1. The dialogue engine on the real PostgreSQL, with the real bundled catalogue and the rule-based
   fake NLU (which hypothesis may switch off at any step: degraded mode). Each example is a new
   conversation of a few steps; each step is arbitrary text (any Unicode, control characters, lone
   surrogates, very long, HTML, other languages, emoji), a payload-like string (known commands with
   random arguments, unknown commands, over-long ones), a tap on one of the buttons just shown, a
   location (also NaN or infinite), or a voice note, photo, sticker. Every step must get at least
   one reply, every reply plain Italian text (no placeholders, no stack traces, not the engine's
   "something went wrong" apology, which means the dialogue itself raised), and the database must
   hold each message once, followed by its replies.
2. The web-chat endpoint with arbitrary bodies (bytes, any JSON, right and wrong field types,
   any content type): 200 with replies, or a 4xx JSON error with an Italian ``detail``; never 5xx.

Bounded and repeatable: ``derandomize=True`` and a fixed ``max_examples``.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot import texts
from bot.db import make_engine, make_sessionmaker
from bot.engine import DialogueEngine
from bot.models import Conversation, Message
from bot.pubsub import InMemoryBroker
from bot.types import Inbound, StoredMessage
from catalog_client.embedded import EmbeddedCatalog
from catalog_client.store import CatalogStore
from tests.fixtures_chat import FakeNLU, chat_settings, schema_from_models
from tests.fixtures_db import drop_postgres_database, make_postgres_database

pytestmark = pytest.mark.postgres

SETTINGS = settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)

# Words of everyday Italian: every reply has some (a reply in English or an empty template has none).
ITALIAN = frozenset(
    "a ad al alla anche che chi ci con da del della di e è hai ho il in la le mi ne non o oppure per "
    "posso puoi qui se sei si sì sono su ti tu tua tuo un una uno va".split()
)
FOREIGN_MARKERS = re.compile(r"\b(traceback|exception|undefined|null|error)\b|\{[a-z_]+\}", re.IGNORECASE)
WORD = re.compile(r"[^\W\d_]+")

PHRASES = (
    "ciao",
    "cerco casa a Collegno",
    "ho perso il lavoro",
    "voglio parlare con un operatore",
    "sì",
    "no",
    "grazie",
    "scrivo per mia madre, ha 85 anni",
    "aiuto mi vuole uccidere",
    "abito a Moncalieri",
    "Hello, I need help with my rent",
    "مرحبا أحتاج مساعدة",
    "<script>alert('x')</script>",
    "'; DROP TABLE messages; --",
    "😀😀😀",
    "",
    "   \n\t ",
    "\x00\x01\x02",
)
COMMANDS = (
    "start", "aiuto", "privacy", "cancella", "stop", "per_me", "per_altri", "persona", "operatore",
    "altri", "altro", "handoff", "salta", "dest", "utile", "bisogno", "comune", "menu", "help", "xyz",
)  # fmt: skip
ODD = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF) | st.characters(max_codepoint=0x1F)


def _known_payloads() -> list[str]:
    from bot.dialogue import payloads

    fixed = [v for k, v in vars(payloads).items() if k.isupper() and isinstance(v, str) and v.startswith("/")]
    return fixed + [b.payload for b in payloads.need_buttons()] + ["/comune 001090", "/comune 001272"]


# Payloads a button may send, stale or forged ones, and commands typed by hand.
PAYLOADS = st.one_of(
    st.sampled_from(_known_payloads()),
    st.sampled_from(
        ["/bisogno astronave", "/comune 999999", "/xyz", "/handoff forse", "/dest boh", "/" + "a" * 80]
    ),
    st.builds(lambda c, a: f"/{c} {a}", st.sampled_from(COMMANDS), st.text(max_size=80)),
    st.builds(lambda c: f"/{c}", st.sampled_from(COMMANDS)),
)
TEXTS = st.one_of(
    PAYLOADS,
    st.text(max_size=120),
    st.text(alphabet=st.characters() | ODD, max_size=40),
    st.sampled_from(PHRASES),
    st.integers(3990, 4200).map(lambda n: "casa " * (n // 5)),
    st.binary(max_size=60).map(lambda b: b.decode("latin-1")),
)
FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.floats(-90, 90)


@dataclass
class World:
    loop: asyncio.AbstractEventLoop
    url: str
    dialogue: DialogueEngine
    nlu: FakeNLU

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    url = make_postgres_database()
    loop = asyncio.new_event_loop()
    engine = make_engine(url)
    try:
        loop.run_until_complete(schema_from_models(engine))
        nlu = FakeNLU()
        dialogue = DialogueEngine(
            sessionmaker=make_sessionmaker(engine),
            nlu=nlu,
            catalog=EmbeddedCatalog(CatalogStore.bundled()),
            broker=InMemoryBroker(),
            settings=chat_settings(url),
        )
        yield World(loop, url, dialogue, nlu)
    finally:
        loop.run_until_complete(engine.dispose())
        loop.close()
        drop_postgres_database(url)


def assert_kind_italian(reply: StoredMessage | dict[str, Any]) -> None:
    text = reply.text if isinstance(reply, StoredMessage) else reply["text"]
    assert text.strip(), "an empty reply"
    assert text != texts.ERROR, "the dialogue raised: the engine could only apologise"
    words = {w.lower() for w in WORD.findall(text)}
    assert words & ITALIAN, f"not Italian: {text[:200]!r}"
    assert not FOREIGN_MARKERS.search(text), f"internal words in a reply: {text[:200]!r}"


def step(data: st.DataObject, sender: str, buttons: list[str]) -> Inbound:
    """One arbitrary thing a person can do next."""
    choices = ["text", "text", "location", "other"] + (["button", "button"] if buttons else [])
    what = data.draw(st.sampled_from(choices))
    base: dict[str, Any] = {"channel": "web", "sender": sender, "message_id": uuid.uuid4().hex}
    if what == "button":
        payload = data.draw(st.sampled_from(buttons))
        return Inbound(**base, kind="button", text=payload, payload=payload)
    if what == "location":
        return Inbound(**base, kind="location", latitude=data.draw(FLOATS), longitude=data.draw(FLOATS))
    if what == "other":
        return Inbound(
            **base, kind=data.draw(st.sampled_from(["voice", "photo", "sticker", "document", "other"]))
        )
    return Inbound(**base, kind="text", text=data.draw(TEXTS))


@given(data=st.data())
@SETTINGS
def test_any_conversation_gets_kind_italian_replies_and_nothing_is_lost(
    world: World, data: st.DataObject
) -> None:
    sender = f"fuzz-{uuid.uuid4().hex[:12]}"
    buttons: list[str] = []
    for _ in range(data.draw(st.integers(1, 6))):
        world.nlu.down = data.draw(st.booleans().map(lambda b: b and data.draw(st.booleans())))
        inbound = step(data, sender, buttons)
        replies = world.run(world.dialogue.handle(inbound))
        assert replies, f"no reply to a {inbound.kind}"
        for r in replies:
            assert_kind_italian(r)
        buttons = [b.payload for r in replies for b in r.buttons]
    world.nlu.down = False

    async def stored() -> tuple[Conversation | None, list[Message]]:
        async with world.dialogue.sessionmaker() as s:
            conv = await s.scalar(select(Conversation).where(Conversation.sender == sender))
            if conv is None:
                return None, []
            rows = await s.scalars(
                select(Message).where(Message.conversation_id == conv.id).order_by(Message.id)
            )
            return conv, list(rows)

    conv, log = world.run(stored())
    if conv is None:
        return  # the person erased the conversation (/cancella si): nothing may remain
    stored_in = [m for m in log if m.direction == "in"]
    assert len({m.external_id for m in stored_in}) == len(stored_in)
    assert (conv.state or {}).get("turns") == len(stored_in)
    for m in stored_in:
        assert any(r.reply_to == m.id for r in log), "a stored message without its replies"


# --- the HTTP endpoint with arbitrary bodies ---------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)
CONTENT_TYPES = (
    "application/json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "",
    "application/json; charset=latin-1",
)


@dataclass
class Served:
    world: World
    client: httpx.AsyncClient
    sender: str
    token: str


@pytest.fixture(scope="module")
def served(world: World) -> Iterator[Served]:
    from bot.app import create_app

    app = create_app(chat_settings(world.url), nlu=FakeNLU(), db_engine=make_engine(world.url))
    lifespan = app.router.lifespan_context(app)
    world.run(lifespan.__aenter__())
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    try:
        r = world.run(client.post("/webhooks/rest/session"))
        yield Served(world, client, r.json()["sender"], r.json()["token"])
    finally:
        world.run(client.aclose())
        world.run(lifespan.__aexit__(None, None, None))


@given(
    shape=st.sampled_from(["bytes", "json", "fields"]),
    raw=st.binary(max_size=200),
    value=JSON_VALUES,
    message=JSON_VALUES | TEXTS,
    message_id=JSON_VALUES,
    own_sender=st.booleans(),
    content_type=st.sampled_from(CONTENT_TYPES),
)
@SETTINGS
def test_any_body_gets_replies_or_a_json_error(
    served: Served,
    shape: str,
    raw: bytes,
    value: Any,
    message: Any,
    message_id: Any,
    own_sender: bool,
    content_type: str,
) -> None:
    if shape == "bytes":
        body = raw
    elif shape == "json":
        body = json.dumps(value).encode()
    else:
        fields = {
            "sender": served.sender if own_sender else value,
            "message": message,
            "message_id": message_id,
        }
        body = json.dumps(fields, allow_nan=True).encode("utf-8", "surrogatepass")
    headers = {"Authorization": f"Bearer {served.token}"}
    if content_type:
        headers["Content-Type"] = content_type
    r = served.world.run(served.client.post("/webhooks/rest/webhook", content=body, headers=headers))
    assert r.status_code < 500, r.text[:300]
    assert r.headers["content-type"].startswith("application/json")
    if r.status_code == 200:
        replies = r.json()
        assert isinstance(replies, list) and replies
        for item in replies:
            assert_kind_italian(item)
    else:
        assert r.status_code in (400, 401, 403, 413, 415, 422), r.status_code
        detail = r.json()["detail"]
        assert isinstance(detail, str) and detail.strip()
