// The developer's views, over the admin API (/admin): the request journal
// (live), the fault rules, the clock, reset and seed. The admin API
// answers loopback clients, or the bearer of the server's admin token.

import { h, replace, field, button, heading, announce, when, confirmDialog } from "./dom.js";
import { admin, adminState, setAdminToken } from "./api.js";
import { explain } from "./explain.js";
import { current } from "./auth.js";

const tabs = [["requests", "Requests"], ["faults", "Faults"], ["clock", "Clock"], ["data", "Reset and seed"]];

// devView renders the developer view tab; it returns a function that stops
// what runs in the background (the journal's live refresh).
export async function devView(main, tab, query) {
  tab = tabs.some(([t]) => t === tab) ? tab : "requests";
  replace(main, heading("Developer"), h("p", { role: "status" }, "Asking the admin API…"));
  const state = await adminState();
  if (state !== "ok") {
    replace(main, heading("Developer"), unreachable(state, () => devView(main, tab, query)));
    return () => {};
  }
  const body = h("div", { class: "dev-body" });
  replace(main, heading("Developer"),
    h("nav", { class: "tabs", "aria-label": "Developer views" }, tabs.map(([t, label]) =>
      h("a", { href: `#/dev/${t}`, "aria-current": t === tab ? "page" : false }, label))),
    body);
  switch (tab) {
    case "faults": return faultsView(body);
    case "clock": return clockView(body);
    case "data": return dataView(body);
  }
  return requestsView(body, query);
}

function unreachable(state, retry) {
  if (state === "token") {
    const token = h("input", { type: "password", id: "admin-token", autocomplete: "off" });
    const form = h("form", { class: "edit", novalidate: true },
      field("Admin token", token, "The content of the server's --admin-token-file. It is kept in this page's memory only."),
      h("div", { class: "actions" }, h("button", { type: "submit", class: "btn primary" }, "Use it")));
    form.addEventListener("submit", (e) => { e.preventDefault(); setAdminToken(token.value.trim()); retry(); });
    return [h("p", {}, "The admin API of this server needs its admin token."), form];
  }
  const why = {
    loopback: "The admin API answers clients on the server's own machine only, and this browser reaches it from elsewhere (or through a proxy). Start the server with --admin-token-file to reach it from here.",
    off: "The admin API is off on this server (--admin=false).",
    unreachable: "The admin API could not be reached.",
  }[state];
  return h("p", { class: "notice", role: "status" }, why);
}

