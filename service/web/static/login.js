// The login page: email and password, or a one-time link printed by `motionscript users add/reset`
// (/app/login#link=TOKEN). The server sets an HttpOnly session cookie; the page then goes to
// ?next= (a page of this site only) or the clinician page. After a link login without a password
// the person may set one here.

import { api, ApiError, el } from "./common.js";

const root = document.getElementById("root");

function next() {
  const wanted = new URLSearchParams(location.search).get("next") || "";
  // only this site's own pages: never //other.example or javascript:
  return /^\/app\/[A-Za-z0-9/_#=&.-]*$/.test(wanted) && !wanted.startsWith("//") ? wanted : "/app/clinician";
}

function problem(target, err) {
  target.replaceChildren(el("p", { class: "error", role: "alert", "data-testid": "login-error" },
    err instanceof ApiError ? err.message : String(err)));
}

function passwordForm(me) {
  const status = el("div", { "data-testid": "password-status" });
  const form = el("form", { class: "card login-form", "data-testid": "password-form" },
    el("h2", {}, `Welcome, ${me.name}`),
    el("p", {}, "You are logged in with a one-time link. Set a password for next time, or continue."),
    el("label", {}, "New password (at least 10 characters)",
      el("input", { type: "password", name: "password", minlength: 10, required: "", autocomplete: "new-password",
                    "data-testid": "new-password" })),
    el("div", { class: "buttons" },
      el("button", { type: "submit", "data-testid": "set-password" }, "Set password and continue"),
      el("button", { type: "button", class: "secondary", onclick: () => location.assign(next()) }, "Later")),
    status);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await api(null, "/v1/auth/password", { method: "POST", json: { new_password: form.elements.password.value } });
      location.assign(next());
    } catch (err) {
      problem(status, err);
    }
  });
  root.replaceChildren(form);
}

function loginForm() {
  const status = el("div", { "data-testid": "login-status" });
  const form = el("form", { class: "card login-form", "data-testid": "login-form" },
    el("h2", {}, "Log in"),
    el("label", {}, "Email", el("input", { type: "email", name: "email", required: "", autocomplete: "username",
                                            "data-testid": "login-email" })),
    el("label", {}, "Password", el("input", { type: "password", name: "password", required: "",
                                               autocomplete: "current-password", "data-testid": "login-password" })),
    el("div", { class: "buttons" }, el("button", { type: "submit", "data-testid": "login-submit" }, "Log in")),
    el("p", { class: "hint" }, "No password yet? Ask your clinic's administrator for a login link."),
    status);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      await api(null, "/v1/auth/login", { method: "POST",
        json: { email: form.elements.email.value.trim(), password: form.elements.password.value } });
      location.assign(next());
    } catch (err) {
      problem(status, err);
      button.disabled = false;
    }
  });
  root.replaceChildren(form);
  form.elements.email.focus();
}

async function start() {
  const link = new URLSearchParams(location.hash.slice(1)).get("link");
  if (link) {
    history.replaceState(null, "", location.pathname + location.search);  // the token leaves the address bar
    try {
      const me = await api(null, "/v1/auth/link", { method: "POST", json: { token: link } });
      return me.has_password ? location.assign(next()) : passwordForm(me);
    } catch (err) {
      loginForm();
      return problem(document.querySelector('[data-testid="login-status"]'), err);
    }
  }
  loginForm();
}

start();
