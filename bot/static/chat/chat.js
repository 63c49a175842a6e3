/* Bussola web chat: vanilla JavaScript, no build step, no framework (cheap phones, slow networks).
 *
 * How it works:
 * - a session ({sender, token}) is kept in localStorage; after a reload the transcript comes back from
 *   the server's history endpoint, which is the single source of truth;
 * - every message goes through an outbox kept in localStorage with its own message_id: when the network
 *   fails it is retried (the server processes a message id once), so a message is never lost;
 * - later messages (a facilitator's reply) arrive on a Server-Sent Events stream, resumed from the last
 *   message id seen;
 * - the DOM is built with textContent only: nothing the server or the person writes becomes markup;
 * - focus is never moved by incoming messages; the transcript is a polite live region.
 */
(function () {
  "use strict";

  var API = "/webhooks/rest";
  var STORE_KEY = "bussola.chat.v1";
  var START = "/start";
  var MAX_RETRY_MS = 30000;
  var HISTORY_PAGE = 500;

  var TEXT = {
    you: "Tu hai scritto:",
    bot: "Bussola ha scritto:",
    person: "Operatore",
    wrote: " ha scritto:",
    offline:
      "Non riesco a collegarmi. Il tuo messaggio è salvato: lo invio appena torna la connessione.",
    offlineStart: "Non riesco a collegarmi a Bussola. Riprovo tra poco, controlla la connessione.",
    retryNow: "Riprova ora",
    sending: "Invio in corso…",
    notSent: "Non ancora inviato",
    refused: "Non inviato",
    slowDown: "Stai scrivendo molto in fretta. Invio il messaggio tra un momento.",
    newSession: "La conversazione di prima non c'è più. Ne ho iniziata una nuova.",
    deleted: "Ho cancellato la conversazione. Possiamo ricominciare da capo.",
    deleteFailed: "Non sono riuscito a cancellare la conversazione. Controlla la connessione e riprova.",
    empty: "Scrivi qualcosa prima di inviare.",
    refusedDefault: "Non sono riuscito a inviare questo messaggio. Prova a scriverlo in modo più breve.",
    quick: "Risposte rapide",
    services: "Servizi consigliati",
    who: "Per chi",
    how: "Come fare",
    phone: "Telefono",
    call: "Chiama",
    hours: "Orari",
    address: "Indirizzo",
    email: "Email",
    web: "Sito",
    verify: "Prima di andare, telefona per controllare che le informazioni siano aggiornate.",
    emergency: "Numeri di emergenza",
    queue: function (n) {
      return n > 0 ? "Il tuo posto in coda: " + n : "Un operatore sta seguendo la tua richiesta";
    }
  };

  // ---------------------------------------------------------------------------------------------
  // Storage: localStorage may be blocked (private mode, strict settings); the chat then still works
  // for the open page, it just cannot come back after a reload.

  var memoryStore = null;

  function load() {
    try {
      var raw = window.localStorage.getItem(STORE_KEY);
      return raw ? JSON.parse(raw) : null;
    } catch (e) {
      return memoryStore;
    }
  }

  function save() {
    var data = {
      sender: state.sender,
      token: state.token,
      lastId: state.lastId,
      outbox: state.outbox
    };
    memoryStore = data;
    try {
      window.localStorage.setItem(STORE_KEY, JSON.stringify(data));
    } catch (e) {
      /* quota or privacy settings: keep it in memory only */
    }
  }

  function forget() {
    memoryStore = null;
    try {
      window.localStorage.removeItem(STORE_KEY);
    } catch (e) {
      /* nothing to do */
    }
  }

  function newId() {
    if (window.crypto && window.crypto.randomUUID) {
      return window.crypto.randomUUID();
    }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map
      .call(bytes, function (b) {
        return ("0" + b.toString(16)).slice(-2);
      })
      .join("");
  }

  // ---------------------------------------------------------------------------------------------
  // State and elements

  var state = {
    sender: null,
    token: null,
    lastId: 0,
    outbox: [], // [{id, message, title, silent}]
    seen: {}, // message ids already drawn
    titles: {}, // button payload -> title, to show what the person tapped
    busy: false,
    renewing: false,
    held: [], // stream messages that arrived while a request was on its way
    retryTimer: null,
    retryDelay: 2000,
    stream: null,
    streamTimer: null,
    streamDelay: 1000
  };

  var els = {};

  function $(id) {
    return document.getElementById(id);
  }

  // ---------------------------------------------------------------------------------------------
  // Small DOM helpers (textContent only)

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  var LINK = /(https?:\/\/[^\s<>"]+[^\s<>".,;:!?)»]|\/privacy\b)/g;

  /* Text with line breaks, and web links made clickable (only http(s) and our own privacy page). */
  function richText(parent, text) {
    var paragraphs = String(text || "").split(/\n{2,}/);
    paragraphs.forEach(function (para) {
      if (!para.trim()) return;
      var p = el("p");
      para.split("\n").forEach(function (line, i) {
        if (i > 0) p.appendChild(document.createElement("br"));
        var last = 0;
        line.replace(LINK, function (match, _g, offset) {
          if (offset > last) p.appendChild(document.createTextNode(line.slice(last, offset)));
          var a = el("a", null, match);
          a.href = match;
          a.target = "_blank";
          a.rel = "noopener noreferrer";
          p.appendChild(a);
          last = offset + match.length;
          return match;
        });
        if (last < line.length) p.appendChild(document.createTextNode(line.slice(last)));
      });
      parent.appendChild(p);
    });
  }

  function telHref(phone, tel) {
    if (tel && /^tel:\+?\d{2,15}$/.test(tel)) return tel;
    var digits = String(phone || "").replace(/[^\d+]/g, "");
    return digits ? "tel:" + digits : "";
  }

  function isNearBottom() {
    var log = els.log;
    return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  }

  function scrollToEnd() {
    els.log.scrollTop = els.log.scrollHeight;
  }

  // ---------------------------------------------------------------------------------------------
  // Drawing messages

  /* A message from any source in one shape: {id, author, name, text, buttons, custom}. */
  function normalise(m) {
    var custom = m.custom || null;
    var author = m.author || (m.direction === "in" ? "citizen" : "bot");
    var name = m.author_name || null;
    if (custom && custom.type === "facilitator_message") {
      author = "facilitator";
      name = custom.author || name;
    }
    return {
      id: typeof m.id === "number" ? m.id : Number(m.message_id || m.id || 0) || 0,
      author: author,
      name: name,
      text: m.text || "",
      buttons: Array.isArray(m.buttons) ? m.buttons : [],
      custom: custom
    };
  }

  function clearQuickReplies() {
    var groups = els.log.querySelectorAll(".quick");
    for (var i = 0; i < groups.length; i++) groups[i].parentNode.removeChild(groups[i]);
  }

  function drawQuickReplies(parent, buttons) {
    var group = el("div", "quick");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", TEXT.quick);
    buttons.forEach(function (b) {
      if (!b || !b.title || !b.payload) return;
      state.titles[b.payload] = b.title;
      var button = el("button", null, b.title);
      button.type = "button";
      button.addEventListener("click", function (ev) {
        onQuickReply(b, ev);
      });
      group.appendChild(button);
    });
    if (group.childNodes.length) parent.appendChild(group);
  }

  function drawCard(service) {
    var li = el("li");
    var card = el("article", "card");
    var h = el("h2", null, service.name || "");
    card.appendChild(h);
    if (service.organization && service.organization !== service.name) {
      card.appendChild(el("p", "org", service.organization));
    }
    if (service.description) card.appendChild(el("p", null, service.description));
    var dl = el("dl");
    function row(label, value) {
      if (!value) return;
      dl.appendChild(el("dt", null, label));
      dl.appendChild(el("dd", null, value));
    }
    row(TEXT.who, service.who_for);
    row(TEXT.how, service.how_to_access);
    var phones = Array.isArray(service.phones) ? service.phones.slice(0, 3) : [];
    if (phones.length) {
      dl.appendChild(el("dt", null, TEXT.phone));
      var dd = el("dd");
      phones.forEach(function (p) {
        var href = telHref(p.number, p.tel);
        if (!href) return;
        var a = el("a", "tel", p.number);
        a.href = href;
        a.setAttribute(
          "aria-label",
          TEXT.call + " " + (service.name || "") + ": " + p.number + (p.description ? ", " + p.description : "")
        );
        dd.appendChild(a);
        if (p.description) dd.appendChild(el("span", "tel-what", p.description + " "));
      });
      dl.appendChild(dd);
    }
    row(TEXT.hours, service.hours);
    row(TEXT.address, service.address);
    if (!phones.length && service.email) {
      dl.appendChild(el("dt", null, TEXT.email));
      var mail = el("dd");
      var ma = el("a", null, service.email);
      ma.href = "mailto:" + service.email;
      mail.appendChild(ma);
      dl.appendChild(mail);
    }
    if (!phones.length && !service.email && /^https?:\/\//.test(service.url || "")) {
      dl.appendChild(el("dt", null, TEXT.web));
      var web = el("dd");
      var wa = el("a", null, service.url);
      wa.href = service.url;
      wa.target = "_blank";
      wa.rel = "noopener noreferrer";
      web.appendChild(wa);
      dl.appendChild(web);
    }
    if (dl.childNodes.length) card.appendChild(dl);
    if (service.to_verify) card.appendChild(el("p", "verify", TEXT.verify));
    li.appendChild(card);
    return li;
  }

  function drawEmergency(bubble, m) {
    var lines = m.text.split("\n");
    richText(bubble, lines[0]);
    var box = el("section", "emergency");
    box.setAttribute("aria-label", TEXT.emergency);
    var list = el("ul");
    (m.custom.contacts || []).forEach(function (c) {
      var href = telHref(c.phone, c.tel);
      if (!href) return;
      var li = el("li");
      var a = el("a");
      a.href = href;
      a.appendChild(el("span", "num", c.phone));
      a.appendChild(el("span", "what", c.name + (c.description ? " – " + c.description : "")));
      li.appendChild(a);
      list.appendChild(li);
    });
    box.appendChild(list);
    bubble.appendChild(box);
  }

  function drawServices(bubble, m) {
    var paragraphs = m.text.split(/\n{2,}/);
    richText(bubble, m.custom.intro || paragraphs[0]);
    var list = el("ul", "cards");
    list.setAttribute("aria-label", TEXT.services);
    (m.custom.services || []).forEach(function (s) {
      list.appendChild(drawCard(s));
    });
    bubble.appendChild(list);
    if (paragraphs.length > 2) richText(bubble, paragraphs[paragraphs.length - 1]);
  }

  function addMessage(raw, opts) {
    var m = normalise(raw);
    if (m.id) {
      if (state.seen[m.id]) return null;
      state.seen[m.id] = true;
      if (m.id > state.lastId) state.lastId = m.id;
    }
    var text = m.text;
    if (m.author === "citizen") {
      if (text === START) return null; // the page's own "start" is not something the person wrote
      if (state.titles[text]) text = state.titles[text];
    }
    var stick = (opts && opts.stick) || isNearBottom();
    var kind = { citizen: "user", facilitator: "person", system: "system" }[m.author] || "bot";
    var wrap = el("div", "msg " + kind);
    if (m.id) wrap.setAttribute("data-id", String(m.id));
    var label;
    if (kind === "person") {
      label = el("span", "who", m.name || TEXT.person);
      label.appendChild(el("span", "sr-only", TEXT.wrote));
    } else {
      label = el("span", "who sr-only", kind === "user" ? TEXT.you : TEXT.bot);
    }
    wrap.appendChild(label);
    var bubble = el("div", "bubble");
    var type = m.custom && m.custom.type;
    if (type === "services" && Array.isArray(m.custom.services) && m.custom.services.length) {
      drawServices(bubble, m);
    } else if (type === "emergency" && Array.isArray(m.custom.contacts)) {
      drawEmergency(bubble, m);
    } else {
      richText(bubble, text);
    }
    if (type === "handoff" && typeof m.custom.queue_position === "number") {
      bubble.appendChild(el("p", "queue", TEXT.queue(m.custom.queue_position)));
    }
    wrap.appendChild(bubble);
    if (kind !== "user") {
      clearQuickReplies();
      if (m.buttons.length) drawQuickReplies(wrap, m.buttons);
    }
    els.log.appendChild(wrap);
    if (stick) scrollToEnd();
    return wrap;
  }

  /* A bubble for a message of the outbox, before the server has it. */
  function addPending(item) {
    if (item.silent) return;
    var wrap = el("div", "msg user pending");
    wrap.setAttribute("data-outbox", item.id);
    wrap.appendChild(el("span", "who sr-only", TEXT.you));
    var bubble = el("div", "bubble");
    richText(bubble, item.title || item.message);
    wrap.appendChild(bubble);
    wrap.appendChild(el("span", "note", TEXT.sending));
    els.log.appendChild(wrap);
    scrollToEnd();
  }

  function pendingNode(item) {
    return els.log.querySelector('[data-outbox="' + item.id + '"]');
  }

  function markPending(item, cls, note) {
    var node = pendingNode(item);
    if (!node) return;
    node.className = "msg user " + cls;
    var n = node.querySelector(".note");
    if (n) n.textContent = note;
  }

  /* The server stored the message: the pending bubble becomes a normal one (with its id). */
  function settlePending(item) {
    var node = pendingNode(item);
    if (!node) return;
    node.removeAttribute("data-outbox");
    node.className = "msg user";
    var n = node.querySelector(".note");
    if (n) n.parentNode.removeChild(n);
  }

  function addSystem(text) {
    var wrap = el("div", "msg system");
    wrap.appendChild(el("p", null, text));
    els.log.appendChild(wrap);
    scrollToEnd();
  }

  // ---------------------------------------------------------------------------------------------
  // Status line and typing indicator

  function setStatus(text, withRetry) {
    els.status.textContent = "";
    if (!text) return;
    els.status.appendChild(document.createTextNode(text + " "));
    if (withRetry) {
      var b = el("button", null, TEXT.retryNow);
      b.type = "button";
      b.addEventListener("click", function () {
        if (state.retryTimer) window.clearTimeout(state.retryTimer);
        state.retryTimer = null;
        flush(); // now, not on a timer: the bubble shows "sending" again before this returns
      });
      els.status.appendChild(b);
    }
  }

  function setTyping(on) {
    els.typing.hidden = !on;
    if (on && isNearBottom()) scrollToEnd();
  }

  // ---------------------------------------------------------------------------------------------
  // HTTP

  function request(method, path, body) {
    var headers = { Accept: "application/json" };
    if (state.token) headers.Authorization = "Bearer " + state.token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return window
      .fetch(API + path, {
        method: method,
        headers: headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "same-origin",
        cache: "no-store"
      })
      .then(function (res) {
        return res.text().then(function (txt) {
          var data = null;
          try {
            data = txt ? JSON.parse(txt) : null;
          } catch (e) {
            data = null;
          }
          return { status: res.status, ok: res.ok, data: data, headers: res.headers };
        });
      });
  }

  function isNetworkTrouble(res) {
    return !res || res.status >= 500 || res.status === 0 || res.status === 408;
  }

  // ---------------------------------------------------------------------------------------------
  // Session

  function createSession() {
    return request("POST", "/session", {}).then(function (res) {
      if (!res.ok || !res.data || !res.data.sender || !res.data.token) {
        throw new Error("session " + res.status);
      }
      state.sender = res.data.sender;
      state.token = res.data.token;
      state.lastId = 0;
      state.seen = {};
      save();
      return res.data;
    });
  }

  /* A new conversation: the "start" command brings the welcome, the privacy notice and the menu.
   * Messages written before (kept in the outbox of a conversation that is gone) follow it. */
  function startFresh(waiting) {
    return createSession().then(function () {
      state.outbox = [outboxItem(START, null, true)];
      (waiting || []).forEach(function (item) {
        if (!item.silent) state.outbox.push(item);
      });
      save();
      state.outbox.forEach(addPending);
      openStream();
      flush();
    });
  }

  function historyItems(data) {
    if (Array.isArray(data)) return data;
    if (data && Array.isArray(data.messages)) return data.messages;
    return [];
  }

  /* "gone" when the server no longer knows the session, else "empty" or "ok". Long conversations
   * come in pages, each after the last message of the one before. */
  function loadHistory(after, count) {
    var path =
      "/history?limit=" + HISTORY_PAGE + "&after=" + (after || 0) + "&sender=" + encodeURIComponent(state.sender);
    return request("GET", path).then(function (res) {
      if (res.status === 401 || res.status === 403 || res.status === 404) return "gone";
      if (!res.ok) throw new Error("history " + res.status);
      var items = historyItems(res.data);
      // Remember every button title first: the person's taps then show as what they tapped.
      items.forEach(function (m) {
        (m.buttons || []).forEach(function (b) {
          if (b && b.payload) state.titles[b.payload] = b.title;
        });
      });
      items.forEach(function (m) {
        addMessage(m, { stick: true });
      });
      var total = (count || 0) + items.length;
      if (items.length === HISTORY_PAGE) return loadHistory(state.lastId, total);
      return total ? "ok" : "empty";
    });
  }

  function boot() {
    var saved = load();
    var waiting = saved && Array.isArray(saved.outbox) ? saved.outbox : [];
    if (!(saved && saved.sender && saved.token)) {
      return startFresh(waiting);
    }
    state.sender = saved.sender;
    state.token = saved.token;
    state.lastId = 0;
    return loadHistory().then(function (found) {
      if (found === "gone") {
        if (waiting.length) addSystem(TEXT.newSession);
        return startFresh(waiting);
      }
      state.outbox = waiting;
      if (found === "empty" && !waiting.length) state.outbox.push(outboxItem(START, null, true));
      save();
      state.outbox.forEach(addPending);
      openStream();
      flush();
      return null;
    });
  }

  function bootWithRetry() {
    boot()
      .then(function () {
        els.del.disabled = false;
        setStatus("");
      })
      .catch(function () {
        setStatus(TEXT.offlineStart, false);
        window.setTimeout(bootWithRetry, state.retryDelay);
        state.retryDelay = Math.min(state.retryDelay * 2, MAX_RETRY_MS);
      });
  }

  // ---------------------------------------------------------------------------------------------
  // Sending: an ordered outbox, one message at a time, retried until the server has it.

  function outboxItem(message, title, silent) {
    return { id: newId(), message: message, title: title || null, silent: !!silent };
  }

  function enqueue(message, title) {
    var item = outboxItem(message, title, false);
    state.outbox.push(item);
    save();
    addPending(item);
    flush();
  }

  function retrySoon(ms) {
    if (state.retryTimer) window.clearTimeout(state.retryTimer);
    state.retryTimer = window.setTimeout(function () {
      state.retryTimer = null;
      flush();
    }, ms);
  }

  /* Draw replies and any stream messages held back meanwhile, in the server's order, once each. */
  function drawInOrder(items) {
    var all = items.concat(state.held);
    var first = null;
    state.held = [];
    all
      .map(function (m, i) {
        return { m: m, key: Number(m.message_id || m.id || 0) || Infinity, i: i };
      })
      .sort(function (x, y) {
        return x.key - y.key || x.i - y.i;
      })
      .forEach(function (x) {
        var node = addMessage(x.m);
        if (node && !first) first = node;
      });
    showStartOf(first);
  }

  /* A long answer (the welcome, three cards) is read from its start: if its top went out of view
   * while scrolling to the end, scroll back up to it. */
  function showStartOf(node) {
    if (!node) return;
    var above = node.getBoundingClientRect().top - els.log.getBoundingClientRect().top;
    if (above < 0) els.log.scrollTop += above - 8;
  }

  /* The session disappeared (erased, or unknown to the server): messages go on in a new one. */
  function renewSession(item, notify) {
    closeStream();
    state.renewing = true;
    createSession().then(
      function () {
        state.renewing = false;
        if (notify) addSystem(TEXT.newSession);
        openStream();
        flush();
      },
      function () {
        if (item) markPending(item, "failed", TEXT.notSent);
        setStatus(TEXT.offline, true);
        state.renewing = false;
        retrySoon(state.retryDelay);
      }
    );
  }

  function flush() {
    if (state.busy || state.renewing || !state.outbox.length) return;
    var item = state.outbox[0];
    if (!state.token) {
      renewSession(item, false);
      return;
    }
    state.busy = true;
    markPending(item, "pending", TEXT.sending); // a bubble marked "not sent" is being sent again
    setTyping(true);
    var body = { sender: state.sender, message: item.message, message_id: item.id };
    request("POST", "/webhook", body)
      .then(
        function (res) {
          return res;
        },
        function () {
          return null;
        }
      )
      .then(function (res) {
        state.busy = false;
        if (res && res.ok) {
          state.outbox.shift();
          save();
          state.retryDelay = 2000;
          setStatus("");
          settlePending(item);
          drawInOrder(Array.isArray(res.data) ? res.data : []);
          if (!state.outbox.length) setTyping(false);
          flush();
          return;
        }
        setTyping(false);
        drawInOrder([]);
        if (res && res.status === 429) {
          var wait = parseInt(res.headers.get("Retry-After") || "3", 10);
          setStatus(TEXT.slowDown, false);
          retrySoon(Math.max(1, wait || 3) * 1000);
          return;
        }
        if (res && (res.status === 401 || res.status === 403)) {
          state.token = null;
          renewSession(item, true);
          return;
        }
        if (isNetworkTrouble(res)) {
          markPending(item, "failed", TEXT.notSent);
          setStatus(TEXT.offline, true);
          retrySoon(state.retryDelay);
          state.retryDelay = Math.min(state.retryDelay * 2, MAX_RETRY_MS);
          return;
        }
        // Refused for good (too long, malformed): give the words back so the person can change them.
        state.outbox.shift();
        save();
        markPending(item, "failed", TEXT.refused);
        var detail = res.data && typeof res.data.detail === "string" ? res.data.detail : TEXT.refusedDefault;
        setStatus(detail, false);
        if (!item.silent && !item.title && !els.input.value) {
          els.input.value = item.message;
          autosize();
        }
        flush();
      });
  }

  function send(text, title, focusInput) {
    clearQuickReplies();
    enqueue(text, title);
    if (focusInput) els.input.focus();
  }

  function onQuickReply(button, ev) {
    // A tap on a phone should not open the keyboard; a keyboard user goes back to the text box.
    var touch = ev && ev.detail > 0 && window.matchMedia && window.matchMedia("(pointer: coarse)").matches;
    send(button.payload, button.title, !touch);
    if (touch) els.log.focus({ preventScroll: true });
  }

  function onSubmit(ev) {
    ev.preventDefault();
    var text = els.input.value.replace(/\s+$/, "");
    if (!text.trim()) {
      setStatus(TEXT.empty, false);
      els.input.focus();
      return;
    }
    els.input.value = "";
    autosize();
    if (els.status.textContent === TEXT.empty + " ") setStatus("");
    send(text, null, true);
  }

  function autosize() {
    var input = els.input;
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight + 4, 128) + "px";
  }

  // ---------------------------------------------------------------------------------------------
  // Push stream (Server-Sent Events), resumed from the last message id seen.

  function closeStream() {
    if (state.streamTimer) {
      window.clearTimeout(state.streamTimer);
      state.streamTimer = null;
    }
    if (state.stream) {
      state.stream.close();
      state.stream = null;
    }
  }

  function onStreamMessage(ev) {
    var m;
    try {
      m = JSON.parse(ev.data);
    } catch (e) {
      return;
    }
    if (!m || typeof m !== "object") return;
    if (ev.lastEventId && !m.message_id) m.message_id = Number(ev.lastEventId);
    state.streamDelay = 1000;
    var n = normalise(m);
    if (n.author === "citizen") {
      // The person's own messages are on screen already (drawn when sent).
      if (n.id) {
        state.seen[n.id] = true;
        if (n.id > state.lastId) state.lastId = n.id;
      }
      return;
    }
    if (state.busy) {
      // Our request's replies come back with it: hold what arrives meanwhile, draw all in order then.
      state.held.push(m);
      return;
    }
    if (addMessage(m) && n.author !== "bot") setTyping(false);
  }

  /* The conversation was erased (from this page, another tab, or by the "cancella" command). */
  function onStreamDeleted() {
    closeStream();
    forget();
    state.sender = null;
    state.token = null;
    state.lastId = 0;
  }

  function openStream() {
    closeStream();
    if (!state.token || !window.EventSource) return;
    // EventSource cannot send headers, and an embedded page may not get cookies: the token goes in
    // the query (the app never logs query strings).
    var url =
      API +
      "/stream?token=" +
      encodeURIComponent(state.token) +
      "&after=" +
      encodeURIComponent(String(state.lastId || 0));
    var es = new window.EventSource(url);
    state.stream = es;
    es.onmessage = onStreamMessage;
    es.addEventListener("deleted", function () {
      if (state.stream === es) onStreamDeleted();
    });
    es.onerror = function () {
      if (es.readyState === 2 && state.stream === es) {
        // The browser gave up (an HTTP error): reconnect ourselves, later and later, from lastId.
        state.stream = null;
        state.streamTimer = window.setTimeout(openStream, state.streamDelay);
        state.streamDelay = Math.min(state.streamDelay * 2, MAX_RETRY_MS);
      }
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Deleting the conversation

  function askDelete() {
    if (els.confirm.showModal) {
      els.confirm.showModal();
      els.confirmNo.focus();
    } else if (window.confirm("Vuoi cancellare la conversazione? Non si potrà tornare indietro.")) {
      doDelete();
    }
  }

  function doDelete() {
    var path = "/conversation?sender=" + encodeURIComponent(state.sender || "");
    request("DELETE", path)
      .then(function (res) {
        if (!res.ok && res.status !== 401 && res.status !== 403 && res.status !== 404) {
          throw new Error("delete " + res.status);
        }
        closeStream();
        forget();
        state.sender = null;
        state.token = null;
        state.outbox = [];
        state.lastId = 0;
        state.seen = {};
        state.titles = {};
        els.log.textContent = "";
        addSystem(TEXT.deleted);
        setStatus("");
        return startFresh([]);
      })
      .catch(function () {
        setStatus(TEXT.deleteFailed, false);
      })
      .then(function () {
        els.input.focus();
      });
  }

  // ---------------------------------------------------------------------------------------------
  // Inside the widget's iframe: the "Chiudi" button and Escape tell the host page to close it.

  function tellParent(type) {
    if (window.parent && window.parent !== window) {
      window.parent.postMessage({ type: type }, "*");
    }
  }

  function init() {
    els.log = $("log");
    els.input = $("input");
    els.form = $("composer");
    els.status = $("status");
    els.typing = $("typing");
    els.del = $("delete");
    els.close = $("close");
    els.confirm = $("confirm");
    els.confirmYes = $("confirm-yes");
    els.confirmNo = $("confirm-no");

    els.form.addEventListener("submit", onSubmit);
    els.input.addEventListener("input", autosize);
    els.input.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
        onSubmit(ev);
      }
    });
    els.del.addEventListener("click", askDelete);
    els.confirmNo.addEventListener("click", function () {
      els.confirm.close();
    });
    els.confirmYes.addEventListener("click", function () {
      els.confirm.close();
      doDelete();
    });
    if (els.close) {
      els.close.addEventListener("click", function () {
        tellParent("bussola:close");
      });
      document.addEventListener("keydown", function (ev) {
        if (ev.key === "Escape" && !(els.confirm.open)) tellParent("bussola:close");
      });
    }
    window.addEventListener("message", function (ev) {
      if (ev.source !== window.parent || !ev.data) return;
      if (ev.data.type === "bussola:open") els.input.focus();
    });
    window.addEventListener("online", function () {
      if (state.outbox.length) retrySoon(0);
      if (!state.stream && state.token) openStream();
    });
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible" && state.token && !state.stream) openStream();
    });
    bootWithRetry();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
