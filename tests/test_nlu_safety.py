"""The emergency phrase net (nlu.safety), shared by the Rasa pipeline and the app.

A table of (message, phrase it must trip on or None), in the way people write: capitals, missing
accents, apostrophes, someone writing for a neighbour; and everyday worries that must not trip it.
"""

from __future__ import annotations

import pytest

from nlu.safety import CONTEXT_GATE, EMERGENCY_PHRASES, VETOES, emergency_phrase
from nlu.text import fold

DANGER: list[tuple[str, str]] = [
    # suicidal thoughts, self-harm
    ("non ce la faccio più, voglio farla finita", "farla finita"),
    ("HO PRESO TUTTE LE PASTIGLIE DI MIA MADRE", "ho preso tutte le"),
    ("mia figlia di 15 anni si taglia le braccia di nascosto", "si taglia le braccia"),
    ("ho scritto una lettera di addio ai miei figli", "lettera di addio"),
    ("starebbero tutti meglio senza di me", "meglio senza di me"),
    # violence and abuse
    ("mio marito mi picchia quando beve", "mi picchi"),
    ("il vicino picchia i bambini, li sento piangere", "picchia i"),
    ("sono nascosta da un'amica, lui mi cerca", "sono nascosta"),
    ("il compagno di mia madre la chiude in casa", "la chiude in casa"),
    ("mi ha messo le mani addosso di nuovo", "mani addosso"),
    ("il bimbo arriva all'asilo pieno di lividi", "lividi"),
    # threats, weapons
    ("il mio ex mi minaccia e stanotte era sotto casa", "mi minaccia"),
    ("mio marito mi minaccia a causa dei soldi, ho paura", "mi minaccia"),  # "causa" alone is no veto
    ("mi minaccia se vado in banca a ritirare la pensione", "mi minaccia"),
    ("ha tirato fuori un coltello", "coltell"),
    ("ha un'arma in casa e dice che la usa", "un arma"),
    ("mi minaccia di morte per la bolletta", "mi minaccia di morte"),  # the longer phrase wins its veto
    # medical emergencies happening now
    ("il nonno è per terra e non risponde più", "per terra e non"),
    ("mia moglie ha la bocca storta e non riesce a parlare", "bocca storta"),
    ("il piccolo ha ingoiato una pila", "ingoiat"),
    ("sento puzza di gas sul pianerottolo", "puzza di gas"),
    ("CHIAMATE L'AMBULANZA", "chiamate l ambulanza"),
    # mixed with the languages migrants speak
    ("please help, he beat me again and took my passport", "beat me"),
    ("mio marito me pega, no sé dónde ir", "me pega"),
    # violence promised, a method asked, a child's "secret"
    ("se non pago mi rompono le gambe", "rompono le gambe"),
    ("quante pillole servono per non svegliarsi", "quante pillole servono"),
    ("il vicino dice a mio figlio che hanno un segreto tra loro due", "un segreto tra"),
    ("il capo dice che se parliamo ci fa sparire", "ci fa sparire"),
    ("non voglio più stare al mondo", "piu stare al mondo"),
    ("da stanotte non riesco a stare sdraiato, mi manca il fiato", "non riesco a stare sdraiat"),
    # stop 12, after reading the misses on blind_emergenza_5.yml: the tracks, "not live" in learner's
    # Italian, children alone for days; and a word-end fix ("per collo" is not "per colloquio")
    ("basta, dopo il turno vado sui binari e chiudo", "vado sui binari"),
    ("io stanco, settimana prossima io non vivere più", "non vivere piu"),
    ("i due bambini del terzo piano sono soli da ieri sera", "sono soli da"),
    ("mi ha preso per collo contro il muro", "per collo"),
    ("mio marito mi ammazza se scopre che pago io la bolletta", "mi ammazz"),  # a person, not the bill
    # stop 12, after reading the misses on blind_emergenza_6.yml: a goodbye for tomorrow, a baby in a hot car
    ("ho lasciato tutto in ordine, presto non ci sarò più", "presto non ci saro piu"),
    ("un neonato dorme in macchina al sole da mezz'ora, i vetri sono chiusi", "in macchina al sole"),
    ("il mio ex mi ha minacciato col coltello", "ha minacciat"),
    # stop 12, after reading the misses on blind_emergenza_7.yml: waiting to die, a child whose mother
    # has not come home, a small child alone in the street
    ("non mangio più, aspetto di morire e basta", "aspetto di morire"),
    ("sono solo con la mia sorellina, papà non torna da ieri", "papa non torna da"),
    ("c'è un bambino solo per strada che piange, avrà tre anni", "bambino solo per strada"),
    ("il mio compagno è violento, ieri mi ha spinta", "violen"),
    ("è stato dimesso ieri e stanotte ha fatto di nuovo un'overdose", "overdose"),  # "dimesso" is no veto
]

