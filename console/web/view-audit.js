// The audit log: GET /beta/auditLogs/directoryAudits, newest first, by
// profile (targetResources/any), by app (initiatedBy/app/appId), by date
// (activityDateTime ge, le), a page at a time.

import { h, replace, field, button, heading, when } from "./dom.js";
import { graph, quote } from "./api.js";
import { explain } from "./explain.js";

export function auditView(main, query) {
  const q = { profile: query.get("profile") || "", app: query.get("app") || "", from: query.get("from") || "", to: query.get("to") || "" };
  const profile = h("input", { type: "text", id: "au-profile", value: q.profile, autocomplete: "off", spellcheck: "false", class: "mono" });
  const app = h("input", { type: "text", id: "au-app", value: q.app, autocomplete: "off", spellcheck: "false", class: "mono" });
  const from = h("input", { type: "date", id: "au-from", value: q.from });
  const to = h("input", { type: "date", id: "au-to", value: q.to });
  const form = h("form", { class: "query", role: "search", "aria-label": "Audit log query", novalidate: true },
    h("div", { class: "row" },
      field("Profile id", profile, "The records of one profile (targetResources)."),
      field("App id", app, "The records an application initiated."),
      field("From (UTC)", from), field("To (UTC)", to)),
    h("div", { class: "row actions" },
      h("button", { type: "submit", class: "btn primary", id: "au-apply" }, "Apply"),
      button("Clear", () => { location.hash = "#/audit"; }, "secondary")));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const p = new URLSearchParams();
    if (profile.value.trim()) p.set("profile", profile.value.trim());
    if (app.value.trim()) p.set("app", app.value.trim());
    if (from.value) p.set("from", from.value);
    if (to.value) p.set("to", to.value);
    location.hash = "#/audit" + (p.size ? "?" + p : "");
  });

  const clauses = [];
  if (q.profile) clauses.push(`targetResources/any(t: t/id eq ${quote(q.profile)})`);
  if (q.app) clauses.push(`initiatedBy/app/appId eq ${quote(q.app)}`);
  if (q.from) clauses.push(`activityDateTime ge ${q.from}T00:00:00Z`);
  if (q.to) clauses.push(`activityDateTime le ${q.to}T23:59:59Z`);
  const params = new URLSearchParams({ $top: "50" });
  if (clauses.length) params.set("$filter", clauses.join(" and "));

  const status = h("p", { class: "status", role: "status" }, "Loading…");
  const alerts = h("div", { class: "alerts" });
  const list = h("div", { class: "table-wrap", id: "audit-list", tabindex: "0", role: "region", "aria-label": "Audit records" });
  const pager = h("nav", { class: "pager", "aria-label": "Pages" });
  replace(main, heading("Audit log"),
    h("p", {}, "Every change to a profile, who made it and from which app. Reading it takes the AuditLog.Read.All permission and a role such as Reports Reader."),
    form, clauses.length ? h("p", { class: "hint" }, "$filter ", h("code", {}, params.get("$filter"))) : null,
    alerts, status, list, pager);

  const pages = [`/auditLogs/directoryAudits?${params}`];
  let page = 0;
  async function load() {
    status.textContent = "Loading…";
    replace(alerts);
    try {
      const { data } = await graph(pages[page]);
      if (data["@odata.nextLink"]) pages[page + 1] = data["@odata.nextLink"];
      replace(list, auditTable(data.value));
      status.textContent = data.value.length ? `Page ${page + 1}: ${data.value.length} records.` : "No record matches.";
      replace(pager,
        button("Previous page", () => { page--; load(); }, "secondary", { disabled: page === 0 }),
        h("span", { class: "page-no" }, `Page ${page + 1}`),
        button("Next page", () => { page++; load(); }, "secondary", { disabled: !data["@odata.nextLink"] }));
    } catch (err) {
      status.textContent = "The audit log could not be read.";
      replace(alerts, explain(err, "Reading the audit log"));
    }
  }
  load();
}

function initiator(by) {
  if (by?.user) return `${by.user.userPrincipalName || by.user.id} (user)`;
  if (by?.app) return `${by.app.displayName || by.app.appId} (app)`;
  return "unknown";
}

function auditTable(records) {
  return h("table", { class: "grid", id: "audit-table" },
    h("caption", { class: "visually-hidden" }, "Audit records, newest first"),
    h("thead", {}, h("tr", {}, ["When", "Activity", "Initiated by", "Profile", "Changes"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, records.map((r) => {
      const t = r.targetResources?.[0] || {};
      const mods = t.modifiedProperties || [];
      return h("tr", {},
        h("td", {}, when(r.activityDateTime)),
        h("td", {}, r.activityDisplayName),
        h("td", {}, initiator(r.initiatedBy)),
        h("td", {}, t.displayName || "", " ", h("a", { href: `#/audit?profile=${encodeURIComponent(t.id || "")}` }, h("code", {}, (t.id || "").slice(0, 8)), h("span", { class: "visually-hidden" }, `: every record of ${t.displayName || t.id}`))),
        h("td", {}, mods.length ? h("details", {}, h("summary", {}, `${mods.length} ${mods.length === 1 ? "property" : "properties"}`),
          h("dl", { class: "props nested" }, mods.map((m) => [h("dt", {}, m.displayName), h("dd", {}, `${m.oldValue ?? "not set"} → ${m.newValue ?? "not set"}`)]))) : "—"));
    })));
}
