// Import a CSV of invitations from the browser, through the rules of
// extdir invite (docs/invite.md): every row checked first, then the valid
// rows sent in $batch requests of 20, four at a time, throttling honoured
// (Retry-After), an answer lost after the request went out settled by
// looking the number up before anything is sent again, and a results
// table with the command's columns, to download as CSV.

import { h, replace, field, button, count, heading, announce, download } from "./dom.js";
import { batch, sleep, quote } from "./api.js";
import { explain } from "./explain.js";
import { delimiter, records, toCSV, CSVError } from "./csv.js";
import { parseHeader, checkRow, duplicateMessage } from "./rows.js";
import { regionCodes } from "./phone.js";

const batchSize = 20;
const concurrency = 4;
const retries = 8;
const maxWait = 5 * 60 * 1000;
const resultColumns = ["row", "phoneNumber", "displayName", "status", "id", "httpStatus", "errorCode", "errorMessage", "requestId"];

// check reads the whole file and checks every row: {rows, toSend} or
// {error}. Each row: {line, phone, name, body | error, status, code}.
function check(text, region) {
  let it;
  try {
    it = records(text, delimiter(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text));
    const first = it.next();
    if (first.done) return { error: "the file is empty: it needs a header row naming the columns (displayName, phoneNumber, ...)" };
    const header = parseHeader(first.value[0].map((c) => c.trim()));
    if (header.error) return { error: header.error };
    const rows = [];
    const firstOf = new Map();
    for (const [raw, line] of it) {
      const cells = raw.map((c) => c.trim());
      if (cells.every((c) => c === "")) continue;
      const r = { line, ...checkRow(header.columns, cells, region) };
      if (r.error) {
        r.status = "skipped"; r.code = "invalid";
      } else if (firstOf.has(r.phone)) {
        r.status = "skipped"; r.code = "duplicate"; r.error = duplicateMessage(firstOf.get(r.phone), r.phone);
      } else {
        firstOf.set(r.phone, line);
        r.status = "to send";
      }
      rows.push(r);
    }
    return { rows, toSend: rows.filter((r) => r.status === "to send") };
  } catch (err) {
    if (err instanceof CSVError) return { error: `the file is not CSV: ${err.message}` };
    throw err;
  }
}

export function importView(main) {
  const file = h("input", { type: "file", id: "imp-file", accept: ".csv,text/csv,text/plain" });
  const names = new Intl.DisplayNames(["en"], { type: "region" });
  const region = h("select", { id: "imp-region" },
    h("option", { value: "" }, "none: every number has its country code"),
    regionCodes.map((r) => h("option", { value: r }, `${r} — ${names.of(r) || r}`)));
  const form = h("form", { class: "edit", novalidate: true, id: "imp-form" },
    field("CSV file", file, "A header row of property names (displayName, phoneNumber, companyName, …), then one invitation a row."),
    field("Default region", region, "Numbers written without their country code are read as numbers of this region."));
  const out = h("div", { id: "imp-out" });
  replace(main, heading("Import invitations"),
    h("p", {}, "The same rules as extdir invite: every row is checked before anything is sent; nothing leaves this page until you send it."),
    form, out);

  let text = "";
  async function preview() {
    if (!file.files[0]) return;
    text = await file.files[0].text();
    const checked = check(text, region.value);
    if (checked.error) {
      replace(out, h("div", { class: "alert", role: "alert", id: "imp-error" }, h("p", {}, `${file.files[0].name}: ${checked.error}`), h("p", {}, "Nothing will be sent.")));
      return;
    }
    showPreview(out, file.files[0].name, checked);
  }
  file.addEventListener("change", preview);
  region.addEventListener("change", preview);
}

function summary(rows, toSend) {
  const invalid = rows.filter((r) => r.code === "invalid").length;
  const dup = rows.filter((r) => r.code === "duplicate").length;
  return `${count(rows.length)} rows: ${count(toSend.length)} to send, ${count(invalid)} invalid, ${count(dup)} duplicate`;
}

function showPreview(out, name, { rows, toSend }) {
  const problems = rows.filter((r) => r.error);
  const shown = rows.length <= 1000 ? rows : problems.slice(0, 1000);
  const send = button(`Send ${count(toSend.length)} invitations`, () => run(out, rows, toSend), "primary", { id: "imp-send", disabled: toSend.length === 0 });
  replace(out,
    h("section", { "aria-labelledby": "imp-preview-title" },
      h("h2", { id: "imp-preview-title", tabindex: "-1" }, "Check"),
      h("p", { id: "imp-summary", role: "status" }, `${name}: ${summary(rows, toSend)}.`),
      problems.length ? h("p", {}, "The invalid and duplicate rows will be skipped.") : null,
      h("div", { class: "actions" }, send),
      rows.length > 1000 ? h("p", { class: "hint" }, `The table shows the rows with a problem (${count(problems.length)}).`) : null,
      h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Rows as checked" }, h("table", { class: "grid", id: "imp-preview" },
        h("caption", { class: "visually-hidden" }, "Rows as checked"),
        h("thead", {}, h("tr", {}, ["row", "phoneNumber", "displayName", "check"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, shown.map((r) => h("tr", { class: r.error ? "bad" : "" },
          h("td", { class: "num" }, String(r.line)), h("td", {}, r.phone), h("td", {}, r.name),
          h("td", {}, r.error ? h("span", {}, h("strong", {}, r.code === "duplicate" ? "Duplicate: " : "Invalid: "), r.error) : "OK"))))))));
  document.getElementById("imp-preview-title").focus();
}

