"""Italian text normalisation for matching: folding, tokens, stop words and a light stemmer.

Citizens write on cheap phones, without accents, in the plural or with a verb ("sfrattato",
"affitti", "pagare le bollette"). Services are described in administrative Italian ("sfratto
abitativo", "utenze insolute"). A light stemmer (strip inflection, not derivation) plus a small
table of everyday synonyms bridges most of that gap without a language model, in microseconds.
"""

from __future__ import annotations

import re
from functools import lru_cache

from nlu.territory import fold

_TOKEN = re.compile(r"[a-z0-9]+")

STOPWORDS: frozenset[str] = frozenset(
    """
    a ad al allo alla ai agli alle all anche ancora avere ho hai ha abbiamo avete hanno c ce ci che chi
    con col coi come cosa da dal dallo dalla dai dagli dalle dei degli delle del dello della di do e ed
    essere sono sei siamo siete era erano fa fare faccio gli ha i il in io la le lei li lo loro lui ma me
    mi mia mie miei mio ne nei negli nelle nel nello nella no noi non nostra nostro o od oppure per pero
    piu po poi qua qual quale quali quando quanto quella quelle quelli quello questa queste questi
    questo qui se sempre senza si sia sto sta stai stanno su sua sue sugli sui sul sull sullo sulla
    suo suoi ti tra fra tu tua tue tuo tuoi tutti tutto tutta tutte un una uno uno vi voi vorrei volevo
    vuole voglio posso puoi potete possiamo devo deve bisogno serve servono aiuto aiutare aiutatemi
    aiutami grazie ciao buongiorno buonasera salve per favore favore cerco cercando sapere so sai
    dove qualcuno qualcosa molto tanto poco gia ora adesso oggi domani ieri ok va bene
    """.split()
)

# Suffixes removed by the light stemmer, longest first. Inflection and the commonest verb forms only:
# derivation is left alone so that "casa" and "casale" stay apart.
_SUFFIXES: tuple[str, ...] = (
    "amenti",
    "amento",
    "imenti",
    "imento",
    "azioni",
    "azione",
    "izioni",
    "izione",
    "mente",
    "ando",
    "endo",
    "ista",
    "iste",
    "isti",
    "ismo",
    "are",
    "ere",
    "ire",
    "ato",
    "ata",
    "ati",
    "ate",
    "ito",
    "ita",
    "iti",
    "ite",
    "uto",
    "uta",
    "uti",
    "ute",
)
_VOWELS = "aeiou"
_MIN_STEM = 3

