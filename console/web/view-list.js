// A listing of profiles: pending, external, or the deleted items of a
// kind. It asks the server for one page at a time ($top, then the
// @odata.nextLink it is given: never everything), with the person's
// $search, $filter, $orderby and $select, and the total from /$count.

import { h, replace, field, button, count, heading } from "./dom.js";
import { graph } from "./api.js";
import { explain } from "./explain.js";
import {
  kindInfo, columns, defaultColumns, filterable, inColumnOrder, searchable, sortable, cell,
  searchExpression, operatorLabels, operatorsOf, condition,
} from "./profiles.js";

// The builder's conditions, per listing, kept while the console is open so
// that applying a filter does not empty the builder.
const builders = new Map();

// listView renders a listing into main. opts: kind ("pending", "external"),
// deleted (the deleted items of that kind), query (URLSearchParams of the
// route), route (the route's path, where the query goes), link (a row's
// address), rowActions (for deleted items: restore, purge).
export function listView(main, { kind, deleted = false, query, route, link, rowActions }) {
  const info = kindInfo(kind);
  const base = deleted ? `/directory/deletedItems/${info.qualified}` : `/directory/${info.collection}`;
  const q = {
    search: query.get("search") || "",
    searchIn: query.get("in") || "any",
    filter: query.get("filter") || "",
    orderby: query.get("orderby") || "",
    select: inColumnOrder((query.get("select") || (deleted ? [...defaultColumns, "deletedDateTime"] : defaultColumns).join(",")).split(",").filter((c) => columns.includes(c))),
    top: Number(query.get("top")) || 50,
  };
  const builderKey = route;
  const builder = builders.get(builderKey) || { match: "and", rows: [] };
  builders.set(builderKey, builder);

  const title = deleted ? `Deleted ${info.one}s` : info.title;
  const total = h("p", { class: "total", id: "list-total", "aria-live": "polite" }, "\u00a0");
  const status = h("p", { class: "status", role: "status", id: "list-status" }, "Loading…");
  const alerts = h("div", { class: "alerts", id: "list-alerts" });
  const tableWrap = h("div", { class: "table-wrap", "aria-busy": "true", tabindex: "0", role: "region", "aria-label": "Profiles" });
  const pager = h("nav", { class: "pager", "aria-label": "Pages" });

  // Navigating writes the query into the address, so that back and
  // forward move through the person's queries.
  function go(changes) {
    const next = { ...q, ...changes };
    const params = new URLSearchParams();
    if (next.search) params.set("search", next.search);
    if (next.search && next.searchIn !== "any") params.set("in", next.searchIn);
    if (next.filter) params.set("filter", next.filter);
    if (next.orderby) params.set("orderby", next.orderby);
    params.set("select", next.select.join(","));
    if (next.top !== 50) params.set("top", String(next.top));
    location.hash = `#/${route}?${params}`;
  }

  const form = queryForm(q, builder, go, deleted);
  replace(main,
    h("div", { class: "view-head" }, heading(title), total),
    deleted ? kindSwitch(kind) : null,
    form,
    alerts, status, tableWrap, pager);

  // The table keeps its size while a page loads: placeholder rows of the
  // real rows' height, so nothing below moves when the rows come.
  const view = { q, go, link, rowActions };
  replace(tableWrap, table(view, [], q.top));

  const params = new URLSearchParams({ $top: String(q.top), $select: q.select.join(",") });
  if (q.filter) params.set("$filter", q.filter);
  if (q.search) params.set("$search", searchExpression(q.search, q.searchIn));
  if (q.orderby) params.set("$orderby", q.orderby);
  const first = `${base}?${params}`;
  const countParams = new URLSearchParams();
  if (q.filter) countParams.set("$filter", q.filter);
  if (q.search) countParams.set("$search", searchExpression(q.search, q.searchIn));
  const needsEventual = Boolean(q.search);

  // The view's own start, for the performance figures (docs/benchmarks.md).
  const started = performance.now();

  const pages = [first];
  let page = 0;
  let firstLoad = true;
  async function load(url) {
    tableWrap.setAttribute("aria-busy", "true");
    status.textContent = "Loading…";
    replace(alerts);
    try {
      const { data } = await graph(url, { eventual: needsEventual });
      replace(tableWrap, table(view, data.value, 0));
      const shown = data.value.length;
      status.textContent = shown ? `Page ${page + 1}: ${count(shown)} ${shown === 1 ? "profile" : "profiles"}.` : (page ? "No more profiles." : "No profile to show.");
      renderPager(data["@odata.nextLink"]);
      if (firstLoad) {
        firstLoad = false;
        // Measured once the rows are laid out: the first page as the
        // person sees it.
        requestAnimationFrame(() => { if (tableWrap.isConnected) performance.measure("extdir:first-page", { start: started }); });
      }
    } catch (err) {
      // No empty table under the refusal: it would say "no profile".
      tableWrap.hidden = true;
      status.textContent = "The page could not be loaded.";
      replace(alerts, explain(err, `Listing ${title.toLowerCase()}`));
      renderPager(undefined);
    } finally {
      tableWrap.setAttribute("aria-busy", "false");
    }
  }
  function renderPager(nextLink) {
    if (nextLink) pages[page + 1] = nextLink;
    replace(pager,
      button("Previous page", () => { page--; load(pages[page]); }, "secondary", { disabled: page === 0, id: "page-prev" }),
      h("span", { class: "page-no" }, `Page ${page + 1}`),
      button("Next page", () => { page++; load(pages[page]); }, "secondary", { disabled: !nextLink, id: "page-next" }));
  }
  load(first);
  // The total comes from /$count, asked after the first page and beside
  // it rather than with it ($count=true), so that a slow count never holds
  // the rows back.
  graph(`${base}/$count${countParams.size ? "?" + countParams : ""}`, { eventual: true }).then(({ data }) => {
    const n = Number(data);
    total.textContent = `${count(n)} ${n === 1 ? "profile" : "profiles"}${q.filter || q.search ? " match" : ""}`;
    if (total.isConnected) performance.measure("extdir:total", { start: started });
  }, () => { total.textContent = "\u00a0"; });
}

