"""Accessibility of /chat in Chromium: axe-core (WCAG 2.1 A/AA), reflow at 320 px, keyboard, motion.

axe-core comes with the ``axe-playwright-python`` package (no download). No serious or critical
violation is allowed, on the first screen and with service cards and emergency numbers on it, at phone
width and at 320 CSS px (what 400% zoom of a 1280 px screen gives).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures_browser import ChatPage, LiveServer, axe_violations, new_chat_context

pytestmark = [pytest.mark.browser, pytest.mark.rasa]


def no_horizontal_scroll(page: Any) -> None:
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"the page scrolls sideways: {widths}"
    overflowing = page.evaluate(
        """() => [...document.querySelectorAll('#log *, .bar *, .composer *')]
            .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
            .map(e => e.tagName + '.' + e.className).slice(0, 5)"""
    )
    assert overflowing == [], f"cut off at the right edge: {overflowing}"


@pytest.mark.parametrize("width", [360, 320])
def test_axe_first_screen(browser: Any, live_server: LiveServer, width: int) -> None:
    context, problems = new_chat_context(browser, viewport={"width": width, "height": 640})
    try:
        chat = ChatPage(context.new_page(), live_server.url).open()
        assert axe_violations(chat.page) == []
        no_horizontal_scroll(chat.page)
    finally:
        context.close()
    assert not problems.csp and not problems.errors, problems


@pytest.mark.parametrize("width", [360, 320])
def test_axe_with_cards_emergency_and_dialog(browser: Any, live_server: LiveServer, width: int) -> None:
    context, problems = new_chat_context(browser, viewport={"width": width, "height": 640})
    try:
        chat = ChatPage(context.new_page(), live_server.url).open()
        chat.send("Cerco casa a Collegno, mi hanno sfrattato")
        assert chat.page.locator("#log .card").count() >= 1
        chat.send("mio marito mi picchia")
        assert chat.page.locator("#log .emergency a").count() >= 2
        assert axe_violations(chat.page) == []
        no_horizontal_scroll(chat.page)
        chat.page.click("#delete")
        assert axe_violations(chat.page) == [], "the confirmation dialog"
        chat.page.keyboard.press("Escape")
    finally:
        context.close()
    assert not problems.csp and not problems.errors, problems


def test_zoom_200_percent_keeps_everything_usable(browser: Any, live_server: LiveServer) -> None:
    """A 1280x800 screen at 200%: 640x400 CSS px, two device pixels each."""
    context, problems = new_chat_context(
        browser, viewport={"width": 640, "height": 400}, device_scale_factor=2
    )
    try:
        chat = ChatPage(context.new_page(), live_server.url).open()
        chat.send("Cerco casa a Collegno, mi hanno sfrattato")
        no_horizontal_scroll(chat.page)
        for selector in ("#input", "#send", "#delete"):
            assert chat.page.locator(selector).is_visible(), selector
            box = chat.page.locator(selector).bounding_box()
            assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 400, selector
    finally:
        context.close()
    assert not problems.csp and not problems.errors, problems


def test_keyboard_only_conversation(chat: ChatPage) -> None:
    chat.open()
    page = chat.page
    # Tab from the top of the page reaches the conversation's controls, in a sensible order.
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    order = []
    for _ in range(10):
        page.keyboard.press("Tab")
        order.append(
            page.evaluate("() => (document.activeElement.id || document.activeElement.textContent).trim()")
        )
    assert order[0] == "delete"
    assert "Cerco aiuto per me" in order
    assert order.index("input") < order.index("send")
    # A quick reply by keyboard, then back in the text box, then a message with Enter.
    page.locator(".quick button", has_text="Cerco aiuto per me").focus()
    page.keyboard.press("Enter")
    chat.wait_idle()
    assert chat.active_id() == "input"
    page.keyboard.type("cerco lavoro a Rivoli")
    page.keyboard.press("Enter")
    chat.wait_idle()
    assert chat.bubbles("user")[-1] == "cerco lavoro a Rivoli"
    assert chat.active_id() == "input"
    # Focus is visible: an outline on the focused control.
    page.keyboard.press("Tab")
    outline = page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, s.outlineWidth]; }"
    )
    assert outline[0] != "none" and outline[1] != "0px", outline
    # The deletion dialog: opened by keyboard, Escape closes it and gives the focus back.
    page.focus("#delete")
    page.keyboard.press("Enter")
    assert chat.active_id() == "confirm-no"
    page.keyboard.press("Escape")
    assert chat.active_id() == "delete"


def test_reduced_motion_stops_the_typing_animation(browser: Any, live_server: LiveServer) -> None:
    for motion, expected in (("no-preference", "blink"), ("reduce", "none")):
        context, _ = new_chat_context(browser, reduced_motion=motion)
        try:
            chat = ChatPage(context.new_page(), live_server.url).open()
            name = chat.page.evaluate(
                """() => { document.getElementById('typing').hidden = false;
                    return getComputedStyle(document.querySelector('.dots span')).animationName; }"""
            )
            assert name == expected, motion
        finally:
            context.close()


def test_phone_screenshot(chat: ChatPage, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A phone-size picture of a conversation with cards, kept for a human look (and CI artefacts)."""
    chat.open()
    chat.send("Cerco casa a Collegno, mi hanno sfrattato")
    out = tmp_path_factory.mktemp("screens") / "chat-phone.png"
    chat.page.screenshot(path=str(out))
    assert out.stat().st_size > 10_000
