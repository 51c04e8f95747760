// The demo sign-in page: one button per demo person; the services issue the token.
(function () {
  "use strict";
  var list = document.getElementById("people");
  var error = document.getElementById("error");
  var ROLES = { site_admin: "site admin", buyer: "buyer", shopper: "shopper", account_team: "account team" };

  function describe(person) {
    if (!person.accounts.length) return person.staff_role === "support_agent" ? "vendor support agent" : "no account";
    return person.accounts.map(function (a) { return a.name + ": " + (ROLES[a.role] || a.role); }).join("; ");
  }

  function signIn(email) {
    error.textContent = "";
    fetch("/api/sign-in", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Portal": "1" },
      body: JSON.stringify({ email: email }),
    }).then(function (response) {
      if (response.ok) { location.href = "/"; return; }
      return response.json().then(function (body) { error.textContent = body.error ? body.error.message : "Sign-in failed"; });
    }).catch(function () { error.textContent = "The portal cannot reach the account services."; });
  }

  fetch("/api/people").then(function (r) { return r.json(); }).then(function (people) {
    people.forEach(function (person) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "person";
      button.setAttribute("data-email", person.email);
      var name = document.createElement("strong");
      name.textContent = person.name;
      var email = document.createElement("span");
      email.textContent = person.email;
      var detail = document.createElement("span");
      detail.className = "detail";
      detail.textContent = describe(person) + " · " + (person.language === "es" ? "español" : "English");
      button.appendChild(name);
      button.appendChild(email);
      button.appendChild(detail);
      button.addEventListener("click", function () { signIn(person.email); });
      var item = document.createElement("li");
      item.appendChild(button);
      list.appendChild(item);
    });
    list.setAttribute("aria-busy", "false");
  }).catch(function () { error.textContent = "The portal cannot reach the account services."; });
})();
