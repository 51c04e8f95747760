/*
 * Premier assistant chat widget. One tag embeds it:
 *
 *   <script src="https://portal.example/widget.js" data-chat-url="https://chat.example"
 *           data-token="<the person's token>" async></script>
 *
 * (no data-token: an anonymous visitor, who gets public answers only). A page that renews
 * or switches the token calls PremierChat.setToken(token, {account: "name"}); the widget
 * sends the current token with every message, so the next answer follows it.
 *
 * Everything shown is put into the page with textContent or as attributes, never as HTML:
 * a message that contains markup is displayed as the characters it is.
 */
(function () {
  "use strict";
  if (window.PremierChat) return;

  var STRINGS = {
    en: {
      launcher: "Chat with the assistant", title: "Premier assistant", close: "Close chat",
      conversation: "Conversation", message: "Message", placeholder: "Ask about your account…",
      send: "Send", you: "You", assistant: "Assistant", typing: "The assistant is typing…",
      connecting: "Connecting…", connected: "Connected", reconnecting: "Reconnecting…",
      offline: "Offline", refused: "Not signed in", signedOut: "Signed out",
      failed: "Not sent.", retry: "Retry", signIn: "Sign in again",
      rate_limited: "You're sending messages too fast. Wait a few seconds, then try again.",
      too_long: "That message is too long (2,000 characters at most).",
      bad_message: "That message could not be read. Please type it again.",
      following: "Now about {account}.", announce: "Assistant says: ", table: "Table",
      remaining: "{n} characters left", anonymous: "Not signed in: public answers only",
      item: "Item", status: "Status", link: "Link",
      agentTyping: "{agent} is typing…", agentSays: "{agent} says: ", support: "Support",
      seen: "Seen",
    },
    es: {
      launcher: "Chatear con el asistente", title: "Asistente Premier", close: "Cerrar el chat",
      conversation: "Conversación", message: "Mensaje", placeholder: "Pregunta por tu cuenta…",
      send: "Enviar", you: "Tú", assistant: "Asistente", typing: "El asistente está escribiendo…",
      connecting: "Conectando…", connected: "Conectado", reconnecting: "Reconectando…",
      offline: "Sin conexión", refused: "Sin sesión", signedOut: "Sesión cerrada",
      failed: "No enviado.", retry: "Reintentar", signIn: "Iniciar sesión de nuevo",
      rate_limited: "Estás enviando mensajes demasiado rápido. Espera unos segundos y vuelve a intentarlo.",
      too_long: "Ese mensaje es demasiado largo (2.000 caracteres como máximo).",
      bad_message: "No se pudo leer ese mensaje. Escríbelo de nuevo.",
      following: "Ahora sobre {account}.", announce: "El asistente dice: ", table: "Tabla",
      remaining: "Quedan {n} caracteres", anonymous: "Sin sesión: solo respuestas públicas",
      item: "Elemento", status: "Estado", link: "Enlace",
      agentTyping: "{agent} está escribiendo…", agentSays: "{agent} dice: ", support: "Soporte",
      seen: "Visto",
    },
  };
  // While a person at the support desk holds the conversation, the customer's typing is
  // shown to them at most this often.
  var TYPING_EVERY_MS = 3000;
  var MAX_CHARS = 2000;
  var SEND_TIMEOUT_MS = 90000;
  var script = document.currentScript;
  var base = script ? new URL(script.src, location.href) : new URL(location.href);

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === "text") node.textContent = attrs[name];
      else if (name === "hidden") node.hidden = !!attrs[name];
      else node.setAttribute(name, attrs[name]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function safeUrl(url) {
    try {
      var parsed = new URL(url, location.href);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (e) {
      return null;
    }
  }

  function Widget(options) {
    this.chatUrl = options.chatUrl;
    this.token = options.token || null;
    this.account = options.account || null;
    this.signInUrl = options.signInUrl || "/sign-in";
    this.lang = STRINGS[options.language] ? options.language : "en";
    this.seen = {};
    this.counter = 0;
    this.build();
    this.connect();
  }

  Widget.prototype.t = function (key, values) {
    var text = (STRINGS[this.lang] || STRINGS.en)[key] || STRINGS.en[key] || key;
    Object.keys(values || {}).forEach(function (name) { text = text.replace("{" + name + "}", values[name]); });
    return text;
  };

  Widget.prototype.build = function () {
    var self = this;
    var css = el("link", { rel: "stylesheet", href: new URL("static/widget.css", base).href });
    document.head.appendChild(css);
    this.launcher = el("button", { type: "button", class: "pc-launcher", "aria-expanded": "false", "aria-controls": "pc-panel" });
    this.title = el("h2", { id: "pc-title", class: "pc-title" });
    this.accountLine = el("p", { class: "pc-account" });
    this.status = el("p", { class: "pc-status", role: "status", "data-state": "connecting" });
    this.closeButton = el("button", { type: "button", class: "pc-close" }, [el("span", { "aria-hidden": "true", text: "×" })]);
    this.log = el("ol", { class: "pc-log", tabindex: "0" });
    this.typing = el("p", { class: "pc-typing", hidden: true });
    this.notice = el("p", { class: "pc-notice", role: "alert" });
    this.input = el("textarea", { id: "pc-input", class: "pc-input", rows: "2", maxlength: String(MAX_CHARS), "aria-describedby": "pc-remaining" });
    this.inputLabel = el("label", { for: "pc-input", class: "pc-sr" });
    this.remaining = el("span", { id: "pc-remaining", class: "pc-sr" });
    this.sendButton = el("button", { type: "submit", class: "pc-send" });
    this.form = el("form", { class: "pc-form" }, [this.inputLabel, this.input, this.remaining, this.sendButton]);
    this.live = el("div", { class: "pc-sr", "aria-live": "polite", "aria-atomic": "false" });
    this.panel = el("section", { id: "pc-panel", class: "pc-panel", role: "dialog", "aria-labelledby": "pc-title", hidden: true }, [
      el("header", { class: "pc-header" }, [el("div", {}, [this.title, this.accountLine, this.status]), this.closeButton]),
      this.log, this.typing, this.notice, this.form, this.live,
    ]);
    this.root = el("div", { class: "pc-root" }, [this.panel, this.launcher]);
    document.body.appendChild(this.root);
    this.launcher.addEventListener("click", function () { self.toggle(); });
    this.closeButton.addEventListener("click", function () { self.close(); });
    this.panel.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { event.preventDefault(); self.close(); }
    });
    this.form.addEventListener("submit", function (event) {
      event.preventDefault();
      self.submit();
    });
    this.input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        self.submit();
      }
    });
    this.input.addEventListener("input", function () { self.updateRemaining(); self.noteTyping(); });
    this.applyLanguage();
    if (sessionStorage.getItem("premierchat.open") === "1") this.open(false);
  };

  Widget.prototype.applyLanguage = function () {
    this.root.setAttribute("lang", this.lang);
    this.launcher.textContent = this.t("launcher");
    this.title.textContent = this.t("title");
    this.closeButton.setAttribute("aria-label", this.t("close"));
    this.log.setAttribute("aria-label", this.t("conversation"));
    this.typing.textContent = this.t("typing");
    this.inputLabel.textContent = this.t("message");
    this.input.setAttribute("placeholder", this.t("placeholder"));
    this.sendButton.textContent = this.t("send");
    this.accountLine.textContent = this.token ? (this.account || "") : this.t("anonymous");
    this.setStatus(this.status.getAttribute("data-state"));
    this.updateRemaining();
  };

  Widget.prototype.updateRemaining = function () {
    this.remaining.textContent = this.t("remaining", { n: MAX_CHARS - this.input.value.length });
  };

  Widget.prototype.setStatus = function (state) {
    this.status.setAttribute("data-state", state);
    this.status.textContent = this.t(state);
  };

  Widget.prototype.toggle = function () {
    if (this.panel.hidden) this.open(true); else this.close();
  };

  Widget.prototype.open = function (focus) {
    this.panel.hidden = false;
    this.launcher.setAttribute("aria-expanded", "true");
    sessionStorage.setItem("premierchat.open", "1");
    this.scrollDown();
    if (focus) this.input.focus();
  };

  Widget.prototype.close = function () {
    this.panel.hidden = true;
    this.launcher.setAttribute("aria-expanded", "false");
    sessionStorage.setItem("premierchat.open", "0");
    this.launcher.focus();
  };

  // --- the connection -----------------------------------------------------------------

  Widget.prototype.connect = function () {
    var self = this;
    if (this.socket) { this.socket.removeAllListeners(); this.socket.disconnect(); }
    this.setStatus("connecting");
    var socket = io(this.chatUrl, {
      path: "/widget/socket.io",
      // WebSocket only: one connection per socket, so several servers behind one
      // address need no sticky sessions.
      transports: ["websocket"],
      reconnectionDelayMax: 4000,
      auth: function (send) {
        send({
          token: self.token || undefined,
          conversation: self.token ? undefined : sessionStorage.getItem("premierchat.visitor") || undefined,
          language: self.lang,
        });
      },
    });
    this.socket = socket;
    socket.on("connect", function () { self.setStatus("connected"); });
    socket.on("disconnect", function (reason) {
      self.showTyping(false);
      self.setStatus(reason === "io server disconnect" ? "offline" : "reconnecting");
    });
    socket.on("connect_error", function (error) {
      var data = error && error.data;
      if (data && data.code === "session_expired") return self.signInRequired(data.text);
      if (data && data.code === "not_signed_in") return self.setStatus("refused");
      self.setStatus("reconnecting");
    });
    socket.on("ready", function (ready) {
      if (ready.language && STRINGS[ready.language] && ready.language !== self.lang) {
        self.lang = ready.language;
        self.applyLanguage();
      }
      if (ready.conversation) sessionStorage.setItem("premierchat.visitor", ready.conversation);
    });
    socket.on("history", function (history) { self.showHistory(history.messages || []); });
    socket.on("bot_uttered", function (reply) { self.receive(reply); });
    socket.on("user_uttered", function (message) { self.addMessage("user", { text: message.text }); });
    socket.on("typing", function (typing) { self.showTyping(!!typing.on); });
    socket.on("notice", function (notice) { self.showNotice(self.t(notice.code)); });
    socket.on("signin_required", function (prompt) { self.signInRequired(prompt.text); });
    socket.on("account", function (account) {
      window.dispatchEvent(new CustomEvent("premierchat:account", { detail: { accountId: account.account_id } }));
    });
  };

  Widget.prototype.setToken = function (token, details) {
    var account = details && details.account;
    var moved = account && this.account && account !== this.account;
    var wasSignedIn = !!this.token;
    this.token = token || null;
    if (account) this.account = account;
    this.accountLine.textContent = this.token ? (this.account || "") : this.t("anonymous");
    if (moved) this.addMessage("system", { text: this.t("following", { account: account }) });
    if (!this.socket || !this.socket.connected || wasSignedIn !== !!this.token) {
      this.connect();
    } else if (this.token) {
      this.socket.emit("token", { token: this.token }, function () {});
    }
  };

  // --- showing messages ----------------------------------------------------------------

  Widget.prototype.showHistory = function (messages) {
    var self = this;
    var unsent = Array.prototype.slice.call(this.log.querySelectorAll(".pc-msg[data-state='failed']"));
    this.log.textContent = "";
    messages.forEach(function (message) { self.addMessage(message.from === "user" ? "user" : "bot", message, true); });
    unsent.forEach(function (item) { self.log.appendChild(item); });
    this.scrollDown();
  };

  Widget.prototype.receive = function (reply) {
    if (reply.id) {
      if (this.seen[reply.id]) return;
      this.seen[reply.id] = true;
    }
    var data = reply.data || {};
    if (reply.kind === "typing") return this.showAgentTyping(data.agent_name || this.t("support"));
    if (reply.kind === "read") return this.markSeen();
    this.showTyping(false);
    var agent = reply.kind === "agent" ? (data.agent_name || this.t("support")) : null;
    this.addMessage(agent ? "agent" : "bot", reply, false, agent);
    var says = agent ? this.t("agentSays", { agent: agent }) : this.t("announce");
    this.live.appendChild(el("p", { text: says + (reply.text || "") }));
    while (this.live.childNodes.length > 3) this.live.removeChild(this.live.firstChild);
  };

  // A person at the support desk is writing: say who, for a few seconds.
  Widget.prototype.showAgentTyping = function (agent) {
    var self = this;
    this.typing.textContent = this.t("agentTyping", { agent: agent });
    this.showTyping(true);
    clearTimeout(this.agentTypingTimer);
    this.agentTypingTimer = setTimeout(function () {
      self.showTyping(false);
      self.typing.textContent = self.t("typing");
    }, 4000);
  };

  // The agent has read what the customer wrote.
  Widget.prototype.markSeen = function () {
    var mine = this.log.querySelectorAll(".pc-user:not([data-seen])");
    var self = this;
    Array.prototype.forEach.call(mine, function (item) {
      item.setAttribute("data-seen", "true");
      item.appendChild(el("span", { class: "pc-seen", text: self.t("seen") }));
    });
  };

  Widget.prototype.noteTyping = function () {
    var now = Date.now();
    if (!this.socket || !this.socket.connected || now - (this.typingSentAt || 0) < TYPING_EVERY_MS) return;
    this.typingSentAt = now;
    this.socket.emit("typing", {});
  };

  Widget.prototype.addMessage = function (from, message, old, author) {
    var who = from === "user" ? this.t("you") : from === "bot" ? this.t("assistant") : author || "";
    var item = el("li", { class: "pc-msg pc-" + from });
    if (from === "agent") item.appendChild(el("span", { class: "pc-author", text: author + ":" }));
    else if (who) item.appendChild(el("span", { class: "pc-sr", text: who + ": " }));
    var text = message.text || "";
    var data = message.data;
    if (data && data.type === "list" && Array.isArray(data.items) && data.items.length) {
      // The list's lines are in the table below; the text keeps its summary line.
      text = text.split("\n")[0];
    }
    if (text) item.appendChild(el("p", { class: "pc-text", text: text }));
    if (data) item.appendChild(this.renderData(data));
    if (Array.isArray(message.buttons) && message.buttons.length) item.appendChild(this.renderButtons(message.buttons, !!old));
    this.log.appendChild(item);
    this.scrollDown();
    return item;
  };

  Widget.prototype.renderButtons = function (buttons, spent) {
    var self = this;
    var group = el("div", { class: "pc-buttons", role: "group" });
    buttons.forEach(function (button) {
      var node = el("button", { type: "button", class: "pc-choice", text: button.title });
      if (spent) node.disabled = true;
      node.addEventListener("click", function () {
        // One click acts: the choices of this message are spent.
        Array.prototype.forEach.call(group.querySelectorAll("button"), function (b) { b.disabled = true; });
        // The clicked button is now disabled: keep the keyboard user's focus in the chat.
        self.input.focus();
        self.send(button.payload, button.title);
      });
      group.appendChild(node);
    });
    return group;
  };

  Widget.prototype.renderLink = function (link) {
    var url = link && safeUrl(link.url);
    if (!url) return null;
    return el("a", { href: url, target: "_blank", rel: "noopener noreferrer", class: "pc-link", text: link.label || url });
  };

  Widget.prototype.renderFields = function (fields) {
    var list = el("dl", { class: "pc-fields" });
    (fields || []).forEach(function (field) {
      list.appendChild(el("dt", { text: field.label }));
      list.appendChild(el("dd", { text: field.value }));
    });
    return list;
  };

  Widget.prototype.renderStatus = function (status) {
    if (!status) return null;
    return el("span", { class: "pc-badge pc-tone-" + (status.tone || "info"), text: status.label || status.value });
  };

  // A table's columns: the headers the assistant sent, in its language and casing. A list
  // stored before the assistant sent them gets the same columns with the widget's words.
  Widget.prototype.columnsOf = function (data) {
    var self = this;
    if (Array.isArray(data.columns) && data.columns.length) return data.columns;
    var columns = [{ name: "item", label: this.t("item") }];
    var seen = {};
    if (data.items.some(function (item) { return item.status; })) columns.push({ name: "status", label: this.t("status") });
    data.items.forEach(function (item) {
      (item.fields || []).forEach(function (field) {
        if (!seen[field.name]) { seen[field.name] = true; columns.push({ name: field.name, label: field.label }); }
      });
    });
    if (data.items.some(function (item) { return item.link; })) columns.push({ name: "link", label: self.t("link") });
    return columns;
  };

  Widget.prototype.renderCell = function (item, column, values) {
    if (column.name === "item") {
      return el("th", { scope: "row" }, [
        el("span", { class: "pc-id", text: item.id }),
        item.title && item.title !== item.id ? el("span", { class: "pc-sub", text: item.title }) : null,
      ]);
    }
    if (column.name === "status") return el("td", {}, [this.renderStatus(item.status)]);
    if (column.name === "link") return el("td", {}, [this.renderLink(item.link)]);
    return el("td", { text: values[column.name] || "" });
  };

  Widget.prototype.renderData = function (data) {
    var self = this;
    if (data.type === "list" && Array.isArray(data.items) && data.items.length) {
      var columns = this.columnsOf(data);
      var head = el("tr", {}, columns.map(function (column) { return el("th", { scope: "col", text: column.label }); }));
      var body = el("tbody", {}, data.items.map(function (item) {
        var values = {};
        (item.fields || []).forEach(function (field) { values[field.name] = field.value; });
        return el("tr", {}, columns.map(function (column) { return self.renderCell(item, column, values); }));
      }));
      var table = el("table", { class: "pc-table" }, [el("caption", { text: data.title || "" }), el("thead", {}, [head]), body]);
      // A wide table scrolls sideways inside its own region (the panel keeps its width), which
      // the keyboard can reach and scroll with the arrow keys.
      return el("div", { class: "pc-scroll", role: "region", tabindex: "0", "aria-label": data.title || this.t("table") }, [table]);
    }
    if (data.type === "card" && data.item) {
      var item = data.item;
      return el("div", { class: "pc-card" }, [
        el("p", { class: "pc-card-title" }, [el("span", { class: "pc-id", text: item.title || item.id }), this.renderStatus(item.status)]),
        item.subtitle ? el("p", { class: "pc-sub", text: item.subtitle }) : null,
        item.fields && item.fields.length ? this.renderFields(item.fields) : null,
        this.renderLink(item.link),
      ]);
    }
    if (data.type === "confirmation") {
      return el("div", { class: "pc-card pc-confirm" }, [
        data.title ? el("p", { class: "pc-card-title", text: data.title }) : null,
        this.renderFields(data.fields),
      ]);
    }
    return el("span", { hidden: true });
  };

  Widget.prototype.showTyping = function (on) {
    this.typing.hidden = !on;
    if (on) this.scrollDown();
  };

  Widget.prototype.showNotice = function (text) {
    var self = this;
    this.notice.textContent = text;
    clearTimeout(this.noticeTimer);
    this.noticeTimer = setTimeout(function () { self.notice.textContent = ""; }, 8000);
  };

  Widget.prototype.signInRequired = function (text) {
    this.setStatus("signedOut");
    var item = this.addMessage("system", { text: text });
    var link = this.renderLink({ url: this.signInUrl, label: this.t("signIn") });
    if (link) { link.removeAttribute("target"); item.appendChild(link); }
    this.live.appendChild(el("p", { text: text }));
  };

  Widget.prototype.scrollDown = function () {
    this.log.scrollTop = this.log.scrollHeight;
  };

  // --- sending ---------------------------------------------------------------------------

  Widget.prototype.submit = function () {
    var text = this.input.value.trim();
    if (!text) return;
    if (text.length > MAX_CHARS) return this.showNotice(this.t("too_long"));
    this.input.value = "";
    this.updateRemaining();
    this.send(text, text);
  };

  function newMessageId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }

  Widget.prototype.send = function (payload, shown, item) {
    var self = this;
    if (!item) item = this.addMessage("user", { text: shown });
    item.setAttribute("data-state", "sending");
    var old = item.querySelector(".pc-failed");
    if (old) item.removeChild(old);
    if (!this.socket || !this.socket.connected) return this.failed(item, payload, shown);
    this.showTyping(true);
    // One id per message, kept across retries: a message whose answer was lost (its server
    // went away) is sent again under the same id and answered once, not twice.
    if (!item.getAttribute("data-message-id")) item.setAttribute("data-message-id", newMessageId());
    var message = { message: payload, token: this.token || undefined, message_id: item.getAttribute("data-message-id") };
    this.socket.timeout(SEND_TIMEOUT_MS).emit("user_uttered", message, function (error, ack) {
      if (!error && ack && ack.ok) {
        item.setAttribute("data-state", "sent");
        return;
      }
      self.showTyping(false);
      if (ack && ack.code === "session_expired") return item.setAttribute("data-state", "sent");
      self.failed(item, payload, shown);
    });
  };

  Widget.prototype.failed = function (item, payload, shown) {
    var self = this;
    this.showTyping(false);
    item.setAttribute("data-state", "failed");
    var retry = el("button", { type: "button", class: "pc-retry", text: this.t("retry") });
    retry.addEventListener("click", function () { self.send(payload, shown, item); self.input.focus(); });
    item.appendChild(el("p", { class: "pc-failed" }, [el("span", { text: this.t("failed") + " " }), retry]));
  };

  // --- the page's handle ----------------------------------------------------------------

  var widget = null;
  window.PremierChat = {
    start: function (options) {
      if (widget) return widget;
      if (!document.body) {
        document.addEventListener("DOMContentLoaded", function () { window.PremierChat.start(options); });
        return null;
      }
      widget = new Widget(options || {});
      return widget;
    },
    setToken: function (token, details) { if (widget) widget.setToken(token, details); },
    open: function () { if (widget) widget.open(true); },
    close: function () { if (widget) widget.close(); },
  };
  if (script && script.getAttribute("data-chat-url") && script.getAttribute("data-manual") === null) {
    window.PremierChat.start({
      chatUrl: script.getAttribute("data-chat-url"),
      token: script.getAttribute("data-token") || null,
      language: script.getAttribute("data-language") || document.documentElement.lang || "en",
      account: script.getAttribute("data-account") || null,
      signInUrl: script.getAttribute("data-sign-in-url") || undefined,
    });
  }
})();
