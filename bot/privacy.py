"""The privacy notice: its version, the short text shown in chat and the full page at ``/privacy``.

Why a version: GDPR asks us to prove what a person was told when they agreed. The version goes with
the consent recorded on the conversation and on the handoff; change it whenever the text changes.
Retention periods come from the settings, so the notice never disagrees with the purge job.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from bot import texts
from bot.settings import Settings

PRIVACY_VERSION = "2026-11-v1"

router = APIRouter(tags=["privacy"])


def privacy_url(settings: Settings) -> str:
    """An absolute link when the public address is known (Telegram needs one), else the site path."""
    url = settings.privacy_url or "/privacy"
    if url.startswith("/") and settings.public_url:
        return settings.public_url.rstrip("/") + url
    return url


def short_notice(settings: Settings) -> str:
    return texts.privacy_notice(
        keep_days=settings.retention_unhandled_days,
        closed_days=settings.retention_closed_days,
        url=privacy_url(settings),
    )


def full_notice_html(settings: Settings) -> str:
    """The whole notice as an accessible page: plain Italian, no scripts, readable at 200% zoom."""
    keep = escape(texts.duration(settings.retention_unhandled_days))
    closed = escape(texts.duration(settings.retention_closed_days))
    version = escape(PRIVACY_VERSION)
    return f"""<!doctype html>
<html lang="it">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Informativa sulla privacy – Bussola</title>
<style>
body {{ font-family: system-ui, sans-serif; line-height: 1.5; max-width: 42rem; margin: 0 auto;
       padding: 1rem; color: #1a1a1a; background: #fff; }}
h1 {{ font-size: 1.6rem; }} h2 {{ font-size: 1.2rem; margin-top: 1.5rem; }}
a {{ color: #0b4f9c; }} a:focus {{ outline: 3px solid #0b4f9c; outline-offset: 2px; }}
</style>
</head>
<body>
<main>
<h1>Informativa sulla privacy di Bussola</h1>
<p>Versione {version}.</p>

<h2>Cos'è Bussola</h2>
<p>Bussola è un assistente automatico che ti aiuta a trovare i servizi sociali della Città
metropolitana di Torino e, se serve, ti mette in contatto con un operatore o un'operatrice.
Bussola non è una persona.</p>

<h2>Quali dati trattiamo</h2>
<ul>
<li>I messaggi che scrivi e i pulsanti che tocchi in questa chat.</li>
<li>Quello che ci dici per trovare il servizio giusto: di cosa hai bisogno, il comune o il quartiere,
per chi chiedi aiuto.</li>
<li>Se usi Telegram, il numero della chat e il tuo nome come appare su Telegram.</li>
</ul>
<p>Non ti chiediamo documenti, codice fiscale o dati sulla salute. Non scrivere dati che non
servono.</p>

<h2>Perché li trattiamo</h2>
<p>Solo per risponderti, per trovare i servizi adatti a te e, se lo chiedi tu, per passare la tua
richiesta a un operatore. Non usiamo i tuoi dati per pubblicità e non li vendiamo.</p>

<h2>Chi legge la conversazione</h2>
<p>Finché parli solo con Bussola, nessuna persona legge la conversazione. Se accetti che ti mettiamo
in contatto con un operatore o un'operatrice, la conversazione viene letta da chi segue la tua richiesta
nel servizio sociale o nello sportello del tuo territorio. Te lo chiediamo sempre prima.</p>

<h2>Per quanto tempo li conserviamo</h2>
<ul>
<li>Le conversazioni senza richiesta a un operatore: {keep}, poi vengono cancellate.</li>
<li>Le conversazioni passate a un operatore: {closed} dopo la chiusura della richiesta.</li>
</ul>
<p>Nei registri tecnici del sistema non scriviamo mai il testo dei tuoi messaggi.</p>

<h2>I tuoi diritti</h2>
<p>Puoi cancellare la conversazione e i tuoi dati quando vuoi: nella chat del sito usa il comando
per cancellare la conversazione; su Telegram scrivi <strong>/cancella</strong>. Se un operatore ti
stava seguendo, vedrà solo che i dati sono stati cancellati.</p>
<p>Puoi anche chiedere di vedere i tuoi dati, di correggerli o di riceverne una copia, scrivendo in
chat che vuoi parlare con una persona. Se pensi che i tuoi dati siano trattati male, puoi fare
reclamo al Garante per la protezione dei dati personali (www.garanteprivacy.it).</p>
</main>
</body>
</html>
"""


@router.get("/privacy", response_class=HTMLResponse, summary="Informativa sulla privacy")
async def privacy_page(request: Request) -> HTMLResponse:
    settings: Settings = getattr(request.app.state, "settings", None) or Settings()
    return HTMLResponse(full_notice_html(settings))
