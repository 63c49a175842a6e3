/* Bussola widget loader, for the sites of Case del Quartiere and consorzi.
 *
 *   <script src="https://BUSSOLA/widget.js" defer
 *           data-label="Chiedi aiuto" data-position="right"></script>
 *
 * It adds one button to the page; the chat itself opens in an iframe of BUSSOLA/chat, loaded only on
 * the first tap (nothing heavy for visitors who never open it). The chat runs on Bussola's own origin,
 * under its own security policy; this script never sees the conversation. Options (all optional):
 *   data-label     text of the button (default "Chiedi aiuto")
 *   data-position  "right" (default) or "left"
 *   data-open      "true" to open the chat as soon as the page loads
 * Styles are set through the DOM (element.style), so a host page with a strict CSP still works.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || window.__bussolaWidget) return;
  window.__bussolaWidget = true;

  var origin = new URL(script.src, window.location.href).origin;
  var label = (script.getAttribute("data-label") || "Chiedi aiuto").slice(0, 40);
  var side = script.getAttribute("data-position") === "left" ? "left" : "right";
  var startOpen = script.getAttribute("data-open") === "true";
  var FRAME_ID = "bussola-chat-frame";
  var BRAND = "#0b4f9c";

  var button, frame, box;
  var loaded = false;

  function css(node, styles) {
    for (var k in styles) {
      if (Object.prototype.hasOwnProperty.call(styles, k)) node.style[k] = styles[k];
    }
  }

  function small() {
    return window.matchMedia("(max-width: 480px)").matches;
  }

  function place() {
    if (!box) return;
    if (small()) {
      css(box, { top: "0", bottom: "0", left: "0", right: "0", width: "100%", height: "100%", borderRadius: "0" });
    } else {
      css(box, {
        top: "auto",
        bottom: "5.5rem",
        left: side === "left" ? "1rem" : "auto",
        right: side === "right" ? "1rem" : "auto",
        width: "24rem",
        height: "min(40rem, calc(100vh - 7rem))",
        borderRadius: "0.9rem"
      });
    }
  }

  function build() {
    box = document.createElement("div");
    css(box, {
      position: "fixed",
      zIndex: "2147483001",
      overflow: "hidden",
      boxShadow: "0 0.5rem 2rem rgba(0,0,0,0.35)",
      background: "#fff",
      display: "none"
    });
    frame = document.createElement("iframe");
    frame.id = FRAME_ID;
    frame.title = "Chat con Bussola";
    frame.src = origin + "/chat?embed=1";
    frame.setAttribute("allow", "clipboard-write");
    css(frame, { border: "0", width: "100%", height: "100%", display: "block" });
    frame.addEventListener("load", function () {
      loaded = true;
      if (isOpen()) frame.contentWindow.postMessage({ type: "bussola:open" }, origin);
    });
    box.appendChild(frame);
    document.body.appendChild(box);
    place();
    if (window.matchMedia) {
      var mq = window.matchMedia("(max-width: 480px)");
      if (mq.addEventListener) mq.addEventListener("change", place);
    }
  }

  function isOpen() {
    return !!box && box.style.display !== "none";
  }

  function open() {
    if (!box) build();
    box.style.display = "block";
    button.setAttribute("aria-expanded", "true");
    if (small()) button.style.display = "none";
    frame.focus();
    // Once loaded, the chat puts the focus in its text box; before, the load handler does it.
    if (loaded) frame.contentWindow.postMessage({ type: "bussola:open" }, origin);
  }

  function close() {
    if (!box) return;
    box.style.display = "none";
    button.style.display = "inline-flex";
    button.setAttribute("aria-expanded", "false");
    button.focus();
  }

  function makeButton() {
    button = document.createElement("button");
    button.type = "button";
    button.textContent = label;
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-controls", FRAME_ID);
    button.setAttribute("aria-haspopup", "dialog");
    css(button, {
      position: "fixed",
      bottom: "1rem",
      zIndex: "2147483000",
      display: "inline-flex",
      alignItems: "center",
      minHeight: "3rem",
      padding: "0.6rem 1.2rem",
      border: "2px solid #fff",
      borderRadius: "1.5rem",
      background: BRAND,
      color: "#fff",
      font: "600 1rem/1.2 system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif",
      boxShadow: "0 0.25rem 1rem rgba(0,0,0,0.3)",
      cursor: "pointer"
    });
    button.style[side] = "1rem";
    button.addEventListener("focus", function () {
      css(button, { outline: "3px solid #1a1a1a", outlineOffset: "2px" });
    });
    button.addEventListener("blur", function () {
      button.style.outline = "none";
    });
    button.addEventListener("click", function () {
      if (isOpen()) close();
      else open();
    });
    document.body.appendChild(button);
  }

  window.addEventListener("message", function (ev) {
    if (ev.origin !== origin || !frame || ev.source !== frame.contentWindow || !ev.data) return;
    if (ev.data.type === "bussola:close") close();
  });

  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape" && isOpen()) close();
  });

  function init() {
    makeButton();
    if (startOpen) open();
  }

  if (document.body) init();
  else document.addEventListener("DOMContentLoaded", init);
})();
