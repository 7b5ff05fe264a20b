// Invite: the form of a pending profile. The form checks nothing itself:
// the server's rules are the rules, and its 400 message (which names the
// property) goes under the field it is about.

import { h, replace, field, setError, heading, announce } from "./dom.js";
import { graph } from "./api.js";
import { explain } from "./explain.js";
import { properties } from "./schema.js";

export function inviteView(main) {
  const controls = new Map();
  const make = (p, path) => {
    const id = "inv-" + path.replace("/", "-");
    if (p.type === "boolean") {
      const c = h("input", { type: "checkbox", id, checked: true, "aria-describedby": id + "-error" });
      controls.set(path, c);
      return h("div", { class: "field check" }, c, h("label", { for: id }, path),
        h("p", { class: "field-error", id: id + "-error", hidden: true }));
    }
    const c = h("input", { type: path === "phoneNumber" ? "tel" : "text", id, autocomplete: "off", spellcheck: "false", "aria-required": p.required ? "true" : false });
    controls.set(path, c);
    const hint = path === "phoneNumber" ? "In E.164: + and the country code, such as +14255550100." :
      p.maxLength ? `At most ${p.maxLength} characters.` : "";
    return field(path + (p.required ? " (required)" : ""), c, hint);
  };
  const top = [], addr = [];
  // What an invitation needs first, then the rest in the table's order.
  const ordered = [...properties.filter((p) => p.required), ...properties.filter((p) => !p.required)];
  for (const p of ordered) {
    if (!p.onCreate) continue;
    if (p.type === "address") for (const f of p.fields) addr.push(make(f, "address/" + f.name));
    else top.push(make(p, p.name));
  }
  const alerts = h("div", { class: "alerts", id: "invite-alerts" });
  const result = h("div", { id: "invite-result" });
  const form = h("form", { class: "edit", novalidate: true, id: "invite-form" },
    alerts,
    h("fieldset", {}, h("legend", {}, "The person"), top),
    h("fieldset", {}, h("legend", {}, "address"), addr),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "btn primary", id: "invite-send" }, "Invite")));

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    for (const c of controls.values()) setError(c, "");
    replace(alerts);
    replace(result);
    const body = {};
    for (const [path, c] of controls) {
      const [t, f] = path.split("/");
      let v;
      if (c.type === "checkbox") v = c.checked;
      else if (c.value.trim() === "") continue; // unset, as the API's default
      else v = c.value;
      if (f) (body[t] ||= {})[f] = v;
      else body[t] = v;
    }
    let created;
    try {
      ({ data: created } = await graph("/directory/pendingExternalUserProfiles", { method: "POST", body }));
    } catch (err) {
      const m = /propert(?:y|ies) '?([A-Za-z]+(?:\/[A-Za-z]+)?)'?/.exec(err.message);
      const c = err.status === 400 && m && controls.get(m[1]);
      if (c) {
        setError(c, err.message);
        c.focus();
      } else {
        replace(alerts, explain(err, "Inviting"));
        alerts.focus?.();
      }
      return;
    }
    for (const c of controls.values()) if (c.type !== "checkbox") c.value = "";
    replace(result, h("div", { class: "notice", role: "status" },
      h("p", {}, `Invited ${created.displayName} (${created.phoneNumber}). `,
        h("a", { href: `#/pending/${created.id}`, id: "invite-open" }, "Open the profile"), " · ",
        h("a", { href: "#/pending" }, "See the pending profiles"))));
    announce(`Invited ${created.displayName}.`);
    controls.get("displayName").focus();
  });

  replace(main, heading("Invite"),
    h("p", {}, "An invitation is a pending profile: the person becomes an external profile when they redeem it."),
    result, form);
}
