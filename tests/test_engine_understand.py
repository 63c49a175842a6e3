"""The understanding layer's safety nets around the NLU: places, ambiguity, re-asking, odd input."""

from __future__ import annotations

import pytest

from bot.dialogue.understand import (
    agreed_needs,
    find_place,
    looks_foreign,
    looks_like_gibberish,
    text_without_place,
    understand,
)
from nlu.types import Comune, Entity, IntentScore, ParseResult


def parse(
    intent: str, conf: float = 0.9, ranking: tuple[tuple[str, float], ...] = (), **kw: object
) -> ParseResult:
    scores = tuple(IntentScore(n, c) for n, c in ranking) or (IntentScore(intent, conf),)
    return ParseResult(text="", intent=IntentScore(intent, conf), ranking=scores, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ranking", "needs"),
    [
        ((("nlu_fallback", 0.3), ("casa", 0.31), ("casa+lavoro", 0.26)), ("casa",)),
        ((("nlu_fallback", 0.3), ("casa", 0.31), ("lavoro", 0.28)), ()),  # they disagree: nothing
        ((("nlu_fallback", 0.3), ("casa", 0.2), ("casa+lavoro", 0.18)), ()),  # too weak to trust
        ((("nlu_fallback", 0.3), ("lavoro+reddito", 0.4), ("reddito", 0.35)), ("reddito",)),
    ],
)
def test_ambiguous_parses_keep_only_the_need_the_candidates_agree_on(
    ranking: tuple[tuple[str, float], ...], needs: tuple[str, ...]
) -> None:
    p = parse("nlu_fallback", 0.3, ranking)
    assert agreed_needs(p) == needs
    assert understand("x", p).needs == needs


@pytest.mark.parametrize(
    ("text", "entities", "expected"),
    [
        ("mi hanno sfrattato, abito a Grugliasco", [("comune", 28, 38)], "mi hanno sfrattato"),
        ("cerco casa, abito in zona San Salvario", [("quartiere", 26, 38)], "cerco casa"),
        ("cerco lavoro, il mio cap è 10093", [], "cerco lavoro"),
        ("cerco casa a Torino", [("comune", 13, 19)], "cerco casa"),
        ("scrivo per mia madre che cerca una badante", [("destinatario", 11, 20)], "che cerca una badante"),
        ("abito a Collegno", [("comune", 8, 16)], None),  # nothing left to ask about
        ("Buongiorno, non riesco a pagare l'affitto", [], "non riesco a pagare l'affitto"),
    ],
)
def test_text_without_place_keeps_the_need(
    text: str, entities: list[tuple[str, int, int]], expected: str | None
) -> None:
    ents = tuple(Entity(t, text[s:e], text[s:e], s, e) for t, s, e in entities)
    assert text_without_place(text, parse("informa_luogo", entities=ents)) == expected


def test_a_reparse_supplies_the_need_the_first_parse_missed() -> None:
    first = parse("informa_luogo", 0.74, comune=Comune("001120", "Grugliasco"))
    second = parse("casa", 0.9)
    u = understand("mi hanno sfrattato, abito a Grugliasco", first, reparse=second)
    assert u.needs == ("casa",) and u.comune is not None and u.comune.name == "Grugliasco"


@pytest.mark.parametrize(
    "text", ["Venaria Reale", "abito a Collegno", "a Torino, in zona San Salvario", "10093"]
)
def test_a_bare_place_never_starts_a_request(text: str) -> None:
    u = understand(text, parse("cibo", 0.8), answering="comune")
    assert u.place_only and u.needs == () and u.has_place


def test_a_place_with_a_need_keeps_both() -> None:
    u = understand("cerco lavoro a Rivoli", parse("lavoro", 0.9))
    assert not u.place_only and u.needs == ("lavoro",) and u.comune is not None


@pytest.mark.parametrize(
    ("text", "whole", "place"),
    [
        ("abito in barriera di milano", False, ("Torino", "Barriera di Milano")),
        ("vivo a Sauze d'Oulx", False, ("Sauze d'Oulx", None)),
        ("sono di cuorgne", False, ("Cuorgnè", None)),
        ("il problema è grosso", False, (None, None)),
        ("Grosso", True, ("Grosso", None)),
        ("vado in piscina", False, (None, None)),
        ("centro per l'impiego", False, (None, None)),
        ("cap 10098", False, ("Rivoli", None)),
    ],
)
def test_find_place(text: str, whole: bool, place: tuple[str | None, str | None]) -> None:
    comune, quartiere = find_place(text, whole_answer=whole)
    assert (comune.name if comune else None, quartiere) == place


@pytest.mark.parametrize(
    ("text", "foreign"),
    [
        ("hello I need help with my house", True),
        ("where can I find a job", True),
        ("مرحبا أحتاج مساعدة", True),
        ("ciao ho bisogno di aiuto", False),
        ("ok", False),
        ("help", False),  # one word: too little to tell
    ],
)
def test_looks_foreign(text: str, foreign: bool) -> None:
    assert looks_foreign(text) is foreign


@pytest.mark.parametrize(
    ("text", "gibberish"), [("ksksksks", True), ("asdfgh", True), ("blablabla", False), ("cerco casa", False)]
)
def test_gibberish(text: str, gibberish: bool) -> None:
    assert looks_like_gibberish(text) is gibberish