// backoff is the command's: 250 ms doubled each attempt up to 30 s, half
// of it for sure and half at random, so that batches do not retry in step.
function backoff(attempt) {
  const d = Math.min(250 * 2 ** attempt, 30000);
  return d / 2 + Math.random() * d / 2;
}

async function run(out, rows, toSend) {
  const results = new Map(); // by line
  for (const r of rows) {
    if (r.error) results.set(r.line, { row: r.line, phoneNumber: r.phone, displayName: r.name, status: "skipped", errorCode: r.code, errorMessage: r.error });
  }
  const total = toSend.length;
  let done = 0, created = 0, failed = 0, retrying = 0;
  let stopped = "";
  const bar = h("progress", { id: "imp-progress", max: String(total), value: "0" });
  const label = h("p", { id: "imp-progress-text" }, `0 of ${count(total)} sent.`);
  const stop = button("Stop", () => { stopped = "Stopped: the batches in flight finished; the rows not sent are marked so."; stop.disabled = true; }, "danger", { id: "imp-stop" });
  const alerts = h("div", { class: "alerts" });
  replace(out, h("section", { "aria-labelledby": "imp-run-title" },
    h("h2", { id: "imp-run-title", tabindex: "-1" }, "Sending"),
    h("label", { for: "imp-progress" }, "Progress"), bar, label, alerts, h("div", { class: "actions" }, stop)));
  document.getElementById("imp-run-title").focus();
  const update = () => {
    bar.value = done;
    label.textContent = `${count(done)} of ${count(total)} sent: ${count(created)} created, ${count(failed)} failed${retrying ? `, ${retrying} waiting to be sent again` : ""}.`;
  };
  const finish = (r, result) => {
    results.set(r.line, { row: r.line, phoneNumber: r.phone, displayName: r.name, ...result });
    if (result.status === "not sent") return;
    done++;
    if (result.status === "created") created++; else failed++;
    update();
  };

  const queue = [];
  for (let i = 0; i < toSend.length; i += batchSize) queue.push(toSend.slice(i, i + batchSize).map((r) => ({ ...r, attempt: 0 })));
  const pendingRetries = new Set();

  async function sendBatch(items) {
    let answers, batchId;
    try {
      ({ answers, requestId: batchId } = await batch(items.map((r) => ({
        id: String(r.line), method: "POST", url: "/directory/pendingExternalUserProfiles",
        headers: { "Content-Type": "application/json" }, body: r.body,
      }))));
    } catch (err) {
      if (err.status === 401 || err.status === 403) {
        for (const r of items) finish(r, { status: "failed", httpStatus: err.status, errorCode: err.code, errorMessage: err.message, requestId: err.requestId });
        stopped = `Stopped: the server refused the batch (${err.status} ${err.code}); every other batch would get the same.`;
        replace(alerts, explain(err, "Sending"));
        return;
      }
      // 429 or 503: the batch did not run. Anything else: it may have.
      const ran = !(err.status === 429 || err.status === 503);
      await again(items, err.retryAfter * 1000, ran, err);
      return;
    }
    const later = [], maybeRan = [];
    let wait = 0;
    for (const r of items) {
      const a = answers.get(String(r.line));
      if (!a) { maybeRan.push(r); continue; }
      // The inner error's request-id, else the batch's, as extdir invite
      // records it: the one to quote.
      const reqId = a.body?.error?.innerError?.["request-id"] || batchId;
      if (a.status === 201) {
        finish(r, { status: "created", id: a.body.id, httpStatus: 201, requestId: reqId });
      } else if (a.status === 429 || a.status === 503) {
        wait = Math.max(wait, (Number(a.headers?.["Retry-After"]) || 0) * 1000);
        later.push(r);
      } else if (a.status >= 500) {
        maybeRan.push(r);
      } else {
        finish(r, { status: "failed", httpStatus: a.status, errorCode: a.body?.error?.code || "", errorMessage: a.body?.error?.message || "", requestId: reqId });
      }
    }
    if (later.length) await again(later, wait, false);
    if (maybeRan.length) await again(maybeRan, 0, true);
  }

  // again sends rows once more after the wait the server asked for (or the
  // backoff); rows whose request may have run are first looked up by
  // phone number, since a live profile's number is unique.
  async function again(items, wait, ran, err) {
    const live = [];
    for (const r of items) {
      r.attempt++;
      if (r.attempt > retries) {
        finish(r, { status: "failed", httpStatus: err?.status || "", errorCode: err?.code || "TooManyAttempts", errorMessage: err?.message || `no answer after ${retries + 1} attempts`, requestId: err?.requestId || "" });
      } else live.push(r);
    }
    if (!live.length) return;
    retrying += live.length;
    update();
    await sleep(Math.min(wait || backoff(live[0].attempt), maxWait));
    retrying -= live.length;
    let resend = live;
    if (ran) {
      const found = await lookUp(live);
      resend = live.filter((r) => {
        if (!found.has(r.phone)) return true;
        finish(r, { status: "created", id: found.get(r.phone), httpStatus: 201 });
        return false;
      });
    }
    if (resend.length && !stopped) queue.push(resend);
    else for (const r of resend) finish(r, { status: "not sent" });
  }

  // lookUp finds the profiles of the rows' numbers in both collections.
  async function lookUp(items) {
    const found = new Map();
    for (let i = 0; i < items.length; i += batchSize / 2) {
      const part = items.slice(i, i + batchSize / 2);
      const reqs = part.flatMap((r, j) => ["pendingExternalUserProfiles", "externalUserProfiles"].map((c, k) => ({
        id: `${j}-${k}`, method: "GET", url: `/directory/${c}?$filter=${encodeURIComponent("phoneNumber eq " + quote(r.phone))}&$select=id`,
      })));
      try {
        const { answers } = await batch(reqs);
        part.forEach((r, j) => {
          for (const k of [0, 1]) {
            const v = answers.get(`${j}-${k}`)?.body?.value;
            if (v && v.length) found.set(r.phone, v[0].id);
          }
        });
      } catch {
        // Not found is the safe answer only when the look-up ran: a row
        // that cannot be looked up is sent again, where a duplicate is a
        // 400 that says so, never a second profile.
      }
    }
    return found;
  }

  // Four workers take batches off the queue until it is empty and nothing
  // is waiting to come back to it.
  let inFlight = 0;
  async function worker() {
    for (;;) {
      if (stopped) return;
      const items = queue.shift();
      if (!items) {
        if (inFlight === 0) return;
        await sleep(50);
        continue;
      }
      inFlight++;
      try {
        await sendBatch(items);
      } catch (err) {
        for (const r of items) finish(r, { status: "failed", errorCode: err.code || "Error", errorMessage: err.message });
      } finally {
        inFlight--;
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  while (inFlight > 0) await sleep(50);
  for (const items of queue.splice(0)) for (const r of items) finish(r, { status: "not sent" });
  stop.disabled = true;
  showResults(out, [...results.values()].sort((a, b) => a.row - b.row), { created, failed, skipped: rows.length - toSend.length, stopped });
}

function showResults(out, results, { created, failed, skipped, stopped }) {
  const notSent = results.filter((r) => r.status === "not sent").length;
  const line = `${count(created)} created, ${count(failed)} failed, ${count(skipped)} skipped${notSent ? `, ${count(notSent)} not sent` : ""}.`;
  const which = h("select", { id: "imp-show" }, h("option", { value: "all" }, "every row"), h("option", { value: "problems" }, "the rows not created"));
  const tableWrap = h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Results, a line a row" });
  const render = () => {
    const rows = which.value === "all" ? results : results.filter((r) => r.status !== "created");
    replace(tableWrap, h("table", { class: "grid", id: "imp-results" },
      h("caption", { class: "visually-hidden" }, "Results, one line a row"),
      h("thead", {}, h("tr", {}, resultColumns.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows.slice(0, 2000).map((r) => h("tr", { "data-status": r.status, class: r.status === "created" ? "" : "bad" },
        resultColumns.map((c) => h("td", { class: c === "row" || c === "httpStatus" ? "num" : "" }, r[c] === undefined ? "" : String(r[c]))))))));
  };
  which.addEventListener("change", render);
  render();
  replace(out, h("section", { "aria-labelledby": "imp-results-title" },
    h("h2", { id: "imp-results-title", tabindex: "-1" }, "Results"),
    stopped ? h("p", { class: "notice" }, stopped) : null,
    h("p", { id: "imp-results-summary", role: "status" }, "Done: " + line),
    h("div", { class: "actions" },
      button("Download the results (CSV)", () => download("results.csv", toCSV([resultColumns, ...results.map((r) => resultColumns.map((c) => r[c] ?? ""))])), "primary", { id: "imp-download" })),
    field("Show", which),
    results.length > 2000 ? h("p", { class: "hint" }, "The table shows 2,000 rows; the download has every one.") : null,
    tableWrap));
  announce("Import done: " + line);
  document.getElementById("imp-results-title").focus();
}
