"""Conversations as tables, through the web chat API, against the REAL Rasa model and catalogue.

Each conversation is a list of rows ``(the person says, the bot's answer must contain, structure)``.
"Must contain" is matched case-insensitively in the replies' texts and button titles. The structure
spec names the ``custom`` payloads expected among the replies:

- ``"-"``: no structured payload at all;
- ``"services:casa"``: a ``services`` payload whose needs include ``casa``;
- ``"question:comune"``, ``"handoff_offer:emergenza"``, ``"handoff:urgent"`` (the priority);
- ``"!emergency"``: the *first* reply is the emergency numbers;
- several specs joined by ``+`` must all be present; ``""`` checks nothing structural.

The Rasa server is started by ``tests/fixtures_rasa.py`` (required in CI). Every payload seen is also
validated against bot/schemas/custom.schema.json.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from bot import texts
from tests.fixtures_chat import WebChat, chat_settings, schema_from_models

Row = tuple[str, tuple[str, ...], str]

T = texts
ASK_PLACE = "In quale comune"
PERSON = "Vorrei parlare con una persona"

CONVERSATIONS: dict[str, list[Row]] = {
    # --- welcome and menu ---
    "saluto e menu": [
        ("ciao", ("Bussola", "privacy", "30 giorni", T.BTN_FOR_ME, T.BTN_FOR_OTHER, PERSON), "-"),
    ],
    "buongiorno, per me, lavoro a Rivoli": [
        ("buongiorno", ("Bussola",), "-"),
        ("/per_me", ("di cosa hai bisogno",), "question:bisogno"),
        ("sto cercando lavoro", (ASK_PLACE,), "question:comune"),
        ("Rivoli", ("Ecco alcuni servizi", "Rivoli", T.BTN_MORE_SERVICES), "services:lavoro"),
    ],
    "aiuto un'altra persona a mangiare": [
        ("salve", ("Bussola",), "-"),
        ("/per_altri", ("la persona che aiuti",), "question:bisogno"),
        ("non ha i soldi per fare la spesa", ("vive la persona che aiuti",), "question:comune"),
        ("Moncalieri", ("Per la persona che aiuti", "Moncalieri"), "services:cibo"),
    ],
    "persona dal menu": [
        ("ciao", ("Bussola",), "-"),
        ("/persona", ("leggerà questa conversazione",), "handoff_offer:richiesta"),
        ("sì", ("Fatto", "nessuno prima di te"), "handoff:normal"),
    ],
    # --- the problem first: no menu ---
    "affitto a Collegno": [
        ("cerco una casa in affitto a Collegno", ("privacy", "Collegno", T.CARD_PHONE), "services:casa"),
    ],
    "sfratto a Grugliasco": [
        ("mi hanno sfrattato, abito a Grugliasco", ("Grugliasco",), "services:casa"),
    ],
    "bollette, poi Nichelino": [
        ("non riesco più a pagare le bollette della luce", (ASK_PLACE,), "question:comune"),
        ("Nichelino", ("Nichelino",), "services:reddito"),
    ],
    "casa e lavoro a Barriera": [
        ("ho perso il lavoro e non riesco a pagare l'affitto", (ASK_PLACE,), "question:comune"),
        ("Torino", ("quartiere",), "question:quartiere"),
        ("Barriera di Milano", ("Barriera di Milano", "più cose"), "services+handoff_offer:complesso"),
        ("sì grazie", ("Fatto",), "handoff:high"),
    ],
    "cibo a Settimo": [
        ("non ho da mangiare, vivo a Settimo Torinese", ("Settimo Torinese",), "services:cibo"),
    ],
    "CAP invece del comune": [
        ("cerco lavoro, il mio cap è 10093", ("Collegno",), "services:lavoro"),
    ],
    "quartiere di Torino nella frase": [
        ("cerco casa, abito in zona San Salvario", ("San Salvario",), "services:casa"),
    ],
    "dove abito, poi il bisogno": [
        ("abito a Ivrea", ("Ivrea", "di cosa hai bisogno"), "question:bisogno"),
        ("cerco lavoro", ("Ivrea",), "services:lavoro"),
    ],
    "comune sconosciuto": [
        ("cerco lavoro", (ASK_PLACE,), "question:comune"),
        ("Milano", ("Non trovo questo comune",), "question:comune"),
        ("Milano", ("Ecco alcuni servizi",), "services:lavoro"),
    ],
    "non dico dove": [
        ("ho bisogno di un dentista ma non ho soldi", (ASK_PLACE, T.BTN_SKIP_PLACE), "question:comune"),
        ("/salta", ("Ecco alcuni servizi",), "services:salute"),
    ],
    # --- who it is for ---
    "badante per mia madre": [
        ("cerco una badante per mia madre", ("vive la persona che aiuti",), "question:comune"),
        ("Pinerolo", ("Per la persona che aiuti", "Pinerolo"), "services:anziani"),
    ],
    "assistenza anziani, per chi?": [
        ("cerco assistenza domiciliare per anziani", (ASK_PLACE,), "question:comune"),
        ("Ivrea", (T.ASK_DESTINATARIO,), "question:destinatario"),
        ("/dest altri", ("Per la persona che aiuti",), "services:anziani"),
    ],
    "scrivo per mia nonna": [
        ("scrivo per mia nonna", ("la persona che aiuti",), "question:bisogno"),
        ("si sente tanto sola", ("vive la persona che aiuti",), "question:comune"),
        ("Chieri", ("Chieri",), "services:solitudine"),
    ],
    # --- each need ---
    "disabilità": [
        ("mio figlio ha una disabilità e cerco un centro diurno", (ASK_PLACE,), "question:comune"),
        ("Chieri", ("Chieri",), "services:disabilita"),
    ],
    "digitale": [
        ("non so come fare lo SPID", (ASK_PLACE,), "question:comune"),
        ("Venaria Reale", ("Venaria",), "services:digitale"),
    ],
    "solitudine": [
        (
            "sono vedova e passo le giornate da sola, vorrei un po' di compagnia",
            (ASK_PLACE,),
            "question:comune",
        ),
        ("Collegno", ("Collegno",), "services:solitudine"),
    ],
    "permesso di soggiorno": [
        ("devo rinnovare il permesso di soggiorno e non so a chi chiedere", (ASK_PLACE,), "question:comune"),
        ("Torino", ("quartiere",), "question:quartiere"),
        ("non lo so", ("Ecco alcuni servizi",), "services:migranti"),
    ],
    "trasporti": [
        ("non ho la macchina e non so come andare alle visite in ospedale", (ASK_PLACE,), "question:comune"),
        ("Susa", ("Susa",), "services"),
    ],
    "asilo nido": [
        ("cerco un asilo nido per il mio bambino", (ASK_PLACE,), "question:comune"),
        ("Rivoli", ("Rivoli",), "services:famiglia"),
    ],
    "amministratore di sostegno": [
        ("mio padre non riesce più a gestire i suoi soldi, serve un amministratore di sostegno", (), ""),
        ("Ivrea", ("Ivrea",), "services:tutela_legale"),
    ],
    # --- suggestions and what follows ---
    "altri servizi": [
        ("cerco casa a Torino", ("quartiere",), "question:quartiere"),
        ("/salta", ("Ecco alcuni servizi", T.BTN_MORE_SERVICES), "services:casa"),
        ("/altri", ("servizi",), ""),
    ],
    "mi serve altro": [
        ("cerco lavoro a Grugliasco", ("Grugliasco",), "services:lavoro"),
        ("/altro", ("Di cos'altro hai bisogno",), "question:bisogno"),
        ("/bisogno casa", ("Grugliasco", "più cose"), "services:casa+handoff_offer:complesso"),
        ("no", (T.HANDOFF_DECLINED,), "-"),
    ],
    "i servizi non aiutano": [
        ("cerco lavoro a Rivoli", ("Rivoli",), "services:lavoro"),
        ("questi servizi non mi servono a niente", ("Mi dispiace",), "handoff_offer:insoddisfatto"),
        ("sì", ("Fatto",), "handoff:normal"),
    ],
    "grazie alla fine": [
        ("cerco da mangiare a Collegno", ("Collegno",), "services:cibo"),
        ("grazie mille, sei stato gentile", (T.THANKS,), "-"),
    ],
    # --- handoff ---
    "operatore, poi no": [
        ("voglio parlare con un operatore", ("leggerà questa conversazione",), "handoff_offer:richiesta"),
        ("no grazie", (T.HANDOFF_DECLINED,), "-"),
    ],
    "operatore due volte": [
        ("posso parlare con una persona vera?", ("leggerà questa conversazione",), "handoff_offer:richiesta"),
        ("sì", ("Fatto",), "handoff:normal"),
        ("voglio un operatore", ("Sei già in coda",), "handoff"),
    ],
    "due messaggi non capiti": [
        ("ciao", ("Bussola",), "-"),
        ("ksksksks", ("non ho capito",), "-"),
        ("jdjdjdjdj", ("non riesco a capire",), "handoff_offer:non_compreso"),
    ],
    # --- emergency ---
    "violenza domestica": [
        (
            "mio marito mi picchia",
            ("112", "1522", "114", "Telefono Amico"),
            "!emergency+handoff_offer:emergenza",
        ),
        ("sì", ("urgente", "112"), "handoff:urgent"),
    ],
    "pensieri di morte": [
        ("non ce la faccio più, voglio farla finita", ("112", "Telefono Amico"), "!emergency+handoff_offer"),
        ("no", ("112",), "-"),
    ],
    "minaccia con coltello": [
        ("il mio ex ha un coltello e dice che mi ammazza", ("112", "1522"), "!emergency"),
    ],
    "emergenza dopo i servizi": [
        ("cerco casa a Collegno", ("Collegno",), "services:casa"),
        ("adesso è tornato e mi sta picchiando", ("112",), "!emergency+handoff_offer:emergenza"),
    ],
    "bambino in pericolo": [
        ("il papà del mio compagno di classe lo picchia, ha i lividi", ("114",), "!emergency"),
    ],
    # --- small talk ---
    "aiuto": [
        ("cosa sai fare?", ("assistente automatico", T.BTN_FOR_ME), "-"),
    ],
    "chi sei": [
        ("ciao", ("Bussola",), "-"),
        ("sei un robot?", ("non sono una persona",), "-"),
    ],
    "fuori ambito": [
        ("ciao", ("Bussola",), "-"),
        ("chi ha vinto la partita ieri sera?", ("non posso aiutarti",), "-"),
    ],
    "saluto due volte": [
        ("buongiorno", ("Bussola",), "-"),
        ("ciao", (T.GREETING,), "-"),
    ],
    # --- bad input ---
    "inglese": [
        ("ciao", ("Bussola",), "-"),
        ("hello, how are you? I need some help", ("solo l'italiano",), "-"),
    ],
    "solo emoji": [
        ("ciao", ("Bussola",), "-"),
        ("😢😢😢", ("emoji",), "-"),
    ],
    "html e script": [
        ("ciao", ("Bussola",), "-"),
        ("<script>alert('ciao')</script>", ("",), ""),
    ],
    "messaggio vuoto": [
        ("", (T.EMPTY,), "-"),
    ],
    "pulsanti vecchi o inventati": [
        ("/bottone_che_non_esiste", (T.STALE_BUTTON,), "-"),
        ("/bisogno astronavi", (T.STALE_BUTTON,), "-"),
        ("/bisogno casa", (ASK_PLACE,), "question:comune"),
    ],
    # --- privacy ---
    "privacy e cancellazione": [
        ("cerco casa a Collegno", ("Collegno",), "services:casa"),
        ("/privacy", ("12 mesi", "/privacy"), "-"),
        ("/cancella", ("cancellare",), "question:cancella"),
        ("/cancella si", (T.DELETE_DONE,), "-"),
    ],
}


@pytest.fixture(scope="module")
def rasa(rasa_url: str, rasa_token: str) -> tuple[str, str]:
    return rasa_url, rasa_token


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def real_client(
    rasa: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """The whole app with the real NLU client against Rasa and the real bundled catalogue."""
    from bot.app import create_app
    from bot.db import make_engine

    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('table')}/table.db"
    db_engine = make_engine(url)
    await schema_from_models(db_engine)
    settings = chat_settings(url, rasa_url=rasa[0], rasa_token=rasa[1], rasa_timeout=10.0)
    app = create_app(settings, db_engine=db_engine, retention=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client, app


def check(spec: str, replies: list[dict[str, Any]], where: str) -> None:
    customs = [r["custom"] for r in replies if r.get("custom")]
    if spec == "-":
        assert not customs, f"{where}: no structured payload expected, got {customs}"
        return
    for part in filter(None, spec.split("+")):
        if part.startswith("!"):
            first = replies[0].get("custom") or {}
            assert first.get("type") == part[1:], f"{where}: the first reply must be {part[1:]}, got {first}"
            continue
        kind, _, arg = part.partition(":")
        found = [c for c in customs if c["type"] == kind]
        assert found, f"{where}: expected {kind}, got {[c['type'] for c in customs]}"
        if not arg:
            continue
        if kind == "services":
            assert any(arg in c["needs"] for c in found), f"{where}: services for {arg}? {found[0]['needs']}"
        elif kind == "question":
            assert any(c["slot"] == arg for c in found), f"{where}: question {arg}? {found}"
        elif kind == "handoff_offer":
            assert any(c["reason"] == arg for c in found), f"{where}: offer {arg}? {found}"
        elif kind == "handoff":
            assert any(c["priority"] == arg for c in found), f"{where}: handoff {arg}? {found}"


def test_there_are_at_least_forty_conversations() -> None:
    assert len(CONVERSATIONS) >= 40
    assert sum(len(rows) for rows in CONVERSATIONS.values()) >= 80


@pytest.mark.rasa
@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("name", list(CONVERSATIONS))
async def test_conversation(
    name: str, real_client: tuple[httpx.AsyncClient, Any], custom_validator: Any
) -> None:
    client, _app = real_client
    chat = await WebChat(client).start()
    for turn, (says, must, spec) in enumerate(CONVERSATIONS[name], 1):
        replies = await chat.send(says)
        where = f"{name!r} turn {turn} ({says[:40]!r})"
        assert replies, f"{where}: no reply"
        seen = (chat.text() + "\n" + "\n".join(chat.buttons())).lower()
        for fragment in must:
            assert fragment.lower() in seen, f"{where}: {fragment!r} not in:\n{chat.text()}"
        if spec:
            check(spec, replies, where)
        for c in chat.customs():
            errors = [e.message for e in custom_validator.iter_errors(c)]
            assert not errors, f"{where}: {c['type']} does not validate: {errors[:3]}"
        assert "<script" not in chat.text()
