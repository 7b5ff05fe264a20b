// The console's entry point: sign-in, the header, and the router, which
// maps the address's fragment (#/pending, #/pending/<id>, #/import, ...)
// to a view. Views are modules of their own; the import view and its
// numbering plans load when first opened.

import { h, replace, field, button, heading, announce } from "./dom.js";
import { config, current, signIn, signOut, completeSignIn, cannotSignIn, onSessionChange, signedOutBecause, graphScopes } from "./auth.js";
import { adminState } from "./api.js";
import { roleNames } from "./explain.js";
import { listView } from "./view-list.js";
import { profileView, deletedRowActions } from "./view-profile.js";
import { inviteView } from "./view-invite.js";
import { auditView } from "./view-audit.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const who = document.getElementById("who");
let stopView = () => {};
let lastPath = "";
let routeSeq = 0;

function parseRoute() {
  const raw = location.hash.startsWith("#/") ? location.hash.slice(2) : "";
  const [path, qs] = raw.split("?");
  return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(qs || ""), path };
}

const titles = { pending: "Pending", external: "External", deleted: "Deleted", invite: "Invite", import: "Import", audit: "Audit log", dev: "Developer", me: "Your sign-in" };

async function route() {
  // A fragment that is no route (the skip link's #main) leaves the view.
  if (location.hash && !location.hash.startsWith("#/")) return;
  if (!current()) return;
  const { parts, query, path } = parseRoute();
  if (parts.length === 0) {
    location.replace("#/pending");
    return;
  }
  stopView();
  stopView = () => {};
  // Each route renders into a container of its own: a view still loading
  // when the person moves on renders into its container, which is no
  // longer on the page, and so never over the next view.
  const seq = ++routeSeq;
  const view = h("div", { class: "view" });
  replace(main, view);
  const [section, a, b] = parts;
  for (const link of nav.querySelectorAll("a")) {
    const target = link.getAttribute("href").slice(2);
    if (target === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${titles[section] || "Not found"} · extdir console`;
  const samePage = path.split("?")[0] === lastPath;
  const focused = samePage ? document.activeElement?.id : "";
  lastPath = path.split("?")[0];
  switch (section) {
    case "pending":
    case "external":
      if (a) await profileView(view, { kind: section, id: a });
      else listView(view, { kind: section, query, route: section, link: (r) => `#/${section}/${r.id}` });
      break;
    case "deleted": {
      const kind = a === "external" ? "external" : "pending";
      if (b) await profileView(view, { kind, id: b, deleted: true });
      else listView(view, { kind, deleted: true, query, route: `deleted/${kind}`, link: (r) => `#/deleted/${kind}/${r.id}`, rowActions: deletedRowActions(kind, () => { lastPath = ""; route(); }) });
      break;
    }
    case "invite":
      inviteView(view);
      break;
    case "import": {
      replace(view, heading("Import invitations"), h("p", { role: "status" }, "Loading…"));
      const { importView } = await import("./view-import.js");
      importView(view);
      break;
    }
    case "audit":
      auditView(view, query);
      break;
    case "dev": {
      const { devView } = await import("./view-dev.js");
      const stop = await devView(view, a, query);
      if (seq === routeSeq) stopView = stop;
      else stop();
      break;
    }
    case "me":
      meView(view);
      break;
    default:
      replace(view, heading("Not found"), h("p", {}, "The console has no such page. "), h("p", {}, h("a", { href: "#/pending" }, "Go to the pending profiles")));
  }
  if (seq !== routeSeq) return;
  // Focus moves to the new view's title, so that a screen reader says
  // where the person is; a change of query keeps it where it was.
  const keep = focused && document.getElementById(focused);
  (keep || document.getElementById("view-title"))?.focus({ preventScroll: Boolean(keep) });
}

// meView shows who is signed in and what the token holds.
function meView(main) {
  const s = current();
  const c = s.claims;
  const missing = graphScopes.filter((p) => !s.scopes.includes(p));
  replace(main, heading("Your sign-in"),
    h("dl", { class: "props", id: "me-claims" },
      h("dt", {}, "Name"), h("dd", {}, c.name || "—"),
      h("dt", {}, "User"), h("dd", {}, c.preferred_username || "—"),
      h("dt", {}, "Object id (oid)"), h("dd", {}, h("code", {}, c.oid)),
      h("dt", {}, "Tenant (tid)"), h("dd", {}, h("code", {}, c.tid)),
      h("dt", {}, "Application (azp)"), h("dd", {}, h("code", {}, c.azp || c.appid || "")),
      h("dt", {}, "Delegated permissions (scp)"), h("dd", { id: "me-scopes" }, s.scopes.length ? h("ul", {}, s.scopes.map((x) => h("li", {}, x))) : "none"),
      h("dt", {}, "Directory roles (wids)"), h("dd", { id: "me-roles" }, s.roleIds.length ? h("ul", {}, roleNames(s.roleIds).map((x) => h("li", {}, x))) : "none: every call of the API will be refused"),
      h("dt", {}, "Expires"), h("dd", {}, new Date(c.exp * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC"), " (renewed before then while the console is open)")),
    missing.length ? h("p", { class: "notice" }, `The token lacks ${missing.join(", ")}: the views that need them show the refusal.`) : null,
    h("p", { class: "hint" }, "The token is held in this page's memory only; reloading the page signs you in again."));
}

function renderWho() {
  const s = current();
  if (!s) {
    nav.hidden = true;
    replace(who);
    return;
  }
  nav.hidden = false;
  replace(who,
    h("a", { href: "#/me", id: "who-name", class: "who-name" }, s.claims.name || s.claims.preferred_username, h("span", { class: "visually-hidden" }, ", your sign-in")),
    button("Sign out", () => signOut(), "secondary small", { id: "sign-out" }));
}

// signInView is what a signed-out page shows.
function signInView(message) {
  const problem = cannotSignIn();
  const tenant = h("input", { type: "text", id: "si-tenant", value: sessionStorage.getItem("extdir-console-tenant") || config.tenant, autocomplete: "off", spellcheck: "false", class: "mono" });
  const form = h("form", { class: "edit signin", novalidate: true, id: "si-form" },
    field("Tenant", tenant, "The tenant id (a GUID) you sign in to; the development tenant is filled in."),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "btn primary", id: "si-go", disabled: Boolean(problem) }, "Sign in")));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const t = tenant.value.trim();
    sessionStorage.setItem("extdir-console-tenant", t);
    const back = location.hash.startsWith("#/") ? location.hash : "#/pending";
    signIn(t, back);
  });
  replace(main, heading("Sign in"),
    message ? h("div", { class: message.startsWith("You signed out") ? "notice" : "alert", role: message.startsWith("You signed out") ? "status" : "alert", id: "si-message" }, h("p", {}, message)) : null,
    problem ? h("div", { class: "alert", role: "alert" }, h("p", {}, problem)) : null,
    h("p", {}, "Sign in as a user of this server's issuer, on its sign-in page. A server started with extdir serve --ephemeral has one: the upn and password of its ready line (admin@extdir.test)."),
    form);
  document.title = "Sign in · extdir console";
  document.getElementById("view-title").focus();
}

