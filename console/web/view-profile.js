// One profile: every property, its ETag and timestamps; edit with If-Match
// (a 412 shows both versions and lets the person try again), delete,
// redeem; for a deleted item, restore and delete for good.

import { h, replace, field, setError, button, heading, announce, when, confirmDialog } from "./dom.js";
import { graph } from "./api.js";
import { explain } from "./explain.js";
import { properties } from "./schema.js";
import { kindInfo, cell, columns, property } from "./profiles.js";

// profileView renders the profile id of kind; deleted: a deleted item.
export async function profileView(main, { kind, id, deleted = false }) {
  const info = kindInfo(kind);
  const path = deleted ? `/directory/deletedItems/${id}` : `/directory/${info.collection}/${id}`;
  replace(main, heading(deleted ? `Deleted ${info.one}` : info.one[0].toUpperCase() + info.one.slice(1)), h("p", { role: "status" }, "Loading…"));
  let profile;
  try {
    ({ data: profile } = await graph(path));
  } catch (err) {
    replace(main, heading("Profile"), explain(err, "Reading the profile"), h("p", {}, h("a", { href: deleted ? `#/deleted/${kind}` : `#/${kind}` }, "Back to the list")));
    return;
  }
  show(main, { kind, info, path, deleted, profile });
}

function show(main, ctx, notice) {
  const { kind, info, deleted, profile } = ctx;
  const etag = profile["@odata.etag"];
  const alerts = h("div", { class: "alerts", id: "profile-alerts" });
  const actions = deleted ? [
    button("Restore", () => restore(main, ctx, alerts), "primary", { id: "act-restore" }),
    button("Delete for good", () => purge(main, ctx, alerts), "danger", { id: "act-purge" }),
  ] : [
    button("Edit", () => edit(main, ctx), "primary", { id: "act-edit" }),
    kind === "pending" ? button("Redeem", () => redeem(main, ctx, alerts), "secondary", { id: "act-redeem" }) : null,
    button("Delete", () => remove(main, ctx, alerts), "danger", { id: "act-delete" }),
  ];
  replace(main,
    h("div", { class: "view-head" }, heading(profile.displayName || profile.id),
      h("p", { class: "kind" }, deleted ? `Deleted ${info.one}` : info.one)),
    notice ? h("p", { class: "notice", role: "status" }, notice) : null,
    alerts,
    h("div", { class: "actions" }, actions,
      h("a", { class: "btn secondary", href: `#/audit?profile=${encodeURIComponent(profile.id)}` }, "Audit log of this profile"),
      h("a", { class: "btn secondary", href: deleted ? `#/deleted/${kind}` : `#/${kind}` }, "Back to the list")),
    h("div", { class: "sections" },
      h("section", { "aria-labelledby": "props-title" },
        h("h2", { id: "props-title" }, "Properties"),
        h("dl", { class: "props", id: "profile-props" }, columns.map(property).filter((p) => !identity.includes(p.name)).map((p) => [
          h("dt", {}, p.name),
          h("dd", { "data-prop": p.name }, p.type === "address" ? address(profile.address) : cell(p.name, profile[p.name])),
        ]))),
      h("section", { "aria-labelledby": "version-title" },
        h("h2", { id: "version-title" }, "Identity and version"),
        h("dl", { class: "props", id: "profile-version" },
          h("dt", {}, "id"), h("dd", {}, h("code", {}, profile.id)),
          h("dt", {}, "ETag"), h("dd", { id: "profile-etag" }, h("code", {}, etag)),
          h("dt", {}, "epoch"), h("dd", {}, String(profile.epoch)),
          h("dt", {}, "createdDateTime"), h("dd", {}, when(profile.createdDateTime)),
          h("dt", {}, "createdBy"), h("dd", {}, cell("createdBy", profile.createdBy)),
          h("dt", {}, "deletedDateTime"), h("dd", {}, when(profile.deletedDateTime))))));
}

// identity are the properties the server sets: shown apart, as the
// profile's identity and version.
const identity = ["id", "createdDateTime", "createdBy", "deletedDateTime", "epoch"];

function address(a) {
  const fields = properties.find((p) => p.name === "address").fields;
  return h("dl", { class: "props nested" }, fields.map((f) => [h("dt", {}, f.name), h("dd", {}, cell(f.name, a?.[f.name]))]));
}

// The properties a PATCH may set, address fields by path.
function editable() {
  const out = [];
  for (const p of columns.map(property)) {
    if (!p.onUpdate) continue;
    if (p.type === "address") for (const f of p.fields) out.push({ ...f, path: "address/" + f.name });
    else out.push({ ...p, path: p.name });
  }
  return out;
}

function valueAt(profile, path) {
  const [top, f] = path.split("/");
  return f ? profile[top]?.[f] ?? null : profile[top] ?? null;
}