// requestsView is the request journal: filters, a table that refreshes
// itself while "Live" is on, and one request's detail.
function requestsView(body, query) {
  const status = h("select", { id: "rq-status" },
    [["", "any"], ["2xx", "2xx"], ["4xx", "4xx"], ["5xx", "5xx"], ["400", "400"], ["401", "401"], ["403", "403"], ["404", "404"], ["412", "412"], ["429", "429"]].map(([v, l]) =>
      h("option", { value: v, selected: query.get("status") === v }, l)));
  const method = h("select", { id: "rq-method" }, ["", "GET", "POST", "PATCH", "DELETE", "PUT"].map((m) => h("option", { value: m, selected: query.get("method") === m }, m || "any")));
  const path = h("input", { type: "text", id: "rq-path", value: query.get("path") || "", class: "mono", spellcheck: "false", autocomplete: "off" });
  const rid = h("input", { type: "text", id: "rq-id", value: query.get("requestId") || "", class: "mono", spellcheck: "false", autocomplete: "off" });
  const mine = h("input", { type: "checkbox", id: "rq-mine", checked: query.get("all") !== "1" });
  const live = h("input", { type: "checkbox", id: "rq-live", checked: query.get("live") !== "0" });
  const form = h("form", { class: "query", role: "search", "aria-label": "Journal filter", novalidate: true },
    h("div", { class: "row" },
      field("Status", status), field("Method", method),
      field("Path", path, "A pattern: * within a segment, ** for the rest (/beta/directory/**)."),
      field("Request id", rid, "A request-id, client-request-id or a $batch's request-id.")),
    h("div", { class: "row" },
      h("div", { class: "field check" }, mine, h("label", { for: "rq-mine" }, "This tenant's requests only")),
      h("div", { class: "field check" }, live, h("label", { for: "rq-live" }, "Live: refresh every 2 seconds"))),
    h("div", { class: "row actions" },
      h("button", { type: "submit", class: "btn primary", id: "rq-apply" }, "Apply"),
      button("Empty the journal", async () => {
        if (!await confirmDialog("Empty the journal?", "The entries kept so far are dropped.", "Empty it")) return;
        await admin("/requests" + (mine.checked ? "?tenant=" + current().tenant : ""), { method: "DELETE" });
        refresh();
      }, "danger", { id: "rq-clear" })));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const p = new URLSearchParams();
    if (status.value) p.set("status", status.value);
    if (method.value) p.set("method", method.value);
    if (path.value.trim()) p.set("path", path.value.trim());
    if (rid.value.trim()) p.set("requestId", rid.value.trim());
    if (!mine.checked) p.set("all", "1");
    if (!live.checked) p.set("live", "0");
    location.hash = "#/dev/requests" + (p.size ? "?" + p : "");
  });
  const alerts = h("div", { class: "alerts" });
  const note = h("p", { class: "status", role: "status", id: "rq-count" }, "\u00a0");
  const table = h("div", { class: "table-wrap", id: "rq-table", tabindex: "0", role: "region", "aria-label": "Requests" });
  const detail = h("section", { id: "rq-detail", "aria-live": "polite" });
  replace(body, form, alerts, note, table, detail);

  const params = new URLSearchParams({ top: "200" });
  for (const k of ["status", "method", "path", "requestId"]) if (query.get(k)) params.set(k, query.get(k));
  if (query.get("all") !== "1") params.set("tenant", current().tenant);
  let shownSeq = -1;
  let open = null;
  async function refresh() {
    let data;
    try {
      data = await admin("/requests?" + params);
    } catch (err) {
      replace(alerts, explain(err, "Reading the journal"));
      return;
    }
    replace(alerts);
    const entries = data.value.slice().reverse(); // newest first
    const newest = entries[0]?.seq ?? 0;
    if (newest === shownSeq) return; // nothing new: the table stays, and so does the focus in it
    shownSeq = newest;
    note.textContent = `${data.count} ${data.count === 1 ? "request" : "requests"}, newest first${params.has("top") && data.count >= 200 ? " (the last 200)" : ""}.`;
    replace(table, h("table", { class: "grid" },
      h("caption", { class: "visually-hidden" }, "Requests, newest first"),
      h("thead", {}, h("tr", {}, ["#", "Time", "Method", "Path", "Status", "ms", "Caller"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, entries.map((e) => h("tr", { "data-seq": e.seq },
        h("td", {}, h("button", { type: "button", class: "link", onclick: () => { open = e; showDetail(detail, e); }, "aria-label": `Request ${e.seq}: ${e.method} ${e.path}, ${e.status}` }, String(e.seq))),
        h("td", {}, when(e.time)),
        h("td", {}, e.method),
        h("td", { class: "mono wrap" }, e.path + (e.query ? "?" + decodeURIComponentSafe(e.query) : "")),
        h("td", {}, statusText(e.status)),
        h("td", { class: "num" }, e.durationMs.toFixed(1)),
        h("td", {}, e.caller ? (e.caller.userPrincipalName || e.caller.appId) : ""))))));
    if (open && !data.value.some((e) => e.seq === open.seq)) replace(detail);
  }
  refresh();
  const timer = live.checked ? setInterval(refresh, 2000) : null;
  return () => clearInterval(timer);
}

function decodeURIComponentSafe(s) {
  try { return decodeURIComponent(s.replaceAll("+", " ")); } catch { return s; }
}

// statusText is a status with words: the number alone, or a colour, is
// not enough to read at a glance.
function statusText(s) {
  const cls = s >= 500 ? "server error" : s >= 400 ? "refused" : s >= 300 ? "redirect" : s > 0 ? "ok" : "no answer";
  return h("span", { class: "status-" + (s >= 500 ? "5" : s >= 400 ? "4" : "2") }, `${s || "—"} ${cls}`);
}

function showDetail(section, e) {
  const pretty = (s) => {
    if (!s) return "";
    try { return JSON.stringify(JSON.parse(s), null, 2); } catch { return s; }
  };
  replace(section,
    h("h2", { tabindex: "-1", id: "rq-detail-title" }, `Request ${e.seq}: ${e.method} ${e.path}`),
    h("dl", { class: "props" }, [
      ["status", statusText(e.status)], ["time", when(e.time)], ["duration", `${e.durationMs} ms`],
      ["query", e.query ? decodeURIComponentSafe(e.query) : "—"],
      ["tenant", e.tenant || "—"], ["caller", e.caller ? JSON.stringify(e.caller) : "—"],
      ["request-id", e.requestId], ["client-request-id", e.clientRequestId || "—"],
      ["batch", e.batchRequestId ? `${e.batchRequestId} step ${e.batchStepId}` : "—"],
      ["fault", e.fault || "—"],
    ].map(([k, v]) => [h("dt", {}, k), h("dd", { class: "mono wrap" }, v)])),
    h("h3", {}, "Request body" + (e.requestBodyTruncated ? " (the start of it)" : "")),
    h("pre", { class: "body", tabindex: "0" }, pretty(e.requestBody) || "none"),
    h("h3", {}, "Response body" + (e.responseBodyTruncated ? " (the start of it)" : "")),
    h("pre", { class: "body", tabindex: "0" }, pretty(e.responseBody) || "none"));
  document.getElementById("rq-detail-title").focus();
}

// faultsView edits the fault rules as the JSON the admin API takes.
async function faultsView(body) {
  const text = h("textarea", { id: "faults-json", rows: "14", class: "mono", spellcheck: "false" });
  const alerts = h("div", { class: "alerts" });
  const counts = h("div", { id: "faults-counts" });
  async function load() {
    const data = await admin("/faults");
    const rules = (data.rules || []).map(({ injected, ...r }) => r);
    text.value = JSON.stringify({ seed: data.seed || 0, rules }, null, 2);
    replace(counts, (data.rules || []).length ? h("ul", {}, data.rules.map((r, i) =>
      h("li", {}, `${r.name || "rule " + (i + 1)}: injected ${r.injected || 0} times`))) : h("p", {}, "No rule is set: nothing is injected."));
  }
  const form = h("form", { class: "edit", novalidate: true },
    field("Rules", text, "{\"seed\": 1, \"rules\": [{\"name\": \"busy\", \"method\": \"POST\", \"path\": \"/beta/**\", \"status\": 503, \"rate\": 0.5}]}: the rules replace those set."),
    h("div", { class: "actions" },
      h("button", { type: "submit", class: "btn primary", id: "faults-save" }, "Set the rules"),
      button("Remove every rule", async () => {
        await admin("/faults", { method: "DELETE" });
        await load();
        announce("Every fault rule is removed.");
      }, "danger", { id: "faults-clear" })));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    replace(alerts);
    try {
      await admin("/faults", { method: "PUT", body: text.value });
      await load();
      announce("The fault rules are set.");
      replace(alerts, h("p", { class: "notice", role: "status" }, "The rules are set."));
    } catch (err) {
      replace(alerts, explain(err, "Setting the rules"));
    }
  });
  replace(body, h("p", {}, "Rules make chosen requests fail, wait or drop, for resilience tests (docs/protocol.md, fault injection)."), alerts, form, h("h2", {}, "How often each fired"), counts);
  await load().catch((err) => replace(alerts, explain(err, "Reading the rules")));
  return () => {};
}

