"""GET /servizi/{id}: one service on one page, to read on a phone or to print and hand over.

Why a page: a volunteer passes a service on to a neighbour who may not use Telegram; a facilitator
prints it for a person at the desk. So: large type, the contacts first and tappable, how to get
there, what to bring, when it is open; nothing that needs JavaScript. The page has its own strict
Content-Security-Policy (no scripts at all; its one inline style allowed by hash), and shows only
catalogue data: never anything about a person.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from typing import Any
from urllib.parse import quote_plus

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, select_autoescape

from bot.dialogue.cards import display_number, tel_uri

log = logging.getLogger("bussola.service_page")

router = APIRouter()
_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  font-size: 1.25rem; line-height: 1.5; color: #111; background: #fff; }
main { max-width: 42rem; margin: 0 auto; padding: 1rem 1.25rem 3rem; }
h1 { font-size: 2rem; line-height: 1.2; margin: 0.5rem 0 0.25rem; }
h2 { font-size: 1.4rem; margin: 1.75rem 0 0.5rem; border-bottom: 2px solid #111; padding-bottom: 0.2rem; }
.org { font-size: 1.25rem; margin: 0 0 1rem; color: #333; }
.phone { display: inline-block; font-size: 1.6rem; font-weight: 700; padding: 0.4rem 0.9rem;
  margin: 0.25rem 0; border: 2px solid #0b4f8a; border-radius: 0.5rem; color: #0b4f8a;
  text-decoration: none; }
.phone:focus, a:focus { outline: 3px solid #d35400; outline-offset: 2px; }
a { color: #0b4f8a; }
ul { padding-left: 1.4rem; }
.warning { border-left: 6px solid #b35c00; background: #fff4e5; padding: 0.75rem 1rem; }
footer { margin-top: 2.5rem; font-size: 1rem; color: #444; }
@media print {
  body { font-size: 14pt; }
  main { max-width: none; padding: 0; }
  .phone { border: none; padding: 0; color: #000; }
  a { color: #000; text-decoration: none; }
  a.web::after { content: " (" attr(href) ")"; font-size: 11pt; }
  .screen-only { display: none; }
}
""".strip()

CSP = (
    "default-src 'none'; "
    f"style-src 'sha256-{base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()}'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

PAGE = """<!doctype html>
<html lang="it">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{ title }} – Bussola</title>
<style>{{ css | safe }}</style>
</head>
<body>
<main>
{% if card %}
<h1>{{ card.name }}</h1>
{% if card.organization and card.organization != card.name %}
<p class="org">{{ card.organization }}</p>{% endif %}
{% if card.description %}<p>{{ card.description }}</p>{% endif %}
{% if card.to_verify %}<p class="warning">Prima di andare, telefona per controllare che le informazioni
siano aggiornate.</p>{% endif %}

<h2>Contatti</h2>
{% for p in phones %}<p><a class="phone" href="{{ p.tel }}">{{ p.number }}</a>{% if p.description %}
 {{ p.description }}{% endif %}</p>{% endfor %}
{% if card.email %}<p>Email: <a href="mailto:{{ card.email }}">{{ card.email }}</a></p>{% endif %}
{% if web %}<p>Sito: <a class="web" href="{{ web }}">{{ web }}</a></p>{% endif %}
{% if not phones and not card.email and not web %}<p>Non abbiamo un contatto diretto: chiedi a Bussola di
metterti in contatto con una persona.</p>{% endif %}

{% if card.who_for %}<h2>Per chi è</h2><p>{{ card.who_for }}</p>{% endif %}
{% if card.how_to_access %}<h2>Come fare</h2><p>{{ card.how_to_access }}</p>{% endif %}

{% if card.address or card.hours %}<h2>Come arrivarci</h2>
{% if card.address %}<p>{{ card.address }}</p>
<p class="screen-only"><a href="{{ map }}">Apri la mappa</a></p>{% endif %}
{% if card.hours %}<p>Orari: {{ card.hours }}</p>{% endif %}{% endif %}

{% if card.documents %}<h2>Cosa portare</h2>
<ul>{% for d in card.documents %}<li>{{ d }}</li>{% endfor %}</ul>{% endif %}
{% if card.cost %}<h2>Costo</h2><p>{{ card.cost }}</p>{% endif %}

<footer>
<p>Scheda di Bussola, il servizio della Città metropolitana di Torino che aiuta a trovare i servizi sociali.
Le informazioni possono cambiare: nel dubbio, telefona prima di andare.</p>
<p class="screen-only">Per stamparla, usa «Stampa» nel menu del browser.</p>
</footer>
{% elif unavailable %}
<h1>Scheda non disponibile</h1>
<p>In questo momento non riesco a leggere le schede dei servizi. Riprova tra qualche minuto.</p>
{% else %}
<h1>Servizio non trovato</h1>
<p>Questa scheda non esiste più o il link non è completo. Scrivi a Bussola di cosa hai bisogno: ti
suggerisce i servizi adatti.</p>
{% endif %}
</main>
</body>
</html>
"""

_env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
_template = _env.from_string(PAGE)


def _page(card: Any, status: int) -> HTMLResponse:
    phones = []
    web = ""
    map_url = ""
    if card is not None:
        phones = [
            {"tel": tel_uri(p.number), "number": display_number(p.number), "description": p.description}
            for p in card.phones
            if tel_uri(p.number)
        ]
        web = card.url if card.url.startswith(("https://", "http://")) else ""
        if card.latitude is not None and card.longitude is not None:
            lat, lon = card.latitude, card.longitude
            map_url = f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=17/{lat}/{lon}"
        elif card.address:
            map_url = "https://www.openstreetmap.org/search?query=" + quote_plus(card.address)
    body = _template.render(
        card=card,
        title=card.name if card is not None else "Servizio non trovato",
        unavailable=status == 503,
        css=CSS,
        phones=phones,
        web=web,
        map=map_url,
    )
    headers = {
        "Content-Security-Policy": CSP,
        "Cache-Control": "public, max-age=300" if card is not None else "no-store",
        "Referrer-Policy": "no-referrer",
    }
    return HTMLResponse(body, status_code=status, headers=headers)


@router.get("/servizi/{service_id}", response_class=HTMLResponse, include_in_schema=False)
async def service_page(service_id: str, request: Request) -> HTMLResponse:
    """The printable page of one service of the catalogue (404 page in Italian when unknown)."""
    if not _ID.match(service_id):
        return _page(None, 404)
    try:
        card = await request.app.state.catalog.get(service_id)
    except Exception as exc:  # noqa: BLE001 - the catalogue down must not become a stack trace
        log.warning("service page: catalogue unavailable (%s)", type(exc).__name__)
        return _page(None, 503)
    return _page(card, 200 if card is not None else 404)
