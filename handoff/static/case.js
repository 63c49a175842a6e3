// Case page: the transcript grows live (Server-Sent Events). Citizen text is only ever set with
// textContent, so it stays text. Canned replies fill the reply box; the send button is not pressed twice.
(function () {
  "use strict";
  var log = document.getElementById("transcript");
  var statusBox = document.getElementById("case-status");

  function formatTime(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) { return ""; }
    return d.toLocaleString("it-IT", { day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit", timeZone: "Europe/Rome" });
  }

  function addMessage(m) {
    if (log.querySelector('li[data-id="' + String(Number(m.id)) + '"]')) { return; }
    var empty = log.querySelector("li.empty");
    if (empty) { empty.remove(); }
    var nearBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 80;
    var li = document.createElement("li");
    li.className = "msg a-" + String(m.author).replace(/[^a-z]/g, "");
    li.setAttribute("data-id", String(Number(m.id)));
    var meta = document.createElement("span");
    meta.className = "meta";
    var who = document.createElement("span");
    who.className = "who";
    who.textContent = m.author_label;
    var time = document.createElement("time");
    time.setAttribute("datetime", m.created_at || "");
    time.textContent = formatTime(m.created_at);
    meta.appendChild(who);
    meta.appendChild(document.createTextNode(" "));
    meta.appendChild(time);
    var text = document.createElement("span");
    text.className = "text";
    text.textContent = m.text;
    li.appendChild(meta);
    li.appendChild(text);
    if (m.buttons && m.buttons.length) {
      var buttons = document.createElement("span");
      buttons.className = "buttons";
      buttons.textContent = "Pulsanti: " + m.buttons.map(function (b) { return "«" + b + "»"; }).join(", ");
      li.appendChild(buttons);
    }
    log.appendChild(li);
    log.setAttribute("data-last-id", String(Number(m.id)));
    if (nearBottom) { li.scrollIntoView({ block: "end" }); }
  }

  function showStatus(text) {
    if (!statusBox) { return; }
    statusBox.textContent = "";
    statusBox.appendChild(document.createTextNode(text + " "));
    var again = document.createElement("button");
    again.type = "button";
    again.className = "link";
    again.textContent = "Ricarica la pagina";
    again.addEventListener("click", function () { window.location.reload(); });
    statusBox.appendChild(again);
    statusBox.hidden = false;
  }

  var STATUS_TEXT = {
    handoff_claimed: "Il caso è stato preso in carico.",
    handoff_transferred: "Il caso è stato trasferito.",
    handoff_released: "Il caso è tornato in coda.",
    handoff_closed: "Il caso è stato chiuso.",
    handoff_updated: "Il caso è cambiato.",
    deleted: "La persona ha cancellato i suoi dati."
  };

  if (log && window.EventSource) {
    var url = log.getAttribute("data-events-url") + "?dopo=" + encodeURIComponent(log.getAttribute("data-last-id") || "0");
    var source = new EventSource(url);
    source.addEventListener("message", function (e) {
      try { addMessage(JSON.parse(e.data)); } catch (err) { /* a malformed event is ignored */ }
    });
    source.addEventListener("status", function (e) {
      var data = {};
      try { data = JSON.parse(e.data); } catch (err) { data = {}; }
      showStatus(STATUS_TEXT[data.type] || "Il caso è cambiato.");
    });
    source.addEventListener("logout", function () { source.close(); window.location.reload(); });
  }

  var canned = document.querySelector("form.canned");
  var box = document.getElementById("reply-text");
  if (canned && box) {
    canned.addEventListener("submit", function (e) {
      e.preventDefault();
      var select = canned.querySelector("select");
      var option = select.options[select.selectedIndex];
      var text = option ? option.getAttribute("data-text") || "" : "";
      box.value = box.value ? box.value.replace(/\s+$/, "") + "\n" + text : text;
      box.focus();
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("form"), function (form) {
    form.addEventListener("submit", function () {
      if (form.method.toLowerCase() !== "post") { return; }
      var button = form.querySelector("button[type=submit]");
      if (button) { setTimeout(function () { button.disabled = true; }, 0); }
    });
  });
})();