// kindSwitch picks the kind of deleted items.
function kindSwitch(kind) {
  return h("nav", { class: "tabs", "aria-label": "Kind of deleted items" },
    h("a", { href: "#/deleted/pending", "aria-current": kind === "pending" ? "page" : false }, "Pending profiles"),
    h("a", { href: "#/deleted/external", "aria-current": kind === "external" ? "page" : false }, "External profiles"));
}

// queryForm is the search box, the filter builder and the column chooser.
function queryForm(q, builder, go, deleted) {
  const search = h("input", { type: "search", id: "q-search", name: "search", value: q.search, autocomplete: "off", spellcheck: "false" });
  const searchIn = h("select", { id: "q-in", name: "in" },
    h("option", { value: "any", selected: q.searchIn === "any" }, "any of " + searchable.join(", ")),
    searchable.map((p) => h("option", { value: p, selected: q.searchIn === p }, p)));

  const props = filterable().filter((p) => !deleted || p.path !== "deletedDateTime");
  const rowsEl = h("ol", { class: "conditions", id: "q-conditions" });
  const filterText = h("input", { type: "text", id: "q-filter", name: "filter", value: q.filter, autocomplete: "off", spellcheck: "false", class: "mono" });
  const match = h("select", { id: "q-match" },
    h("option", { value: "and", selected: builder.match === "and" }, "all of the conditions"),
    h("option", { value: "or", selected: builder.match === "or" }, "any of the conditions"));
  match.addEventListener("change", () => { builder.match = match.value; compose(); });

  function compose() {
    const parts = builder.rows.map((r) => condition(props.find((p) => p.path === r.prop), r.op, r.value)).filter(Boolean);
    filterText.value = parts.join(` ${builder.match} `);
  }
  function renderRows() {
    replace(rowsEl, builder.rows.map((r, i) => conditionRow(r, i)));
  }
  function conditionRow(r, i) {
    const n = i + 1;
    const prop = h("select", { id: `q-c${n}-prop`, "aria-label": `Condition ${n}: property` },
      props.map((p) => h("option", { value: p.path, selected: p.path === r.prop }, p.path)));
    const p = props.find((x) => x.path === r.prop) || props[0];
    const opSel = h("select", { id: `q-c${n}-op`, "aria-label": `Condition ${n}: operator` },
      operatorsOf(p).map((o) => h("option", { value: o, selected: o === r.op }, operatorLabels[o])));
    let value;
    if (p.type === "boolean") {
      value = h("select", { id: `q-c${n}-value`, "aria-label": `Condition ${n}: value` },
        h("option", { value: "true", selected: r.value !== "false" }, "yes"),
        h("option", { value: "false", selected: r.value === "false" }, "no"));
      if (r.value === "") r.value = "true";
    } else if (p.type === "datetime") {
      value = h("input", { type: "datetime-local", step: "1", id: `q-c${n}-value`, value: r.value, "aria-label": `Condition ${n}: value, UTC` });
    } else {
      value = h("input", { type: "text", id: `q-c${n}-value`, value: r.value, autocomplete: "off", spellcheck: "false", "aria-label": `Condition ${n}: value${r.op === "in" ? ", comma-separated" : ""}` });
    }
    value.hidden = r.op === "null" || r.op === "notnull";
    prop.addEventListener("change", () => {
      r.prop = prop.value;
      const np = props.find((x) => x.path === r.prop);
      if (!operatorsOf(np).includes(r.op)) r.op = operatorsOf(np)[0];
      r.value = "";
      renderRows(); compose();
      document.getElementById(`q-c${n}-prop`).focus();
    });
    opSel.addEventListener("change", () => { r.op = opSel.value; renderRows(); compose(); document.getElementById(`q-c${n}-op`).focus(); });
    value.addEventListener("input", () => { r.value = value.value; compose(); });
    value.addEventListener("change", () => { r.value = value.value; compose(); });
    const remove = button(`Remove condition ${n}`, () => {
      builder.rows.splice(i, 1);
      renderRows(); compose();
      (document.getElementById("q-add") || filterText).focus();
    }, "secondary small", { id: `q-c${n}-remove` });
    return h("li", { class: "condition" }, prop, opSel, value, remove);
  }
  renderRows();

  const add = button("Add a condition", () => {
    const p = props.find((x) => x.path === "displayName") || props[0];
    builder.rows.push({ prop: p.path, op: operatorsOf(p)[0], value: "" });
    renderRows(); compose();
    document.getElementById(`q-c${builder.rows.length}-prop`).focus();
  }, "secondary", { id: "q-add" });

  const chooser = h("fieldset", { class: "columns" }, h("legend", {}, "Columns ($select)"),
    columns.filter((c) => c !== "id").map((c) => h("label", { class: "check" },
      h("input", { type: "checkbox", name: "col", value: c, id: `col-${c}`, checked: q.select.includes(c) }), c)));

  const form = h("form", { class: "query", role: "search", "aria-label": "Query", novalidate: true },
    h("div", { class: "row" },
      field("Search", search, "Words at the start of a value or of a word in it; case does not matter."),
      field("in", searchIn)),
    h("details", { class: "filter", open: builder.rows.length > 0 || Boolean(q.filter) },
      h("summary", {}, "Filter"),
      h("div", { class: "row" }, field("Match", match)),
      rowsEl,
      add,
      field("$filter", filterText, "Built from the conditions above, or typed as Graph takes it.")),
    h("details", { class: "cols" }, h("summary", {}, "Columns"), chooser),
    h("div", { class: "row actions" },
      h("button", { type: "submit", class: "btn primary", id: "q-apply" }, "Apply"),
      button("Clear", () => { builder.rows = []; go({ search: "", filter: "", orderby: "" }); }, "secondary", { id: "q-clear" })));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const select = [...form.querySelectorAll("input[name=col]:checked")].map((c) => c.value);
    go({ search: search.value, searchIn: searchIn.value, filter: filterText.value.trim(), select: select.length ? select : defaultColumns });
  });
  return form;
}