// clockView moves the server's clock.
async function clockView(body) {
  const now = h("dl", { class: "props", id: "clock-now" });
  const alerts = h("div", { class: "alerts" });
  const advance = h("input", { type: "text", id: "clock-advance", value: "1d", class: "mono", autocomplete: "off" });
  const at = h("input", { type: "datetime-local", id: "clock-at", step: "1" });
  function show(c) {
    replace(now, h("dt", {}, "Server time"), h("dd", {}, when(c.now)), h("dt", {}, "Offset from the wall clock"), h("dd", {}, c.offset),
      c.purged !== undefined ? [h("dt", {}, "Deleted items purged by the move"), h("dd", {}, String(c.purged))] : null);
  }
  async function move(bodyJSON) {
    replace(alerts);
    try {
      show(await admin("/clock", { method: "PUT", body: bodyJSON }));
      announce("The clock moved.");
    } catch (err) {
      replace(alerts, explain(err, "Moving the clock"));
    }
  }
  const adv = h("form", { class: "inline", novalidate: true },
    field("Advance by", advance, "A Go duration (90m, 720h) or whole days (31d)."),
    h("button", { type: "submit", class: "btn primary", id: "clock-advance-go" }, "Advance"));
  adv.addEventListener("submit", (e) => { e.preventDefault(); move({ advance: advance.value.trim() }); });
  const set = h("form", { class: "inline", novalidate: true },
    field("Set to (UTC)", at),
    h("button", { type: "submit", class: "btn secondary", id: "clock-set-go" }, "Set"));
  set.addEventListener("submit", (e) => {
    e.preventDefault();
    if (at.value) move({ now: (at.value.length === 16 ? at.value + ":00" : at.value) + "Z" });
  });
  replace(body,
    h("p", {}, "One clock for everything that reads the time: timestamps, the deleted items' retention, token lifetimes, throttling. A move past a token's hour ends this console's session."),
    now, alerts, adv, set,
    button("Back to the wall clock", async () => {
      show(await admin("/clock", { method: "DELETE" }));
      announce("The clock is the wall clock again.");
    }, "secondary", { id: "clock-reset" }));
  show(await admin("/clock"));
  return () => {};
}