// edit shows the form of the profile's writable properties; only what the
// person changed is sent, with If-Match: the ETag the form was opened on.
function edit(main, ctx, mine) {
  const { profile } = ctx;
  const props = editable();
  const controls = new Map();
  const fields = props.map((p) => {
    const id = "edit-" + p.path.replace("/", "-");
    const start = mine && mine.has(p.path) ? mine.get(p.path) : valueAt(profile, p.path);
    let control;
    if (p.type === "boolean") {
      control = h("input", { type: "checkbox", id, checked: Boolean(start), "aria-describedby": id + "-error" });
      controls.set(p.path, control);
      return h("div", { class: "field check" }, control, h("label", { for: id }, p.path),
        h("p", { class: "field-error", id: id + "-error", hidden: true }));
    }
    control = h("input", { type: "text", id, value: start ?? "", autocomplete: "off", spellcheck: "false" });
    controls.set(p.path, control);
    return field(p.path, control, p.maxLength ? `At most ${p.maxLength} characters${p.nullable ? "; empty clears it" : ""}.` : "");
  });
  const alerts = h("div", { class: "alerts" });
  const form = h("form", { class: "edit", novalidate: true, id: "edit-form" },
    alerts,
    h("fieldset", {}, h("legend", {}, "Properties"), fields.filter((_, i) => !props[i].path.startsWith("address/"))),
    h("fieldset", {}, h("legend", {}, "address"), fields.filter((_, i) => props[i].path.startsWith("address/"))),
    h("p", { class: "hint" }, "phoneNumber is set when the profile is created and cannot be changed."),
    h("div", { class: "actions" },
      h("button", { type: "submit", class: "btn primary", id: "edit-save" }, "Save"),
      button("Cancel", () => show(main, ctx), "secondary", { id: "edit-cancel" })));

  // changes are the values the person changed from the version the form
  // shows, by path.
  function changes() {
    const out = new Map();
    for (const p of props) {
      const c = controls.get(p.path);
      const was = valueAt(profile, p.path);
      let now;
      if (p.type === "boolean") now = c.checked;
      else now = c.value.trim() === "" && p.nullable ? null : c.value;
      if (now !== was) out.set(p.path, now);
    }
    return out;
  }
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    for (const c of controls.values()) setError(c, "");
    replace(alerts);
    const changed = changes();
    if (changed.size === 0) {
      show(main, ctx, "Nothing changed: nothing was sent.");
      return;
    }
    await save(main, ctx, changed, profile["@odata.etag"], { form, alerts, controls });
  });
  replace(main,
    h("div", { class: "view-head" }, heading(`Edit ${profile.displayName}`), h("p", { class: "kind" }, `ETag ${profile["@odata.etag"]}`)),
    form);
  controls.get("displayName").focus();
}

// body turns changes into a PATCH body: address fields in one object,
// which the API merges.
function body(changed) {
  const out = {};
  for (const [path, v] of changed) {
    const [top, f] = path.split("/");
    if (f) (out[top] ||= {})[f] = v;
    else out[top] = v;
  }
  return out;
}

async function save(main, ctx, changed, etag, ui) {
  const { path } = ctx;
  try {
    await graph(path, { method: "PATCH", body: body(changed), etag });
  } catch (err) {
    if (err.status === 412) {
      await conflict(main, ctx, changed, etag);
      return;
    }
    if (err.status === 400 && ui) {
      // The API's message names the property: it goes under its field.
      const m = /propert(?:y|ies) '?([A-Za-z]+(?:\/[A-Za-z]+)?)'?/.exec(err.message);
      const c = m && ui.controls.get(m[1]);
      if (c) {
        setError(c, err.message);
        c.focus();
        return;
      }
    }
    replace(ui ? ui.alerts : main, explain(err, "Saving the profile"));
    return;
  }
  const { data } = await graph(path);
  ctx.profile = data;
  show(main, ctx, `Saved: the profile is now at ${data["@odata.etag"]}.`);
  announce("Saved.");
}