// table is the page of rows; with placeholders > 0 and no rows, that many
// empty rows hold the table's height while the page loads.
function table({ q, go, link, rowActions }, rows, placeholders) {
  const [sortProp, sortDir] = (q.orderby || "").split(" ");
  const head = h("tr", {}, q.select.map((c) => {
    if (!sortable.includes(c)) return h("th", { scope: "col" }, c);
    const dir = sortProp === c ? (sortDir === "desc" ? "descending" : "ascending") : "none";
    const next = dir === "none" ? `${c} asc` : dir === "ascending" ? `${c} desc` : "";
    const label = dir === "none" ? " ⇅" : dir === "ascending" ? " ▲" : " ▼";
    return h("th", { scope: "col", "aria-sort": dir },
      h("button", { type: "button", class: "sort", id: `sort-${c}`, onclick: () => go({ orderby: next }),
        title: `Sort by ${c}` }, c, h("span", { "aria-hidden": "true", class: dir === "none" ? "hint-icon" : "" }, label),
        h("span", { class: "visually-hidden" }, dir === "none" ? ", not sorted" : `, sorted ${dir}`)));
  }), rowActions ? h("th", { scope: "col" }, "Actions") : null);
  const body = rows.length ? rows.map((r) => h("tr", { "data-id": r.id }, q.select.map((c, i) => {
    const value = cell(c, r[c]);
    if (i === 0) {
      return h("td", {}, h("a", { href: link(r) }, r[c] === null || r[c] === undefined ? r.id : value));
    }
    return h("td", {}, value);
  }), rowActions ? h("td", { class: "row-actions" }, rowActions(r)) : null))
    : Array.from({ length: placeholders }, () => h("tr", { class: "placeholder", "aria-hidden": "true" },
      q.select.map(() => h("td", {}, "\u00a0")), rowActions ? h("td", {}, "\u00a0") : null));
  return h("table", { class: "grid", id: "list-table" },
    h("caption", { class: "visually-hidden" }, "Profiles, one page"),
    h("thead", {}, head), h("tbody", {}, body));
}
