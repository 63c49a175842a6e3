"""The web chat's front end: the full page at ``/chat``, the embeddable loader ``/widget.js``, and
the page's static assets under ``/static/chat/``.

Why a page in an iframe rather than a widget drawn into the host page: the host sites (Case del
Quartiere, consorzi) have their own scripts and styles; inside our own page our strict CSP holds
(``script-src 'self'``, no inline code), our styles cannot be broken, and the session token never
touches the host's JavaScript. ``frame-ancestors`` (from ALLOWED_ORIGINS) says who may embed it.

The markup has no inline script and no ``on*=`` handler: every behaviour lives in
``static/chat/chat.js``. Assets are referenced with a content hash (``?v=``), so phones on slow
networks download them once and keep them for a year; the loader's URL is fixed (it is pasted into
other sites), so it is cached for an hour only.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

STATIC_DIR = Path(__file__).parent / "static" / "chat"

# Only these files are served: no directory listing, no path built from the request.
CONTENT_TYPES: dict[str, str] = {
    "chat.js": "text/javascript; charset=utf-8",
    "chat.css": "text/css; charset=utf-8",
    "icon.svg": "image/svg+xml",
}
LOADER = "widget.js"
LOADER_CACHE = "public, max-age=3600"
ASSET_CACHE = "public, max-age=31536000, immutable"
PAGE_CACHE = "no-cache"

router = APIRouter(tags=["chat web"])


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    gzipped: bytes  # compressed once: a phone on a slow network gets about a quarter of the bytes
    etag: str

    @property
    def version(self) -> str:
        return self.etag.strip('"')[:12]


@lru_cache(maxsize=8)
def load_asset(name: str) -> Asset:
    """Read a packaged file once; its hash is both the ETag and the cache-busting version."""
    body = (STATIC_DIR / name).read_bytes()
    return Asset(
        body=body,
        gzipped=gzip.compress(body, compresslevel=9, mtime=0),
        etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
    )


def asset_url(name: str) -> str:
    return f"/static/chat/{name}?v={load_asset(name).version}"


def _accepts_gzip(request: Request) -> bool:
    for part in request.headers.get("accept-encoding", "").lower().split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip() in ("gzip", "*") and params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00"):
            return True
    return False


def _asset_response(request: Request, name: str, content_type: str, cache: str) -> Response:
    asset = load_asset(name)
    headers = {"Cache-Control": cache, "ETag": asset.etag, "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    if _accepts_gzip(request) and len(asset.gzipped) < len(asset.body):
        headers["Content-Encoding"] = "gzip"
        return Response(asset.gzipped, media_type=content_type, headers=headers)
    return Response(asset.body, media_type=content_type, headers=headers)


def chat_page(*, embed: bool, privacy_url: str = "/privacy") -> str:
    """The whole page. ``embed`` is the iframe version opened by widget.js (with a "Chiudi" button)."""
    css = escape(asset_url("chat.css"))
    js = escape(asset_url("chat.js"))
    icon = escape(asset_url("icon.svg"))
    privacy = escape(privacy_url)
    body_class = "embed" if embed else "full"
    close = (
        '<button type="button" id="close" class="ghost" aria-label="Chiudi la chat">Chiudi</button>'
        if embed
        else ""
    )
    return f"""<!doctype html>
<html lang="it">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<meta name="description" \
content="Bussola ti aiuta a trovare i servizi sociali della Città metropolitana di Torino.">
<title>Bussola – chiedi aiuto</title>
<link rel="icon" href="{icon}" type="image/svg+xml">
<link rel="stylesheet" href="{css}">
<script src="{js}" defer></script>
</head>
<body class="{body_class}">
<div class="app">
<header class="bar">
<div class="brand">
<h1>Bussola</h1>
<p class="tagline">Ti aiuto a trovare i servizi sociali vicino a te</p>
</div>
<div class="actions">
<button type="button" id="delete" class="ghost" aria-label="Cancella la conversazione" \
disabled>Cancella</button>
{close}
</div>
</header>
<main class="main" id="main">
<div id="log" class="log" role="log" aria-live="polite" aria-relevant="additions" \
aria-label="Conversazione con Bussola" tabindex="0">
<noscript><p class="notice">Per usare la chat serve JavaScript attivo nel browser.</p></noscript>
</div>
<div id="typing" class="typing" hidden>
<span class="dots" aria-hidden="true"><span></span><span></span><span></span></span>
<span class="typing-text">Bussola sta scrivendo…</span>
</div>
<p id="status" class="status" role="status" aria-live="polite"></p>
<form id="composer" class="composer" action="#" method="post" autocomplete="off" novalidate>
<label for="input" class="sr-only">Scrivi il tuo messaggio</label>
<textarea id="input" name="message" rows="1" maxlength="2000" placeholder="Scrivi qui" \
enterkeyhint="send" autocapitalize="sentences"></textarea>
<button type="submit" id="send" class="send">Invia</button>
</form>
</main>
<footer class="foot">
<p>Bussola è un assistente automatico, non una persona. \
<a href="{privacy}" target="_blank" rel="noopener">Informativa sulla privacy</a></p>
</footer>
</div>
<dialog id="confirm" class="confirm" aria-labelledby="confirm-title" aria-describedby="confirm-text">
<h2 id="confirm-title">Vuoi cancellare la conversazione?</h2>
<p id="confirm-text">Cancello i messaggi e i tuoi dati. Non si potrà tornare indietro. \
Se un operatore ti sta seguendo, vedrà solo che hai cancellato i dati.</p>
<div class="confirm-actions">
<button type="button" id="confirm-no" class="secondary">No, tienila</button>
<button type="button" id="confirm-yes" class="danger">Sì, cancella tutto</button>
</div>
</dialog>
</body>
</html>
"""


@router.get("/chat", response_class=HTMLResponse, summary="La chat di Bussola (pagina intera)")
async def chat(request: Request, embed: bool = False) -> HTMLResponse:
    settings = getattr(request.app.state, "settings", None)
    privacy = getattr(settings, "privacy_url", None) or "/privacy"
    return HTMLResponse(chat_page(embed=embed, privacy_url=privacy), headers={"Cache-Control": PAGE_CACHE})


@router.get(
    "/widget.js",
    summary="Script da inserire nei siti per aprire la chat",
    response_class=Response,
    responses={200: {"content": {"text/javascript": {}}, "description": "the loader script"}},
)
async def widget_js(request: Request) -> Response:
    response = _asset_response(request, LOADER, CONTENT_TYPES["chat.js"], LOADER_CACHE)
    # Host sites that isolate themselves (COEP) may still load the loader from our origin.
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


@router.get(
    "/static/chat/{name}",
    summary="File della chat (script, stile, icona)",
    response_class=Response,
    responses={
        200: {"content": {t: {} for t in ("text/javascript", "text/css", "image/svg+xml")}},
        404: {"content": {"application/json": {}}, "description": "no such file"},
    },
)
async def static_chat(request: Request, name: str) -> Response:
    content_type = CONTENT_TYPES.get(name)
    if content_type is None:
        raise HTTPException(status_code=404, detail="File non trovato.")
    return _asset_response(request, name, content_type, ASSET_CACHE)