// conflict shows, after a 412, the version the person edited, their
// changes and the version on the server now, and lets them save their
// changes over the current version or drop them.
async function conflict(main, ctx, changed, etag) {
  const { data: now } = await graph(ctx.path);
  const was = ctx.profile;
  const rows = editable().filter((p) => changed.has(p.path) || valueAt(was, p.path) !== valueAt(now, p.path));
  const show3 = (v, p) => cell(p.path.split("/").pop(), v);
  replace(main,
    heading(`Edit ${was.displayName}: someone else changed it`),
    h("div", { class: "alert", role: "alert", id: "conflict" },
      h("p", { class: "alert-title" }, "412 Request_PreconditionFailed: nothing was saved."),
      h("p", {}, `You edited the version ${etag}; the server now holds ${now["@odata.etag"]}, changed by someone else meanwhile. Compare the two and choose.`)),
    h("table", { class: "grid compare", id: "conflict-table" },
      h("caption", {}, "Your changes beside the current version"),
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, "property"),
        h("th", { scope: "col" }, `you opened (${etag})`),
        h("th", { scope: "col" }, "your change"),
        h("th", { scope: "col" }, `now on the server (${now["@odata.etag"]})`))),
      h("tbody", {}, rows.map((p) => h("tr", { "data-prop": p.path },
        h("th", { scope: "row" }, p.path),
        h("td", {}, show3(valueAt(was, p.path), p)),
        h("td", {}, changed.has(p.path) ? show3(changed.get(p.path), p) : h("span", { class: "null" }, "unchanged")),
        h("td", {}, show3(valueAt(now, p.path), p),
          valueAt(was, p.path) !== valueAt(now, p.path) ? h("span", { class: "tag" }, " changed by them") : null))))),
    h("div", { class: "actions" },
      button("Save my changes over the current version", async () => {
        ctx.profile = now;
        await save(main, ctx, changed, now["@odata.etag"]);
      }, "primary", { id: "conflict-retry" }),
      button("Edit again from the current version", () => { ctx.profile = now; edit(main, ctx, changed); }, "secondary", { id: "conflict-edit" }),
      button("Drop my changes", () => { ctx.profile = now; show(main, ctx, "Your changes were dropped; this is the current version."); }, "secondary", { id: "conflict-drop" })));
  document.getElementById("view-title").focus();
}

async function remove(main, ctx, alerts) {
  const { profile, kind } = ctx;
  const ok = await confirmDialog(`Delete ${profile.displayName}?`,
    "The profile becomes a deleted item: it can be restored for the retention period (30 days unless the server says otherwise), then it is gone.", "Delete");
  if (!ok) return;
  try {
    await graph(ctx.path, { method: "DELETE", etag: profile["@odata.etag"] });
  } catch (err) {
    replace(alerts, explain(err, "Deleting"));
    return;
  }
  announce(`Deleted ${profile.displayName}.`);
  location.hash = `#/deleted/${kind}/${profile.id}`;
}

async function redeem(main, ctx, alerts) {
  const { profile } = ctx;
  try {
    await graph(`${ctx.path}/redeem`, { method: "POST", etag: profile["@odata.etag"] });
  } catch (err) {
    replace(alerts, explain(err, "Redeeming"));
    return;
  }
  announce(`${profile.displayName} redeemed the invitation.`);
  location.hash = `#/external/${profile.id}`;
}

async function restore(main, ctx, alerts) {
  const { profile, kind } = ctx;
  try {
    await graph(`/directory/deletedItems/${profile.id}/restore`, { method: "POST" });
  } catch (err) {
    replace(alerts, explain(err, "Restoring"));
    return;
  }
  announce(`Restored ${profile.displayName}.`);
  location.hash = `#/${kind}/${profile.id}`;
}

async function purge(main, ctx, alerts) {
  const { profile, kind } = ctx;
  const ok = await confirmDialog(`Delete ${profile.displayName} for good?`,
    "The profile is removed from the deleted items and cannot be restored.", "Delete for good");
  if (!ok) return;
  try {
    await graph(`/directory/deletedItems/${profile.id}`, { method: "DELETE" });
  } catch (err) {
    replace(alerts, explain(err, "Deleting for good"));
    return;
  }
  announce(`${profile.displayName} is deleted for good.`);
  location.hash = `#/deleted/${kind}`;
}

// deletedRowActions are the buttons of a row of deleted items: restore it,
// or delete it for good; reload shows the listing again.
export function deletedRowActions(kind, reload) {
  return (r) => {
    const name = r.displayName || r.id;
    const alerts = document.getElementById("list-alerts");
    return [
      button(["Restore", h("span", { class: "visually-hidden" }, ` ${name}`)], async () => {
        try {
          await graph(`/directory/deletedItems/${r.id}/restore`, { method: "POST" });
        } catch (err) {
          replace(alerts, explain(err, `Restoring ${name}`));
          return;
        }
        announce(`Restored ${name}.`);
        reload();
      }, "secondary small", { "data-action": "restore" }),
      button(["Delete for good", h("span", { class: "visually-hidden" }, `: ${name}`)], async () => {
        const ok = await confirmDialog(`Delete ${name} for good?`, "The profile is removed from the deleted items and cannot be restored.", "Delete for good");
        if (!ok) return;
        try {
          await graph(`/directory/deletedItems/${r.id}`, { method: "DELETE" });
        } catch (err) {
          replace(alerts, explain(err, `Deleting ${name} for good`));
          return;
        }
        announce(`${name} is deleted for good.`);
        reload();
      }, "danger small", { "data-action": "purge" }),
    ];
  };
}
