"""The app-side client for Rasa's ``POST /model/parse`` (the app never imports rasa).

Why it looks like this:

- The bot must answer even when Rasa is down or overloaded (degraded mode), so every call has a hard
  deadline (``timeout``) and failures surface as :class:`nlu.types.NLUUnavailable`, quickly.
- Only connection failures are retried (the server is restarting, a stale keep-alive socket, one dead
  replica): a parse is idempotent, so a retry is safe. A *slow* server is never retried: waiting twice
  would only make the citizen wait longer.
- Several replicas share the load round-robin; one that refused a connection is skipped for a while.
- Rasa's raw entities are normalised for the dialogue engine: ``comune`` to an ISTAT-coded
  :class:`nlu.types.Comune` (also from a variant or a near-miss spelling), ``quartiere`` to the
  official name, ``eta`` to an int (digits or Italian number words), ``destinatario`` to text.
- Per-call overhead is kept tiny: a pre-built URL list, a hand-serialised body, no per-call objects
  beyond the result.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx

from nlu.territory import (
    COMUNE_ALIASES,
    TORINO_ISTAT,
    circoscrizione_of,
    comune_by_istat,
    comuni,
    find_comune,
    find_quartiere,
    fold,
)
from nlu.types import Comune, Entity, IntentScore, NLUUnavailable, ParseResult

FALLBACK_INTENT = "nlu_fallback"
"""What Rasa's FallbackClassifier answers when no intent is confident enough."""

MAX_CHARS = 1000
"""Longer messages are cut before parsing: the need is stated early and Rasa's cost grows with length."""

# Place names that are also everyday Italian words ("un problema grosso", "chiudi le porte", "il centro
# per l'impiego", "al settimo piano"). The lookup-table extractor finds them everywhere, so they only
# count as places after a locative cue ("abito a Porte", "zona Centro") or when written capitalised
# inside the sentence.
AMBIGUOUS_PLACES: frozenset[str] = frozenset(
    {
        "aurora",
        "barca",
        "barriera",
        "cavour",
        "centro",
        "ceres",
        "front",
        "grosso",
        "la cassa",
        "la loggia",
        "macello",
        "mattie",
        "nizza",
        "none",
        "pino",
        "piscina",
        "porte",
        "sassi",
        "settimo",
        "to",
    }
)
_PLACE_CUES: frozenset[str] = frozenset(
    {"a", "ad", "in", "da", "zona", "quartiere", "comune", "paese", "presso", "verso", "vicino", "abito"}
)
# "via Nizza", "corso Moncalieri", "piazza Cavour": Turin streets named after places are not places.
_STREET_WORDS: frozenset[str] = frozenset(
    {"via", "v", "corso", "c so", "cso", "piazza", "p za", "pzza", "viale", "largo", "strada", "vicolo"}
)
_LAST_WORD = re.compile(r"([^\W\d_]+)\W*$")
_WORD_CHAR = re.compile(r"\w")


