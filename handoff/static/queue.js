// Console queue: live refresh over Server-Sent Events, with a visual and optional sound cue for
// urgent cases. The tables come from the server already escaped; nothing here builds HTML from data.
(function () {
  "use strict";
  var live = document.getElementById("queue-live");
  if (!live || !window.EventSource) { return; }
  var status = document.getElementById("live-status");
  var banner = document.getElementById("urgent-banner");
  var toggle = document.getElementById("sound-toggle");
  var baseTitle = document.title;
  var audio = null;
  var soundOn = false;
  var timer = null;

  function setStatus(text) { if (status) { status.textContent = text; } }

  function beep() {
    if (!soundOn || !audio) { return; }
    var now = audio.currentTime;
    [0, 0.25].forEach(function (offset) {
      var osc = audio.createOscillator();
      var gain = audio.createGain();
      osc.type = "sine";
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, now + offset);
      gain.gain.exponentialRampToValueAtTime(0.3, now + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + offset + 0.2);
      osc.connect(gain).connect(audio.destination);
      osc.start(now + offset);
      osc.stop(now + offset + 0.22);
    });
  }

  if (toggle) {
    toggle.hidden = false;
    toggle.addEventListener("click", function () {
      soundOn = !soundOn;
      if (soundOn && !audio) {
        var Ctx = window.AudioContext || window.webkitAudioContext;
        if (Ctx) { audio = new Ctx(); }
      }
      toggle.setAttribute("aria-pressed", soundOn ? "true" : "false");
      toggle.textContent = soundOn ? "Disattiva l'avviso sonoro" : "Attiva l'avviso sonoro";
      if (soundOn) { beep(); }
    });
  }

  function urgentCue() {
    if (banner) { banner.hidden = false; }
    document.title = "(!) Caso urgente · " + baseTitle;
    beep();
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) { document.title = baseTitle; }
  });
  if (banner) { banner.addEventListener("click", function () { banner.hidden = true; }); }

  function refresh() {
    fetch(live.getAttribute("data-rows-url"), { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) {
        if (r.status === 401) { window.location.reload(); return null; }
        return r.ok ? r.text() : null;
      })
      .then(function (html) {
        if (!html) { return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("queue-tables");
        var old = document.getElementById("queue-tables");
        if (fresh && old) { old.replaceWith(document.importNode(fresh, true)); }
      })
      .catch(function () { setStatus("Non riesco ad aggiornare la coda: riprovo."); });
  }

  var source = new EventSource(live.getAttribute("data-events-url"));
  source.addEventListener("open", function () { setStatus("La coda si aggiorna da sola."); });
  source.addEventListener("error", function () { setStatus("Connessione interrotta: riprovo…"); });
  source.addEventListener("logout", function () { source.close(); window.location.reload(); });
  source.addEventListener("queue", function (e) {
    var data = {};
    try { data = JSON.parse(e.data); } catch (err) { data = {}; }
    if (data.urgent) { urgentCue(); }
    clearTimeout(timer);
    timer = setTimeout(refresh, 250);
  });
})();
