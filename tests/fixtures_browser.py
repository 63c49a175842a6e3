"""Browser test fixtures: the real app served by uvicorn, Debian's Chromium driven by Playwright.

The app is the production one (``bot.app.create_app``) on a temporary SQLite database, the real Rasa
server of ``tests/fixtures_rasa.py`` and the embedded catalogue; it runs in a thread with its own event
loop, so a test can also act on the server side (``LiveServer.run``), as a facilitator would. Chromium
is never downloaded: the system one is used, and its absence skips the tests (fails them in CI).

Every page records CSP violations, script errors and failed requests: a browser test fails when the
page broke our Content-Security-Policy, whatever else it checked.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 360, "height": 740}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    """The app listening on ``url``; ``run`` executes a coroutine on the server's own event loop."""

    url: str
    app: Any
    loop: asyncio.AbstractEventLoop
    server: Any = None

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def drop_connections(self) -> int:
        """Cut every open HTTP connection, as a flaky mobile network would (push streams included)."""

        async def cut() -> int:
            connections = list(self.server.server_state.connections)
            for conn in connections:
                conn.transport.abort()
            return len(connections)

        return int(self.run(cut()))


def serve_in_thread(app: Any, timeout: float = 60.0) -> tuple[LiveServer, Callable[[], None]]:
    """Start uvicorn on a free port in a daemon thread; returns the server and a stop function."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    loop = asyncio.new_event_loop()
    failure: list[BaseException] = []

    def target() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(server.serve())
        except BaseException as exc:  # noqa: BLE001 - reported to the test below
            failure.append(exc)
        finally:
            loop.close()

    thread = threading.Thread(target=target, name="bussola-live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if failure or not thread.is_alive():
            raise RuntimeError(f"the app did not start: {failure[:1]!r}")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("the app did not start in time")
        time.sleep(0.05)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=15)

    return LiveServer(f"http://127.0.0.1:{port}", app, loop, server), stop


class HostSite:
    """A tiny web server standing for a Casa del Quartiere's site, to embed the widget in.

    It listens on 127.0.0.1 but is addressed as ``localhost``: another origin than the app's
    ``127.0.0.1`` (so the widget really is cross-origin), in the same loopback address space (so
    Chromium's private-network checks allow the page to load our script, as a public site would).
    """

    def __init__(self) -> None:
        site = self
        self.html = b"<!doctype html><title>vuota</title>"

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(site.html)))
                self.end_headers()
                self.wfile.write(site.html)

            def log_message(self, *_args: Any) -> None:
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://localhost:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, name="host-site", daemon=True).start()

    def embed(self, app_url: str, attributes: str = "") -> str:
        """Serve a page with the widget's one-line snippet; returns the page's address."""
        self.html = f"""<!doctype html><html lang="it"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Casa del Quartiere</title>
</head><body><main><h1>Casa del Quartiere</h1><p><a href="#">Chi siamo</a></p></main>
<script src="{app_url}/widget.js" defer{attributes}></script></body></html>""".encode()
        return self.origin + "/"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def host_site() -> Iterator[HostSite]:
    """A site listed in ALLOWED_ORIGINS of the live app."""
    site = HostSite()
    yield site
    site.close()


@pytest.fixture(scope="session")
def other_site() -> Iterator[HostSite]:
    """A site that is not allowed to embed the chat."""
    site = HostSite()
    yield site
    site.close()


def live_settings(database_path: Path, **kw: Any) -> Any:
    from bot.settings import Settings

    return Settings(
        database_url=f"sqlite+aiosqlite:///{database_path}",
        catalog_snapshot_path=str(database_path.parent / "catalog-snapshot.json"),
        rate_limit_ip_per_minute=1_000_000,
        rate_limit_session_per_minute=1_000_000,
        **kw,
    )


@pytest.fixture(scope="session")
def chromium_path() -> str:
    from tests.conftest import require

    path = shutil.which("chromium") or shutil.which("chromium-browser")
    require(path is not None, "Debian's chromium is not installed (apt-get install chromium)")
    assert path is not None
    return path


@pytest.fixture(scope="session")
def live_server(
    rasa_url: str, rasa_token: str, host_site: HostSite, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The whole app with the real Rasa model and the embedded catalogue, on a free port."""
    from bot.app import create_app

    db = tmp_path_factory.mktemp("live") / "bussola.db"
    settings = live_settings(
        db, rasa_url=rasa_url, rasa_token=rasa_token, rasa_timeout=10.0, allowed_origins=host_site.origin
    )
    app = create_app(settings)
    server, stop = serve_in_thread(app)
    try:
        yield server
    finally:
        stop()


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Any]:
    """One Chromium per test module. Not per session: Playwright's sync API keeps an event loop
    running in the main thread while it is started, which would break the async tests of the other
    modules (pytest-asyncio cannot run a loop inside a running one)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@dataclass
class PageProblems:
    """What went wrong in a page that no assertion looked at."""

    csp: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"script error: {exc}"))

    def _console(self, msg: Any) -> None:
        text = msg.text
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            self.csp.append(text)


class ChatPage:
    """A citizen at /chat: what a person does (type, tap) and what they can see."""

    def __init__(self, page: Any, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    def open(self, path: str = "/chat") -> ChatPage:
        self.page.goto(self.base_url + path)
        self.wait_idle()
        return self

    def wait_idle(self, timeout: float = 30_000) -> None:
        """Wait until the outbox is empty and the typing indicator gone: the replies are on screen."""
        self.page.wait_for_function(
            """() => {
                const log = document.getElementById('log');
                return log && log.querySelector('.msg.bot')
                    && !log.querySelector('.msg.pending')
                    && document.getElementById('typing').hidden;
            }""",
            timeout=timeout,
        )

    def send(self, text: str) -> None:
        self.page.fill("#input", text)
        self.page.press("#input", "Enter")
        self.wait_idle()

    def tap(self, title: str) -> None:
        self.page.locator(".quick button", has_text=title).last.click()
        self.wait_idle()

    def bubbles(self, kind: str = "") -> list[str]:
        selector = f"#log .msg.{kind} .bubble" if kind else "#log .msg .bubble"
        return [t.strip() for t in self.page.locator(selector).all_inner_texts()]

    def quick_replies(self) -> list[str]:
        return [t.strip() for t in self.page.locator("#log .quick button").all_inner_texts()]

    def active_id(self) -> str:
        return str(self.page.evaluate("() => document.activeElement && document.activeElement.id"))

    def stored_session(self) -> dict[str, Any]:
        raw = self.page.evaluate("() => localStorage.getItem('bussola.chat.v1')")
        import json

        return dict(json.loads(raw)) if raw else {}


def new_chat_context(browser: Any, **kw: Any) -> tuple[Any, PageProblems]:
    options: dict[str, Any] = {"viewport": PHONE, "locale": "it-IT", "device_scale_factor": 1}
    options.update(kw)
    context = browser.new_context(**options)
    problems = PageProblems()
    context.on("page", problems.watch)
    return context, problems


@pytest.fixture
def chat(browser: Any, live_server: LiveServer) -> Iterator[ChatPage]:
    """A fresh phone-sized browser (empty storage) on the live app; fails on any CSP violation."""
    context, problems = new_chat_context(browser)
    page = context.new_page()
    try:
        yield ChatPage(page, live_server.url)
    finally:
        context.close()
    assert not problems.csp, f"CSP violations: {problems.csp}"
    assert not problems.errors, f"script errors: {problems.errors}"


def axe_source() -> str:
    """axe-core as shipped by the ``axe-playwright-python`` package (no download at test time)."""
    import importlib.util

    spec = importlib.util.find_spec("axe_playwright_python")
    if spec is None or spec.origin is None:
        from tests.conftest import require

        require(False, "axe-playwright-python is not installed")
        raise AssertionError("unreachable")
    return (Path(spec.origin).parent / "axe.min.js").read_text(encoding="utf-8")


def axe_violations(page: Any, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict[str, Any]]:
    """Run axe-core (WCAG 2.0/2.1 A and AA rules, plus best practices) on the page as it is now."""
    page.evaluate(axe_source())
    result = page.evaluate(
        """() => axe.run(document, {
            runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']},
            resultTypes: ['violations'],
        })"""
    )
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in result["violations"]
        if v.get("impact") in impacts
    ]
