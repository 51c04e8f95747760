// The account home page: top bar, account switcher, the areas, and the chat widget.
// The token lives in an HttpOnly cookie; the page gets a copy only to hand to the widget.
(function () {
  "use strict";
  var AREAS = ["orders", "invoices", "devices", "contracts", "subscriptions", "support", "reports", "users", "settings"];
  var TEXT = {
    en: {
      account: "Account", access_group: "Access group", role: "Role", account_type: "Account type",
      switch_to: "Switch to", switch: "Switch", sign_out: "Sign out", none: "—", empty: "Nothing here.",
      refused: "Not available here ({reason}).", switched: "You are now in {account}.",
      session_ended: "Your session has ended. Please sign in again.",
      orders: "Orders", invoices: "Invoices", devices: "Devices", contracts: "Service contracts",
      subscriptions: "Subscriptions", support: "Support", reports: "Reports", users: "Users", settings: "Settings",
      cart: "Cart", quotes: "Quotes", service_requests: "Service requests", account_team: "Account team",
      documents: "Documents", profile: "Profile", company: "Company", addresses: "Addresses",
      site_admin: "Site admin", buyer: "Buyer", shopper: "Shopper",
    },
    es: {
      account: "Cuenta", access_group: "Grupo de acceso", role: "Rol", account_type: "Tipo de cuenta",
      switch_to: "Cambiar a", switch: "Cambiar", sign_out: "Cerrar sesión", none: "—", empty: "No hay nada aquí.",
      refused: "No disponible aquí ({reason}).", switched: "Ahora estás en {account}.",
      session_ended: "Tu sesión ha terminado. Vuelve a iniciar sesión.",
      orders: "Pedidos", invoices: "Facturas", devices: "Equipos", contracts: "Contratos de servicio",
      subscriptions: "Suscripciones", support: "Soporte", reports: "Informes", users: "Usuarios", settings: "Configuración",
      cart: "Carrito", quotes: "Cotizaciones", service_requests: "Solicitudes de servicio", account_team: "Equipo de cuenta",
      documents: "Documentos", profile: "Perfil", company: "Empresa", addresses: "Direcciones",
      site_admin: "Administrador del sitio", buyer: "Comprador", shopper: "Comprador básico",
    },
  };
  var state = { me: null, token: null, lang: "en", renewTimer: null };

  function t(key, values) {
    var text = (TEXT[state.lang] || TEXT.en)[key] || TEXT.en[key] || key;
    Object.keys(values || {}).forEach(function (k) { text = text.replace("{" + k + "}", values[k]); });
    return text;
  }

  function $(id) { return document.getElementById(id); }

  function api(method, path, body) {
    return fetch(path, {
      method: method,
      headers: method === "POST" ? { "Content-Type": "application/json", "X-Portal": "1" } : {},
      body: body ? JSON.stringify(body) : undefined,
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
    $("portal-status").textContent = t("session_ended");
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

  // Renew well before the token expires (at 80% of its life), so the widget never holds
  // an expired one while the person is still signed in.
  function scheduleRenewal() {
    clearTimeout(state.renewTimer);
    var left = expiry(state.token) - Date.now();
    state.renewTimer = setTimeout(renew, Math.max(1000, left * 0.8));
  }

  function renew() {
    return api("POST", "/api/token").then(function (renewed) {
      state.token = renewed.token;
      window.PremierChat.setToken(state.token, { account: state.me.account && state.me.account.name });
      scheduleRenewal();
    }).catch(function () {});
  }

  function showMe(me) {
    state.me = me;
    state.lang = me.language === "es" ? "es" : "en";
    document.documentElement.lang = state.lang;
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n]"), function (node) {
      node.textContent = t(node.getAttribute("data-i18n"));
    });
    $("sign-out").textContent = t("sign_out");
    $("who").textContent = me.name + " · " + me.email;
    $("account-name").textContent = me.account ? me.account.name : t("none");
    $("access-group").textContent = me.access_group || t("none");
    $("role").textContent = me.role ? t(me.role) : t("none");
    $("account-type").textContent = me.account ? me.account.type : t("none");
    var select = $("account-switcher");
    select.textContent = "";
    me.accounts.forEach(function (account) {
      var option = document.createElement("option");
      option.value = account.name;
      option.textContent = account.name;
      option.selected = me.account && account.id === me.account.id;
      select.appendChild(option);
    });
    $("switcher").hidden = me.accounts.length < 2;
    var links = $("area-links");
    links.textContent = "";
    AREAS.forEach(function (area) {
      var link = document.createElement("a");
      link.href = "#" + area;
      link.textContent = t(area);
      if (currentArea() === area) link.setAttribute("aria-current", "page");
      var item = document.createElement("li");
      item.appendChild(link);
      links.appendChild(item);
    });
  }

  function currentArea() {
    var area = location.hash.replace("#", "");
    return AREAS.indexOf(area) >= 0 ? area : "orders";
  }

  function showArea() {
    var area = currentArea();
    var box = $("area");
    $("area-title").textContent = t(area);
    Array.prototype.forEach.call(document.querySelectorAll("#area-links a"), function (link) {
      if (link.getAttribute("href") === "#" + area) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    });
    box.setAttribute("aria-busy", "true");
    return api("GET", "/api/areas/" + area).then(function (data) {
      box.textContent = "";
      data.sections.forEach(function (section) { box.appendChild(renderSection(section)); });
      box.setAttribute("aria-busy", "false");
      box.setAttribute("data-area", area);
    });
  }

  function renderSection(section) {
    var wrap = document.createElement("section");
    wrap.className = "panel";
    wrap.setAttribute("data-section", section.name);
    var heading = document.createElement("h2");
    heading.textContent = t(section.name);
    wrap.appendChild(heading);
    if (section.refused) {
      var note = document.createElement("p");
      note.className = "refused";
      note.textContent = t("refused", { reason: section.refused });
      wrap.appendChild(note);
      return wrap;
    }
    if (!section.rows.length) {
      var empty = document.createElement("p");
      empty.textContent = t("empty");
      wrap.appendChild(empty);
      return wrap;
    }
    var scroller = document.createElement("div");
    scroller.className = "scroll";
    scroller.setAttribute("role", "region");
    scroller.setAttribute("tabindex", "0");
    scroller.setAttribute("aria-label", t(section.name));
    var table = document.createElement("table");
    var head = table.createTHead().insertRow();
    // The headers come in the person's language (`labels`); the key is only a fallback.
    section.columns.forEach(function (column, index) {
      var th = document.createElement("th");
      th.scope = "col";
      th.setAttribute("data-column", column);
      th.textContent = (section.labels && section.labels[index]) || column.replace(/_/g, " ");
      head.appendChild(th);
    });
    var body = table.createTBody();
    section.rows.forEach(function (row) {
      var tr = body.insertRow();
      row.forEach(function (value) { tr.insertCell().textContent = value; });
    });
    scroller.appendChild(table);
    wrap.appendChild(scroller);
    return wrap;
  }

  function switchTo(accountName) {
    return api("POST", "/api/switch", { account: accountName }).then(function (switched) {
      state.token = switched.token;
      showMe(switched.me);
      $("portal-status").textContent = t("switched", { account: switched.me.account.name });
      window.PremierChat.setToken(state.token, { account: switched.me.account.name });
      scheduleRenewal();
      return showArea();
    });
  }

  $("switcher").addEventListener("submit", function (event) {
    event.preventDefault();
    var chosen = $("account-switcher").value;
    if (state.me.account && chosen === state.me.account.name) return;
    switchTo(chosen);
  });

  $("sign-out").addEventListener("click", function () {
    api("POST", "/api/sign-out").then(function () { location.href = "/sign-in"; });
  });

  window.addEventListener("hashchange", function () { showArea(); });

  // The chat switched account: the page follows, so both show the same account.
  window.addEventListener("premierchat:account", function (event) {
    var id = event.detail && event.detail.accountId;
    if (!state.me || !state.me.account || id === state.me.account.id || id == null) return;
    var target = state.me.accounts.filter(function (a) { return a.id === id; })[0];
    if (target) switchTo(target.name);
  });

  api("GET", "/api/session").then(function (session) {
    state.token = session.token;
    showMe(session.me);
    window.PremierChat.start({
      chatUrl: session.chat_url,
      token: session.token,
      language: state.lang,
      account: session.me.account ? session.me.account.name : null,
      signInUrl: "/sign-in",
    });
    scheduleRenewal();
    return showArea();
  }).catch(function () {});
})();