def test_yes_no_and_declining_a_place_work_without_the_nlu() -> None:
    assert understand("sì", None).yes and understand("va bene", None).yes
    assert understand("no grazie", None).no and not understand("no grazie", None).yes
    assert understand("preferisco non dirlo", None, answering="comune").decline_place
    assert not understand("sì", None).nlu_ok


@pytest.mark.parametrize(
    ("text", "nlu_says", "intent", "yes", "no"),
    [
        ("👍", "affermazione", "affermazione", True, False),
        ("👍🏽👍", "negazione", "affermazione", True, False),  # the emoji decide, skin tones aside
        ("👎", "negazione", "negazione", False, True),
        ("🙏🙏", "congedo", "congedo", False, False),
        ("😢😢😢", "negazione", None, False, False),  # no clear meaning: not a "no"
        ("👍👎", "affermazione", None, False, False),
        ("🏠", "casa", None, False, False),  # an emoji alone is no request for services
    ],
)
def test_messages_without_letters_are_read_by_their_emoji(
    text: str, nlu_says: str, intent: str | None, yes: bool, no: bool
) -> None:
    u = understand(text, parse(nlu_says, 0.95))
    assert (u.intent, u.yes, u.no, u.needs, u.no_words) == (intent, yes, no, (), True)


@pytest.mark.parametrize(
    ("intent", "ranking", "reask"),
    [
        ("informa_luogo", (("informa_luogo", 0.74), ("casa", 0.2)), True),
        ("nlu_fallback", (("nlu_fallback", 0.3), ("informa_luogo", 0.52), ("cibo", 0.46)), True),
        ("per_altri", (("per_altri", 0.9), ("anziani", 0.09)), True),
        ("nlu_fallback", (("nlu_fallback", 0.3), ("casa", 0.31), ("casa+lavoro", 0.26)), False),  # agreed
        ("casa", (("casa", 0.9),), False),
        ("congedo", (("congedo", 0.9),), False),
    ],
)
def test_when_to_ask_again_without_the_place(
    intent: str, ranking: tuple[tuple[str, float], ...], reask: bool
) -> None:
    from bot.dialogue.understand import should_reask

    assert should_reask(parse(intent, ranking[0][1], ranking)) is reask


@pytest.mark.parametrize(
    ("ranking", "needs"),
    [
        ((("emergenza", 1.0), ("casa", 0.8), ("reddito", 0.1)), ("emergenza", "casa")),
        ((("emergenza", 1.0), ("casa+lavoro", 0.6)), ("emergenza", "casa", "lavoro")),
        ((("emergenza", 1.0), ("casa", 0.2)), ("emergenza",)),  # too weak a guess to keep
        ((("emergenza", 1.0), ("saluto", 0.9)), ("emergenza",)),  # not a need
    ],
)
def test_the_safety_net_keeps_the_models_own_need(
    ranking: tuple[tuple[str, float], ...], needs: tuple[str, ...]
) -> None:
    """Rasa's net marks emergenza and keeps the model's guess second; the other need is kept."""
    from bot.dialogue.understand import understand

    u = understand("testo qualsiasi", parse(ranking[0][0], ranking[0][1], ranking, safety_net="phrase"))
    assert u.needs == needs


@pytest.mark.parametrize(
    "ranking",
    [
        (("emergenza", 0.9), ("casa", 0.1)),
        (("emergenza", 1.0), ("casa", 0.8)),  # certain, but the model's own: nothing to add
    ],
)
def test_the_models_own_emergenza_is_the_only_need(ranking: tuple[tuple[str, float], ...]) -> None:
    from bot.dialogue.understand import understand

    u = understand("testo qualsiasi", parse(ranking[0][0], ranking[0][1], ranking))
    assert u.needs == ("emergenza",)


@pytest.mark.parametrize(
    ("text", "emergency"),
    [
        ("nonno cade e non parla più, aiuto", True),
        ("sto male, ho bevuto la candeggina", True),
        ("mia madre è svenuta in cucina", True),
        ("mio marito mi picchia", True),
        ("dal palazzo di fronte escono fiamme", True),
        ("il padrone mi chiude in casa e mi ha preso il passaporto", True),
        ("la nonna è per terra e non risponde più", True),
        ("mio figlio ha le convulsioni", True),
        ("la casa dove vivo è piccola e non ci stiamo più", False),
        ("il medico non risponde al telefono", False),
        ("mio figlio non parla più con me da un mese", False),
        ("non respira bene col raffreddore, serve un medico", False),
        ("vorrei parlare con qualcuno", False),
    ],
)
def test_emergency_safety_net_in_understanding(text: str, emergency: bool) -> None:
    """The app applies the same net as Rasa, also when Rasa is down (no parse at all)."""
    from bot.dialogue.understand import understand

    u = understand(text, None)
    assert u.emergency is emergency
    assert ("emergenza" in u.needs) is emergency


@pytest.mark.parametrize(
    ("confidence", "emergency"),
    [(None, True), (0.5, True), (0.95, False)],
)
def test_the_apps_net_gates_named_harms_as_rasa_does(confidence: float | None, emergency: bool) -> None:
    """A past event: with no model the phrase counts; a sure model of another need silences it."""
    from bot.dialogue.understand import understand

    text = "due anni fa ho denunciato il mio ex per stalking, serve un avvocato"
    if confidence is None:
        u = understand(text, None)  # Rasa is down
    else:
        ranking = (("tutela_legale", confidence), ("famiglia", 0.01))
        u = understand(text, parse("tutela_legale", confidence, ranking))
    assert u.emergency is emergency
