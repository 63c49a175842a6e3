"""NLUClient against httpx.MockTransport: normalisation, multi-intents, retries, deadlines, replicas."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nlu.client import MAX_CHARS, NLUClient, build_result, normalise_entities, parse_age
from nlu.types import Comune, NLUUnavailable

GUARD = 10.0  # a test that would hang fails after this many seconds instead


def rasa_answer(
    text: str,
    intent: str = "casa",
    confidence: float = 0.9,
    entities: list[dict[str, Any]] | None = None,
    ranking: list[tuple[str, float]] | None = None,
) -> dict[str, Any]:
    ranked = ranking or [(intent, confidence), ("lavoro", 1 - confidence)]
    return {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "entities": entities or [],
        "intent_ranking": [{"name": n, "confidence": c} for n, c in ranked],
    }


def ent(
    text: str, surface: str, kind: str, value: str | None = None, extractor: str = "DIETClassifier"
) -> dict[str, Any]:
    start = text.index(surface)
    return {
        "entity": kind,
        "start": start,
        "end": start + len(surface),
        "value": surface if value is None else value,
        "extractor": extractor,
    }


Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


class Recorder:
    """A fake Rasa: records every request and answers through ``respond``."""

    def __init__(self, respond: Callable[[httpx.Request], Any]) -> None:
        self.requests: list[httpx.Request] = []
        self._respond = respond

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        out = self._respond(request)
        if asyncio.iscoroutine(out):
            out = await out
        if isinstance(out, httpx.Response):
            return out
        return httpx.Response(200, json=out)

    @property
    def hosts(self) -> list[str]:
        return [r.url.host for r in self.requests]


def echo(answer: Callable[[str], dict[str, Any]]) -> Callable[[httpx.Request], dict[str, Any]]:
    def respond(request: httpx.Request) -> dict[str, Any]:
        return answer(json.loads(request.content)["text"])

    return respond


def client_for(recorder: Recorder, urls: list[str] | None = None, **kw: Any) -> NLUClient:
    kw.setdefault("retry_pause", 0.0)
    return NLUClient(urls or ["http://rasa:5005"], transport=httpx.MockTransport(recorder), **kw)


async def parse(client: NLUClient, text: str) -> Any:
    return await asyncio.wait_for(client.parse(text), GUARD)


# --- the typed result ----------------------------------------------------------------------------


async def test_entities_are_normalised() -> None:
    text = "abito a collegno, mia madre ha ottanta anni"
    answer = rasa_answer(
        text,
        "anziani",
        entities=[
            ent(text, "collegno", "comune", "Collegno", "RegexEntityExtractor"),
            ent(text, "collegno", "comune", "Collegno"),  # DIET found the same span
            ent(text, "mia madre", "destinatario"),
            ent(text, "ottanta anni", "eta"),
        ],
    )
    async with client_for(Recorder(lambda _r: answer)) as client:
        result = await parse(client, text)
    assert result.comune == Comune("001090", "Collegno")
    assert result.eta == 80
    assert result.destinatario == "mia madre"
    assert result.quartiere is None
    assert [(e.type, e.value, e.text) for e in result.entities] == [
        ("comune", "Collegno", "collegno"),
        ("destinatario", "mia madre", "mia madre"),
        ("eta", "80", "ottanta anni"),
    ]
    assert result.intent is not None and result.intent.name == "anziani"
    assert result.needs == ("anziani",)
    assert [s.name for s in result.ranking] == ["anziani", "lavoro"]


@pytest.mark.parametrize(
    ("surface", "value", "istat", "name"),
    [
        ("settimo", "settimo", "001265", "Settimo Torinese"),  # everyday short form
        ("cuorgne", "Cuorgnè", "001098", "Cuorgnè"),  # synonym-mapped value
        ("Colegno", "Colegno", "001090", "Collegno"),  # DIET picked up a misspelling
        ("10093", "10093", "001090", "Collegno"),  # a CAP
        ("TORINO", "TORINO", "001272", "Torino"),
    ],
)
def test_comune_variants_resolve_to_istat(surface: str, value: str, istat: str, name: str) -> None:
    text = f"vivo a {surface}"
    result = build_result(
        text, rasa_answer(text, "informa_luogo", entities=[ent(text, surface, "comune", value)])
    )
    assert result.comune == Comune(istat, name)


def test_unknown_comune_is_dropped() -> None:
    text = "vivo a Milano"
    result = build_result(text, rasa_answer(text, "informa_luogo", entities=[ent(text, "Milano", "comune")]))
    assert result.comune is None and result.entities == ()


def test_quartiere_gets_official_name_and_implies_torino() -> None:
    text = "sto in barriera"
    result = build_result(
        text, rasa_answer(text, "informa_luogo", entities=[ent(text, "barriera", "quartiere")])
    )
    assert result.quartiere == "Barriera di Milano"
    assert result.comune == Comune("001272", "Torino")


def test_circoscrizione_is_kept() -> None:
    text = "abito in circoscrizione 6"
    answer = rasa_answer(text, "informa_luogo", entities=[ent(text, "circoscrizione 6", "quartiere")])
    assert build_result(text, answer).quartiere == "Circoscrizione 6"


@pytest.mark.parametrize(
    ("text", "surface", "kept"),
    [
        ("mi hanno rubato le porte della macchina", "porte", False),  # a word, not the comune Porte
        ("abito a Porte", "Porte", True),
        ("ho un problema grosso", "grosso", False),
        ("vado al settimo piano", "settimo", False),
        ("sono di settimo", "settimo", False),
        ("vivo a settimo", "settimo", True),
        ("abito in via Pianezza a Torino", "Pianezza", False),  # a Turin street, not the comune
        ("abito a Pianezza", "Pianezza", True),
    ],
)
def test_place_words_need_context(text: str, surface: str, kept: bool) -> None:
    raw = [ent(text, surface, "comune", extractor="RegexEntityExtractor")]
    found = [e.text for e in normalise_entities(text, raw)]
    assert found == ([surface] if kept else [])


@pytest.mark.parametrize("text", ["Settimo", "settimo!", "  porte "])
def test_a_bare_place_word_is_a_place(text: str) -> None:
    surface = text.strip(" !")
    found = normalise_entities(text, [ent(text, surface, "comune", extractor="RegexEntityExtractor")])
    assert [e.text for e in found] == [surface]


def test_a_place_word_counts_when_the_message_says_where_one_lives() -> None:
    text = "sono di settimo"
    raw = [ent(text, "settimo", "comune", extractor="RegexEntityExtractor")]
    assert normalise_entities(text, raw) == []
    result = build_result(text, rasa_answer(text, "informa_luogo", entities=raw))
    assert result.comune == Comune("001265", "Settimo Torinese")


def test_longest_overlapping_place_wins() -> None:
    text = "abito a Settimo Torinese"
    raw = [ent(text, "Settimo", "comune"), ent(text, "Settimo Torinese", "comune")]
    result = build_result(text, rasa_answer(text, "informa_luogo", entities=raw))
    assert [e.text for e in result.entities] == ["Settimo Torinese"]
    assert result.comune is not None and result.comune.name == "Settimo Torinese"


def test_comune_and_quartiere_on_the_same_word() -> None:
    text = "abito a Parella"
    raw = [ent(text, "Parella", "comune"), ent(text, "Parella", "quartiere")]
    result = build_result(text, rasa_answer(text, "informa_luogo", entities=raw))
    assert result.comune is not None and result.comune.name == "Parella" and result.quartiere is None
    text = "Torino, quartiere Parella"
    raw = [ent(text, "Torino", "comune"), ent(text, "Parella", "comune"), ent(text, "Parella", "quartiere")]
    result = build_result(text, rasa_answer(text, "informa_luogo", entities=raw))
    assert result.quartiere == "Parella" and result.comune is not None and result.comune.name == "Torino"


def test_unparsable_age_is_dropped_and_other_entities_pass() -> None:
    text = "ha tanti anni"
    raw = [ent(text, "tanti anni", "eta"), {"entity": "colore", "start": 0, "end": 2, "value": "ha"}]
    result = build_result(text, rasa_answer(text, "anziani", entities=raw))
    assert result.eta is None
    assert [(e.type, e.value) for e in result.entities] == [("colore", "ha")]


@pytest.mark.parametrize(
    ("text", "age"),
    [
        ("80", 80),
        ("92 anni", 92),
        ("85enne", 85),
        ("ottanta", 80),
        ("settantacinque", 75),
        ("ottant'anni", 80),
        ("novantadue anni", 92),
        ("ventuno", 21),
        ("trentotto", 38),
        ("Ottantatré", 83),
        ("novantenne", 90),
        ("diciottenne", 18),
        ("ottanta cinque", 85),
        ("cento", 100),
        ("centodue", 102),
        ("una signora di ottanta anni", 80),
        ("6 mesi", 0),
        ("un anno", 1),
        ("tanti", None),
        ("", None),
        ("200", None),
    ],
)
def test_parse_age(text: str, age: int | None) -> None:
    assert parse_age(text) == age


@given(st.text(max_size=40))
@settings(max_examples=300)
def test_parse_age_never_raises(text: str) -> None:
    age = parse_age(text)
    assert age is None or 0 <= age <= 120


junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)


@given(st.dictionaries(st.sampled_from(["intent", "entities", "intent_ranking", "text"]), junk))
@settings(max_examples=300)
def test_build_result_survives_odd_payloads(payload: dict[str, Any]) -> None:
    try:
        result = build_result("abito a Collegno", payload)
    except (TypeError, AttributeError) as exc:  # pragma: no cover - the failure we look for
        pytest.fail(f"build_result crashed on {payload!r}: {exc!r}")
    assert result.text == "abito a Collegno"


# --- multi-intents ----------------------------------------------------------------------------


async def test_multi_intent_is_split_into_parts() -> None:
    rec = Recorder(
        echo(lambda t: rasa_answer(t, "casa+lavoro", 0.8, ranking=[("casa+lavoro", 0.8), ("casa", 0.2)]))
    )
    async with client_for(rec) as client:
        result = await parse(client, "ho perso casa e lavoro")
    assert result.intent is not None and result.intent.parts == ("casa", "lavoro")
    assert result.intents == ("casa", "lavoro")
    assert result.needs == ("casa", "lavoro")
    assert result.ranking[1].parts == ("casa",)
    assert result.confidence == pytest.approx(0.8)


async def test_fallback_intent_is_passed_through_with_no_needs() -> None:
    rec = Recorder(echo(lambda t: rasa_answer(t, "nlu_fallback", 0.3)))
    async with client_for(rec) as client:
        result = await parse(client, "blablabla")
    assert result.intents == ("nlu_fallback",) and result.needs == ()


# --- what is sent --------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
async def test_blank_text_is_never_sent(text: str) -> None:
    rec = Recorder(echo(rasa_answer))
    async with client_for(rec) as client:
        result = await parse(client, text)
    assert rec.requests == []
    assert result.intent is None and result.intents == () and result.entities == ()


async def test_token_goes_in_the_query_and_text_in_json() -> None:
    rec = Recorder(echo(rasa_answer))
    async with client_for(rec, token="s3cret") as client:
        await parse(client, "ciao è così 🙂")
    (request,) = rec.requests
    assert request.method == "POST" and request.url.path == "/model/parse"
    assert request.url.params["token"] == "s3cret"
    assert json.loads(request.content) == {"text": "ciao è così 🙂"}


async def test_no_token_no_query() -> None:
    rec = Recorder(echo(rasa_answer))
    async with client_for(rec) as client:
        await parse(client, "ciao")
    assert "token" not in rec.requests[0].url.params


async def test_huge_text_is_cut() -> None:
    rec = Recorder(echo(rasa_answer))
    async with client_for(rec) as client:
        result = await parse(client, "casa " * 5000)
    assert len(json.loads(rec.requests[0].content)["text"]) == MAX_CHARS
    assert len(result.text) == MAX_CHARS


# --- failures: retry on connection errors only, never hang ---------------------------------------


async def test_retries_once_on_connection_error() -> None:
    calls = {"n": 0}

    def respond(request: httpx.Request) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx.ConnectError("refused", request=request)
        return rasa_answer("x")

    rec = Recorder(respond)
    async with client_for(rec) as client:
        result = await parse(client, "sfratto")
    assert calls["n"] == 2 and result.intents == ("casa",)


async def test_down_server_raises_after_bounded_attempts() -> None:
    def respond(request: httpx.Request) -> Any:
        raise httpx.ConnectError("refused", request=request)

    rec = Recorder(respond)
    async with client_for(rec, retries=1) as client:
        with pytest.raises(NLUUnavailable, match="connect"):
            await parse(client, "sfratto")
    assert len(rec.requests) == 2


@pytest.mark.parametrize("exc", [httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout])
async def test_timeouts_are_not_retried(exc: type[httpx.TimeoutException]) -> None:
    def respond(request: httpx.Request) -> Any:
        raise exc("slow", request=request)

    rec = Recorder(respond)
    async with client_for(rec, urls=["http://a:1", "http://b:1"]) as client:
        with pytest.raises(NLUUnavailable, match="slower"):
            await parse(client, "sfratto")
    assert len(rec.requests) == 1


async def test_a_server_that_never_answers_hits_the_deadline() -> None:
    async def respond(request: httpx.Request) -> Any:
        await asyncio.Event().wait()  # never set: a hung Rasa

    rec = Recorder(respond)
    async with client_for(rec, urls=["http://a:1", "http://b:1"], timeout=0.2) as client:
        with pytest.raises(NLUUnavailable, match="slower"):
            await parse(client, "sfratto")
    assert len(rec.requests) == 1  # the other replica is not tried: the deadline is spent


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (httpx.Response(401, json={"status": "failure"}), "token"),
        (httpx.Response(403, json={"status": "failure"}), "token"),
        (httpx.Response(500, text="boom"), "HTTP 500"),
        (httpx.Response(400, json={"status": "failure"}), "HTTP 400"),
        (httpx.Response(200, text="<html>not json</html>"), "malformed"),
        (httpx.Response(200, json=["a", "list"]), "unexpected"),
    ],
)
async def test_bad_answers_raise_without_retry(response: httpx.Response, message: str) -> None:
    rec = Recorder(lambda _r: response)
    async with client_for(rec, urls=["http://a:1", "http://b:1"]) as client:
        with pytest.raises(NLUUnavailable, match=message):
            await parse(client, "sfratto")
    assert len(rec.requests) == 1


# --- replicas ----------------------------------------------------------------------------------


async def test_round_robin_over_replicas() -> None:
    rec = Recorder(echo(rasa_answer))
    async with client_for(rec, urls=["http://a:1", "http://b:1/", "http://c:1"]) as client:
        for _ in range(6):
            await parse(client, "casa")
    assert rec.hosts == ["a", "b", "c", "a", "b", "c"]


async def test_dead_replica_is_skipped_for_a_while() -> None:
    now = {"t": 1000.0}

    def respond(request: httpx.Request) -> Any:
        if request.url.host == "a":
            raise httpx.ConnectError("refused", request=request)
        return rasa_answer("x")

    rec = Recorder(respond)
    client = client_for(rec, urls=["http://a:1", "http://b:1"], dead_for=30.0, clock=lambda: now["t"])
    async with client:
        await parse(client, "casa")  # a refuses, b answers
        assert rec.hosts == ["a", "b"]
        for _ in range(4):
            await parse(client, "casa")
        assert rec.hosts == ["a", "b", "b", "b", "b", "b"]  # a is skipped while dead
        now["t"] += 31  # a's time-out is over: it is tried again
        await parse(client, "casa")
        await parse(client, "casa")
        assert "a" in rec.hosts[6:]


async def test_all_replicas_dead_raises_quickly() -> None:
    def respond(request: httpx.Request) -> Any:
        raise httpx.ConnectError("refused", request=request)

    rec = Recorder(respond)
    async with client_for(rec, urls=["http://a:1", "http://b:1"], retries=1) as client:
        for _ in range(3):
            with pytest.raises(NLUUnavailable):
                await parse(client, "casa")
    # Every call still probes (a dead replica may be back), but each call is bounded.
    assert len(rec.requests) == 9


async def test_gateway_errors_move_to_the_next_replica() -> None:
    def respond(request: httpx.Request) -> Any:
        return httpx.Response(503) if request.url.host == "a" else rasa_answer("x")

    rec = Recorder(respond)
    async with client_for(rec, urls=["http://a:1", "http://b:1"]) as client:
        result = await parse(client, "casa")
    assert rec.hosts == ["a", "b"] and result.intents == ("casa",)


# --- readiness -----------------------------------------------------------------------------------


async def test_ready_when_a_model_is_loaded() -> None:
    def respond(request: httpx.Request) -> Any:
        assert request.url.path == "/status"
        assert request.url.params["token"] == "t"
        return {"model_file": "nlu-abc.tar.gz", "model_id": "x", "num_active_training_jobs": 0}

    async with client_for(Recorder(respond), token="t") as client:
        assert await asyncio.wait_for(client.ready(), GUARD) is True


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, json={"model_file": None}),
        httpx.Response(401, json={}),
        httpx.Response(200, text="nope"),
        httpx.Response(200, json=[]),
    ],
)
async def test_not_ready(answer: httpx.Response) -> None:
    async with client_for(Recorder(lambda _r: answer)) as client:
        assert await asyncio.wait_for(client.ready(), GUARD) is False


async def test_not_ready_when_down() -> None:
    def respond(request: httpx.Request) -> Any:
        raise httpx.ConnectError("refused", request=request)

    async with client_for(Recorder(respond)) as client:
        assert await asyncio.wait_for(client.ready(), GUARD) is False


def test_needs_a_url() -> None:
    with pytest.raises(ValueError):
        NLUClient([])
    with pytest.raises(ValueError):
        NLUClient(["http://a:1"], timeout=0)


async def test_comma_separated_urls_are_accepted() -> None:
    async with NLUClient("http://a:1, http://b:2/") as client:
        assert client.urls == ("http://a:1", "http://b:2")


@pytest.mark.parametrize(
    ("net", "entities", "expected"),
    [
        ("phrase", [], "phrase"),
        ("fallback", [{"entity": "destinatario", "start": 0, "end": 3, "value": "mia"}], "fallback"),
        (None, [], None),
        (7, [], None),  # not a reason Rasa writes
    ],
)
def test_the_safety_nets_reason_is_kept(
    net: object, entities: list[dict[str, Any]], expected: str | None
) -> None:
    answer = rasa_answer("mia madre", "emergenza", 1.0, entities=entities)
    if net is not None:
        answer["safety_net"] = net
    assert build_result("mia madre", answer).safety_net == expected
