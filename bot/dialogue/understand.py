"""What one citizen message means: the NLU's answer plus small, explicit safety nets.

Why safety nets besides Rasa: a missed emergency is the worst failure the bot can have, so a list of
unmistakable phrases (``nlu.safety``, which the Rasa pipeline applies too) always triggers the
emergency reply, also when Rasa is down; places come from ``nlu.territory`` even when Rasa misses the
entity (and when Rasa is down); yes/no and a few "you're not helping" phrases are recognised by words
so the consent step never depends on a model's mood.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from nlu.safety import emergency_phrase, phrases_pattern
from nlu.territory import (
    COMUNE_ALIASES,
    QUARTIERI,
    TORINO_ISTAT,
    ComuneInfo,
    comune_by_istat,
    comuni,
    find_comune,
    find_quartiere,
    fold,
)
from nlu.types import NEED_INTENTS, ParseResult

# Rasa's FallbackClassifier (nlu/config.yml) already answers nlu_fallback below 0.3 or when the top two
# intents are within 0.1: the same floor here only matters for NLUs without that classifier.
CONFIDENCE_MIN = 0.3
FALLBACK_INTENT = "nlu_fallback"  # Rasa's FallbackClassifier: no intent was confident enough

# Folded (lower-case, no accents) fragments, matched at a word start. The emergency phrases live in
# nlu.safety, shared with the Rasa pipeline.
UNHAPPY_PHRASES: tuple[str, ...] = (
    "non mi aiuta",
    "non mi aiutano",
    "non mi serve",
    "non mi servono",
    "non servono",
    "non serve a niente",
    "non serve a nulla",
    "inutil",
    "non capisci",
    "non hai capito",
    "non capisce niente",
    "sei stupid",
    "sei scem",
    "non funziona",
    "che schifo",
    "lascia perdere",
    "mi hai stufato",
    "sono stufo",
    "sono stufa",
)
YES_WORDS = frozenset(
    {
        "si",
        "sì",
        "s",
        "ok",
        "okay",
        "va bene",
        "certo",
        "d accordo",
        "daccordo",
        "si grazie",
        "si va bene",
        "si per favore",
        "volentieri",
        "esatto",
        "giusto",
        "perfetto",
        "si si",
        "yes",
    }
)
NO_WORDS = frozenset({"no", "no grazie", "non voglio", "no no", "non ora", "nessuno", "niente", "per ora no"})
SELF_WORDS = ("per me", "e per me", "io", "a me", "me stess", "mio", "mia")
OTHER_WORDS = (
    "altra persona",
    "un altra",
    "un altro",
    "per mia",
    "per mio",
    "per un",
    "per una",
    "per la",
    "per il",
)
DECLINE_PLACE = ("non lo so", "non so", "preferisco non", "non voglio dir", "non importa", "boh")

# Comuni and neighbourhoods whose names are also everyday Italian ("un problema grosso", "in piscina",
# "in centro"): inside a sentence they count only right after a preposition of place ("abito a
# Piscina", "sto in Barriera"); as the whole answer to "in quale comune?" they always count.
AMBIGUOUS_COMUNI = frozenset(
    {
        "grosso",
        "piscina",
        "porte",
        "macello",
        "none",
        "front",
        "cavour",
        "to",
        "pino",
        "rosta",
        "mattie",
        "sauze",
        "settimo",
        "san mauro",
        "rivalta",
        "lanzo",
        "susa",
        "parella",
        "banchette",
        "bosconero",
    }
)
AMBIGUOUS_QUARTIERI = frozenset(
    {
        "centro",
        "barca",
        "sassi",
        "barriera",
        "aurora",
        "nizza",
        "lesna",
        "lucento",
        "crocetta",
        "parella",
        "vallette",
        "borgo po",
        "lingotto",
        "filadelfia",
        "campidoglio",
        "regio parco",
    }
)
COMUNE_PREPOSITIONS = frozenset({"a", "ad", "di", "da", "comune"})
QUARTIERE_PREPOSITIONS = frozenset({"in", "a", "zona", "quartiere", "di", "borgo"})

ENGLISH = frozenset(
    {
        "the",
        "you",
        "need",
        "help",
        "please",
        "hello",
        "hi",
        "my",
        "is",
        "are",
        "what",
        "how",
        "where",
        "can",
        "want",
        "house",
        "job",
        "food",
        "and",
        "with",
        "have",
        "don't",
        "dont",
        "do",
        "not",
        "i'm",
        "im",
        "looking",
        "for",
        "work",
        "money",
        "doctor",
        "thanks",
        "it",
        "this",
        "me",
        "we",
        "of",
    }
)
ITALIAN = frozenset(
    {
        "il",
        "la",
        "di",
        "che",
        "e",
        "non",
        "per",
        "sono",
        "ho",
        "un",
        "una",
        "mi",
        "ciao",
        "casa",
        "lavoro",
        "cerco",
        "mio",
        "mia",
        "con",
        "del",
        "della",
        "ma",
        "come",
        "dove",
        "aiuto",
        "grazie",
        "si",
        "no",
    }
)

_WORD = re.compile(r"[a-z0-9]+")
_ETA = re.compile(r"\b(\d{1,3})\s*anni\b")
_CAP = re.compile(r"\b(10\d{3})\b")


@dataclass(frozen=True, slots=True)
class Understanding:
    """One message, understood. Empty fields mean "not said", never "said no"."""

    intent: str | None = None  # the top conversation intent, if any (saluto, operatore, ...)
    needs: tuple[str, ...] = ()
    confidence: float = 0.0
    comune: ComuneInfo | None = None
    quartiere: str | None = None
    destinatario: str | None = None
    eta: int | None = None
    for_other: bool = False
    for_self: bool = False
    emergency: bool = False
    unhappy: bool = False
    yes: bool = False
    no: bool = False
    decline_place: bool = False
    foreign: bool = False
    place_only: bool = False
    gibberish: bool = False
    no_words: bool = False  # emoji, symbols or punctuation only
    nlu_ok: bool = True  # False when Rasa could not be asked (degraded mode)

    @property
    def understood(self) -> bool:
        return bool(self.needs) or (self.intent is not None and self.intent != "fuori_ambito")

    @property
    def has_place(self) -> bool:
        return self.comune is not None or self.quartiere is not None


def _contains(folded: str, phrases: tuple[str, ...]) -> bool:
    """Any of the folded ``phrases`` at a word start in ``folded`` (one precompiled regex per list)."""
    return phrases_pattern(phrases).search(folded) is not None


@lru_cache(maxsize=1)
def _comune_names() -> dict[str, ComuneInfo]:
    """Folded official names and everyday variants -> comune: a dict lookup per word group."""
    index: dict[str, ComuneInfo] = {fold(c.name): c for c in comuni()}
    for alias in COMUNE_ALIASES:
        hit = find_comune(alias)
        if hit is not None:
            index.setdefault(fold(alias), hit)
    return index


@lru_cache(maxsize=1)
def _quartiere_names() -> dict[str, str]:
    """Folded Turin neighbourhood names and variants -> official name."""
    index: dict[str, str] = {}
    for q in QUARTIERI:
        index.setdefault(fold(q.name), q.name)
        for alias in q.aliases:
            index.setdefault(fold(alias), q.name)
    return index


# Emoji that are an answer on their own. Any other message without letters is not left to the NLU:
# it sees only a few characters and guesses ("😢😢😢" came out as a "no").
EMOJI_INTENTS: dict[str, str] = {
    "👍": "affermazione",
    "👌": "affermazione",
    "✅": "affermazione",
    "✔": "affermazione",
    "👎": "negazione",
    "❌": "negazione",
    "🚫": "negazione",
    "🙏": "congedo",
    "👋": "saluto",
}
_EMOJI_MODIFIERS = re.compile("[\U0001f3fb-\U0001f3ff\ufe0f\u200d\\s]")


def emoji_intent(text: str) -> str | None:
    """The conversation intent of a message made only of emoji with one clear meaning ("👍👍")."""
    marks = set(_EMOJI_MODIFIERS.sub("", text))
    intents = {EMOJI_INTENTS.get(ch) for ch in marks}
    if len(intents) != 1:
        return None
    return intents.pop()


def _has_letters(text: str) -> bool:
    return any(unicodedata.category(ch).startswith(("L", "N")) for ch in text)


def _non_latin(text: str) -> bool:
    letters = [ch for ch in text if unicodedata.category(ch).startswith("L")]
    if not letters:
        return False
    latin = sum(1 for ch in letters if "LATIN" in unicodedata.name(ch, ""))
    return latin / len(letters) < 0.5


def looks_like_gibberish(text: str) -> bool:
    """Keyboard mashing ("ksksks", "asdfgh"): words with almost no vowels. Real words have plenty."""
    words = [w for w in re.findall(r"[a-z]+", fold(text)) if len(w) >= 4]
    if not words:
        return False
    return all(sum(ch in "aeiou" for ch in w) / len(w) < 0.25 for w in words)


def looks_foreign(text: str) -> bool:
    """English (the commonest other language we get) or a non-Latin script, by plain word counts."""
    if _non_latin(text):
        return True
    words = re.findall(r"[a-z']+", text.lower())
    if len(words) < 2:
        return False
    en = sum(1 for w in words if w in ENGLISH)
    it = sum(1 for w in words if w in ITALIAN)
    return it == 0 and en / len(words) >= 0.4


def _ambiguous_ok(words: list[str], start: int, prepositions: frozenset[str]) -> bool:
    return start > 0 and words[start - 1] in prepositions


def find_place(text: str, *, whole_answer: bool) -> tuple[ComuneInfo | None, str | None]:
    """A comune and/or Turin neighbourhood named in ``text``; longest names first, CAPs too.

    In a sentence, names that are also everyday words ("grosso", "centro") need a preposition of
    place before them; when the text is the answer to "in quale comune?" they always count.
    """
    folded = fold(text)
    if whole_answer:
        q = find_quartiere(folded)
        if q is not None:
            return comune_by_istat(TORINO_ISTAT), q.name
        c = find_comune(folded)
        if c is not None:
            return c, None
    words = _WORD.findall(folded)
    comune: ComuneInfo | None = None
    quartiere: str | None = None
    used: set[int] = set()
    for size in (5, 4, 3, 2, 1):
        for i in range(0, len(words) - size + 1):
            span = set(range(i, i + size))
            if used & span:
                continue
            gram = " ".join(words[i : i + size])
            if len(gram) < 3 and not whole_answer:
                continue
            if quartiere is None and (
                whole_answer
                or gram not in AMBIGUOUS_QUARTIERI
                or _ambiguous_ok(words, i, QUARTIERE_PREPOSITIONS)
            ):
                name = _quartiere_names().get(gram)
                if name is not None:
                    quartiere = name
                    used |= span
                    continue
            if (
                comune is None
                and not gram.isdigit()
                and (
                    whole_answer
                    or gram not in AMBIGUOUS_COMUNI
                    or _ambiguous_ok(words, i, COMUNE_PREPOSITIONS)
                )
            ):
                c = _comune_names().get(gram)
                if c is not None:
                    comune = c
                    used |= span
    if comune is None:
        m = _CAP.search(folded)
        if m:
            comune = find_comune(m.group(1))
    if quartiere is not None and comune is None:
        comune = comune_by_istat(TORINO_ISTAT)
    return comune, quartiere


def _plausible_entity(text: str, entity_text: str, ambiguous: frozenset[str], preps: frozenset[str]) -> bool:
    """An NLU place entity that is also an everyday word counts only after a preposition of place."""
    key = fold(entity_text)
    if key not in ambiguous:
        return True
    words = _WORD.findall(fold(text))
    n = len(key.split())
    return any(
        " ".join(words[i : i + n]) == key and _ambiguous_ok(words, i, preps) for i in range(len(words))
    )


def _entity_text(parse: ParseResult, kind: str) -> str:
    e = next((e for e in parse.entities if e.type == kind), None)
    return (e.text or e.value) if e is not None else ""


# Words that only say where someone lives or who the help is for: with the place itself removed,
# nothing of a need is left in them.
PLACE_WORDS = frozenset(
    "a ad al in di da del della nel nella nei zona quartiere comune citta provincia cap abito abita vivo "
    "vive viviamo abitiamo sono siamo sto stiamo e il la lo mio mia qui li to torinese vicino presso "
    "verso".split()
)
REASK_INTENTS = frozenset({"informa_luogo", "per_altri", "saluto"})
_STRIPPED = frozenset({"comune", "quartiere", "destinatario", "eta"})
_CUES = re.compile(
    r"\b(?:abito|abita|abitiamo|vivo|vive|viviamo|sono|siamo|stiamo|sto)"
    r"\s+(?:a|ad|in|nel|nella|di|da|vicino a)\b"
    r"|\b(?:in\s+)?zona\b|\bquartiere\b|\b(?:nel\s+)?comune\s+di\b|\bil\s+mio\s+cap\s+(?:è|e)\b|\bcap\b"
    r"|\bscrivo\s+per(?:\s+conto\s+di)?\b|\bchiedo\s+per\b|\bsto\s+aiutando\b|\bper\s+conto\s+di\b"
    r"|\bnon\s+(?:è|e)\s+per\s+me\s+ma\s+per\b"
    r"|^\s*(?:ciao|buongiorno|buonasera|buon\s+giorno|salve|buondì|ehi)\b[\s,!.]*",
    re.IGNORECASE,
)
_DANGLING = re.compile(r"\b(?:a|ad|in|di|da|nel|nella|per|che)\s*(?=[,;.!?]|$)", re.IGNORECASE)


def text_without_place(text: str, parse: ParseResult) -> str | None:
    """The message minus where/for whom, to ask the NLU again what the need is; None if nothing is left.

    Why: "mi hanno sfrattato, abito a Grugliasco" is mostly classified as "saying where one lives",
    and the eviction is lost; "mi hanno sfrattato" alone is classified as ``casa``.
    """
    out = text
    spans = sorted(
        (e.start, e.end)
        for e in parse.entities
        if e.type in ("comune", "quartiere", "destinatario", "eta")
        and e.start is not None
        and e.end is not None
    )
    for start, end in reversed(spans):
        out = out[:start] + " " + out[end:]
    out = _CAP.sub(" ", out)
    out = _CUES.sub(" ", out)
    out = _DANGLING.sub(" ", out)
    out = re.sub(r"\s+([,;.!?])", r"\1", " ".join(out.split())).strip(" ,;.!?")
    words = re.findall(r"\w+", out)
    if len(words) < 2 or fold(out) == fold(text):
        return None
    return out


AGREEMENT_FLOOR = 0.25  # an ambiguous top intent below this is not trusted even when others agree
AMBIGUITY = 0.1  # as Rasa's FallbackClassifier ambiguity_threshold


def agreed_needs(parse: ParseResult) -> tuple[str, ...]:
    """Needs from an ambiguous parse whose close candidates agree: "casa" vs "casa+lavoro" -> casa.

    Rasa answers ``nlu_fallback`` when the two best intents are close; when every close candidate
    contains the same need, that need is what the person said.
    """
    ranking = [r for r in parse.ranking if r.name != FALLBACK_INTENT]
    if not ranking or ranking[0].confidence < AGREEMENT_FLOOR:
        return ()
    top = ranking[0].confidence
    close = [r for r in ranking if top - r.confidence <= AMBIGUITY]
    common = set(close[0].parts)
    for r in close[1:]:
        common &= set(r.parts)
    return tuple(n for n in close[0].parts if n in common and n in NEED_INTENTS)


def should_reask(parse: ParseResult) -> bool:
    """No need found, and the message is (or may be) mostly about where one lives or for whom."""
    if _needs_of(parse):
        return False
    ranked = [r for r in parse.ranking if r.name != FALLBACK_INTENT]
    top = parse.intent.name if parse.intent is not None else ""
    if top == FALLBACK_INTENT and ranked:
        best = ranked[0].confidence
        return any(r.name in REASK_INTENTS for r in ranked if best - r.confidence <= AMBIGUITY)
    return top in REASK_INTENTS


def _needs_of(parse: ParseResult) -> tuple[str, ...]:
    if parse.intent is None:
        return ()
    if parse.intent.name == FALLBACK_INTENT or parse.confidence < CONFIDENCE_MIN:
        return agreed_needs(parse)
    needs = tuple(dict.fromkeys(n for n in parse.intents if n in NEED_INTENTS))
    if needs == ("emergenza",) and parse.safety_net is not None and len(parse.ranking) > 1:
        # Rasa's safety net (nlu.safety) puts emergenza first and keeps the model's own guess second:
        # "mi picchia e ho perso la casa" is an emergency and still about a home.
        guess = parse.ranking[1]
        if guess.confidence >= CONFIDENCE_MIN:
            needs += tuple(n for n in guess.parts if n in NEED_INTENTS and n not in needs)
    return needs


def _model_confidence(parse: ParseResult | None) -> float | None:
    """The intent model's confidence in its best intent, as Rasa's net reads it (None: no model).

    Some danger phrases only count when the model is not sure of something else (nlu.safety); the app's
    net must agree with Rasa's, or it would raise the alarms Rasa's gate held back.
    """
    if parse is None:
        return None
    best = next((r for r in parse.ranking if r.name != FALLBACK_INTENT), None)
    return best.confidence if best is not None else None


def _place_only(text: str, comune: ComuneInfo | None, quartiere: str | None) -> bool:
    """True when the message says a place and nothing else ("Venaria Reale", "abito a Collegno")."""
    if comune is None and quartiere is None:
        return False
    named: set[str] = set()
    for name in (comune.name if comune else "", quartiere or ""):
        named |= set(_WORD.findall(fold(name)))
    rest = [
        w for w in _WORD.findall(fold(text)) if w not in named and w not in PLACE_WORDS and not w.isdigit()
    ]
    return not rest


def understand(
    text: str,
    parse: ParseResult | None,
    *,
    answering: str | None = None,
    reparse: ParseResult | None = None,
) -> Understanding:
    """Combine the NLU's parse (None when Rasa is unavailable) with the safety nets.

    ``answering`` is the slot the bot just asked about: a bare "Collegno" is then a place for sure.
    ``reparse`` is the NLU's answer for :func:`text_without_place`, whose needs count when the first
    parse found none.
    """
    folded = fold(text)
    plain = " ".join(_WORD.findall(folded))
    intent: str | None = None
    needs: tuple[str, ...] = ()
    confidence = 0.0
    comune: ComuneInfo | None = None
    quartiere: str | None = None
    destinatario: str | None = None
    eta: int | None = None
    if parse is not None:
        confidence = parse.confidence
        needs = _needs_of(parse)
        if parse.intent is not None and confidence >= CONFIDENCE_MIN and parse.intent.name != FALLBACK_INTENT:
            convo = [i for i in parse.intents if i not in NEED_INTENTS]
            intent = convo[0] if convo else None
        whole = answering in ("comune", "quartiere")
        if parse.comune is not None and (
            whole
            or _plausible_entity(
                text,
                _entity_text(parse, "comune") or parse.comune.name,
                AMBIGUOUS_COMUNI,
                COMUNE_PREPOSITIONS,
            )
        ):
            comune = comune_by_istat(parse.comune.istat) or find_comune(parse.comune.name)
        if parse.quartiere and (
            whole
            or _plausible_entity(
                text,
                _entity_text(parse, "quartiere") or parse.quartiere,
                AMBIGUOUS_QUARTIERI,
                QUARTIERE_PREPOSITIONS,
            )
        ):
            q = find_quartiere(parse.quartiere)
            quartiere = q.name if q else parse.quartiere
        destinatario = parse.destinatario
        eta = parse.eta
    if not needs and reparse is not None:
        needs = _needs_of(reparse)
    if not _has_letters(text):
        intent = emoji_intent(text)
        needs = ()
    if comune is None or quartiere is None:
        c2, q2 = find_place(text, whole_answer=answering in ("comune", "quartiere"))
        comune = comune or c2
        quartiere = quartiere or q2
    if quartiere is not None and comune is None:
        comune = comune_by_istat(TORINO_ISTAT)
    if eta is None:
        m = _ETA.search(folded)
        if m and 0 < int(m.group(1)) < 120:
            eta = int(m.group(1))
    place_only = _place_only(text, comune, quartiere)
    if place_only:
        needs = ()  # a bare place is an answer, not a request ("Venaria Reale" is not about food)
    phrase = emergency_phrase(text, model_confidence=_model_confidence(parse))
    emergency = phrase is not None or "emergenza" in needs
    if emergency and "emergenza" not in needs:
        needs = ("emergenza", *needs)
    yes = intent == "affermazione" or plain in YES_WORDS
    no = intent == "negazione" or plain in NO_WORDS
    for_other = (
        intent == "per_altri"
        or destinatario is not None
        or (answering == "destinatario" and _contains(folded, OTHER_WORDS))
    )
    for_self = (
        answering == "destinatario"
        and not for_other
        and (plain in SELF_WORDS or _contains(folded, ("per me", "me stess", "sono io")))
    )
    return Understanding(
        intent=intent,
        needs=needs,
        confidence=confidence,
        comune=comune,
        quartiere=quartiere,
        destinatario=(destinatario or "")[:80] or None,
        eta=eta,
        for_other=for_other,
        for_self=for_self,
        emergency=emergency,
        unhappy=_contains(folded, UNHAPPY_PHRASES),
        yes=yes and not no,
        no=no,
        decline_place=_contains(folded, DECLINE_PLACE) or plain in NO_WORDS,
        foreign=looks_foreign(text),
        place_only=place_only,
        gibberish=looks_like_gibberish(text),
        no_words=not _has_letters(text),
        nlu_ok=parse is not None,
    )
