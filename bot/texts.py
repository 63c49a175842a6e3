"""Every sentence Bussola says to a citizen, in one place, in plain and warm Italian.

Why one module: the copy is reviewed by social workers, not programmers; keeping it apart from the
dialogue logic lets them read (and change) all of it at once, and keeps channels free of wording.
Rules for the copy: short sentences, "tu", no jargon, no English, never echo what the person wrote.
"""

from __future__ import annotations

from collections.abc import Sequence

# --- needs -------------------------------------------------------------------------------------

NEED_LABELS: dict[str, str] = {
    "casa": "Casa",
    "lavoro": "Lavoro",
    "reddito": "Soldi e sussidi",
    "cibo": "Cibo e spesa",
    "salute": "Salute e cure",
    "anziani": "Persone anziane",
    "famiglia": "Famiglia e figli",
    "disabilita": "Disabilità",
    "tutela_legale": "Tutela e diritti",
    "digitale": "Internet e pratiche online",
    "solitudine": "Compagnia e ascolto",
    "migranti": "Stranieri e permessi",
    "trasporti": "Trasporti",
    "emergenza": "Emergenza",
}

# "servizi per ..." — the need as the object of a sentence.
NEED_PHRASES: dict[str, str] = {
    "casa": "la casa",
    "lavoro": "il lavoro",
    "reddito": "un aiuto economico",
    "cibo": "il cibo e la spesa",
    "salute": "la salute",
    "anziani": "le persone anziane",
    "famiglia": "la famiglia e i figli",
    "disabilita": "la disabilità",
    "tutela_legale": "la tutela e i diritti",
    "digitale": "internet e le pratiche online",
    "solitudine": "la compagnia e l'ascolto",
    "migranti": "le persone straniere",
    "trasporti": "i trasporti",
    "emergenza": "l'emergenza",
}


def join_words(items: Sequence[str]) -> str:
    """Italian enumeration: "a", "a e b", "a, b e c"."""
    items = [i for i in items if i]
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " e " + items[-1]


def needs_phrase(needs: Sequence[str]) -> str:
    return join_words([NEED_PHRASES.get(n, n) for n in needs])


def needs_labels(needs: Sequence[str]) -> str:
    return join_words([NEED_LABELS.get(n, n).lower() for n in needs])


# --- button titles -----------------------------------------------------------------------------

BTN_FOR_ME = "Cerco aiuto per me"
BTN_FOR_OTHER = "Sto aiutando un'altra persona"
BTN_PERSON = "Vorrei parlare con una persona"
BTN_MORE_SERVICES = "Altri servizi"
BTN_SOMETHING_ELSE = "Mi serve altro"
BTN_HANDOFF_YES = "Sì, va bene"
BTN_HANDOFF_NO = "No, grazie"
BTN_EMERGENCY_YES = "Sì, avvisa una persona"
BTN_TORINO = "Torino"
BTN_SKIP_PLACE = "Preferisco non dirlo"
BTN_DONT_KNOW = "Non lo so"
BTN_DEST_ME = "Per me"
BTN_DEST_OTHER = "Per un'altra persona"
BTN_USEFUL_YES = "Sì, grazie"
BTN_USEFUL_NO = "No"
BTN_DELETE_YES = "Sì, cancella tutto"
BTN_DELETE_NO = "No, tienili"
BTN_SEARCH_AGAIN = "Cerca altri servizi"

# --- welcome and privacy -----------------------------------------------------------------------

WELCOME = (
    "Ciao, sono Bussola. Ti aiuto a trovare i servizi sociali della Città metropolitana di Torino: "
    "casa, lavoro, soldi, cibo, salute, famiglia e altro. Se serve, ti metto in contatto con una persona."
)
WELCOME_SHORT = "Ciao, sono Bussola: ti aiuto a trovare i servizi sociali vicino a te."
WELCOME_ASK = "Scrivimi con parole tue di cosa hai bisogno, oppure scegli qui sotto."


def duration(days: int) -> str:
    """30 -> "30 giorni", 365 -> "12 mesi", 730 -> "24 mesi"."""
    if days >= 365 and days % 365 == 0:
        return f"{days // 365 * 12} mesi"
    if days == 1:
        return "1 giorno"
    return f"{days} giorni"