async function devLink() {
  // The developer views need the admin API: their link shows when it
  // answers this browser (or asks for its token).
  const link = document.getElementById("nav-dev").parentElement;
  const state = await adminState();
  link.hidden = !(state === "ok" || state === "token");
}

async function boot() {
  let message = "";
  if (!cannotSignIn()) {
    try {
      const done = await completeSignIn();
      if (done?.error) message = done.error;
    } catch (e) {
      message = "The sign-in could not be completed: " + e.message;
    }
  }
  onSessionChange((s) => {
    renderWho();
    if (!s) {
      stopView();
      lastPath = "";
      signInView(signedOutBecause());
      announce(signedOutBecause());
    }
  });
  window.addEventListener("hashchange", route);
  // A link to the page shown is no hashchange: it shows the page anew,
  // fresh from the server, as people expect of a click.
  document.addEventListener("click", (e) => {
    const a = e.target.closest?.("a[href^='#/']");
    if (a && a.getAttribute("href") === location.hash && !e.defaultPrevented) {
      e.preventDefault();
      lastPath = "";
      route();
    }
  });
  renderWho();
  if (current()) {
    devLink();
    await route();
    announce(`Signed in as ${current().claims.preferred_username}.`);
  } else {
    signInView(message);
  }
}

boot();
