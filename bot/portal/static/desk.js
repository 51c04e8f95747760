/*
 * The agent console of the handoff desk (docs/handoff.md, "The agent console socket").
 *
 * The page gets the agent's token from the portal (GET /api/session: the token lives in an
 * HttpOnly cookie, the page holds a copy only to open its socket), renews it at 80 % of its
 * life (POST /api/token) and reconnects with the new one. Everything goes through one
 * Socket.IO connection to the Rasa server at /desk/socket.io; each call is an event with an
 * acknowledgement {ok: true, ...} or {ok: false, code, message}.
 *
 * Everything shown is put into the page with textContent or as attributes, never as HTML.
 */
(function () {
  "use strict";
  var QUEUE_EVERY_MS = 5000;
  var TYPING_EVERY_MS = 3000;
  var TYPING_SHOWN_MS = 6000;
  var CALL_TIMEOUT_MS = 20000;
  var MAX_CHARS = 2000;
  var AREAS = [
    ["orders", "Orders"], ["invoices", "Invoices"], ["devices", "Devices"],
    ["contracts", "Contracts"], ["service_requests", "Service requests"],
  ];
  var LABELS = {
    language: { en: "English", es: "Spanish" },
    channel: { widget: "Web chat", portal: "Portal", slack: "Slack" },
    reason: {
      asked: "Asked for a person", not_understood: "The assistant did not understand",
      services_down: "Account services were down",
    },
    role: { site_admin: "Site admin", buyer: "Buyer", shopper: "Shopper", account_team: "Account team" },
    outcome: { resolved: "resolved", unresolved: "unresolved", service_request_opened: "service request opened" },
    state: { waiting: "Waiting in the queue", claimed: "You are talking with the customer", closed: "Closed", cancelled: "Cancelled by the customer", converted: "Turned into a service request" },
    who: { customer: "Customer", assistant: "Assistant", agent: "Agent", system: "System" },
  };
  var STATE_NEWS = {
    waiting: "The conversation went back to the queue.",
    closed: "The conversation was closed.",
    cancelled: "The customer left the queue and is back with the assistant.",
    converted: "The customer chose a service request instead.",
  };
  // Per account area: its columns (the services' keys), their headers in the agent's language
  // (`labels`) and the names of the codes a column holds (`words`: statuses, plans), the
  // portal's own tables' (bot/portal/app.py, desk_columns).
  var COLUMNS = (function () {
    try { return JSON.parse(document.getElementById("desk-columns").textContent); } catch (e) { return {}; }
  }());

  var state = {
    me: null, token: null, chatUrl: null, socket: null, renewTimer: null, queueTimer: null,
    waitingSince: {}, current: null, shown: {}, ownTexts: [], lastTyping: 0, typingTimer: null,
    area: null, queue: { waiting: [], mine: [] },
  };

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === "text") node.textContent = attrs[name];
      else if (name === "hidden") node.hidden = !!attrs[name];
      else node.setAttribute(name, attrs[name]);
    });
    (children || []).forEach(function (child) {
      if (child != null) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function label(kind, value) {
    if (value == null || value === "") return "—";
    return (LABELS[kind] && LABELS[kind][value]) || String(value).replace(/_/g, " ");
  }

  function say(text) {
    var announcer = $("announcer");
    announcer.appendChild(el("p", { text: text }));
    while (announcer.childNodes.length > 4) announcer.removeChild(announcer.firstChild);
  }

  function notify(text, kind) {
    var notice = $("notice");
    notice.textContent = text;
    notice.setAttribute("data-kind", kind || "error");
    clearTimeout(state.noticeTimer);
    state.noticeTimer = setTimeout(function () { notice.textContent = ""; }, 12000);
  }

  function setConnection(stateName, text) {
    var line = $("connection");
    line.setAttribute("data-state", stateName);
    line.textContent = text;
  }

  // --- the portal: session and token renewal ------------------------------------------------

  function api(method, path) {
    return fetch(path, {
      method: method,
      headers: method === "POST" ? { "Content-Type": "application/json", "X-Portal": "1" } : {},
      credentials: "same-origin",
    }).then(function (response) {
      if (response.status === 401) { signedOut(); throw new Error("signed out"); }
      return response.json().then(function (data) {
        if (!response.ok) throw Object.assign(new Error("refused"), { body: data });
        return data;
      });
    });
  }

  function signedOut() {
    setConnection("offline", "Your session has ended. Please sign in again.");
    setTimeout(function () { location.href = "/sign-in"; }, 1500);
  }

  function expiry(token) {
    try {
      var payload = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
      return payload.exp * 1000;
    } catch (e) {
      return Date.now() + 60000;
    }
  }

  // Renew at 80 % of the token's life and hand the new token to the socket (`token`), which
  // calls the services as the agent with it; if the socket will not take it, reconnect.
  function scheduleRenewal() {
    clearTimeout(state.renewTimer);
    var left = expiry(state.token) - Date.now();
    state.renewTimer = setTimeout(renew, Math.max(1000, left * 0.8));
  }

  function renew() {
    return api("POST", "/api/token").then(function (renewed) {
      state.token = renewed.token;
      scheduleRenewal();
      if (!state.socket) return;
      if (!state.socket.connected) { state.socket.connect(); return; }
      return call("token", { token: state.token }).then(function (ack) {
        if (!ack.ok) { state.socket.disconnect(); state.socket.connect(); }
      });
    }).catch(function () {});
  }

  // --- the socket ------------------------------------------------------------------------------

  function connect() {
    var socket = io(state.chatUrl, {
      path: "/desk/socket.io",
      transports: ["websocket"],
      reconnectionDelayMax: 4000,
      // A function: every (re)connection sends the token the page holds now.
      auth: function (send) { send({ token: state.token }); },
    });
    state.socket = socket;
    socket.on("connect", function () {
      setConnection("connected", "Connected");
      refreshQueue();
      if (state.current) openHandoff(state.current.id, { quiet: true });
    });
    socket.on("disconnect", function (reason) {
      setConnection("reconnecting", reason === "io server disconnect" ? "Disconnected by the server" : "Reconnecting…");
      if (reason === "io server disconnect") setTimeout(function () { socket.connect(); }, 2000);
    });
    socket.on("connect_error", function (error) {
      var data = (error && error.data) || {};
      if (data.code === "session_expired") return renew();
      if (data.code === "not_an_agent") return setConnection("refused", "The desk is for support agents only.");
      if (data.code === "not_signed_in") return signedOut();
      if (data.code === "unavailable") return setConnection("reconnecting", "The desk cannot reach the account services; trying again…");
      if (data.code) return setConnection("refused", "The desk refused the connection (" + data.code + ").");
      setConnection("reconnecting", "Reconnecting…");
    });
    socket.on("queue_changed", function () { refreshQueue(); });
    socket.on("desk_message", receive);
    clearInterval(state.queueTimer);
    // The queue is also the heartbeat for every conversation the agent holds.
    state.queueTimer = setInterval(refreshQueue, QUEUE_EVERY_MS);
  }

  // One call: resolves with the acknowledgement (a failure is {ok: false, code, message}).
  function call(event, payload) {
    return new Promise(function (resolve) {
      var socket = state.socket;
      if (!socket || !socket.connected) {
        resolve({ ok: false, code: "offline", message: "not connected to the desk" });
        return;
      }
      var done = function (error, ack) {
        if (error) return resolve({ ok: false, code: "timeout", message: "the desk did not answer" });
        resolve(ack && typeof ack === "object" ? ack : { ok: false, code: "bad_answer", message: "unexpected answer" });
      };
      if (payload === undefined) socket.timeout(CALL_TIMEOUT_MS).emit(event, done);
      else socket.timeout(CALL_TIMEOUT_MS).emit(event, payload, done);
    }).then(function (ack) {
      if (!ack.ok && ack.code === "session_expired" && event !== "token") renew();
      return ack;
    });
  }

  function failure(what, ack) {
    return what + ": " + (ack.message || ack.code || "failed") + ".";
  }

  // --- the queue ---------------------------------------------------------------------------

  function refreshQueue() {
    if (!state.socket || !state.socket.connected) return Promise.resolve();
    return call("queue").then(function (ack) {
      if (!ack.ok) return;
      showQueue(ack.queue || { waiting: [], mine: [] });
    });
  }

  function waited(item) {
    var since = state.waitingSince[item.id];
    var seconds = since == null ? item.waited_seconds || 0 : (Date.now() - since) / 1000;
    return formatSeconds(seconds);
  }

  function formatSeconds(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var minutes = Math.floor(seconds / 60);
    var rest = seconds % 60;
    if (minutes >= 60) return Math.floor(minutes / 60) + " h " + (minutes % 60) + " min";
    return minutes ? minutes + " min " + rest + " s" : rest + " s";
  }

  function showQueue(queue) {
    var waiting = (queue.waiting || []).slice().sort(function (a, b) {
      return String(a.created_at).localeCompare(String(b.created_at));
    });
    state.queue = { waiting: waiting, mine: queue.mine || [] };
    var now = Date.now();
    var since = {};
    waiting.forEach(function (item) { since[item.id] = now - (item.waited_seconds || 0) * 1000; });
    state.waitingSince = since;
    // Re-rendering must not take the keyboard user's place away: remember what had focus.
    var focused = document.activeElement;
    var focusId = focused && focused.getAttribute && focused.getAttribute("data-claim");
    var rows = $("queue-rows");
    rows.textContent = "";
    waiting.forEach(function (item) {
      var claim = el("button", { type: "button", class: "claim", "data-claim": String(item.id), "aria-label": "Claim the conversation with " + (item.person_name || "the customer") + " of " + (item.account_name || "") }, ["Claim"]);
      claim.addEventListener("click", function () { claimHandoff(item); });
      var row = el("tr", { "data-handoff": String(item.id) }, [
        el("td", { class: "waited", "data-waited": String(item.id), text: waited(item) }),
        el("th", { scope: "row", text: item.person_name || "—" }),
        el("td", { text: item.account_name || "—" }),
        el("td", { text: label("role", item.role) }),
        el("td", { text: label("language", item.language) }),
        el("td", { text: label("channel", item.channel) }),
        el("td", { text: label("reason", item.reason) }),
        el("td", { text: item.topic ? label("topic", item.topic) : "—" }),
        el("td", {}, [claim]),
      ]);
      rows.appendChild(row);
    });
    $("queue-count").textContent = "(" + waiting.length + ")";
    $("queue-empty").hidden = waiting.length > 0;
    $("queue-scroll").hidden = waiting.length === 0;
    if (focusId) {
      var again = rows.querySelector("[data-claim='" + focusId + "']");
      if (again) again.focus();
    }
    var mine = $("mine");
    mine.textContent = "";
    state.queue.mine.forEach(function (item) {
      var current = state.current && state.current.id === item.id;
      var open = el("button", { type: "button", class: "open", "data-open": String(item.id) }, [
        (item.person_name || "Customer") + " · " + (item.account_name || ""),
      ]);
      if (current) open.setAttribute("aria-current", "true");
      open.addEventListener("click", function () { openHandoff(item.id); });
      mine.appendChild(el("li", {}, [open]));
    });
    $("mine-empty").hidden = state.queue.mine.length > 0;
    // The services requeue a conversation whose agent went silent: if the one on screen is no
    // longer ours, `open` says so (and the page lets it go).
    var shown = state.current;
    if (shown && shown.state === "claimed" && !state.queue.mine.some(function (m) { return m.id === shown.id; })) {
      openHandoff(shown.id, { quiet: true, noRefresh: true });
    }
  }

  function tickWaiting() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-waited]"), function (cell) {
      var id = cell.getAttribute("data-waited");
      var item = state.queue.waiting.filter(function (w) { return String(w.id) === id; })[0];
      if (item) cell.textContent = waited(item);
    });
  }

  function claimHandoff(item) {
    return call("claim", { id: item.id }).then(function (ack) {
      if (ack.ok) {
        notify("You claimed the conversation with " + (item.person_name || "the customer") + ".", "ok");
        return openHandoff(item.id, { detail: ack.handoff });
      }
      if (ack.code === "already_claimed") {
        notify((ack.claimed_by || "Another agent") + " already claimed the conversation with " + (item.person_name || "this customer") + ".", "error");
      } else {
        notify(failure("Could not claim", ack));
      }
      return refreshQueue();
    });
  }

  // --- one conversation ----------------------------------------------------------------------

  function openHandoff(id, options) {
    options = options || {};
    // `open` subscribes this console to the handoff's news; the claim's answer already holds
    // the detail, so it is shown at once and refreshed by the `open` answer.
    if (options.detail) showHandoff(options.detail, true);
    return call("open", { id: id }).then(function (ack) {
      if (ack.ok) {
        showHandoff(ack.handoff, !options.detail && !options.quiet);
      } else if (!options.quiet || ack.code === "not_your_handoff") {
        notify(failure("Could not open the conversation", ack));
        if (ack.code === "not_your_handoff") endConversation();
      }
      if (!options.noRefresh) return refreshQueue();
    });
  }

  function showHandoff(detail, focus) {
    var changed = !state.current || state.current.id !== detail.id;
    state.current = detail;
    if (changed) { state.shown = {}; state.ownTexts = []; state.area = null; $("account-panel").textContent = ""; }
    $("conversation").hidden = false;
    $("conversation-title").textContent = "Conversation with " + (detail.person_name || "the customer") + " · " + (detail.account_name || "");
    showState(detail.state, detail.outcome);
    showContext(detail);
    var transcript = $("transcript");
    transcript.textContent = "";
    state.shown = {};
    (detail.messages || []).forEach(function (message) { addLine(message, false); });
    scrollDown();
    buildTabs();
    if (focus) $("reply-input").focus();
    if ((detail.messages || []).some(function (m) { return m.who === "customer"; })) markRead();
  }

  function showState(stateName, outcome) {
    var open = stateName === "claimed";
    if (state.current) state.current.state = stateName;
    $("handoff-state").textContent = stateName === "closed" && outcome
      ? "Closed as " + label("outcome", outcome) + "."
      : label("state", stateName);
    $("handoff-state").setAttribute("data-state", stateName || "");
    ["reply-input", "reply-send", "release", "close", "close-note"].forEach(function (id) { $(id).disabled = !open; });
    Array.prototype.forEach.call(document.querySelectorAll("#close-form input"), function (input) { input.disabled = !open; });
  }

  function fact(list, term, value) {
    list.appendChild(el("dt", { text: term }));
    list.appendChild(el("dd", { text: value == null || value === "" ? "—" : String(value) }));
  }

  function showContext(detail) {
    var context = $("context");
    context.textContent = "";
    fact(context, "Account", (detail.account_name || "—") + (detail.country ? " (" + detail.country + ")" : ""));
    fact(context, "Person", detail.person_name);
    fact(context, "Role", label("role", detail.role));
    fact(context, "Language", label("language", detail.language));
    fact(context, "Channel", label("channel", detail.channel));
    fact(context, "Reason", label("reason", detail.reason));
    fact(context, "Trying to do", detail.topic ? label("topic", detail.topic) : "—");
    fact(context, "Waited", formatSeconds(detail.waited_seconds || 0));
    var slots = $("slots");
    slots.textContent = "";
    var names = Object.keys(detail.slots || {}).sort();
    if (!names.length) fact(slots, "Nothing yet", "");
    names.forEach(function (name) {
      var value = detail.slots[name];
      fact(slots, name.replace(/_/g, " "), typeof value === "boolean" ? (value ? "yes" : "no") : value);
    });
  }

  function authorOf(message) {
    var base = LABELS.who[message.who] || message.who;
    if (message.who === "customer") return base + " (" + (message.author || (state.current && state.current.person_name) || "") + ")";
    if (message.who === "agent") return message.author ? "Agent (" + message.author + ")" : base;
    return base;
  }

  function timeOf(at) {
    var when = at ? new Date(at) : new Date();
    if (isNaN(when.getTime())) return null;
    return el("time", { datetime: when.toISOString(), text: when.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" }) });
  }

  function addLine(message, live) {
    var key = message.id != null ? String(message.id) : null;
    if (key && state.shown[key]) return null;
    if (key) state.shown[key] = true;
    var item = el("li", { class: "line line-" + (message.who || "system"), "data-who": message.who || "system" }, [
      el("p", { class: "line-meta" }, [el("span", { class: "line-who", text: authorOf(message) }), " ", timeOf(message.at)]),
      el("p", { class: "line-text", text: message.text || "" }),
    ]);
    $("transcript").appendChild(item);
    if (live) {
      scrollDown();
      if (message.who === "customer") say((message.author || (state.current && state.current.person_name) || "The customer") + " says: " + message.text);
      else if (message.who === "system") say(message.text);
    }
    return item;
  }

  function scrollDown() {
    var transcript = $("transcript");
    transcript.scrollTop = transcript.scrollHeight;
  }

  function handoffOf(push) {
    var topic = String(push.conversation_id || "");
    return topic.indexOf("desk:") === 0 ? topic.slice(5) : null;
  }

  // Something happened in a conversation this console is subscribed to.
  function receive(push) {
    if (!push || !state.current || handoffOf(push) !== String(state.current.id)) {
      refreshQueue();
      return;
    }
    var reply = push.reply || {};
    var data = reply.data || {};
    if (push.kind === "typing") {
      if (data.who === "agent") return;
      return showTyping(true);
    }
    if (push.kind === "read") return;
    if (push.kind === "customer") {
      showTyping(false);
      addLine({ id: data.id != null ? data.id : "push-" + push.id, who: "customer", author: data.author || null, text: reply.text, at: data.at || push.created_at }, true);
      markRead();
      return;
    }
    if (push.kind === "agent") {
      // This console's own reply is already shown from the `say` answer.
      var messageId = data.id != null ? data.id : data.message && data.message.id;
      if (messageId != null && state.shown[String(messageId)]) return;
      var own = state.ownTexts.indexOf(reply.text);
      if (own >= 0) { state.ownTexts.splice(own, 1); return; }
      addLine({ id: messageId != null ? messageId : "push-" + push.id, who: "agent", author: data.agent_name || data.author || null, text: reply.text, at: push.created_at }, true);
      return;
    }
    // A state change (released, closed elsewhere, the customer left): show it and reload.
    if (reply.text) addLine({ id: "push-" + push.id, who: "system", text: reply.text, at: push.created_at }, true);
    if (data.type === "handoff_state" && data.state) {
      // The state's event: claimed, requeued (released, or the agent was silent too long),
      // closed, cancelled or converted (the customer went back to the assistant).
      var now = data.state === "requeued" ? "waiting" : data.state;
      if (now === "claimed") return;
      showState(now, data.outcome);
      showTyping(false);
      if (!reply.text) {
        addLine({ id: "push-" + push.id, who: "system", text: STATE_NEWS[now] || label("state", now), at: push.created_at }, true);
      }
      refreshQueue();
    }
  }

  function showTyping(on) {
    var typing = $("typing");
    clearTimeout(state.typingTimer);
    typing.textContent = on ? ((state.current && state.current.person_name) || "The customer") + " is typing…" : "";
    typing.hidden = !on;
    if (on) state.typingTimer = setTimeout(function () { showTyping(false); }, TYPING_SHOWN_MS);
  }

  var readPending = false;
  function markRead() {
    if (!state.current || readPending || document.hidden) return;
    readPending = true;
    var id = state.current.id;
    setTimeout(function () {
      readPending = false;
      call("read", { id: id });
    }, 300);
  }

  function sendReply() {
    var input = $("reply-input");
    var text = input.value.trim();
    if (!text || !state.current) return;
    if (text.length > MAX_CHARS) return notify("That reply is too long (2,000 characters at most).");
    var id = state.current.id;
    input.value = "";
    state.ownTexts.push(text);
    var pending = addLine({ who: "agent", author: state.me && state.me.name, text: text }, true);
    pending.setAttribute("data-state", "sending");
    return call("say", { id: id, text: text }).then(function (ack) {
      if (ack.ok) {
        pending.setAttribute("data-state", "sent");
        if (ack.message && ack.message.id != null) state.shown[String(ack.message.id)] = true;
        return;
      }
      pending.setAttribute("data-state", "failed");
      var own = state.ownTexts.indexOf(text);
      if (own >= 0) state.ownTexts.splice(own, 1);
      pending.appendChild(el("p", { class: "line-failed", text: "Not sent (" + (ack.message || ack.code) + ")." }));
      if (!input.value) input.value = text;
      notify(failure("Your reply was not sent", ack));
    });
  }

  function release() {
    if (!state.current) return;
    var current = state.current;
    return call("release", { id: current.id }).then(function (ack) {
      if (!ack.ok) return notify(failure("Could not release the conversation", ack));
      notify("The conversation with " + (current.person_name || "the customer") + " is back in the queue.", "ok");
      endConversation();
      return refreshQueue();
    });
  }

  function outcome() {
    var chosen = document.querySelector("#close-form input[name=outcome]:checked");
    return chosen ? chosen.value : "resolved";
  }

  function askToClose() {
    if (!state.current) return;
    $("confirm-text").textContent = "The conversation with " + (state.current.person_name || "the customer") +
      " will be closed as " + label("outcome", outcome()) + ", and the assistant takes over again.";
    var dialog = $("confirm-close");
    dialog.returnValue = "";
    dialog.showModal();
    $("confirm-cancel").focus();
  }

  function close() {
    var current = state.current;
    var note = $("close-note").value.trim();
    var payload = { id: current.id, outcome: outcome() };
    if (note) payload.note = note;
    return call("close", payload).then(function (ack) {
      if (!ack.ok) { $("close").focus(); return notify(failure("Could not close the conversation", ack)); }
      notify("Closed the conversation with " + (current.person_name || "the customer") + " as " + label("outcome", payload.outcome) + ".", "ok");
      $("close-note").value = "";
      endConversation();
      return refreshQueue();
    });
  }

  function endConversation() {
    state.current = null;
    showTyping(false);
    $("conversation").hidden = true;
    $("transcript").textContent = "";
    $("account-panel").textContent = "";
    $("main").focus();
  }

  // --- the customer's account, read-only through the handoff's grant ------------------------

  function buildTabs() {
    var tabs = $("account-tabs");
    if (tabs.childNodes.length) return updateTabs();
    AREAS.forEach(function (area, index) {
      var tab = el("button", { type: "button", role: "tab", id: "tab-" + area[0], "data-area": area[0], "aria-controls": "account-panel", "aria-selected": "false", tabindex: index ? "-1" : "0" }, [area[1]]);
      tab.addEventListener("click", function () { showArea(area[0]); });
      tab.addEventListener("keydown", function (event) {
        var all = Array.prototype.slice.call(tabs.querySelectorAll("[role=tab]"));
        var at = all.indexOf(tab);
        var next = event.key === "ArrowRight" ? at + 1 : event.key === "ArrowLeft" ? at - 1 : event.key === "Home" ? 0 : event.key === "End" ? all.length - 1 : null;
        if (next == null) return;
        event.preventDefault();
        var target = all[(next + all.length) % all.length];
        target.focus();
        showArea(target.getAttribute("data-area"));
      });
      tabs.appendChild(tab);
    });
    updateTabs();
  }

  function updateTabs() {
    Array.prototype.forEach.call(document.querySelectorAll("#account-tabs [role=tab]"), function (tab, index) {
      var selected = tab.getAttribute("data-area") === state.area;
      tab.setAttribute("aria-selected", selected ? "true" : "false");
      tab.setAttribute("tabindex", selected || (!state.area && index === 0) ? "0" : "-1");
    });
    var panel = $("account-panel");
    if (state.area) panel.setAttribute("aria-labelledby", "tab-" + state.area);
    else panel.removeAttribute("aria-labelledby");
    if (!state.area) panel.setAttribute("aria-label", "Choose an area to see the customer's data");
    else panel.removeAttribute("aria-label");
  }

  function showArea(area) {
    if (!state.current) return;
    state.area = area;
    updateTabs();
    var panel = $("account-panel");
    panel.setAttribute("aria-busy", "true");
    panel.setAttribute("data-area", area);
    var id = state.current.id;
    return call("account", { id: id, area: area }).then(function (ack) {
      if (!state.current || state.current.id !== id || state.area !== area) return;
      panel.textContent = "";
      panel.setAttribute("aria-busy", "false");
      if (!ack.ok) {
        panel.appendChild(el("p", { class: "refused", text: failure("Not available", ack) }));
        return;
      }
      panel.appendChild(renderRows(area, rowsOf(ack.rows, area)));
    });
  }

  function rowsOf(rows, area) {
    if (Array.isArray(rows)) return rows;
    if (rows && typeof rows === "object") {
      if (Array.isArray(rows[area])) return rows[area];
      var list = Object.keys(rows).map(function (k) { return rows[k]; }).filter(Array.isArray)[0];
      if (list) return list;
    }
    return [];
  }

  function heading(area, name) {
    var known = COLUMNS[area] || {};
    var at = (known.columns || []).indexOf(name);
    return (at >= 0 && known.labels && known.labels[at]) || name.replace(/_/g, " ");
  }

  function cell(value, names) {
    if (value == null) return "";
    // A code the agent's language names (a status, a plan); any other value as stored.
    if (typeof value === "string" && names && Object.prototype.hasOwnProperty.call(names, value)) return names[value] || value;
    if (typeof value === "object" && "cents" in value && "currency" in value) {
      return (value.cents / 100).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 }) + " " + value.currency;
    }
    if (Array.isArray(value)) return value.map(function (each) { return cell(each, names); }).join(", ");
    if (typeof value === "boolean") return value ? "yes" : "no";
    if (typeof value === "object") return "";
    return String(value);
  }

  function renderRows(area, rows) {
    var title = AREAS.filter(function (a) { return a[0] === area; })[0][1];
    if (!rows.length) return el("p", { class: "empty", text: "No " + title.toLowerCase() + " in this account." });
    var words = (COLUMNS[area] && COLUMNS[area].words) || {};
    var known = ((COLUMNS[area] && COLUMNS[area].columns) || []).filter(function (name) { return rows.some(function (row) { return row && name in row; }); });
    var columns = known.length ? known : Object.keys(rows[0] || {}).filter(function (name) {
      return rows[0][name] == null || typeof rows[0][name] !== "object" || "cents" in rows[0][name];
    });
    var head = el("tr", {}, columns.map(function (name) { return el("th", { scope: "col", "data-column": name, text: heading(area, name) }); }));
    var body = el("tbody", {}, rows.map(function (row) {
      return el("tr", {}, columns.map(function (name) { return el("td", { text: cell(row && row[name], words[name]) }); }));
    }));
    var table = el("table", { class: "account-table" }, [
      el("caption", { text: title + " of " + ((state.current && state.current.account_name) || "the account") + " (" + rows.length + ")" }),
      el("thead", {}, [head]), body,
    ]);
    return el("div", { class: "scroll", role: "region", tabindex: "0", "aria-label": title }, [table]);
  }

  // --- wiring ----------------------------------------------------------------------------------

  $("reply-form").addEventListener("submit", function (event) { event.preventDefault(); sendReply(); });
  $("reply-input").addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      sendReply();
    }
  });
  $("reply-input").addEventListener("input", function () {
    if (!state.current || !$("reply-input").value) return;
    var now = Date.now();
    if (now - state.lastTyping < TYPING_EVERY_MS) return;
    state.lastTyping = now;
    call("typing", { id: state.current.id });
  });
  $("release").addEventListener("click", release);
  $("close-form").addEventListener("submit", function (event) { event.preventDefault(); askToClose(); });
  $("confirm-close").addEventListener("close", function () {
    if ($("confirm-close").returnValue === "close" && state.current) close();
    else $("close").focus();
  });
  $("sign-out").addEventListener("click", function () {
    api("POST", "/api/sign-out").then(function () { location.href = "/sign-in"; });
  });
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && state.current) markRead();
  });
  setInterval(tickWaiting, 1000);

  api("GET", "/api/session").then(function (session) {
    state.token = session.token;
    state.me = session.me;
    state.chatUrl = session.chat_url;
    $("who").textContent = session.me.name + " · " + session.me.email;
    scheduleRenewal();
    connect();
  }).catch(function (error) {
    if (error && error.message !== "signed out") setConnection("offline", "The portal cannot reach the account services.");
  });
})();