PRIVACY_FIRST = "Prima di iniziare, sulla privacy:"  # before the notice, the first time
PRIVACY_AGAIN = "Sulla privacy:"  # before the notice, when asked for it


def privacy_notice(*, keep_days: int, closed_days: int, url: str) -> str:
    """The short notice shown before any personal data: what is kept, how long, who reads it."""
    return (
        f"conservo questa conversazione per {duration(keep_days)}. "
        "Se ti metto in contatto con un operatore o un'operatrice, solo lui o lei la legge, "
        f"e la conservo per {duration(closed_days)} dopo la chiusura. "
        "Non scrivere dati che non servono. Puoi cancellare tutto quando vuoi. "
        f"Informativa completa: {url}"
    )


# --- menu and need -----------------------------------------------------------------------------

ASK_NEED_SELF = "Va bene. Scrivimi con parole tue di cosa hai bisogno, oppure scegli un argomento:"
ASK_NEED_OTHER = (
    "Grazie perché aiuti un'altra persona. Scrivimi di cosa ha bisogno la persona che aiuti, "
    "oppure scegli un argomento:"
)
ASK_NEED_MORE = "Certo. Di cos'altro hai bisogno? Scrivimelo con parole tue, oppure scegli:"
ASK_NEED_MORE_OTHER = (
    "Certo. Di cos'altro ha bisogno la persona che aiuti? Scrivimelo con parole tue, oppure scegli:"
)

# --- questions ---------------------------------------------------------------------------------

ASK_COMUNE_SELF = "In quale comune vivi? Se sei a Torino, dimmi anche il quartiere."
ASK_COMUNE_OTHER = "In quale comune vive la persona che aiuti? Se è Torino, dimmi anche il quartiere."
COMUNE_NOT_FOUND = (
    "Non trovo questo comune tra quelli della Città metropolitana di Torino. "
    "Puoi scrivermi solo il nome del comune?"
)
ASK_DESTINATARIO = "L'aiuto che cerchi è per te o per un'altra persona?"
ASK_QUARTIERE_SELF = "In quale quartiere di Torino? Per esempio: Barriera di Milano, San Salvario, Mirafiori."
ASK_QUARTIERE_OTHER = (
    "In quale quartiere di Torino vive la persona che aiuti? Per esempio: Barriera di Milano, San Salvario."
)


def place_noted(place: str) -> str:
    return f"Grazie, ho segnato: {place}. Di cosa hai bisogno? Scrivimelo con parole tue."


# --- suggestions -------------------------------------------------------------------------------


def place_phrase(comune: str | None, quartiere: str | None) -> str:
    if quartiere and comune:
        return f"a {comune}, zona {quartiere}"
    if comune:
        return f"nella zona di {comune}"
    return ""


def services_intro(needs: Sequence[str], place: str, *, on_behalf: bool, more: bool) -> str:
    what = needs_phrase(needs)
    where = f", {place}" if place else ""
    some = "altri" if more else "alcuni"
    if on_behalf:
        return f"Per la persona che aiuti, ecco {some} servizi per {what}{where}:"
    return f"Ecco {some} servizi per {what}{where}:"


SERVICES_OUTRO = "Vuoi vedere altri servizi, ti serve altro o preferisci parlare con una persona?"
CARD_WHO = "Per chi"
CARD_HOW = "Come fare"
CARD_PHONE = "Telefono"
CARD_HOURS = "Orari"
CARD_ADDRESS = "Indirizzo"
CARD_EMAIL = "Email"
CARD_WEB = "Sito"
CARD_TO_VERIFY = "Prima di andare, telefona per controllare che le informazioni siano aggiornate."


def no_services(needs: Sequence[str], place: str) -> str:
    where = f" {place}" if place else ""
    return f"Mi dispiace, non ho trovato servizi per {needs_phrase(needs)}{where}."


def no_more_services(needs: Sequence[str]) -> str:
    return f"Non ho altri servizi da proporti per {needs_phrase(needs)}."


CATALOG_DOWN = "In questo momento non riesco a consultare l'elenco dei servizi."
NEED_FIRST = "Dimmi prima di cosa hai bisogno: scrivimelo con parole tue, oppure scegli un argomento:"

# --- handoff -----------------------------------------------------------------------------------

