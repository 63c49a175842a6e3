"""The embeddable widget on another site: launcher, iframe of /chat, closing, and who may embed it.

The host sites are tiny local web servers (``HostSite``): one listed in ALLOWED_ORIGINS, one not.
The chat in the iframe runs on the app's origin under its own CSP.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures_browser import HostSite, LiveServer, new_chat_context

pytestmark = [pytest.mark.browser, pytest.mark.rasa]


def test_widget_opens_the_chat_and_closes_back_to_the_launcher(
    browser: Any, live_server: LiveServer, host_site: HostSite
) -> None:
    context, problems = new_chat_context(browser, viewport={"width": 1024, "height": 768})
    page = context.new_page()
    try:
        page.goto(host_site.embed(live_server.url, ' data-label="Chiedi a Bussola"'))
        launcher = page.get_by_role("button", name="Chiedi a Bussola")
        launcher.wait_for()
        assert launcher.get_attribute("aria-expanded") == "false"
        assert page.locator("iframe").count() == 0, "the chat must load only when asked for"
        launcher.click()
        assert launcher.get_attribute("aria-expanded") == "true"
        frame_el = page.locator("iframe#bussola-chat-frame")
        assert frame_el.get_attribute("title") == "Chat con Bussola"
        chat = page.frame_locator("iframe#bussola-chat-frame")
        chat.locator("#log .msg.bot .quick button").first.wait_for(timeout=30_000)
        chat.locator("#input").fill("cerco lavoro a Rivoli")
        chat.locator("#input").press("Enter")
        chat.locator("#log .msg.user:not(.pending)").first.wait_for()
        chat.locator("#close").click()
        page.wait_for_function("() => document.getElementById('bussola-chat-frame').offsetParent === null")
        assert launcher.get_attribute("aria-expanded") == "false"
        focused = page.evaluate("() => document.activeElement.tagName")
        assert focused == "BUTTON", "focus goes back to the launcher"
        # Reopened: the same conversation (the iframe keeps its session).
        launcher.click()
        assert chat.locator("#log .msg.user .bubble").first.inner_text().strip() == "cerco lavoro a Rivoli"
        page.keyboard.press("Escape")
    finally:
        context.close()
    assert not problems.csp and not problems.errors, problems


def test_widget_fills_a_phone_screen(browser: Any, live_server: LiveServer, host_site: HostSite) -> None:
    context, _ = new_chat_context(browser)
    page = context.new_page()
    try:
        page.goto(host_site.embed(live_server.url))
        page.get_by_role("button", name="Chiedi aiuto").click()
        page.frame_locator("iframe").locator("#input").wait_for()
        box = page.locator("iframe").bounding_box()
        assert box is not None and box["width"] >= 359 and box["height"] >= 739
    finally:
        context.close()


def test_a_site_not_allowed_cannot_frame_the_chat(
    browser: Any, live_server: LiveServer, other_site: HostSite
) -> None:
    context, problems = new_chat_context(browser)
    page = context.new_page()
    try:
        page.goto(other_site.embed(live_server.url))
        with page.expect_console_message(lambda m: "frame-ancestors" in m.text, timeout=15_000):
            page.get_by_role("button", name="Chiedi aiuto").click()
        frame = page.frame(url=lambda u: "/chat" in u)
        loaded = frame is not None and frame.evaluate("() => !!document.getElementById('input')")
        assert not loaded, "frame-ancestors did not stop a site outside ALLOWED_ORIGINS"
    finally:
        context.close()
    assert any("frame-ancestors" in c for c in problems.csp), "the refusal should come from the CSP"