# Everyday words a citizen uses -> words the catalogue uses. Both sides are stemmed at import.
_SYNONYMS_RAW: dict[str, tuple[str, ...]] = {
    "dentista": ("dentistica", "odontoiatrica", "denti"),
    "denti": ("dentistica", "odontoiatrica"),
    "dente": ("dentistica", "odontoiatrica"),
    "occhiali": ("oculistica", "vista", "occhi"),
    "occhi": ("oculistica", "vista"),
    "vista": ("oculistica",),
    "mangiare": ("alimentare", "cibo", "pasti"),
    "fame": ("alimentare", "cibo", "pasti"),
    "spesa": ("alimentare", "cibo"),
    "pacco": ("alimentare",),
    "cibo": ("alimentare", "pasti"),
    "sfratto": ("abitativa", "affitto", "casa"),
    "sfrattato": ("sfratto", "abitativa"),
    "affitto": ("abitativa", "casa"),
    "bollette": ("utenze", "morosita"),
    "bolletta": ("utenze", "morosita"),
    "luce": ("utenze",),
    "gas": ("utenze",),
    "debiti": ("debitorie", "morosita"),
    "soldi": ("economico", "economica", "sostegno"),
    "lavoro": ("impiego", "occupazione"),
    "disoccupato": ("lavoro", "impiego"),
    "licenziato": ("lavoro", "impiego", "perdita"),
    "curriculum": ("lavoro", "impiego"),
    "spid": ("digitale", "identita"),
    "computer": ("digitale", "informatica"),
    "internet": ("digitale",),
    "telefonino": ("digitale", "smartphone"),
    "solo": ("solitudine", "isolamento"),
    "sola": ("solitudine", "isolamento"),
    "nessuno": ("solitudine", "isolamento"),
    "anziano": ("anziani", "over"),
    "anziana": ("anziani", "over"),
    "nonna": ("anziani",),
    "nonno": ("anziani",),
    "badante": ("anziani", "assistenza", "domiciliare"),
    "bambino": ("minori", "figli", "infanzia"),
    "bambina": ("minori", "figli", "infanzia"),
    "bambini": ("minori", "figli", "infanzia"),
    "figlio": ("minori", "figli", "famiglia"),
    "figlia": ("minori", "figli", "famiglia"),
    "scuola": ("scolastici", "scolastiche", "libri"),
    "libri": ("scolastici", "testo"),
    "permesso": ("soggiorno", "stranieri", "migranti"),
    "straniero": ("stranieri", "migranti"),
    "documenti": ("anagrafe", "carta", "identita"),
    "tutore": ("tutela", "amministratore", "sostegno"),
    "avvocato": ("legale", "tutela"),
    "picchia": ("violenza",),
    "botte": ("violenza",),
    "violento": ("violenza",),
    "maltrattamenti": ("violenza",),
    "autobus": ("trasporto", "trasporti"),
    "bus": ("trasporto",),
    "passaggio": ("trasporto", "accompagnamento"),
    "accompagnare": ("trasporto", "accompagnamento"),
    "visita": ("sanitario", "salute", "medico"),
    "dottore": ("medico", "salute"),
    "medicine": ("farmaci", "farmacia"),
    "farmaci": ("farmacia",),
    "dormire": ("dormitorio", "accoglienza", "notturna"),
    "strada": ("senza", "dimora", "accoglienza"),
    "invalido": ("disabilita", "invalidita"),
    "incinta": ("gravidanza", "consultorio"),
    "gravidanza": ("consultorio",),
    "malato": ("cure", "medico", "salute", "malattia"),
    "irregolare": ("permesso", "soggiorno"),
    "clandestino": ("permesso", "soggiorno"),
    "handicap": ("disabilita",),
    "carrozzina": ("disabilita",),
}


def normalise(text: str) -> str:
    """Fold accents and case: what every comparison in the catalogue works on."""
    return fold(text)


@lru_cache(maxsize=8192)
def stem(word: str) -> str:
    """Light Italian stemmer over a folded word: strip one inflectional suffix, then a final vowel."""
    w = word
    if len(w) <= 4 or w.isdigit():
        return w
    for suffix in _SUFFIXES:
        if w.endswith(suffix) and len(w) - len(suffix) >= 4:
            w = w[: -len(suffix)]
            break
    if w.endswith(("che", "chi", "ghe", "ghi")) and len(w) > 5:
        w = w[:-2]
    while len(w) > _MIN_STEM + 1 and w[-1] in _VOWELS:
        w = w[:-1]
    return w


def words(text: str) -> list[str]:
    """Folded tokens of a text, stop words and one-letter tokens dropped, in order."""
    return [t for t in _TOKEN.findall(normalise(text)) if len(t) > 1 and t not in STOPWORDS]


def stems(text: str) -> list[str]:
    return [stem(w) for w in words(text)]


def _build_synonyms() -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for word, targets in _SYNONYMS_RAW.items():
        key = stem(normalise(word))
        out.setdefault(key, set()).update(stem(normalise(t)) for t in targets)
    return {k: frozenset(v - {k}) for k, v in out.items()}


SYNONYMS: dict[str, frozenset[str]] = _build_synonyms()


def query_terms(text: str, *, max_terms: int = 24) -> list[tuple[str, str]]:
    """The distinct (stem, original word) pairs of a citizen's message, capped for speed.

    The original word is kept so that a facilitator reads "parole: sfratto", not a stem.
    """
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for w in words(text[:2000]):
        s = stem(w)
        if s in seen:
            continue
        seen.add(s)
        out.append((s, w))
        if len(out) >= max_terms:
            break
    return out