_CONSENT = "Se dici sì, un operatore o un'operatrice leggerà questa conversazione e ti risponderà qui."


def handoff_offer(reason: str, needs: Sequence[str], place: str) -> str:
    if reason == "complesso":
        lead = (
            f"Mi hai parlato di più cose: {needs_phrase(needs)}. Una persona può aiutarti a metterle insieme."
        )
    elif reason == "non_compreso":
        lead = "Scusa, non riesco a capire bene. Posso metterti in contatto con una persona."
    elif reason == "nessun_servizio":
        lead = "Una persona può cercare con te un'altra strada."
    elif reason == "insoddisfatto":
        lead = "Mi dispiace che non ti sia servito. Posso metterti in contatto con una persona."
    elif reason == "emergenza":
        lead = "Posso anche avvisare subito una persona di Bussola, che ti scriverà qui."
    else:  # richiesta
        lead = "Certo, posso metterti in contatto con una persona."
    return f"{lead} {_CONSENT} Vuoi?"


HANDOFF_DECLINED = "Va bene. Se cambi idea, scrivi «operatore» oppure tocca «Vorrei parlare con una persona»."
HANDOFF_DECLINED_EMERGENCY = (
    "Va bene. Ricorda: se sei in pericolo, chiama subito il 112. Io sono qui se vuoi scrivermi."
)
HANDOFF_DECLINED_EMERGENCY_GO_ON = (
    "Va bene. Ricorda: se sei in pericolo, chiama subito il 112. Intanto ti aiuto con il resto."
)


def queue_line(position: int) -> str:
    ahead = max(position - 1, 0)
    if ahead == 0:
        return "Non c'è nessuno prima di te."
    if ahead == 1:
        return "Prima di te c'è 1 persona."
    return f"Prima di te ci sono {ahead} persone."


def handoff_created(position: int, *, urgent: bool) -> str:
    parts = ["Fatto: ho passato la tua richiesta a un operatore."]
    if urgent:
        parts.append("L'ho segnata come urgente.")
    if position:
        parts.append(queue_line(position))
    parts.append("Ti scriverà qui appena possibile. Intanto puoi continuare a scrivermi: leggerà tutto.")
    if urgent:
        parts.append("Se sei in pericolo adesso, chiama subito il 112.")
    return " ".join(parts)


def handoff_already(position: int) -> str:
    if position:
        return f"Sei già in coda per parlare con una persona. {queue_line(position)} Ti scriverà qui."
    return "Un operatore sta già seguendo la tua richiesta: ti scriverà qui."


HANDOFF_URGENT_UPGRADE = (
    "Ho avvisato l'operatore che è urgente. Se sei in pericolo adesso, chiama subito il 112."
)

# --- emergency ---------------------------------------------------------------------------------

EMERGENCY_CONTACTS: tuple[tuple[str, str, str, str], ...] = (
    # (name, phone as dialled, tel: URI, what it is for)
    ("Numero unico di emergenza", "112", "tel:112", "polizia, ambulanza, vigili del fuoco"),
    ("Antiviolenza e stalking", "1522", "tel:1522", "gratis, 24 ore su 24, anche in altre lingue"),
    ("Emergenza infanzia", "114", "tel:114", "bambini e ragazzi in pericolo"),
    ("Telefono Amico", "02 2327 2327", "tel:+390223272327", "qualcuno che ti ascolta, se stai male"),
)


def emergency_text() -> str:
    lines = ["Se tu o qualcuno siete in pericolo adesso, chiama subito:"]
    lines += [f"{phone}: {name} ({what})" for name, phone, _tel, what in EMERGENCY_CONTACTS]
    return "\n".join(lines)


# --- conversation ------------------------------------------------------------------------------