class NLUClient:
    """Async client for one or more Rasa servers (replicas) answering ``POST /model/parse``.

    Create it once (app lifespan), share it, close it with :meth:`aclose` or ``async with``.
    """

    def __init__(
        self,
        urls: Sequence[str] | str,
        *,
        token: str = "",
        timeout: float = 2.0,
        transport: httpx.AsyncBaseTransport | None = None,
        retries: int = 1,
        dead_for: float = 5.0,
        retry_pause: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if isinstance(urls, str):
            urls = urls.split(",")
        bases = [u.strip().rstrip("/") for u in urls if u.strip()]
        if not bases:
            raise ValueError("NLUClient needs at least one Rasa URL")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._bases = bases
        self._parse_urls = [f"{b}/model/parse" for b in bases]
        self._params = {"token": token} if token else None
        self._timeout = timeout
        self._retries = max(0, retries)
        self._dead_for = dead_for
        self._retry_pause = retry_pause
        self._clock = clock  # when a dead replica may be tried again; a seam for tests
        self._dead_until = [0.0] * len(bases)
        self._next = 0
        # Connecting is quick (the kernel accepts even when Rasa is busy), so a short connect limit
        # lets a black-holed replica be skipped while another still has time to answer.
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout / 2, 1.0)),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
            headers={"content-type": "application/json"},
        )

    @property
    def urls(self) -> tuple[str, ...]:
        return tuple(self._bases)

    async def __aenter__(self) -> NLUClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def ready(self) -> bool:
        """True when at least one replica answers ``/status`` with a model loaded. Never raises."""
        for base in self._bases:
            try:
                async with asyncio.timeout(self._timeout):
                    resp = await self._http.get(f"{base}/status", params=self._params)
                if resp.status_code == 200 and resp.json().get("model_file"):
                    return True
            except (httpx.HTTPError, TimeoutError, ValueError, AttributeError):
                continue
        return False

    async def parse(self, text: str) -> ParseResult:
        """What Rasa understood of ``text``; raises :class:`NLUUnavailable` within ``timeout``."""
        if not text or text.isspace():
            return ParseResult(text=text, intent=None)
        sent = text[:MAX_CHARS]
        body = json.dumps({"text": sent}, ensure_ascii=False).encode()
        payload = await self._post(body)
        return build_result(sent, payload)

    def _order(self) -> list[int]:
        """Replicas to try for one call: live ones round-robin, then dead ones, soonest back first."""
        n = len(self._parse_urls)
        start = self._next
        self._next = (start + 1) % n
        if n == 1:
            return [0]
        now = self._clock()
        rotated = [(start + k) % n for k in range(n)]
        alive = [i for i in rotated if self._dead_until[i] <= now]
        if len(alive) == n:
            return alive
        dead = sorted((i for i in rotated if self._dead_until[i] > now), key=self._dead_until.__getitem__)
        if alive:
            self._next = (alive[0] + 1) % n
        return alive + dead

    async def _post(self, body: bytes) -> Mapping[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        order = self._order()
        attempts = len(order) + self._retries
        problem = "Rasa deadline passed"
        for attempt in range(attempts):
            idx = order[attempt % len(order)]
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            if attempt >= len(order) and self._retry_pause:
                await asyncio.sleep(min(self._retry_pause, remaining / 2))
                remaining = deadline - loop.time()
            try:
                async with asyncio.timeout(remaining):
                    resp = await self._http.post(self._parse_urls[idx], content=body, params=self._params)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                self._dead_until[idx] = self._clock() + self._dead_for
                problem = f"cannot connect to Rasa ({type(exc).__name__})"
                continue
            except (TimeoutError, httpx.TimeoutException) as exc:
                raise NLUUnavailable(f"Rasa slower than {self._timeout:g}s") from exc
            except httpx.TransportError as exc:
                # A dropped keep-alive socket or a server that died mid-answer: safe to try again.
                problem = f"connection to Rasa lost ({type(exc).__name__})"
                continue
            status = resp.status_code
            if status == 200:
                self._dead_until[idx] = 0.0
                try:
                    data = resp.json()
                except ValueError as exc:
                    raise NLUUnavailable("Rasa answered malformed JSON") from exc
                if not isinstance(data, dict):
                    raise NLUUnavailable("Rasa answered an unexpected JSON shape")
                return data
            if status in (502, 503, 504):
                # A proxy in front of a replica that is down: treat like a refused connection.
                self._dead_until[idx] = self._clock() + self._dead_for
                problem = f"Rasa replica unavailable (HTTP {status})"
                continue
            if status in (401, 403):
                raise NLUUnavailable(f"Rasa refused our token (HTTP {status})")
            raise NLUUnavailable(f"Rasa answered HTTP {status}")
        raise NLUUnavailable(problem)


# --------------------------------------------------------------------------------------------------
# Turning Rasa's JSON into a ParseResult


def _score(raw: Any) -> IntentScore | None:
    if not isinstance(raw, Mapping):
        return None
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        return None
    conf = raw.get("confidence")
    return IntentScore(name, float(conf) if isinstance(conf, int | float) else 0.0)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def build_result(text: str, payload: Mapping[str, Any]) -> ParseResult:
    """A typed, normalised :class:`ParseResult` from Rasa's ``/model/parse`` answer."""
    intent = _score(payload.get("intent"))
    raw_ranking = payload.get("intent_ranking")
    ranking = tuple(s for s in map(_score, _as_list(raw_ranking)) if s is not None)
    net = payload.get("safety_net")
    safety_net = net if isinstance(net, str) else None
    raw_entities = _as_list(payload.get("entities"))
    if not raw_entities:
        return ParseResult(text=text, intent=intent, ranking=ranking, safety_net=safety_net)
    entities = normalise_entities(text, raw_entities, intent.name if intent else None)
    comune: Comune | None = None
    quartiere: str | None = None
    destinatario: str | None = None
    eta: int | None = None
    for e in entities:
        if e.type == "comune" and comune is None:
            info = find_comune(e.value)
            if info is not None:
                comune = Comune(info.istat, info.name)
        elif e.type == "quartiere" and quartiere is None:
            quartiere = e.value
        elif e.type == "destinatario" and destinatario is None:
            destinatario = e.value
        elif e.type == "eta" and eta is None:
            eta = int(e.value)
    if comune is None and quartiere is not None:
        torino = comune_by_istat(TORINO_ISTAT)
        if torino is not None:
            comune = Comune(torino.istat, torino.name)
    return ParseResult(
        text=text,
        intent=intent,
        ranking=ranking,
        entities=tuple(entities),
        comune=comune,
        quartiere=quartiere,
        destinatario=destinatario,
        eta=eta,
        safety_net=safety_net,
    )


def normalise_entities(text: str, raw: Iterable[Any], intent: str | None = None) -> list[Entity]:
    """Rasa's entities deduplicated (two extractors may find the same span), filtered and normalised.

    Only entities whose value could be normalised are kept for ``comune``/``quartiere``/``eta``;
    an unknown entity type is passed through unchanged. The result is in text order. ``intent`` is
    the top intent: when the message says where one lives, place names that are also common words
    ("sono di settimo") are taken as places.
    """
    says_place = intent == "informa_luogo"
    spans: list[tuple[str, int, int, str, str]] = []
    for r in raw:
        if not isinstance(r, Mapping):
            continue
        kind, start, end = r.get("entity"), r.get("start"), r.get("end")
        if not isinstance(kind, str) or not isinstance(start, int) or not isinstance(end, int):
            continue
        surface = text[start:end]
        value = r.get("value")
        spans.append((kind, start, end, surface, value if isinstance(value, str) else surface))
    # Same type, same or contained span: keep the longest ("Settimo Torinese" over "Settimo").
    spans.sort(key=lambda s: (s[1], -(s[2] - s[1])))
    kept: list[tuple[str, int, int, str, str]] = []
    for s in spans:
        if any(k[0] == s[0] and k[1] <= s[1] and s[2] <= k[2] for k in kept):
            continue
        kept.append(s)
    place_spans = {(s[1], s[2]) for s in kept if s[0] == "comune"}
    has_torino = any(s[0] == "comune" and fold(s[4]) in ("torino", "turin", "to") for s in kept)
    out: list[Entity] = []
    for kind, start, end, surface, value in kept:
        if kind in ("comune", "quartiere"):
            if not says_place and not _plausible_place(text, start, end, surface):
                continue
            if kind == "comune":
                info = find_comune(value) or find_comune(surface) or _near_comune(surface)
                if info is None:
                    continue
                out.append(Entity("comune", info.name, surface, start, end))
            else:
                # "Parella" is both a comune and a Turin neighbourhood: the comune wins unless Torino
                # is named or the word is introduced as a neighbourhood.
                if (
                    (start, end) in place_spans
                    and not has_torino
                    and _prev_word(text, start)
                    not in (
                        "quartiere",
                        "zona",
                        "borgo",
                    )
                ):
                    continue
                name = _quartiere_name(value) or _quartiere_name(surface)
                if name is None:
                    continue
                out.append(Entity("quartiere", name, surface, start, end))
        elif kind == "eta":
            age = parse_age(surface) if parse_age(surface) is not None else parse_age(value)
            if age is None:
                continue
            out.append(Entity("eta", str(age), surface, start, end))
        elif kind == "destinatario":
            clean = value.strip()
            if clean:
                out.append(Entity("destinatario", clean, surface, start, end))
        else:
            out.append(Entity(kind, value, surface, start, end))
    return out


def _prev_word(text: str, start: int) -> str:
    m = _LAST_WORD.search(text, 0, start)
    return fold(m.group(1)) if m else ""


def _plausible_place(text: str, start: int, end: int, surface: str) -> bool:
    prev = _prev_word(text, start)
    if prev in _STREET_WORDS:
        return False
    if fold(surface) not in AMBIGUOUS_PLACES:
        return True
    if prev in _PLACE_CUES or not _WORD_CHAR.search(text[:start] + text[end:]):
        return True  # "abito a Porte", or the whole message is the place name
    # Capitalised inside a sentence ("Vivo vicino a Porte", "zona Centro"): a proper noun.
    return surface[:1].isupper() and text[:start].strip() != ""


def _quartiere_name(text: str) -> str | None:
    q = find_quartiere(text)
    if q is not None:
        return q.name
    if "circoscrizione" in fold(text):
        n = circoscrizione_of(text)
        return f"Circoscrizione {n}" if n is not None else None
    return None


_FUZZY_NAMES: dict[str, str] = {}


def _near_comune(surface: str) -> Any:
    """A near-miss spelling ("Colegno", "Moncalier") of a comune name, or None."""
    key = fold(surface)
    if len(key) < 5:
        return None
    if not _FUZZY_NAMES:
        _FUZZY_NAMES.update({fold(c.name): c.name for c in comuni()})
        _FUZZY_NAMES.update({fold(a): n for a, n in COMUNE_ALIASES.items()})
    hit = difflib.get_close_matches(key, list(_FUZZY_NAMES), n=1, cutoff=0.85)
    return find_comune(_FUZZY_NAMES[hit[0]]) if hit else None


# --------------------------------------------------------------------------------------------------
# Ages: "80", "85enne", "ottanta", "settantacinque", "ottant'anni", "novantadue anni", "6 mesi"

_UNITS = {
    "zero": 0,
    "un": 1,
    "uno": 1,
    "una": 1,
    "due": 2,
    "tre": 3,
    "quattro": 4,
    "cinque": 5,
    "sei": 6,
    "sette": 7,
    "otto": 8,
    "nove": 9,
}
_TEENS = {
    "dieci": 10,
    "undici": 11,
    "dodici": 12,
    "tredici": 13,
    "quattordici": 14,
    "quindici": 15,
    "sedici": 16,
    "diciassette": 17,
    "diciotto": 18,
    "diciannove": 19,
}
_TENS = {
    "venti": 20,
    "trenta": 30,
    "quaranta": 40,
    "cinquanta": 50,
    "sessanta": 60,
    "settanta": 70,
    "ottanta": 80,
    "novanta": 90,
}
_DIGITS = re.compile(r"(?<!\d)(\d{1,3})(?!\d)")
_WORDS = re.compile(r"[a-z]+")
MAX_AGE = 120
_ARTICLES = frozenset({"un", "uno", "una"})  # also the number one: only when nothing else is there


def _below_hundred(word: str) -> int | None:
    if word in _UNITS:
        return _UNITS[word]
    if word in _TEENS:
        return _TEENS[word]
    for name, tens in _TENS.items():
        if word == name:
            return tens
        # "ventidue", and "ventuno"/"trentotto" where the vowel drops ("ventiuno" is forgiven)
        for head in (name, name[:-1]):
            if word.startswith(head) and len(word) > len(head):
                unit = _UNITS.get(word[len(head) :])
                if unit:
                    return tens + unit
    return None


def italian_number(word: str) -> int | None:
    """0-199 written in Italian words ("settantacinque" -> 75, "centodue" -> 102), folded input."""
    if word.startswith("cento"):
        rest = word[5:]
        if not rest:
            return 100
        below = _below_hundred(rest)
        return 100 + below if below is not None else None
    return _below_hundred(word)


def _word_number(token: str) -> int | None:
    n = italian_number(token)
    if n is not None:
        return n
    # "ottantenne", "novantenne", "diciottenne"; "ottant'anni" folds to "ottant"
    base = token[:-4] if token.endswith("enne") else token
    for vowel in ("", "a", "i", "o", "e"):
        n = italian_number(base + vowel)
        if n is not None:
            return n
    return None


def parse_age(text: str) -> int | None:
    """An age in years from an ``eta`` entity: digits or Italian words; months count as 0 years."""
    folded = fold(text)
    if not folded:
        return None
    m = _DIGITS.search(folded)
    value: int | None = int(m.group(1)) if m else None
    if value is None:
        tokens = _WORDS.findall(folded)
        for i, tok in enumerate(tokens):
            if tok in _ARTICLES:
                continue
            n = _word_number(tok)
            if n is None:
                continue
            if n >= 20 and n % 10 == 0 and i + 1 < len(tokens):
                unit = _UNITS.get(tokens[i + 1])
                if unit:  # "ottanta cinque" as voice-to-text writes it
                    n += unit
            value = n
            break
        if value is None and any(t in _ARTICLES for t in tokens):
            value = 1  # "un anno", "una settimana" (then months/weeks give 0 below)
    if value is None or value > MAX_AGE:
        return None
    if re.search(r"\bmes[ei]\b|\bsettiman[ae]\b", folded):
        return 0
    return value
