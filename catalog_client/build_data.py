"""Generate the embedded HSDS 3.0 catalogue (``catalog_client/data/*.json``) from the records below.

The records are written as compact Python so that every fact sits next to its source and a reviewer
can check it against the documents in ``../shared/seeds/``. The JSON is generated deterministically:
identifiers are UUID5 of a readable key, so a record keeps its id across regenerations and the
committed files can be compared with a fresh build in the tests.

Rules the data follows (a citizen who calls a wrong number is harmed):
- a phone number, address, e-mail, web address or opening hour appears only if the record's source
  (``fonte``) gives it: a seed file that contains it, or a well-known public national number;
- records added from public knowledge carry ``fonte`` = "conoscenza pubblica, da verificare" and
  ``da_verificare`` = "true", and say how to reach the service instead of giving contacts;
- service areas are comuni with their ISTAT code in ``description`` ("ISTAT:001272"), or the whole
  Città metropolitana ("ISTAT:TO").

Run ``python -m catalog_client.build_data`` to rewrite the files, ``--check`` to compare only.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nlu.territory import QUARTIERI, find_comune
from nlu.types import NEED_INTENTS

DATA_DIR = Path(__file__).resolve().parent / "data"
DATA_AS_OF = "2026-11-22"
LAST_MODIFIED = f"{DATA_AS_OF}T00:00:00Z"

# Stable namespace for every identifier of the catalogue: uuid5(namespace, "<kind>:<readable key>").
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:bussola:catalogo-hsds")

NEEDS_TAXONOMY = "bussola-bisogni"
META_TAXONOMY = "bussola-meta"
WHOLE_METRO = "TO"  # an area meaning all 312 comuni of the Città metropolitana di Torino
WHOLE_METRO_NAME = "Città metropolitana di Torino"

S000 = "000_be9d1ad85aa02a31.txt"  # SOCIALAB (Interreg ALCOTRA), Città metropolitana di Torino
S001 = "001_a2ea1208f4ce9f5a.txt"  # WE.CA.RE. project form, CISA Rivoli with CISAP
S002 = "002_c774dfde9cbe80fa.txt"  # CUORE SOLIDALE (ALCOTRA), Alte Valli
S003 = "003_8c062591f3df2383.txt"  # COMUNITÀ INCLUSIVE, Rete Case del Quartiere, Torino
S004 = "004_87d4d38ebfa3570f.txt"  # Consorzio Ovest Solidale, Welfare di Comunità
NATIONAL = "numero pubblico nazionale"
PUBLIC = "conoscenza pubblica, da verificare"

SOURCES: dict[str, str] = {
    S000: "Progetto SOCIALAB (Interreg ALCOTRA, Città metropolitana di Torino, 2018-2023): operatori "
    "sociali di comunità, centri famiglia dei consorzi del Canavese, sportello di pubblica tutela al "
    "Tribunale di Ivrea, associazioni fondiarie.",
    S001: "Scheda di progetto WE.CA.RE. (CISA Rivoli Rosta Villarbasse con CISAP Collegno e Grugliasco, "
    "2017-2020): rete di sportelli e facilitatore di comunità.",
    S002: "Progetto CUORE SOLIDALE (ALCOTRA, Alte Valli, concluso): trasporto a domanda, farmacie, "
    "cohousing per anziani, operatori di comunità, Casa della Salute 0-18, alfabetizzazione digitale.",
    S003: "Progetto COMUNITÀ INCLUSIVE (Rete Case del Quartiere, Torino): 7 sportelli sociali, doti per "
    "l'inclusione, cure agli Asili Notturni Umberto I, Madri di Quartiere, Carovana Salvacibo.",
    S004: "Consorzio Ovest Solidale, pagina Welfare di Comunità (2022): Spazi AnCoRe, Solidarietà "
    "Alimentare, RI-abitare la città, Mi affido a te, Cittadella del Welfare; sedi e telefoni.",
    NATIONAL: "Numeri pubblici nazionali, gratuiti o di pubblica utilità, noti a tutti.",
    PUBLIC: "Servizi pubblici che ogni residente può usare, aggiunti da conoscenza pubblica: senza "
    "telefoni, indirizzi né orari, da completare e verificare da parte del team.",
}

NEED_TERMS: dict[str, tuple[str, str]] = {
    "casa": ("Casa", "Trovare o tenere una casa: affitto, sfratto, casa popolare, un posto per dormire."),
    "lavoro": ("Lavoro", "Cercare lavoro, orientamento, corsi e tirocini."),
    "reddito": ("Soldi e aiuti economici", "Contributi, assegni, ISEE, bollette e debiti da pagare."),
    "cibo": ("Cibo", "Spesa solidale, pacchi alimentari, pasti."),
    "salute": ("Salute", "Medico, visite, cure, denti, occhi, farmaci."),
    "anziani": ("Anziani", "Aiuto per le persone anziane e per chi si prende cura di loro."),
    "famiglia": ("Famiglia e figli", "Genitori e figli, gravidanza, conflitti in famiglia, ragazzi."),
    "disabilita": ("Disabilità", "Invalidità civile, legge 104, assistenza e aiuti per la disabilità."),
    "tutela_legale": (
        "Diritti e aiuto legale",
        "Avvocato gratuito, amministratore di sostegno, tutela delle persone fragili.",
    ),
    "digitale": ("Pratiche digitali", "SPID, carta d'identità elettronica, usare telefono e computer."),
    "solitudine": ("Solitudine", "Compagnia, ascolto, stare insieme agli altri."),
    "migranti": (
        "Stranieri e migranti",
        "Permesso di soggiorno, residenza, cure e orientamento per stranieri.",
    ),
    "trasporti": (
        "Trasporti",
        "Spostarsi per visite e servizi, trasporto su richiesta, parcheggio disabili.",
    ),
    "emergenza": ("Emergenza", "Pericolo, violenza, urgenze: i numeri da chiamare subito."),
}

META_TERMS: dict[str, tuple[str, str]] = {
    "fonte": (
        "Fonte",
        "Da dove viene l'informazione: il documento, il numero pubblico nazionale o la conoscenza pubblica.",
    ),
    "da_verificare": ("Da verificare", '"true" se un operatore deve controllare e completare la scheda.'),
    "quartiere": ("Quartiere", "Un quartiere di Torino servito dallo sportello (uno per attributo)."),
    "destinatari": ("Destinatari", "A chi si rivolge il servizio, in parole semplici (uno per attributo)."),
}

# Areas. Consorzio Ovest Solidale works for the comuni of the former CISA and CISAP (seed 001 lists them).
CISA_AREA = ("Rivoli", "Rosta", "Villarbasse")
CISAP_AREA = ("Collegno", "Grugliasco")
OVEST_AREA = ("Collegno", "Grugliasco", "Rivoli", "Rosta", "Villarbasse")
# Seats of the four Canavese consorzi named in seed 000 (their full lists of comuni are not in the seeds).
NORD_SEATS = ("Ivrea", "Cuorgnè", "Caluso", "Ciriè")
# "Alte Valli" of seed 002, read as the upper Susa valley: to verify.
ALTA_VALLE_SUSA = (
    "Bardonecchia",
    "Cesana Torinese",
    "Chiomonte",
    "Claviere",
    "Exilles",
    "Oulx",
    "Salbertrand",
    "Sauze di Cesana",
    "Sauze d'Oulx",
    "Sestriere",
)
VAL_SUSA = ALTA_VALLE_SUSA + (
    "Almese",
    "Avigliana",
    "Borgone Susa",
    "Bruzolo",
    "Bussoleno",
    "Buttigliera Alta",
    "Caprie",
    "Caselette",
    "Chianocco",
    "Chiusa di San Michele",
    "Condove",
    "Giaglione",
    "Gravere",
    "Mattie",
    "Meana di Susa",
    "Mompantero",
    "Moncenisio",
    "Novalesa",
    "Rubiana",
    "San Didero",
    "San Giorio di Susa",
    "Sant'Ambrogio di Torino",
    "Sant'Antonino di Susa",
    "Susa",
    "Vaie",
    "Venaus",
    "Villar Dora",
    "Villar Focchiardo",
)

ALL_DAYS = "MO,TU,WE,TH,FR,SA,SU"


@dataclass(frozen=True, slots=True)
class Org:
    key: str
    name: str
    description: str
    fonte: str
    email: str = ""
    website: str = ""
    tax_id: str = ""
    alternate_name: str = ""


@dataclass(frozen=True, slots=True)
class Addr:
    street: str
    city: str
    postal_code: str


@dataclass(frozen=True, slots=True)
class Place:
    name: str
    description: str = ""
    address: Addr | None = None


@dataclass(frozen=True, slots=True)
class Svc:
    key: str
    name: str
    org: str
    description: str  # starts with one clear sentence of what it does
    how: str  # application_process: how to reach it when no contact is given
    needs: tuple[str, ...]
    areas: tuple[str, ...]  # official comune names, or WHOLE_METRO
    fonte: str
    verify: bool
    who: tuple[str, ...] = ()  # destinatari, plain words
    quartieri: tuple[str, ...] = ()
    eligibility: str = ""
    min_age: int | None = None
    max_age: int | None = None
    phones: tuple[tuple[str, str], ...] = ()  # (number, what it is for)
    places: tuple[Place, ...] = ()
    documents: tuple[str, ...] = ()
    free: bool = False
    fees: str = ""
    always_open: bool = False  # 24 hours a day, every day (national emergency lines only)
    url: str = ""
    alert: str = ""
    status: str = "active"
    interpretation: str = ""
    contact: tuple[str, str, str] | None = None  # (title, department, phone number)
    alternate_name: str = ""


ORGS: tuple[Org, ...] = (
    # --- seed 003: Comunità Inclusive, Torino
    Org(
        "rete-case-quartiere",
        "Rete delle Case del Quartiere APS",
        "Rete delle Case del Quartiere di Torino: luoghi aperti a tutti, con attività e sportelli sociali "
        "vicini a chi vive nel quartiere. È capofila del progetto Comunità Inclusive.",
        S003,
    ),
    Org(
        "sviluppo-san-salvario",
        "Agenzia per lo Sviluppo Locale di San Salvario Onlus",
        "Gestisce lo sportello sociale della Casa del Quartiere di San Salvario.",
        S003,
    ),
    Org(
        "cascina-roccafranca",
        "Fondazione Cascina Roccafranca",
        "Gestisce lo sportello sociale della Cascina Roccafranca, Casa del Quartiere di Torino.",
        S003,
    ),
    Org(
        "comunita-mirafiori",
        "Fondazione della Comunità di Mirafiori onlus",
        "Gestisce lo sportello sociale della Casa nel Parco, Casa del Quartiere di Torino.",
        S003,
    ),
    Org(
        "casa-delle-rane",
        "La Casa delle Rane onlus",
        "Gestisce lo sportello sociale di Più SpazioQuattro, Casa del Quartiere di Torino.",
        S003,
    ),
    Org(
        "lancillotto",
        "Lancillotto Società Cooperativa Sociale",
        "Gestisce lo sportello sociale della Casa del Quartiere Barrito, a Torino.",
        S003,
    ),
    Org(
        "educadora",
        "Associazione Educadora onlus",
        "Gestisce lo sportello sociale della Casa del Quartiere Cecchi Point, a Torino.",
        S003,
    ),
    Org(
        "stalker-teatro",
        "Stalker Teatro Società cooperativa",
        "Gestisce lo sportello sociale della Casa di Quartiere Vallette, a Torino.",
        S003,
    ),
    Org(
        "asili-notturni",
        "Società per gli Asili Notturni Umberto I OdV",
        "Organizzazione di volontariato di Torino: offre visite mediche specialistiche e dispositivi "
        "medici alle persone seguite dagli sportelli sociali delle Case del Quartiere.",
        S003,
    ),
    Org(
        "terra-e-pace",
        "Associazione di promozione sociale Terra e Pace",
        "Accompagna le famiglie in difficoltà con sostegno educativo, a domicilio e con la mediazione; "
        "promuove il progetto Madri di Quartiere.",
        S003,
    ),
    Org(
        "eco-dalle-citta",
        "Associazione Eco dalle Città",
        "Recupera il cibo che avanza e lo distribuisce nelle reti locali delle Case del Quartiere.",
        S003,
    ),
    # --- seeds 000 and 002: Città metropolitana and the Canavese consorzi
    Org(
        "cm-torino",
        "Città metropolitana di Torino",
        "L'ente che riunisce i 312 comuni dell'area torinese. Ha guidato i progetti europei SOCIALAB e "
        "Cuore Solidale per i servizi sociali nelle zone di montagna.",
        S000,
    ),
    Org(
        "inrete",
        "Consorzio IN.RE.TE. di Ivrea",
        (
            "Consorzio socio-assistenziale: gestisce i servizi sociali per i comuni della sua zona, con sede "
            "a Ivrea."
        ),
        S000,
    ),
    Org(
        "ciss38",
        "C.I.S.S. 38 di Cuorgnè",
        (
            "Consorzio socio-assistenziale: gestisce i servizi sociali per i comuni della sua zona, con sede "
            "a Cuorgnè."
        ),
        S000,
    ),
    Org(
        "cissac",
        "C.I.S.S.-A.C. di Caluso",
        (
            "Consorzio socio-assistenziale: gestisce i servizi sociali per i comuni della sua zona, con sede "
            "a Caluso."
        ),
        S000,
        alternate_name="CISSAC",
    ),
    Org(
        "cis-cirie",
        "C.I.S. di Ciriè",
        (
            "Consorzio socio-assistenziale: gestisce i servizi sociali per i comuni della sua zona, con sede "
            "a Ciriè."
        ),
        S000,
    ),
    Org(
        "asfo-usseglio",
        "Associazione Fondiaria di Usseglio",
        "Gestisce insieme terreni privati abbandonati di Usseglio e li coltiva, dando lavoro a persone "
        "italiane e straniere in difficoltà economica.",
        S000,
    ),
    # --- seeds 001 and 004: ovest torinese
    Org(
        "cisa-rivoli",
        "CISA Rivoli Rosta Villarbasse",
        (
            "Consorzio socio-assistenziale dei comuni di Rivoli, Rosta e Villarbasse, capofila del progetto "
            "WE.CA.RE."
        ),
        S001,
        email="cisa@cisarivoli.it",
    ),
    Org(
        "cisap",
        "CISAP Collegno e Grugliasco",
        "Consorzio socio-assistenziale dei comuni di Collegno e Grugliasco, partner del progetto WE.CA.RE.",
        S001,
    ),
    Org(
        "ovest-solidale",
        "Consorzio Ovest Solidale",
        "Consorzio pubblico che gestisce i servizi sociali dell'ovest torinese, con sedi a Rivoli e a "
        "Grugliasco, e promuove progetti di welfare di comunità con le associazioni del territorio.",
        S004,
        tax_id="95546580010",
    ),
    # --- national numbers
    Org(
        "nue112",
        "Numero Unico di Emergenza 112",
        (
            "Il numero unico europeo per tutte le emergenze: soccorso sanitario, vigili del fuoco, polizia e "
            "carabinieri."
        ),
        NATIONAL,
    ),
    Org(
        "pari-opportunita",
        "Dipartimento per le Pari Opportunità",
        "Dipartimento della Presidenza del Consiglio dei ministri: promuove il numero antiviolenza 1522 e il "
        "Numero Verde Antitratta.",
        NATIONAL,
    ),
    Org(
        "telefono-azzurro",
        "SOS Il Telefono Azzurro",
        (
            "Associazione che ascolta e protegge bambini e ragazzi: gestisce la linea 19696 e il 114 "
            "Emergenza Infanzia."
        ),
        NATIONAL,
    ),
    Org(
        "telefono-amico",
        "Telefono Amico Italia",
        "Volontari che ascoltano al telefono chi si sente solo o sta vivendo un momento difficile.",
        NATIONAL,
    ),
    Org(
        "auser",
        "Auser",
        (
            "Associazione di volontariato per le persone anziane: gestisce il servizio di compagnia "
            "telefonica Filo d'Argento."
        ),
        NATIONAL,
    ),
    Org(
        "inps",
        "INPS – Istituto Nazionale della Previdenza Sociale",
        (
            "L'ente pubblico che paga pensioni, assegni per le famiglie, indennità di disoccupazione e "
            "invalidità civile."
        ),
        NATIONAL,
        website="https://www.inps.it",
    ),
    # --- public services any resident can use (public knowledge, to verify)
    Org(
        "comune",
        "Il Comune dove vivi",
        "Ogni Comune della Città metropolitana di Torino ha servizi sociali (propri o di un consorzio "
        "socio-assistenziale), l'anagrafe e altri uffici per i cittadini.",
        PUBLIC,
    ),
    Org(
        "citta-torino",
        "Città di Torino",
        "Il Comune di Torino, con i suoi servizi sociali e le case di ospitalità notturna.",
        PUBLIC,
    ),
    Org(
        "agenzia-piemonte-lavoro",
        "Agenzia Piemonte Lavoro",
        "L'agenzia della Regione Piemonte che gestisce i Centri per l'impiego.",
        PUBLIC,
    ),
    Org(
        "atc",
        "ATC del Piemonte Centrale",
        (
            "Agenzia Territoriale per la Casa del Piemonte Centrale: gestisce le case popolari dell'area "
            "torinese."
        ),
        PUBLIC,
    ),
    Org(
        "asl",
        "ASL – Azienda sanitaria locale",
        "Le aziende sanitarie dell'area torinese (ASL Città di Torino, ASL TO3, ASL TO4, ASL TO5): medico di "
        "famiglia, consultori, visite e cure.",
        PUBLIC,
    ),
    Org(
        "tribunale",
        "Tribunale (giudice tutelare)",
        "Il giudice tutelare del Tribunale della tua zona: per l'area torinese, il Tribunale di Torino o "
        "quello di Ivrea.",
        PUBLIC,
    ),
    Org(
        "ordine-avvocati",
        "Consiglio dell'Ordine degli Avvocati",
        "Riceve le domande di patrocinio a spese dello Stato per le cause civili e tiene l'elenco degli "
        "avvocati che lo accettano.",
        PUBLIC,
    ),
    Org(
        "prefettura",
        "Prefettura di Torino",
        "L'ufficio dello Stato nella provincia: il suo Sportello Unico per l'Immigrazione segue "
        "ricongiungimenti "
        "familiari, nulla osta al lavoro e cittadinanza.",
        PUBLIC,
    ),
    Org(
        "questura",
        "Questura di Torino",
        "Il suo Ufficio Immigrazione rilascia e rinnova i permessi di soggiorno.",
        PUBLIC,
    ),
    Org(
        "poste",
        "Poste Italiane",
        "Negli uffici postali puoi ottenere lo SPID (PosteID) e trovare il kit per il permesso di soggiorno.",
        PUBLIC,
    ),
    Org(
        "caf-patronati",
        "CAF e patronati",
        "Centri di assistenza fiscale e patronati: aiutano con l'ISEE e con le domande all'INPS.",
        PUBLIC,
    ),
    Org(
        "caritas",
        "Caritas",
        "L'organismo della Chiesa cattolica per l'aiuto alle persone in difficoltà, con centri di ascolto "
        "nelle diocesi e nelle parrocchie.",
        PUBLIC,
    ),
)

# --- shared texts
ASK_BUSSOLA = "Se non sai dove si trova o quando è aperto, chiedi a un operatore di Bussola."
VIA_DESK = "Chiedi allo sportello sociale della tua Casa del Quartiere: ti spiegano se puoi averla e come."
CUORE_ALERT = (
    "Questo servizio è nato con il progetto europeo Cuore Solidale, oggi concluso: prima di muoverti, "
    "chiedi ai servizi sociali del tuo Comune se è ancora attivo."
)
SOCIALAB_ALERT = (
    "Questo servizio è nato con il progetto europeo SOCIALAB (2018-2023): prima di muoverti, "
    "chiedi se è ancora attivo."
)
DESK_DESCRIPTION = (
    "Uno spazio dove ti ascoltano e ti aiutano a capire a quali servizi rivolgerti. L'accesso è semplice "
    "e senza burocrazia: gli operatori di quartiere diventano persone di fiducia e ti accompagnano a "
    "trovare la risposta giusta per casa, soldi, lavoro, famiglia e pratiche. Le Case del Quartiere "
    "lavorano con una rete di oltre 300 associazioni e gruppi di volontari."
)
DESK_ELIGIBILITY = (
    "Per singoli e famiglie in difficoltà, fragili o isolati: anziani, persone con disabilità, adulti in "
    "povertà, famiglie italiane e straniere con figli minorenni, stranieri che cercano informazioni e "
    "aiuto pratico."
)
DESK_NEEDS = (
    "casa",
    "lavoro",
    "reddito",
    "cibo",
    "famiglia",
    "anziani",
    "disabilita",
    "migranti",
    "digitale",
    "solitudine",
)
DESK_WHO = (
    "anziani",
    "persone con disabilità",
    "persone in difficoltà economica",
    "famiglie con figli",
    "stranieri",
)

# (key, Casa del Quartiere, managing organisation key, Turin neighbourhoods served)
DESKS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("san-salvario", "Casa del Quartiere di San Salvario", "sviluppo-san-salvario", ("San Salvario",)),
    ("cascina-roccafranca", "Cascina Roccafranca", "cascina-roccafranca", ("Mirafiori Nord",)),
    ("casa-nel-parco", "Casa nel Parco", "comunita-mirafiori", ("Mirafiori Sud",)),
    ("piu-spazioquattro", "Più SpazioQuattro", "casa-delle-rane", ("San Donato", "Campidoglio")),
    ("barrito", "Casa del Quartiere Barrito", "lancillotto", ("Nizza Millefonti",)),
    ("cecchi-point", "Casa del Quartiere Cecchi Point", "educadora", ("Aurora",)),
    ("vallette", "Casa di Quartiere Vallette", "stalker-teatro", ("Vallette",)),
)
DESK_QUARTIERI = tuple(q for d in DESKS for q in d[3])

# (key, consorzio org key, short name, seat)
CANAVESE: tuple[tuple[str, str, str, str], ...] = (
    ("inrete", "inrete", "Consorzio IN.RE.TE.", "Ivrea"),
    ("ciss38", "ciss38", "C.I.S.S. 38", "Cuorgnè"),
    ("cissac", "cissac", "C.I.S.S.-A.C.", "Caluso"),
    ("cis-cirie", "cis-cirie", "C.I.S.", "Ciriè"),
)

OVEST_COESIONE = (
    "+39 011 9501417",
    "Area Coesione del Consorzio Ovest Solidale: informazioni sui progetti di welfare di comunità",
)


def _desks() -> list[Svc]:
    out = []
    for key, casa, org, quartieri in DESKS:
        out.append(
            Svc(
                key=f"sportello-{key}",
                name=f"Sportello sociale – {casa}",
                org=org,
                description=DESK_DESCRIPTION,
                how=f"Vai a {casa} e chiedi dello sportello sociale. {ASK_BUSSOLA}",
                needs=DESK_NEEDS,
                areas=("Torino",),
                fonte=S003,
                verify=True,  # the neighbourhoods served and the opening hours are to be confirmed
                who=DESK_WHO,
                quartieri=quartieri,
                eligibility=DESK_ELIGIBILITY,
                places=(Place(casa, f"{casa}, Casa del Quartiere a Torino."),),
            )
        )
    return out


def _canavese() -> list[Svc]:
    out = []
    for key, org, short, seat in CANAVESE:
        out.append(
            Svc(
                key=f"centro-famiglia-{key}",
                name=f"Centro famiglia del {short} ({seat})",
                org=org,
                description=(
                    "Un aiuto per le famiglie: consulenza familiare, mediazione quando ci sono conflitti, "
                    "sostegno ai genitori e gruppi di confronto tra famiglie. Ha un'attenzione speciale per "
                    "ragazzi e giovani, anche per chi non studia e non lavora, con percorsi verso "
                    "l'autonomia. "
                    "Porta i suoi servizi anche nei paesi di montagna più isolati."
                ),
                how=(
                    f"Chiedi ai servizi sociali del tuo Comune o al {short} di {seat} come incontrare il "
                    "centro famiglia."
                ),
                needs=("famiglia",),
                areas=(seat,),
                fonte=S000,
                verify=True,
                who=("famiglie con figli", "genitori", "ragazzi e giovani"),
                eligibility=f"Per le famiglie che vivono nei comuni del {short}.",
                alert=SOCIALAB_ALERT,
            )
        )
    return out


SEED_SERVICES: tuple[Svc, ...] = (
    # --- seed 003: Comunità Inclusive (Torino)
    *_desks(),
    Svc(
        key="dote-inclusione",
        name="Dote per l'inclusione",
        org="rete-case-quartiere",
        description=(
            "Un aiuto economico per chi vive un momento molto difficile: malattia grave, perdita del "
            "lavoro, sfratto, debiti. La dote può pagare, per esempio, l'affitto o una sistemazione per un "
            "periodo, la spesa e i beni di prima necessità, la mensa o l'iscrizione a scuola, piccole "
            "bollette non pagate, le pratiche digitali come lo SPID, libri e materiale per la scuola, il "
            "nido, un computer e la connessione per studiare, l'abbonamento ai mezzi pubblici, le cure "
            "dal dentista e dall'oculista agli Asili Notturni Umberto I. La dote accompagna un percorso "
            "fatto insieme agli operatori."
        ),
        how=VIA_DESK,
        needs=("reddito", "casa", "cibo", "famiglia", "digitale", "trasporti"),
        areas=("Torino",),
        fonte=S003,
        verify=True,
        who=("persone in difficoltà economica", "famiglie con figli"),
        quartieri=DESK_QUARTIERI,
        eligibility=(
            "Per persone e famiglie in condizioni economiche e sociali molto difficili che vivono nei "
            "quartieri periferici o semi-periferici di Torino dove ci sono le Case del Quartiere."
        ),
        free=True,
        alert="È un aiuto del progetto Comunità Inclusive: chiedi allo sportello se ci sono ancora fondi.",
    ),
    Svc(
        key="dentista-asili-notturni",
        name="Cure dal dentista agli Asili Notturni Umberto I",
        org="asili-notturni",
        description=(
            "Visite dal dentista e apparecchi dentali pagati con la dote per l'inclusione, agli Asili "
            "Notturni Umberto I di Torino. È per le persone seguite dagli sportelli sociali delle Case "
            "del Quartiere."
        ),
        how=VIA_DESK,
        needs=("salute",),
        areas=("Torino",),
        fonte=S003,
        verify=True,
        who=("persone in difficoltà economica",),
        eligibility=(
            "Per chi è seguito da uno sportello sociale delle Case del Quartiere e riceve la dote per "
            "l'inclusione."
        ),
        fees="Le visite e gli apparecchi sono pagati dalla dote per l'inclusione.",
        places=(
            Place(
                "Asili Notturni Umberto I", "Sede della Società per gli Asili Notturni Umberto I, a Torino."
            ),
        ),
    ),
    Svc(
        key="oculista-asili-notturni",
        name="Visite dall'oculista e occhiali agli Asili Notturni Umberto I",
        org="asili-notturni",
        description=(
            "Visite dall'oculista e occhiali o altri apparecchi per la vista pagati con la dote per "
            "l'inclusione, agli Asili Notturni Umberto I di Torino. È per le persone seguite dagli "
            "sportelli sociali delle Case del Quartiere."
        ),
        how=VIA_DESK,
        needs=("salute",),
        areas=("Torino",),
        fonte=S003,
        verify=True,
        who=("persone in difficoltà economica",),
        eligibility=(
            "Per chi è seguito da uno sportello sociale delle Case del Quartiere e riceve la dote per "
            "l'inclusione."
        ),
        fees="Le visite e gli apparecchi sono pagati dalla dote per l'inclusione.",
        places=(
            Place(
                "Asili Notturni Umberto I", "Sede della Società per gli Asili Notturni Umberto I, a Torino."
            ),
        ),
    ),
    Svc(
        key="madri-di-quartiere",
        name="Madri di Quartiere",
        org="terra-e-pace",
        description=(
            "Donne di diverse nazionalità, spesso mamme, che aiutano i vicini nelle difficoltà di ogni "
            "giorno e fanno da ponte tra le persone e i servizi del quartiere. Creano solidarietà e aiuto "
            "reciproco, accompagnano le famiglie in difficoltà, anche con sostegno a casa, e aiutano a "
            "capirsi con i servizi."
        ),
        how=(
            "Chiedi allo sportello sociale della tua Casa del Quartiere di metterti in contatto con le Madri "
            "di Quartiere."
        ),
        needs=("solitudine", "famiglia", "migranti"),
        areas=("Torino",),
        fonte=S003,
        verify=False,
        who=("famiglie in difficoltà", "persone sole", "stranieri"),
        interpretation="Le Madri di Quartiere hanno origini diverse: chiedi se qualcuna parla la tua lingua.",
    ),
    Svc(
        key="carovana-salvacibo",
        name="Carovana Salvacibo",
        org="eco-dalle-citta",
        description=(
            "Recupera il cibo che avanza e lo porta alle reti di solidarietà dei quartieri di Torino. Una "
            "parte diventa «pasti sospesi», offerti nei locali di ristorazione delle Case del Quartiere."
        ),
        how=(
            "Chiedi allo sportello sociale della tua Casa del Quartiere dove trovare il cibo recuperato o un "
            "pasto sospeso."
        ),
        needs=("cibo",),
        areas=("Torino",),
        fonte=S003,
        verify=False,
        who=("persone in difficoltà economica",),
    ),
    # --- seed 000: SOCIALAB (Canavese, Valli di Lanzo)
    *_canavese(),
    Svc(
        key="operatore-comunita-canavese",
        name="Operatore sociale di comunità (Canavese e Valli di Lanzo)",
        org="cm-torino",
        description=(
            "Una persona di riferimento nei paesi di montagna per chi è solo o fragile: anziani, adulti "
            "malati, ragazzi. Ti dà informazioni, ti mette in contatto con i servizi sociali e con "
            "l'infermiere di famiglia e di comunità, a volte aiuta direttamente nelle piccole cose e crea "
            "reti di vicinato e di aiuto reciproco."
        ),
        how=(
            "Chiedi ai servizi sociali del tuo Comune o al consorzio socio-assistenziale della tua zona "
            "(IN.RE.TE. di Ivrea, C.I.S.S. 38 di Cuorgnè, C.I.S.S.-A.C. di Caluso, C.I.S. di Ciriè) se "
            "nel tuo paese c'è l'operatore sociale di comunità."
        ),
        needs=("anziani", "solitudine", "disabilita"),
        areas=NORD_SEATS,
        fonte=S000,
        verify=True,
        who=("anziani", "persone sole", "adulti malati o fragili", "ragazzi e giovani"),
        eligibility="Per chi vive in una delle zone di montagna seguite dai quattro consorzi del progetto.",
        alert=SOCIALAB_ALERT,
    ),
    Svc(
        key="sportello-tutela-ivrea",
        name="Sportello di pubblica tutela al Tribunale di Ivrea",
        org="cm-torino",
        description=(
            "Consigli gratuiti su tutela e amministrazione di sostegno, gli strumenti della legge per "
            "proteggere chi non riesce a occuparsi da solo dei propri interessi. Ti spiegano come avviare "
            "la pratica e come tenere i rapporti con il giudice tutelare del Tribunale di Ivrea. Se sei "
            "già tutore o amministratore di sostegno, ti aiutano a scrivere ricorsi, istanze e rendiconti."
        ),
        how="Chiedi ai servizi sociali del tuo Comune o al Tribunale di Ivrea quando è aperto lo sportello.",
        needs=("tutela_legale", "disabilita", "anziani"),
        areas=NORD_SEATS,
        fonte=S000,
        verify=True,
        who=("familiari di persone fragili", "tutori e amministratori di sostegno"),
        eligibility="Per chi vive nell'area nord della Città metropolitana di Torino.",
        free=True,
        places=(Place("Tribunale di Ivrea", "Lo sportello è al Tribunale di Ivrea."),),
        alert=SOCIALAB_ALERT,
    ),
    Svc(
        key="associazione-fondiaria-usseglio",
        name="Lavoro nei campi con l'Associazione Fondiaria di Usseglio",
        org="asfo-usseglio",
        description=(
            "Coltiva terreni abbandonati di Usseglio e dà lavoro a persone italiane e straniere in "
            "difficoltà economica."
        ),
        how="Chiedi al Comune di Usseglio come contattare l'Associazione Fondiaria.",
        needs=("lavoro", "migranti"),
        areas=("Usseglio",),
        fonte=S000,
        verify=True,
        who=("persone in difficoltà economica", "stranieri"),
    ),
    # --- seed 002: Cuore Solidale (Alte Valli)
    Svc(
        key="trasporto-a-domanda-alte-valli",
        name="Trasporto a domanda nelle Alte Valli",
        org="cm-torino",
        description=(
            "Un trasporto che prenoti quando ti serve, per andare a visite mediche e servizi sociali anche "
            "dai paesi di montagna. Unisce trasporto pubblico e privato."
        ),
        how=(
            "Chiedi ai servizi sociali del tuo Comune se il trasporto a domanda è attivo nella tua valle e "
            "come prenotarlo."
        ),
        needs=("trasporti", "salute", "anziani"),
        areas=ALTA_VALLE_SUSA,
        fonte=S002,
        verify=True,
        who=("anziani", "persone senza auto"),
        alert=CUORE_ALERT,
    ),
    Svc(
        key="farmacie-di-comunita-alte-valli",
        name="Farmacie di comunità nelle Alte Valli",
        org="cm-torino",
        description=(
            "Le farmacie dei paesi di montagna come punto di ascolto: oltre ai farmaci, raccolgono i "
            "bisogni delle persone e aiutano a trovare una risposta."
        ),
        how="Parla con il farmacista del tuo paese.",
        needs=("salute", "anziani"),
        areas=ALTA_VALLE_SUSA,
        fonte=S002,
        verify=True,
        who=("anziani", "tutti"),
        alert=CUORE_ALERT,
    ),
    Svc(
        key="cohousing-anziani-alte-valli",
        name="Cohousing sociale per anziani nelle Alte Valli",
        org="cm-torino",
        description=(
            "Case condivise dove persone anziane vivono insieme, con spazi comuni e aiuto reciproco, per non "
            "restare sole."
        ),
        how="Chiedi ai servizi sociali del tuo Comune se ci sono posti e come fare domanda.",
        needs=("anziani", "casa", "solitudine"),
        areas=ALTA_VALLE_SUSA,
        fonte=S002,
        verify=True,
        who=("anziani",),
        alert=CUORE_ALERT,
    ),
    Svc(
        key="operatore-comunita-alte-valli",
        name="Operatore sociale di comunità e assistente di borgata (Alte Valli)",
        org="cm-torino",
        description=(
            "Aiuto a casa per le persone anziane che vivono in borgate isolate: l'operatore sociale di "
            "comunità e l'assistente di borgata passano, ascoltano e ti collegano con i servizi."
        ),
        how="Chiedi ai servizi sociali del tuo Comune se nella tua borgata c'è questo servizio.",
        needs=("anziani", "solitudine"),
        areas=ALTA_VALLE_SUSA,
        fonte=S002,
        verify=True,
        who=("anziani", "persone sole"),
        alert=CUORE_ALERT,
    ),
    Svc(
        key="centro-famiglie-val-di-susa",
        name="Centro Famiglie diffuso della Val di Susa",
        org="cm-torino",
        description=(
            "Un centro per le famiglie presente in più paesi della Val di Susa, per sostenere genitori e "
            "figli."
        ),
        how="Chiedi ai servizi sociali del tuo Comune dove e quando incontrare il Centro Famiglie.",
        needs=("famiglia",),
        areas=VAL_SUSA,
        fonte=S002,
        verify=True,
        who=("famiglie con figli", "genitori"),
        alert=CUORE_ALERT,
    ),
    Svc(
        key="casa-salute-0-18",
        name="Casa della Salute per bambini e ragazzi (0-18 anni)",
        org="cm-torino",
        description=(
            "Un luogo dedicato alla salute di bambini e ragazzi fino a 18 anni, con prevenzione e "
            "promozione della salute, sul modello francese."
        ),
        how=(
            "Chiedi al pediatra, al medico di famiglia o ai servizi sociali del tuo Comune dove si trova e "
            "come accedere."
        ),
        needs=("salute", "famiglia"),
        areas=VAL_SUSA,
        fonte=S002,
        verify=True,
        who=("bambini e ragazzi", "famiglie con figli"),
        min_age=0,
        max_age=18,
        alert=CUORE_ALERT,
    ),
    Svc(
        key="alfabetizzazione-digitale-alte-valli",
        name="Accompagnamento all'uso del digitale (Alte Valli)",
        org="cm-torino",
        description=(
            "Ti accompagnano a usare telefono, computer e servizi online, per raggiungere più facilmente "
            "i servizi anche dai paesi di montagna."
        ),
        how="Chiedi ai servizi sociali del tuo Comune se ci sono incontri o sportelli nella tua zona.",
        needs=("digitale", "anziani"),
        areas=ALTA_VALLE_SUSA,
        fonte=S002,
        verify=True,
        who=("anziani", "tutti"),
        alert=CUORE_ALERT,
    ),
    # --- seed 004: Consorzio Ovest Solidale
    Svc(
        key="servizi-sociali-ovest-solidale",
        name="Servizi sociali del Consorzio Ovest Solidale",
        org="ovest-solidale",
        description=(
            "Il servizio sociale pubblico per chi vive a Collegno, Grugliasco, Rivoli, Rosta e Villarbasse. "
            "Ascolta e sostiene le persone e le famiglie in difficoltà e promuove progetti con le "
            "associazioni del territorio."
        ),
        how="Telefona a una delle due sedi o vai di persona a Rivoli o a Grugliasco.",
        needs=("casa", "reddito", "cibo", "anziani", "famiglia", "disabilita", "solitudine"),
        areas=OVEST_AREA,
        fonte=S004,
        verify=False,
        who=("persone in difficoltà", "famiglie", "anziani", "persone con disabilità"),
        phones=(
            ("+39 011 9501401", "Sede di Rivoli"),
            ("+39 011 4037121", "Sede di Grugliasco"),
        ),
        places=(
            Place(
                "Consorzio Ovest Solidale – Sede di Rivoli",
                "",
                Addr("Via Nuova Collegiata, 5", "Rivoli", "10098"),
            ),
            Place(
                "Consorzio Ovest Solidale – Sede di Grugliasco",
                "",
                Addr("Via Leonardo Da Vinci, 135", "Grugliasco", "10095"),
            ),
        ),
    ),
    Svc(
        key="spazi-ancore",
        name="Spazi AnCoRe",
        org="ovest-solidale",
        alternate_name="An.Co.Re. – Well Fare Fare Bene",
        description=(
            "Punti di ascolto dove operatori sociali e facilitatori aiutano le persone con più di 65 anni, "
            "le persone fragili e le loro famiglie a orientarsi tra i servizi. Gli spazi sono animati "
            "insieme alle associazioni del territorio."
        ),
        how=(
            "Per sapere dov'è lo Spazio AnCoRe più vicino, telefona all'Area Coesione del Consorzio Ovest "
            "Solidale."
        ),
        needs=("anziani", "solitudine", "disabilita"),
        areas=OVEST_AREA,
        fonte=S004,
        verify=False,
        who=("anziani", "persone fragili", "familiari"),
        eligibility="Per persone con più di 65 anni, persone fragili e le loro famiglie.",
        phones=(OVEST_COESIONE,),
        contact=("Responsabile dell'Area Coesione", "Area Coesione", OVEST_COESIONE[0]),
    ),
    Svc(
        key="solidarieta-alimentare",
        name="Solidarietà Alimentare",
        org="ovest-solidale",
        description=(
            "Progetti contro lo spreco di cibo che aiutano persone e famiglie seguite dal Consorzio e creano "
            "una rete di vicinato. Nascono dalle esperienze «Top Metro Fa Bene» e «Food Pride XL»."
        ),
        how=(
            "Se sei seguito dai servizi sociali del Consorzio Ovest Solidale, chiedi al tuo assistente "
            "sociale; per informazioni telefona all'Area Coesione."
        ),
        needs=("cibo",),
        areas=OVEST_AREA,
        fonte=S004,
        verify=False,
        who=("persone in difficoltà economica", "famiglie"),
        eligibility="Per persone e famiglie seguite dal Consorzio Ovest Solidale.",
        phones=(OVEST_COESIONE,),
    ),
    Svc(
        key="ri-abitare-la-citta",
        name="RI-abitare la città",
        org="ovest-solidale",
        description=(
            "Due mediatori hanno aiutato le famiglie arrivate in due nuove palazzine ATC di Collegno e "
            "Grugliasco a inserirsi: conoscere il quartiere, costruire un buon vicinato, essere ascoltate, "
            "curare insieme gli spazi comuni."
        ),
        how="Chiedi al Consorzio Ovest Solidale se oggi ci sono iniziative simili.",
        needs=("casa", "solitudine"),
        areas=("Collegno", "Grugliasco"),
        fonte=S004,
        verify=True,
        who=("famiglie in casa popolare",),
        status="inactive",
        alert="Progetto sperimentale del 2020 e 2021, oggi concluso.",
        phones=(OVEST_COESIONE,),
    ),
    Svc(
        key="mi-affido-a-te",
        name="Mi affido a te",
        org="ovest-solidale",
        description=(
            "Affido diurno di persone anziane: un cittadino scelto con un colloquio e seguito da operatori "
            "sociali e psicologi si prende cura di una persona anziana durante il giorno. È attivo in "
            "tutti i comuni del Consorzio Ovest Solidale."
        ),
        how="Telefona all'Area Coesione del Consorzio Ovest Solidale o guarda la pagina del progetto.",
        needs=("anziani", "solitudine"),
        areas=OVEST_AREA,
        fonte=S004,
        verify=False,
        who=("anziani soli", "anziani con malattie croniche"),
        min_age=65,
        eligibility=(
            "Per persone con più di 65 anni sole o con pochi aiuti da familiari e amici, anziani con "
            "malattie croniche stabili non seguiti dall'UVG, persone fragili nelle relazioni, nel corpo o "
            "nell'umore che restano senza aiuto dalla famiglia, anche per un periodo."
        ),
        phones=(OVEST_COESIONE,),
        url="https://gruppoarco.org/portfolio/mi-affido-a-te/",
    ),
    Svc(
        key="cittadella-welfare-grugliasco",
        name="Cittadella del Welfare di Grugliasco",
        org="ovest-solidale",
        description=(
            "Un nuovo modo di lavorare insieme tra Consorzio e associazioni di Grugliasco (C46, Auser "
            "Grugliasco, UniTre, cooperativa Gruppo Arco) per dare risposte a chi è in difficoltà economica "
            "e sociale."
        ),
        how="Chiedi al Consorzio Ovest Solidale se la Cittadella è già attiva.",
        needs=("reddito", "solitudine"),
        areas=("Grugliasco",),
        fonte=S004,
        verify=True,
        who=("persone in difficoltà economica",),
        alert="Nel 2022 era in progettazione: verifica che sia già attiva.",
        phones=(OVEST_COESIONE,),
    ),
    # --- seed 001: WE.CA.RE.
    Svc(
        key="facilitatore-wecare-cisa",
        name="Facilitatore di comunità WE.CA.RE. – Rivoli, Rosta, Villarbasse",
        org="cisa-rivoli",
        description=(
            "Un facilitatore, cioè un operatore di comunità, che ti orienta e ti accompagna tra i servizi "
            "pubblici e del volontariato, così non devi rimbalzare da uno sportello all'altro. Fa parte di "
            "una rete di sportelli pubblici e del terzo settore."
        ),
        how="Chiedi ai servizi sociali del tuo Comune se il facilitatore è attivo e come incontrarlo.",
        needs=("casa", "lavoro", "reddito", "famiglia", "anziani", "solitudine"),
        areas=CISA_AREA,
        fonte=S001,
        verify=True,
        who=("persone e famiglie con più problemi insieme",),
        alert="Servizio previsto dal progetto WE.CA.RE. (2017-2020): verifica che sia ancora attivo.",
    ),
    Svc(
        key="facilitatore-wecare-cisap",
        name="Facilitatore di comunità WE.CA.RE. – Collegno e Grugliasco",
        org="cisap",
        description=(
            "Un facilitatore, cioè un operatore di comunità, che ti orienta e ti accompagna tra i servizi "
            "pubblici e del volontariato, così non devi rimbalzare da uno sportello all'altro. Fa parte di "
            "una rete di sportelli pubblici e del terzo settore."
        ),
        how="Chiedi ai servizi sociali del tuo Comune se il facilitatore è attivo e come incontrarlo.",
        needs=("casa", "lavoro", "reddito", "famiglia", "anziani", "solitudine"),
        areas=CISAP_AREA,
        fonte=S001,
        verify=True,
        who=("persone e famiglie con più problemi insieme",),
        alert="Servizio previsto dal progetto WE.CA.RE. (2017-2020): verifica che sia ancora attivo.",
    ),
)

NATIONAL_SERVICES: tuple[Svc, ...] = (
    Svc(
        key="nue-112",
        name="112 – Numero unico di emergenza",
        org="nue112",
        description=(
            "Chiama il 112 quando c'è un pericolo per la vita o la sicurezza: malore grave, incidente, "
            "incendio, violenza, reato in corso. Ti passano subito ambulanza, vigili del fuoco, polizia o "
            "carabinieri."
        ),
        how="Chiama il 112, anche da cellulare senza credito. Di' subito dove sei e che cosa succede.",
        needs=("emergenza", "salute"),
        areas=(WHOLE_METRO,),
        fonte=NATIONAL,
        verify=False,
        who=("tutti",),
        phones=(("112", "Numero unico di emergenza"),),
        free=True,
        always_open=True,
    ),
    Svc(
        key="antiviolenza-1522",
        name="1522 – Numero antiviolenza e stalking",
        org="pari-opportunita",
        description=(
            "Il numero gratuito per chi subisce violenza o stalking: ti ascoltano, ti consigliano e ti "
            "indirizzano al centro antiviolenza più vicino. Puoi chiamare anche per aiutare un'altra persona."
        ),
        how="Chiama il 1522. Se sei in pericolo adesso, chiama il 112.",
        needs=("emergenza", "famiglia", "tutela_legale"),
        areas=(WHOLE_METRO,),
        fonte=NATIONAL,
        verify=False,
        who=("donne", "vittime di violenza o stalking"),
        phones=(("1522", "Numero antiviolenza e stalking"),),
        free=True,
        always_open=True,
        interpretation="Risponde anche in altre lingue.",
    ),
    Svc(
        key="emergenza-infanzia-114",
        name="114 – Emergenza Infanzia",
        org="telefono-azzurro",
        description=(
            "Il numero gratuito da chiamare se un bambino o un ragazzo è in pericolo o in grave difficoltà."
        ),
        how="Chiama il 114. Se c'è un pericolo per la vita, chiama il 112.",
        needs=("emergenza", "famiglia"),
        areas=(WHOLE_METRO,),
        fonte=NATIONAL,
        verify=False,
        who=("bambini e ragazzi", "genitori", "tutti"),
        phones=(("114", "Emergenza Infanzia"),),
        free=True,
        always_open=True,
    ),
    Svc(
        key="telefono-azzurro-19696",
        name="Telefono Azzurro – 19696",
        org="telefono-azzurro",
        description=(
            "Una linea gratuita di ascolto per bambini e ragazzi, e per gli adulti che si occupano di loro."
        ),
        how="Chiama il 19696.",
        needs=("emergenza", "famiglia", "solitudine"),
        areas=(WHOLE_METRO,),
        fonte=NATIONAL,
        verify=False,
        who=("bambini e ragazzi", "genitori"),
        phones=(("19696", "Linea di ascolto di Telefono Azzurro"),),
        free=True,
        always_open=True,
    ),
    Svc(
        key="telefono-amico",
        name="Telefono Amico Italia",
        org="telefono-amico",
        description=(
            "Volontari che ti ascoltano al telefono quando ti senti solo, triste o in difficoltà e vuoi "
            "parlare con qualcuno."
        ),
        how=(
            "Chiama lo 02 2327 2327. Se non risponde nessuno, riprova più tardi. Se sei in pericolo, chiama "
            "il 112."
        ),
        needs=("solitudine", "emergenza"),
        areas=(WHOLE_METRO,),
        fonte=NATIONAL,
        verify=False,
        who=("persone sole", "tutti"),
        phones=(("02 2327 2327", "Telefono Amico Italia"),),
        fees="Costa come una normale telefonata.",
    ),
    Svc(
        key="antitratta-800290290",
        name="Numero Verde Antitratta",
        org="pari-opportunita",
        description=(
            "Il numero verde gratuito per chi è vittima di tratta o di sfruttamento, nel lavoro, nel sesso o "
            "nell'accattonaggio, o conosce qualcuno che lo è."
        ),
        how="Chiama l'800 290 290. Se sei in pericolo adesso, chiama il 112.",
        needs=("migranti", "emergenza", "tutela_legale"),
        areas=(WHOLE_METRO,),
        fonte=NATIONAL,
        verify=False,
        who=("vittime di tratta o sfruttamento", "stranieri"),
        phones=(("800 290 290", "Numero Verde Antitratta"),),
        free=True,
    ),
    Svc(
        key="filo-d-argento",
        name="Filo d'Argento – Auser",
        org="auser",
        description=(
            "Un telefono di compagnia e di aiuto per le persone anziane: i volontari ascoltano, fanno "
            "compagnia al telefono e aiutano nelle piccole cose."
        ),
        how="Chiama il numero verde 800 995 988.",
        needs=("anziani", "solitudine"),
        areas=(WHOLE_METRO,),
        fonte=NATIONAL,
        verify=False,
        who=("anziani", "persone sole"),
        phones=(("800 995 988", "Numero verde del Filo d'Argento"),),
        free=True,
    ),
    Svc(
        key="inps-contact-center",
        name="INPS – informazioni su pensioni, assegni e invalidità",
        org="inps",
        description=(
            "Informazioni su pensioni, assegno unico per i figli, assegno di inclusione, indennità di "
            "disoccupazione, invalidità civile e altri aiuti dell'INPS."
        ),
        how=(
            "Telefona al contact center oppure entra nel sito dell'INPS con SPID o carta d'identità "
            "elettronica. Per fare una domanda puoi farti aiutare gratis da un patronato."
        ),
        needs=("reddito", "famiglia", "anziani", "disabilita"),
        areas=(WHOLE_METRO,),
        fonte=NATIONAL,
        verify=False,
        who=("tutti",),
        phones=(
            ("803 164", "Da telefono fisso, gratuito"),
            ("06 164 164", "Da cellulare, a pagamento secondo il tuo operatore"),
        ),
        url="https://www.inps.it",
    ),
)

PUBLIC_SERVICES: tuple[Svc, ...] = (
    Svc(
        key="servizi-sociali-comune",
        name="Servizi sociali del tuo Comune",
        org="comune",
        description=(
            "Il servizio sociale pubblico del tuo Comune: ti ascolta e ti aiuta quando hai problemi di "
            "soldi, "
            "di casa, di famiglia, di salute o di solitudine. In molti comuni dell'area torinese i servizi "
            "sociali sono gestiti da un consorzio socio-assistenziale: il Comune ti dice a chi rivolgerti. "
            "Puoi chiedere anche se nella tua zona c'è un servizio di trasporto o di accompagnamento."
        ),
        how=(
            "Telefona o vai all'ufficio del tuo Comune e chiedi un colloquio con l'assistente sociale. "
            "Se non sai a chi rivolgerti, chiedi a un operatore di Bussola."
        ),
        needs=(
            "casa",
            "reddito",
            "cibo",
            "anziani",
            "famiglia",
            "disabilita",
            "solitudine",
            "migranti",
            "trasporti",
        ),
        areas=(WHOLE_METRO,),
        fonte=PUBLIC,
        verify=True,
        who=("tutti i residenti",),
    ),
    Svc(
        key="centro-per-l-impiego",
        name="Centro per l'impiego",
        org="agenzia-piemonte-lavoro",
        description=(
            "L'ufficio pubblico che ti aiuta a cercare lavoro: iscrizione come disoccupato, colloqui di "
            "orientamento, offerte di lavoro, corsi e tirocini."
        ),
        how="Vai al Centro per l'impiego della tua zona. Per sapere qual è, chiedi al tuo Comune.",
        needs=("lavoro",),
        areas=(WHOLE_METRO,),
        fonte=PUBLIC,
        verify=True,
        who=("chi cerca lavoro",),
        documents=(
            "Documento d'identità",
            "Codice fiscale o tessera sanitaria",
            "Per i cittadini stranieri: permesso di soggiorno",
        ),
        free=True,
    ),
    Svc(
        key="casa-popolare",
        name="Casa popolare (edilizia sociale)",
        org="atc",
        description=(
            "Alloggi pubblici con un affitto basso per chi ha un reddito basso: si chiedono partecipando al "
            "bando del tuo Comune. Le case sono gestite dall'ATC del Piemonte Centrale."
        ),
        how=(
            "Chiedi all'ufficio casa del tuo Comune quando esce il bando e come fare la domanda. Se "
            "abiti già "
            "in una casa popolare, per i problemi dell'alloggio rivolgiti all'ATC."
        ),
        needs=("casa",),
        areas=(WHOLE_METRO,),
        fonte=PUBLIC,
        verify=True,
        who=("famiglie con reddito basso",),
        documents=("ISEE in corso di validità",),
    ),
    Svc(
        key="accoglienza-notturna-torino",
        name="Accoglienza notturna per chi non ha casa (Torino)",
        org="citta-torino",
        description=(
            "Un posto letto per la notte per chi non ha una casa, nelle case di ospitalità notturna della "
            "Città di Torino."
        ),
        how=(
            "Per sapere dove c'è posto, chiedi ai servizi sociali della Città di Torino o a uno sportello "
            "sociale delle Case del Quartiere. Se sei in pericolo, chiama il 112."
        ),
        needs=("casa", "emergenza"),
        areas=("Torino",),
        fonte=PUBLIC,
        verify=True,
        who=("persone senza dimora",),
    ),
    Svc(
        key="isee-caf",
        name="ISEE gratuito al CAF",
        org="caf-patronati",
        description=(
            "Il CAF ti aiuta gratis a fare l'ISEE, il documento che misura la situazione economica della "
            "famiglia e serve per assegni, bonus e sconti. Puoi farlo anche da solo sul sito dell'INPS."
        ),
        how="Prendi appuntamento in un CAF vicino a casa e porta i documenti di tutta la famiglia.",
        needs=("reddito",),
        areas=(WHOLE_METRO,),
        fonte=PUBLIC,
        verify=True,
        who=("tutti",),
        documents=(
            "Documento d'identità e codice fiscale di chi fa la domanda",
            "Codice fiscale di tutti i familiari",
            "Contratto d'affitto, se sei in affitto",
            "Redditi di due anni prima",
            "Saldo e giacenza media di conti e libretti",
        ),
        free=True,
    ),
    Svc(
        key="patronato",
        name="Patronato: aiuto per le domande all'INPS",
        org="caf-patronati",
        description=(
            "Il patronato ti aiuta a fare le domande all'INPS e agli altri enti: pensione, invalidità "
            "civile, "
            "assegno unico, disoccupazione, assegno di inclusione, e spesso anche le pratiche per stranieri."
        ),
        how="Vai a un patronato vicino a casa: chiedi al tuo Comune o a un operatore di Bussola quale.",
        needs=("reddito", "anziani", "disabilita", "migranti"),
        areas=(WHOLE_METRO,),
        fonte=PUBLIC,
        verify=True,
        who=("tutti",),
        fees="Per le domande all'INPS di solito è gratis.",
    ),
    Svc(
        key="medico-di-famiglia",
        name="Scegliere il medico di famiglia o il pediatra",
        org="asl",
        description=(
            "All'ASL scegli il medico di famiglia, o il pediatra per i bambini, e ricevi la tessera "
            "sanitaria. Le visite dal medico di famiglia sono gratuite."
        ),
        how=(
            "Vai all'ufficio scelta e revoca del tuo distretto ASL; in molti casi puoi farlo anche online "
            "con SPID."
        ),
        needs=("salute", "migranti"),
        areas=(WHOLE_METRO,),
        fonte=PUBLIC,
        verify=True,
        who=("tutti i residenti",),
        documents=(
            "Documento d'identità",
            "Codice fiscale o tessera sanitaria",
            "Per i cittadini stranieri: permesso di soggiorno",
        ),
    ),
    Svc(
        key="cure-stp",
        name="Cure per stranieri senza permesso di soggiorno (codice STP)",
        org="asl",
        description=(
            "Se sei straniero e non hai il permesso di soggiorno, puoi avere le cure urgenti ed essenziali "
            "con il codice STP, che ti dà l'ASL. Farsi curare non comporta, di regola, una segnalazione "
            "alla polizia."
        ),
        how=(
            "Chiedi all'ASL della tua zona o al pronto soccorso; per orientarti chiedi a un operatore di "
            "Bussola."
        ),
        needs=("salute", "migranti"),
        areas=(WHOLE_METRO,),
        fonte=PUBLIC,
        verify=True,
        who=("stranieri senza permesso di soggiorno",),
    ),
    Svc(
        key="consultorio-familiare",
        name="Consultorio familiare",
        org="asl",
        description=(
            "Il consultorio dell'ASL aiuta donne, coppie, famiglie e ragazzi: gravidanza, contraccezione, "
            "salute della donna, sostegno ai genitori e aiuto psicologico. Ci vai senza impegnativa del "
            "medico."
        ),
        how="Chiedi al tuo medico di famiglia o all'ASL qual è il consultorio della tua zona.",
        needs=("famiglia", "salute"),
        areas=(WHOLE_METRO,),
        fonte=PUBLIC,
        verify=True,
        who=("donne", "coppie", "famiglie con figli", "ragazzi e giovani"),
    ),
    Svc(
        key="uvg-anziani",
        name="Valutazione per anziani non autosufficienti (UVG)",
        org="asl",
        description=(
            "L'Unità di Valutazione Geriatrica dell'ASL valuta i bisogni di una persona anziana che non è "
            "più autosufficiente e propone gli aiuti: assistenza a casa, centro diurno, posto in una "
            "struttura."
        ),
        how="La domanda si fa tramite il medico di famiglia o i servizi sociali del tuo Comune.",
        needs=("anziani", "salute"),
        areas=(WHOLE_METRO,),
        fonte=PUBLIC,
        verify=True,
        who=("anziani non autosufficienti", "familiari"),
        min_age=65,
    ),
    Svc(
        key="invalidita-civile",
        name="Invalidità civile e legge 104",
        org="inps",
        description=(
            "Il riconoscimento dell'invalidità civile e dell'handicap (legge 104) dà diritto ad aiuti "
            "economici, permessi dal lavoro e agevolazioni. Prima il medico di famiglia manda all'INPS il "
            "certificato medico, poi si fa la domanda e si va a visita."
        ),
        how="Parla con il tuo medico di famiglia; per la domanda fatti aiutare gratis da un patronato.",
        needs=("disabilita", "reddito"),
        areas=(WHOLE_METRO,),
        fonte=PUBLIC,
        verify=True,
        who=("persone con disabilità o malattie gravi", "familiari"),
        documents=("Certificato medico introduttivo, fatto dal medico di famiglia",),
    ),
    Svc(
        key="contrassegno-disabili",
        name="Contrassegno di parcheggio per persone con disabilità",
        org="comune",
        description=(
            "Il contrassegno permette all'auto che trasporta una persona con gravi difficoltà a camminare "
            "di usare i parcheggi riservati."
        ),
        how="Si chiede al tuo Comune, di solito alla Polizia locale, con un certificato dell'ASL.",
        needs=("trasporti", "disabilita"),
        areas=(WHOLE_METRO,),
        fonte=PUBLIC,
        verify=True,
        who=("persone con disabilità",),
    ),
    Svc(
        key="amministratore-di-sostegno",
        name="Amministratore di sostegno",
        org="tribunale",
        description=(
            "Se una persona non riesce più a occuparsi dei suoi interessi per malattia, disabilità o età, il "
            "giudice tutelare può nominare un amministratore di sostegno, spesso un familiare."
        ),
        how=(
            "Il ricorso si presenta al Tribunale della zona dove vive la persona e non serve un avvocato. "
            "Chiedi aiuto ai servizi sociali del tuo Comune per compilarlo."
        ),
        needs=("tutela_legale", "anziani", "disabilita"),
        areas=(WHOLE_METRO,),
        fonte=PUBLIC,
        verify=True,
        who=("familiari di persone fragili",),
    ),
    Svc(
        key="patrocinio-gratuito",
        name="Avvocato gratuito (patrocinio a spese dello Stato)",
        org="ordine-avvocati",
        description=(
            "Se hai un reddito basso, lo Stato paga l'avvocato per te in una causa civile o penale."
        ),
        how=(
            "Per le cause civili la domanda si presenta al Consiglio dell'Ordine degli Avvocati, e puoi "
            "scegliere un avvocato dal suo elenco. Per le cause penali la domanda va al giudice."
        ),
        needs=("tutela_legale",),
        areas=(WHOLE_METRO,),
        fonte=PUBLIC,
        verify=True,
        who=("persone con reddito basso",),
        documents=("Documento d'identità", "Autocertificazione dei redditi"),
        free=True,
    ),
    Svc(
        key="sportello-unico-immigrazione",
        name="Sportello Unico per l'Immigrazione (Prefettura di Torino)",
        org="prefettura",
        description=(
            "Si occupa di ricongiungimento familiare, nulla osta al lavoro per cittadini stranieri e "
            "pratiche di cittadinanza."
        ),
        how=(
            "Molte domande si fanno online. Per farti aiutare gratis, chiedi a un patronato o allo sportello "
            "sociale della tua zona."
        ),
        needs=("migranti",),
        areas=(WHOLE_METRO,),
        fonte=PUBLIC,
        verify=True,
        who=("stranieri",),
    ),
    Svc(
        key="permesso-di-soggiorno",
        name="Permesso di soggiorno (Questura di Torino)",
        org="questura",
        description=(
            "Il permesso di soggiorno si chiede e si rinnova alla Questura. Per molti tipi di permesso la "
            "domanda si spedisce con il kit che trovi negli uffici postali abilitati."
        ),
        how="Prendi il kit all'ufficio postale e fatti aiutare gratis da un patronato a compilarlo.",
        needs=("migranti",),
        areas=(WHOLE_METRO,),
        fonte=PUBLIC,
        verify=True,
        who=("stranieri",),
        documents=(
            "Passaporto o documento equivalente",
            "Per il rinnovo: il permesso di soggiorno in scadenza",
        ),
    ),
    Svc(
        key="anagrafe-cie",
        name="Residenza e carta d'identità elettronica (Anagrafe)",
        org="comune",
        description=(
            "All'anagrafe del tuo Comune chiedi la residenza e la carta d'identità elettronica (CIE), che "
            "serve anche per entrare nei servizi online."
        ),
        how="Di solito serve un appuntamento: chiedi al tuo Comune come prenotarlo.",
        needs=("digitale", "migranti"),
        areas=(WHOLE_METRO,),
        fonte=PUBLIC,
        verify=True,
        who=("tutti i residenti",),
        documents=(
            "Una fototessera recente",
            "Il vecchio documento, o la denuncia se l'hai perso",
            "Codice fiscale o tessera sanitaria",
        ),
        fees="La carta d'identità elettronica si paga: chiedi al tuo Comune quanto costa.",
    ),
    Svc(
        key="spid-poste",
        name="SPID all'ufficio postale",
        org="poste",
        description=(
            "Lo SPID è l'identità digitale per entrare nei siti dei servizi pubblici, come INPS, Comune e "
            "sanità. Puoi ottenerlo anche all'ufficio postale (PosteID)."
        ),
        how="Vai all'ufficio postale con i documenti, il tuo telefono cellulare e un indirizzo email.",
        needs=("digitale",),
        areas=(WHOLE_METRO,),
        fonte=PUBLIC,
        verify=True,
        who=("tutti",),
        documents=(
            "Documento d'identità valido",
            "Tessera sanitaria",
            "Telefono cellulare",
            "Indirizzo email",
        ),
    ),
    Svc(
        key="caritas-centri-ascolto",
        name="Centri di ascolto Caritas",
        org="caritas",
        description=(
            "I centri di ascolto Caritas accolgono chi è in difficoltà: ascolto, aiuto con cibo e vestiti, "
            "orientamento ai servizi."
        ),
        how="Chiedi nella parrocchia più vicina dov'è il centro di ascolto Caritas della tua zona.",
        needs=("cibo", "reddito", "solitudine"),
        areas=(WHOLE_METRO,),
        fonte=PUBLIC,
        verify=True,
        who=("persone in difficoltà economica", "tutti"),
    ),
)

SERVICES: tuple[Svc, ...] = SEED_SERVICES + NATIONAL_SERVICES + PUBLIC_SERVICES


# ---------------------------------------------------------------------------------------------------------
# JSON generation


def uid(kind: str, key: str) -> str:
    """The stable UUID of one record, from its kind and a readable key."""
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{key}"))


def _prune(obj: dict[str, Any]) -> dict[str, Any]:
    """Drop empty optional scalars; arrays stay (even empty) so every service has the same shape."""
    return {k: v for k, v in obj.items() if v is not None and v != ""}


def taxonomies() -> list[dict[str, Any]]:
    return [
        {
            "id": uid("taxonomy", NEEDS_TAXONOMY),
            "name": NEEDS_TAXONOMY,
            "description": (
                "I bisogni dei cittadini che Bussola riconosce: i codici sono gli intenti del modello NLU."
            ),
            "version": "1",
        },
        {
            "id": uid("taxonomy", META_TAXONOMY),
            "name": META_TAXONOMY,
            "description": "Informazioni sulla scheda: fonte, da verificare, quartieri serviti, destinatari.",
            "version": "1",
        },
    ]


def _term(taxonomy: str, code: str, name: str, description: str) -> dict[str, Any]:
    return {
        "id": uid("term", f"{taxonomy}:{code}"),
        "code": code,
        "name": name,
        "description": description,
        "taxonomy": taxonomy,
        "taxonomy_id": uid("taxonomy", taxonomy),
        "language": "it",
    }


def taxonomy_terms() -> list[dict[str, Any]]:
    terms = [_term(NEEDS_TAXONOMY, code, *NEED_TERMS[code]) for code in NEED_INTENTS]
    terms += [_term(META_TAXONOMY, code, *text) for code, text in META_TERMS.items()]
    return terms


def _terms_by_code() -> dict[tuple[str, str], dict[str, Any]]:
    return {(t["taxonomy"], t["code"]): t for t in taxonomy_terms()}


def _attribute(owner_kind: str, owner_id: str, term: dict[str, Any], value: str, n: int) -> dict[str, Any]:
    return {
        "id": uid("attribute", f"{owner_id}:{term['code']}:{n}"),
        "link_id": owner_id,
        "taxonomy_term_id": term["id"],
        "link_type": owner_kind,
        "link_entity": owner_kind,
        "value": value,
        "taxonomy_term": term,
    }


def organization(org: Org) -> dict[str, Any]:
    oid = uid("organization", org.key)
    fonte = _terms_by_code()[(META_TAXONOMY, "fonte")]
    return _prune(
        {
            "id": oid,
            "name": org.name,
            "alternate_name": org.alternate_name,
            "description": org.description,
            "email": org.email,
            "website": org.website,
            "tax_id": org.tax_id,
            "attributes": [_attribute("organization", oid, fonte, org.fonte, 0)],
        }
    )


def organizations() -> list[dict[str, Any]]:
    used = {s.org for s in SERVICES}
    return [organization(o) for o in ORGS if o.key in used]


def _area(sid: str, name: str) -> dict[str, Any]:
    if name == WHOLE_METRO:
        return {
            "id": uid("service_area", f"{sid}:{WHOLE_METRO}"),
            "service_id": sid,
            "name": WHOLE_METRO_NAME,
            "description": f"ISTAT:{WHOLE_METRO}",
        }
    comune = find_comune(name)
    if comune is None or comune.name != name:
        raise ValueError(f"not an official comune name of the Città metropolitana: {name!r}")
    return {
        "id": uid("service_area", f"{sid}:{comune.istat}"),
        "service_id": sid,
        "name": comune.name,
        "description": f"ISTAT:{comune.istat}",
    }


def _phone(sid: str, n: int, number: str, description: str) -> dict[str, Any]:
    return {
        "id": uid("phone", f"{sid}:{n}"),
        "service_id": sid,
        "number": number,
        "type": "voice",
        "description": description,
    }


def _place(s: Svc, sid: str, oid: str, n: int, place: Place) -> dict[str, Any]:
    lid = uid("location", f"{s.key}:{n}")
    location: dict[str, Any] = _prune(
        {
            "id": lid,
            "location_type": "physical",
            "organization_id": oid,
            "name": place.name,
            "description": place.description,
        }
    )
    location["addresses"] = []
    if place.address is not None:
        location["addresses"].append(
            {
                "id": uid("address", f"{s.key}:{n}"),
                "location_id": lid,
                "address_1": place.address.street,
                "city": place.address.city,
                "region": "Piemonte",
                "state_province": "TO",
                "postal_code": place.address.postal_code,
                "country": "IT",
                "address_type": "physical",
            }
        )
    return {
        "id": uid("service_at_location", f"{s.key}:{n}"),
        "service_id": sid,
        "location_id": lid,
        "location": location,
    }


def service(s: Svc, orgs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    sid = uid("service", s.key)
    org = orgs[s.org]
    terms = _terms_by_code()
    for code in s.needs:
        if code not in NEED_INTENTS:
            raise ValueError(f"{s.key}: unknown need {code!r}")
    known_quartieri = {q.name for q in QUARTIERI}
    for q in s.quartieri:
        if q not in known_quartieri:
            raise ValueError(f"{s.key}: unknown Turin neighbourhood {q!r}")

    attributes: list[dict[str, Any]] = []
    for code in s.needs:
        attributes.append(_attribute("service", sid, terms[(NEEDS_TAXONOMY, code)], code, 0))
    meta: list[tuple[str, str]] = [("fonte", s.fonte), ("da_verificare", "true" if s.verify else "false")]
    meta += [("quartiere", q) for q in dict.fromkeys(s.quartieri)]
    meta += [("destinatari", w) for w in s.who]
    counts: dict[str, int] = {}
    for code, value in meta:
        n = counts[code] = counts.get(code, -1) + 1
        attributes.append(_attribute("service", sid, terms[(META_TAXONOMY, code)], value, n))

    contacts: list[dict[str, Any]] = []
    if s.contact is not None:
        title, department, number = s.contact
        cid = uid("contact", s.key)
        contacts.append(
            {
                "id": cid,
                "service_id": sid,
                "title": title,
                "department": department,
                "phones": [
                    {
                        "id": uid("phone", f"{sid}:contact"),
                        "contact_id": cid,
                        "number": number,
                        "type": "voice",
                    }
                ],
            }
        )

    schedules: list[dict[str, Any]] = []
    if s.always_open:
        schedules.append(
            {
                "id": uid("schedule", s.key),
                "service_id": sid,
                "freq": "WEEKLY",
                "byday": ALL_DAYS,
                "description": "24 ore su 24",
            }
        )

    cost_options: list[dict[str, Any]] = []
    if s.free:
        cost_options.append(
            {"id": uid("cost_option", s.key), "service_id": sid, "amount": 0, "currency": "EUR"}
        )

    record: dict[str, Any] = _prune(
        {
            "id": sid,
            "organization_id": org["id"],
            "name": s.name,
            "alternate_name": s.alternate_name,
            "description": s.description,
            "url": s.url,
            "status": s.status,
            "interpretation_services": s.interpretation,
            "application_process": s.how,
            "fees_description": s.fees,
            "eligibility_description": s.eligibility,
            "minimum_age": s.min_age,
            "maximum_age": s.max_age,
            "alert": s.alert,
            "last_modified": LAST_MODIFIED,
        }
    )
    record.update(
        {
            "phones": [_phone(sid, n, number, text) for n, (number, text) in enumerate(s.phones)],
            "schedules": schedules,
            "service_areas": [_area(sid, a) for a in dict.fromkeys(s.areas)],
            "service_at_locations": [_place(s, sid, org["id"], n, p) for n, p in enumerate(s.places)],
            "languages": [
                {"id": uid("language", s.key), "service_id": sid, "name": "Italiano", "code": "it"}
            ],
            "organization": org,
            "cost_options": cost_options,
            "required_documents": [
                {"id": uid("required_document", f"{s.key}:{n}"), "service_id": sid, "document": d}
                for n, d in enumerate(s.documents)
            ],
            "contacts": contacts,
            "attributes": attributes,
        }
    )
    return record


def services() -> list[dict[str, Any]]:
    orgs = {o.key: organization(o) for o in ORGS}
    return [service(s, orgs) for s in SERVICES]


def meta() -> dict[str, Any]:
    return {"data_as_of": DATA_AS_OF, "sources": dict(SOURCES)}


def build() -> dict[str, Any]:
    """Every data file of the catalogue, by file name, as Python objects."""
    return {
        "services.json": services(),
        "organizations.json": organizations(),
        "taxonomies.json": taxonomies(),
        "taxonomy_terms.json": taxonomy_terms(),
        "meta.json": meta(),
    }


def render(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=1) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the embedded HSDS 3.0 catalogue of Bussola.")
    parser.add_argument("--check", action="store_true", help="only compare with the committed files")
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)
    stale = []
    for name, obj in build().items():
        path = args.out / name
        text = render(obj)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if stale:
        print("stale catalogue files: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