GREETING = "Ciao! Dimmi pure di cosa hai bisogno, con parole tue."
THANKS = "Grazie a te! Se ti serve ancora qualcosa, scrivimi quando vuoi. A presto."
HELP = (
    "Sono Bussola, un assistente automatico: non sono una persona. "
    "Ti aiuto a trovare i servizi sociali della Città metropolitana di Torino: casa, lavoro, soldi, "
    "cibo, salute, famiglia e altro. Scrivimi con parole tue di cosa hai bisogno, per esempio "
    "«cerco lavoro a Rivoli». Se vuoi, ti metto in contatto con una persona."
)
OFF_TOPIC = (
    "Su questo non posso aiutarti: mi occupo di servizi sociali e di aiuto nella vita di tutti i giorni, "
    "come casa, lavoro, soldi, cibo, salute e famiglia. Di cosa hai bisogno?"
)
NOT_UNDERSTOOD = (
    "Scusa, non ho capito bene. Puoi dirmelo con altre parole? Per esempio: «cerco casa a Collegno» "
    "oppure «non riesco a pagare le bollette». Oppure scegli un argomento:"
)
OK_NEUTRAL = "Va bene. Se ti serve qualcosa, dimmelo pure con parole tue."
GLAD = "Bene! Se ti serve altro, scrivimi pure."
EMPTY = "Non ho ricevuto nessun testo. Scrivimi pure di cosa hai bisogno, con parole tue."
TOO_LONG = (
    "Il messaggio è molto lungo e non riesco a leggerlo tutto. Puoi scrivermi in poche righe di cosa "
    "hai bisogno? Se preferisci, ti metto in contatto con una persona."
)
EMOJI_ONLY = (
    "Vedo solo simboli o emoji. Scrivimi con qualche parola di cosa hai bisogno, oppure scegli qui sotto."
)
FOREIGN = (
    "Per ora capisco solo l'italiano. Prova a scrivermi in italiano, anche con parole semplici. "
    "Se preferisci, ti metto in contatto con una persona."
)
STALE_BUTTON = "Questo pulsante non è più attivo. Dimmi pure di cosa hai bisogno, oppure scegli qui sotto."
DEGRADED = (
    "In questo momento faccio fatica a capire i messaggi scritti. Il tuo messaggio non è andato perso. "
    "Scegli un argomento qui sotto, oppure chiedi di parlare con una persona."
)
ERROR = "Scusa, qualcosa non ha funzionato. Il tuo messaggio è salvato: riprova tra poco."

NON_TEXT: dict[str, str] = {
    "voice": "Non riesco ad ascoltare i vocali: scrivimi, oppure ti metto in contatto con una persona.",
    "photo": "Non riesco a guardare le foto: scrivimi, oppure ti metto in contatto con una persona.",
    "document": "Non riesco ad aprire i documenti: scrivimi, oppure ti metto in contatto con una persona.",
    "sticker": "Non riesco a capire gli sticker: scrivimi con parole tue di cosa hai bisogno.",
    "other": "Non riesco a leggere questo tipo di messaggio: scrivimi con parole tue di cosa hai bisogno.",
}
LOCATION_NOTED = "Grazie, ho la tua posizione. Di cosa hai bisogno? Scrivimelo con parole tue, oppure scegli:"

# --- after a facilitator -----------------------------------------------------------------------

FEEDBACK_ASK = "La conversazione con l'operatore è finita. Ti è stato utile?"
FEEDBACK_YES = "Ne sono felice. Se ti serve ancora qualcosa, scrivimi quando vuoi."

# --- privacy commands --------------------------------------------------------------------------

DELETE_CONFIRM = (
    "Vuoi cancellare questa conversazione e i tuoi dati? Non si potrà tornare indietro. "
    "Se un operatore ti sta seguendo, vedrà solo che hai cancellato i dati."
)
DELETE_DONE = (
    "Fatto: ho cancellato la conversazione e i tuoi dati. Se mi scrivi di nuovo, ricominciamo da capo."
)
DELETE_KEPT = "Va bene, non ho cancellato niente."
DELETE_PRESS_BUTTON = "Per sicurezza, per cancellare tocca il pulsante «Sì, cancella tutto»."
STOP = "Va bene, mi fermo qui. Se ti serve aiuto, scrivimi quando vuoi."


# --- for facilitators (handoff summary) --------------------------------------------------------

REASON_LABELS: dict[str, str] = {
    "richiesta": "la persona ha chiesto di parlare con qualcuno",
    "complesso": "più bisogni insieme",
    "emergenza": "possibile emergenza",
    "non_compreso": "il bot non ha capito due messaggi di fila",
    "nessun_servizio": "nessun servizio trovato nella zona",
    "insoddisfatto": "i servizi proposti non aiutano",
}