// dataView resets and seeds.
function dataView(body) {
  const tenant = current().tenant;
  const alerts = h("div", { class: "alerts", id: "data-alerts" });
  const seed = h("textarea", { id: "seed-data", rows: "8", class: "mono", spellcheck: "false" });
  seed.value = "displayName,phoneNumber,companyName\nAda Lovelace,+14255550100,Contoso\n";
  const type = h("select", { id: "seed-type" }, h("option", { value: "text/csv" }, "CSV"), h("option", { value: "application/json" }, "JSON"));
  const seedForm = h("form", { class: "edit", novalidate: true },
    field("Profiles", seed, "CSV with a header row of property names (and an optional kind column), or JSON in the API's shape."),
    field("Format", type),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "btn primary", id: "seed-go" }, "Seed this tenant")));
  seedForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    replace(alerts);
    try {
      const r = await admin("/seed?tenant=" + tenant, { method: "POST", body: seed.value, contentType: type.value });
      replace(alerts, h("p", { class: "notice", role: "status" }, `Seeded ${r.count} profiles.`));
    } catch (err) {
      replace(alerts, explain(err, "Seeding"));
    }
  });
  const reset = async (all) => {
    const ok = await confirmDialog(all ? "Reset the whole server?" : "Reset this tenant?",
      all ? "Every tenant's profiles, deleted items and journal entries are deleted, and the clock and fault counters go back." :
        `Tenant ${tenant}'s profiles, deleted items, audit records and journal entries are deleted.`, "Reset");
    if (!ok) return;
    replace(alerts);
    try {
      const r = await admin("/reset" + (all ? "" : "?tenant=" + tenant), { method: "POST" });
      replace(alerts, h("p", { class: "notice", role: "status" }, `Reset: ${r.profiles} profiles and ${r.requests} journal entries deleted.`));
    } catch (err) {
      replace(alerts, explain(err, "Resetting"));
    }
  };
  replace(body, alerts,
    h("h2", {}, "Seed"), seedForm,
    h("h2", {}, "Reset"),
    h("div", { class: "actions" },
      button("Reset this tenant", () => reset(false), "danger", { id: "reset-tenant" }),
      button("Reset the whole server", () => reset(true), "danger", { id: "reset-all" })));
  return () => {};
}
