"""Dialogue and web-chat fixtures: a deterministic fake NLU, a small fake catalogue, the real app.

The fake NLU follows written rules (keywords -> intents) so engine tests are about the dialogue's
logic, not about a model; the real Rasa model is exercised in tests/test_dialogue_table.py.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.db import make_sessionmaker
from bot.engine import DialogueEngine
from bot.models import Message
from bot.pubsub import InMemoryBroker
from bot.settings import Settings
from catalog_client.types import CatalogStatus, Match, MatchQuery, Phone, ServiceCard
from nlu.territory import find_comune, fold
from nlu.types import Comune, Entity, IntentScore, NLUUnavailable, ParseResult

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "bot" / "schemas" / "custom.schema.json"

# (folded keyword, intent): the first match of each kind wins; several needs make a multi-intent.
NEED_RULES: tuple[tuple[str, str], ...] = (
    ("affitto", "casa"),
    ("sfratt", "casa"),
    ("cerco casa", "casa"),
    ("una casa", "casa"),
    ("lavoro", "lavoro"),
    ("bollett", "reddito"),
    ("soldi", "reddito"),
    ("mangiare", "cibo"),
    ("spesa", "cibo"),
    ("dentista", "salute"),
    ("medico", "salute"),
    ("badante", "anziani"),
    ("anzian", "anziani"),
    ("asilo", "famiglia"),
    ("carrozzina", "disabilita"),
    ("spid", "digitale"),
    ("compagnia", "solitudine"),
    ("permesso di soggiorno", "migranti"),
    ("autobus", "trasporti"),
    ("emergenza", "emergenza"),
)
CONVERSATION_RULES: tuple[tuple[str, str], ...] = (
    ("operatore", "operatore"),
    ("persona vera", "operatore"),
    ("cosa sai fare", "aiuto"),
    ("grazie", "congedo"),
    ("ciao", "saluto"),
    ("buongiorno", "saluto"),
    ("sto aiutando", "per_altri"),
    ("scrivo per", "per_altri"),
    ("calcio", "fuori_ambito"),
    ("pizza", "fuori_ambito"),
    ("abito a", "informa_luogo"),
    ("vivo a", "informa_luogo"),
)
YES = {"si", "sì", "certo", "va bene", "ok"}
NO = {"no", "no grazie"}
DESTINATARI = ("mia madre", "mio padre", "una vicina", "mia nonna")


@dataclass
class FakeNLU:
    """Rules instead of a model. ``down=True`` behaves like Rasa unreachable."""

    down: bool = False
    places: bool = True  # extract comune entities like Rasa would (False: the engine's fallback works)
    calls: int = 0

    async def parse(self, text: str) -> ParseResult:
        self.calls += 1
        if self.down:
            raise NLUUnavailable("fake: down")
        f = fold(text)
        needs = [intent for kw, intent in NEED_RULES if kw in f]
        needs = list(dict.fromkeys(needs))
        convo = next((intent for kw, intent in CONVERSATION_RULES if kw in f), None)
        plain = " ".join(f.split())
        if plain in YES:
            convo = "affermazione"
        elif plain in NO:
            convo = "negazione"
        name = "+".join(needs) if needs else convo
        entities: list[Entity] = []
        comune = None
        if self.places:
            for word in text.replace(",", " ").split():
                c = find_comune(word)
                if c is not None and len(word) > 3:
                    comune = Comune(c.istat, c.name)
                    entities.append(Entity("comune", c.name, word))
                    break
        destinatario = next((d for d in DESTINATARI if d in f), None)
        if destinatario and not needs and convo is None:
            name = "per_altri"
        intent = IntentScore(name, 0.93) if name else IntentScore("fuori_ambito", 0.2)
        return ParseResult(
            text=text,
            intent=intent,
            ranking=(intent,),
            entities=tuple(entities),
            comune=comune,
            destinatario=destinatario,
        )

    async def ready(self) -> bool:
        return not self.down

    async def aclose(self) -> None:
        return None


def card(sid: str, name: str, needs: tuple[str, ...], comuni: tuple[str, ...] = (), **kw: Any) -> ServiceCard:
    card = ServiceCard(
        id=sid,
        name=name,
        organization=kw.pop("organization", "Consorzio di prova"),
        description=kw.pop("description", f"{name}: un servizio di prova."),
        who_for=kw.pop("who_for", "Chi abita nella zona"),
        how_to_access=kw.pop("how_to_access", "Telefona per un appuntamento"),
        phones=kw.pop("phones", (Phone("+390114013111"),)),
        hours=kw.pop("hours", "lunedì 9:00-12:00"),
        needs=needs,
        source=",".join(comuni),  # the fake's service area, as ISTAT codes
        **kw,
    )
    return card


DEFAULT_CARDS: tuple[ServiceCard, ...] = (
    card("casa-1", "Sportello casa Collegno", ("casa",), ("001090",)),
    card("casa-2", "Agenzia sociale per la locazione", ("casa",)),
    card("casa-3", "Emergenza abitativa", ("casa",)),
    card("casa-4", "Housing sociale", ("casa",)),
    card("lavoro-1", "Centro per l'impiego", ("lavoro",)),
    card("lavoro-2", "Orientamento al lavoro", ("lavoro",), to_verify=True),
    card("reddito-1", "Fondo bollette", ("reddito",)),
    card("cibo-1", "Carovana Salvacibo", ("cibo",)),
    card("anziani-1", "Spazio AnCoRe", ("anziani",)),
    card("salute-1", "Cure dentali solidali", ("salute",)),
    card("famiglia-1", "Centro famiglie", ("famiglia",)),
    card("disabilita-1", "Trasporto disabili", ("disabilita",)),
)


@dataclass
class FakeCatalog:
    """Filters by need (and by the card's comuni, when it has any); records every query."""

    cards: tuple[ServiceCard, ...] = DEFAULT_CARDS
    down: bool = False
    queries: list[MatchQuery] = field(default_factory=list)

    async def match(self, query: MatchQuery) -> list[Match]:
        self.queries.append(query)
        if self.down:
            raise ConnectionError("fake catalogue down")
        hits = []
        for c in self.cards:
            area = [a for a in c.source.split(",") if a]
            if not set(c.needs) & set(query.needs):
                continue
            if area and query.comune_istat not in area:
                continue
            hits.append(Match(c, 1.0, (f"bisogno: {', '.join(c.needs)}",)))
        return hits[query.offset : query.offset + query.limit]

    async def get(self, service_id: str) -> ServiceCard | None:
        return next((c for c in self.cards if c.id == service_id), None)

    async def status(self) -> CatalogStatus:
        return CatalogStatus("embedded", datetime.now(UTC))


def chat_settings(database_url: str, **kw: Any) -> Settings:
    return Settings(
        database_url=database_url,
        rate_limit_ip_per_minute=1_000_000,
        rate_limit_session_per_minute=1_000_000,
        **kw,
    )


@pytest.fixture
def fake_nlu() -> FakeNLU:
    return FakeNLU()


@pytest.fixture
def fake_catalog() -> FakeCatalog:
    return FakeCatalog()


@pytest.fixture
def dialogue(
    sessionmaker: async_sessionmaker[AsyncSession], fake_nlu: FakeNLU, fake_catalog: FakeCatalog, db_url: str
) -> DialogueEngine:
    """The engine alone, on SQLite and on PostgreSQL (through the ``sessionmaker`` fixture)."""
    return DialogueEngine(
        sessionmaker=sessionmaker,
        nlu=fake_nlu,
        catalog=fake_catalog,
        broker=InMemoryBroker(),
        settings=chat_settings(db_url),
    )


@pytest.fixture
def sqlite_dialogue(
    sqlite_engine: AsyncEngine, fake_nlu: FakeNLU, fake_catalog: FakeCatalog
) -> DialogueEngine:
    """The engine on SQLite only: for the many pure-logic tests."""
    return DialogueEngine(
        sessionmaker=make_sessionmaker(sqlite_engine),
        nlu=fake_nlu,
        catalog=fake_catalog,
        broker=InMemoryBroker(),
        settings=chat_settings(str(sqlite_engine.url)),
    )


class WebChat:
    """A web-chat user: one session, messages through the REST API, like the widget does."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.sender = ""
        self.token = ""
        self.last: list[dict[str, Any]] = []

    async def start(self) -> WebChat:
        r = await self.client.post("/webhooks/rest/session")
        assert r.status_code == 200, r.text
        self.sender, self.token = r.json()["sender"], r.json()["token"]
        return self

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def send(self, message: str, message_id: str | int | None = None) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"sender": self.sender, "message": message}
        if message_id is not None:
            body["message_id"] = message_id
        r = await self.client.post("/webhooks/rest/webhook", json=body, headers=self.auth)
        assert r.status_code == 200, r.text
        self.last = r.json()
        return self.last

    async def tap(self, title: str) -> list[dict[str, Any]]:
        """Press the button titled ``title`` among the last replies (as a person would)."""
        for item in reversed(self.last):
            for b in item.get("buttons") or ():
                if b["title"] == title:
                    return await self.send(b["payload"])
        raise AssertionError(f"no button {title!r} in {[b for i in self.last for b in i.get('buttons', [])]}")

    def text(self) -> str:
        return "\n".join(i["text"] for i in self.last)

    def customs(self) -> list[dict[str, Any]]:
        return [i["custom"] for i in self.last if i.get("custom")]

    def custom_types(self) -> list[str]:
        return [c["type"] for c in self.customs()]

    def buttons(self) -> list[str]:
        return [b["title"] for i in self.last for b in i.get("buttons") or ()]


async def schema_from_models(engine: AsyncEngine) -> None:
    """Tables from the models, Alembic stamped at head: the app's start-up migration is then a no-op.

    Why not the migrations: this module tests the dialogue, and other packages' tables may be ahead of
    the single regenerated migration while they are being written; tests/test_migrations.py guards
    that the two agree.
    """
    from alembic import command

    from bot.db import Base
    from bot.migrate import alembic_config
    from bot.models_registry import import_all_models

    import_all_models()
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
        await conn.run_sync(lambda c: command.stamp(alembic_config(c), "head"))


@pytest.fixture
async def chat_app(sqlite_url: str, fake_nlu: FakeNLU, fake_catalog: FakeCatalog) -> AsyncIterator[Any]:
    """The real app (``bot.app.create_app``), lifespan started, with the fake NLU and catalogue."""
    from bot.app import create_app
    from bot.db import make_engine

    db_engine = make_engine(sqlite_url)
    await schema_from_models(db_engine)
    app = create_app(chat_settings(sqlite_url), nlu=fake_nlu, catalog=fake_catalog, db_engine=db_engine)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(chat_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=chat_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def new_chat(client: httpx.AsyncClient) -> Callable[[], Any]:
    async def make() -> WebChat:
        return await WebChat(client).start()

    return make


@pytest.fixture(scope="session")
def custom_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


async def assert_customs_valid(sessionmaker: async_sessionmaker[AsyncSession], validator: Any) -> int:
    """Every ``custom`` payload stored so far validates against bot/schemas/custom.schema.json."""
    async with sessionmaker() as session:
        # JSON columns store Python None as a JSON null, so filter here rather than in SQL.
        customs = [c for c in await session.scalars(select(Message.custom)) if c is not None]
    for c in customs:
        errors = sorted(validator.iter_errors(c), key=lambda e: e.path)
        assert not errors, f"{c['type'] if isinstance(c, dict) else c}: {[e.message for e in errors][:3]}"
    return len(customs)