EVERYDAY: list[str] = [
    "mi tocca pagare due bollette insieme",
    "devo fare le analisi del sangue ma non ho la tessera sanitaria",
    "dopo la scomparsa di mio marito non arrivo a fine mese",
    "che menata questi moduli online",
    "vivo in un alloggio abusivo e cerco una casa popolare",
    "mi serve un armadio per la cameretta",
    "ho ottant'anni e non riesco più a tagliarmi le unghie",
    "mio padre dopo l'ictus ha bisogno di una badante",
    "mi minacciano il distacco della luce",
    "la finanziaria mi perseguita con le telefonate",
    "il mio capo mi minaccia di licenziarmi se mi ammalo",
    "la banca mi minaccia di pignorarmi la casa",
    "l'ex socio mi minaccia di farmi causa",
    "i miei figli si picchiano per ogni cosa, servirebbe un educatore",
    "il medico non risponde al telefono",
    "mio figlio non parla più con me da un mese",
    "sto morendo di freddo, il riscaldamento è rotto da una settimana",
    "vorrei delle cime di rape dal banco alimentare",
    "non so a che scuola iscrivere mia figlia",
    "mio figlio non esce di casa, non ha mai parlato di farsi del male ma sono preoccupata",
    "serve un interprete per il colloquio con l'assistente sociale",
    "i miei genitori sono soli da quando mi sono trasferito, chi li va a trovare?",
    "vorrei non vivere più con mia suocera, cerco un alloggio",
    "le bollette mi ammazzano, due mesi di arretrati",
    "mio padre mi uccide se vede la pagella",
    "sono stato denunciato per stalking dalla mia ex, serve un avvocato",
    "abbiamo perso tutto in un incendio anni fa e ora cerchiamo casa",
    "quando non ci sarò più chi si occuperà di mio figlio disabile?",
    "il padrone di casa ha minacciato di querelarmi per i danni, serve un avvocato",
    "c'è stato un incendio in cantina il mese scorso, l'assicurazione non paga",
    "sono stata sei mesi in una casa rifugio e ora cerco un alloggio mio",
    "sono giù di morale ma non penserei mai di farmi del male",
    "mi sanguinano le gengive, cerco un dentista che costi poco",
    "dopo l'overdose dell'anno scorso vorrei un gruppo di sostegno",
    "la polizia mi ha sequestrato la macchina, serve un avvocato",
    "lui non è mai stato violento ma litighiamo tanto, cerchiamo una mediazione",
    "il mio ex violento adesso è in carcere, posso chiedere il gratuito patrocinio?",
]


@pytest.mark.parametrize(("text", "phrase"), DANGER)
def test_danger_phrases_are_caught(text: str, phrase: str) -> None:
    assert emergency_phrase(text) == phrase


@pytest.mark.parametrize("text", EVERYDAY)
def test_everyday_worries_are_not_emergencies(text: str) -> None:
    assert emergency_phrase(text) is None


def test_phrases_are_folded_and_unique() -> None:
    """A phrase with an accent or a capital would never match the folded message, and one listed both as
    a danger and as a named harm would be gated without anyone meaning it."""
    assert [p for p in EMERGENCY_PHRASES if fold(p) != p.rstrip()] == []
    assert len(set(EMERGENCY_PHRASES)) == len(EMERGENCY_PHRASES)
    assert set(VETOES) <= set(EMERGENCY_PHRASES)
    assert all(fold(v) == v for vetoes in VETOES.values() for v in vetoes)


# (message, the model's confidence in its best intent, the phrase that counts or None)
GATED: list[tuple[str, float | None, str | None]] = [
    # a phrase that names a harm: it counts with no model (Rasa down) or an unsure one ...
    ("leggo sempre di bambini maltrattati", None, "maltratt"),
    ("leggo sempre di bambini maltrattati", CONTEXT_GATE - 0.01, "maltratt"),
    # ... not when the model is sure of something else
    ("vorrei fare l'affido, leggo sempre di bambini maltrattati", CONTEXT_GATE, None),
    ("le scale di casa mi uccidono, chi mi aiuta con la spesa?", 0.92, None),
    ("tre mesi fa sono scappata da mio marito violento, ora cerco casa", 0.97, None),
    # a phrase that says the danger is here counts whatever the model says
    ("cerco casa ma mio marito mi picchia", 0.99, "mi picchi"),
    ("voglio morire, mi serve uno psicologo", 0.95, "voglio morire"),
    ("mia madre non respira più", 0.99, "non respira piu"),
    # a goodbye without "più": only when the model is unsure
    ("non ce la faccio più, domani non mi vedranno al lavoro né altrove", 0.3, "non mi vedranno"),
    ("domani non mi vedrete in ufficio, ho la visita dal dentista", 0.9, None),
    ("da domani non mi vedrete più", 0.9, "non mi vedrete piu"),
    # the gate skips a named harm and still finds the danger after it
    ("è violento e stasera mi ammazza, mi picchia", 0.9, "mi picchi"),
]


@pytest.mark.parametrize(("text", "confidence", "phrase"), GATED)
def test_phrases_that_name_a_harm_count_only_when_the_model_is_unsure(
    text: str, confidence: float | None, phrase: str | None
) -> None:
    assert emergency_phrase(text, model_confidence=confidence) == phrase
