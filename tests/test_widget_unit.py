"""The web chat's page, loader and assets as served: CSP-compatible markup, types, caching, no leaks.

These need no browser: the router is mounted in the real app (security headers included) and read
over ASGI. The browser tests (tests/test_browser_*.py) check what the page does.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot import widget
from bot.settings import Settings

STATIC = Path(widget.__file__).parent / "static" / "chat"


class Markup(HTMLParser):
    """Collects what matters for CSP and accessibility from a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline_scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts.append(data)

    def find(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())]


def parse(html: str) -> Markup:
    m = Markup()
    m.feed(html)
    return m


@pytest.fixture
async def web() -> AsyncIterator[httpx.AsyncClient]:
    """The real app's routing and middleware (no lifespan needed: the widget uses no database)."""
    from bot.app import create_app

    app = create_app(Settings(allowed_origins="https://casedelquartiere.example, https://consorzio.example/"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.mark.parametrize("path", ["/chat", "/chat?embed=1"])
async def test_page_has_no_inline_script_nor_handlers(web: httpx.AsyncClient, path: str) -> None:
    r = await web.get(path)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    page = parse(r.text)
    assert page.inline_scripts == [], "inline script: CSP script-src 'self' would block it"
    scripts = page.find("script")
    assert scripts and all(s.get("src", "").startswith("/static/chat/") for s in scripts)  # type: ignore[union-attr]
    handlers = [(t, k) for t, a in page.tags for k in a if k.lower().startswith("on")]
    assert handlers == [], f"inline event handlers are blocked by the CSP: {handlers}"
    assert not re.search(r"javascript:", r.text, re.IGNORECASE)
    assert not re.search(r"https?://", " ".join(str(a) for _, a in page.tags)), "a resource from elsewhere"


async def test_page_is_italian_labelled_and_a_polite_log(web: httpx.AsyncClient) -> None:
    page = parse((await web.get("/chat")).text)
    assert page.find("html")[0].get("lang") == "it"
    log = page.find("div", id="log")[0]
    assert log.get("role") == "log" and log.get("aria-live") == "polite" and log.get("aria-label")
    assert page.find("label", **{"for": "input"}), "the text box has no label"
    assert page.find("textarea", id="input")
    assert page.find("meta", name="viewport")[0].get("content") == "width=device-width, initial-scale=1"
    for _tag, attrs in page.tags:
        if _tag == "button":
            assert attrs.get("type") in {"button", "submit"}
    dialog = page.find("dialog", id="confirm")[0]
    assert dialog.get("aria-labelledby") == "confirm-title"


async def test_embedded_page_has_a_close_button(web: httpx.AsyncClient) -> None:
    assert not parse((await web.get("/chat")).text).find("button", id="close")
    embedded = parse((await web.get("/chat?embed=1")).text)
    assert embedded.find("button", id="close")[0].get("aria-label") == "Chiudi la chat"
    assert embedded.find("body")[0].get("class") == "embed"


async def test_page_security_headers_allow_the_configured_sites_to_embed(web: httpx.AsyncClient) -> None:
    r = await web.get("/chat")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self';" in csp
    ancestors = re.search(r"frame-ancestors ([^;]+)", csp)
    assert ancestors is not None
    assert ancestors.group(1).split() == [
        "'self'",
        "https://casedelquartiere.example",
        "https://consorzio.example",
    ]
    assert r.headers["cache-control"] == "no-cache"


async def test_assets_are_versioned_typed_and_cached_for_long(web: httpx.AsyncClient) -> None:
    page = parse((await web.get("/chat")).text)
    urls = [s["src"] for s in page.find("script")] + [
        link["href"] for link in page.find("link") if link.get("rel") in {"stylesheet", "icon"}
    ]
    types = {"chat.js": "text/javascript", "chat.css": "text/css", "icon.svg": "image/svg+xml"}
    assert len(urls) == 3
    for url in urls:
        assert url is not None
        name, version = re.fullmatch(r"/static/chat/([\w.]+)\?v=([0-9a-f]{12})", url).groups()  # type: ignore[union-attr]
        r = await web.get(url)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith(types[name])
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.content == (STATIC / name).read_bytes()
        assert r.headers["etag"].strip('"').startswith(version), "the version must change with the content"
        again = await web.get(url, headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304 and again.content == b""


async def test_widget_loader_is_javascript_cached_for_an_hour(web: httpx.AsyncClient) -> None:
    r = await web.get("/widget.js")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/javascript; charset=utf-8"
    assert r.headers["cache-control"] == "public, max-age=3600"
    assert r.headers["cross-origin-resource-policy"] == "cross-origin"
    assert r.headers["etag"]
    assert "/chat?embed=1" in r.text and "document.currentScript" in r.text
    assert (await web.get("/widget.js", headers={"If-None-Match": r.headers["etag"]})).status_code == 304


@pytest.mark.parametrize(
    "path",
    [
        "/static/chat/widget.js",  # the loader has its own address and cache policy
        "/static/chat/nope.js",
        "/static/chat/..%2F..%2Fsettings.py",
        "/static/chat/../widget.py",
        "/static/chat/chat.js%00",
    ],
)
async def test_only_known_assets_are_served(web: httpx.AsyncClient, path: str) -> None:
    r = await web.get(path)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/json")
    assert "detail" in r.json()


@pytest.mark.parametrize("name", ["chat.js", "widget.js"])
def test_scripts_build_the_dom_without_parsing_markup(name: str) -> None:
    """Nothing the server or a person writes may become markup: no innerHTML, eval or the like."""
    source = (STATIC / name).read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in source, f"{name} uses {sink}"
    assert not re.search(r"setTimeout\(\s*[\"']", source), "string timers are eval"
    assert "http://" not in source and "https://" not in re.sub(r"/\*.*?\*/", "", source, flags=re.S)


def test_stylesheet_loads_nothing_from_elsewhere_and_respects_reduced_motion() -> None:
    css = (STATIC / "chat.css").read_text(encoding="utf-8")
    assert "@import" not in css and "url(" not in css and "@font-face" not in css
    assert "@media (prefers-reduced-motion: reduce)" in css
    assert ":focus-visible" in css


@pytest.mark.parametrize(
    ("accept", "compressed"),
    [("gzip, deflate, br", True), ("*", True), ("identity", False), ("gzip;q=0", False), ("", False)],
)
async def test_assets_are_compressed_for_slow_networks(
    web: httpx.AsyncClient, accept: str, compressed: bool
) -> None:
    for url in ("/widget.js", widget.asset_url("chat.js"), widget.asset_url("chat.css")):
        r = await web.get(url, headers={"Accept-Encoding": accept})
        assert r.status_code == 200
        assert (r.headers.get("content-encoding") == "gzip") is compressed, (url, accept)
        assert "Accept-Encoding" in r.headers["vary"]
        name = "widget.js" if url == "/widget.js" else url.split("/")[-1].split("?")[0]
        assert r.content == (STATIC / name).read_bytes()  # httpx decodes the gzip body
        if compressed:
            assert int(r.headers["content-length"]) < len(r.content) / 2


def test_asset_version_follows_the_content(tmp_path: Path, monkeypatch: Any) -> None:
    (tmp_path / "chat.js").write_text("one", encoding="utf-8")
    monkeypatch.setattr(widget, "STATIC_DIR", tmp_path)
    widget.load_asset.cache_clear()
    try:
        first = widget.asset_url("chat.js")
        (tmp_path / "chat.js").write_text("two", encoding="utf-8")
        widget.load_asset.cache_clear()
        assert widget.asset_url("chat.js") != first
    finally:
        widget.load_asset.cache_clear()
