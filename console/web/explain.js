// What a refused call shows: Graph's status, code and message as the
// server sent them, its request-id, and for a 403 what the token holds
// beside what the message says was missing.

import { h } from "./dom.js";
import { current } from "./auth.js";
import { roles } from "./schema.js";

// roleNames are the display names of a token's wids.
export function roleNames(ids) {
  return ids.map((id) => roles[id.toLowerCase()] || id);
}

// explain is an alert for err (a GraphError or any Error).
export function explain(err, doing) {
  const parts = [h("p", { class: "alert-title" }, doing ? `${doing}: refused.` : "The call was refused.")];
  if (err.status !== undefined) {
    parts.push(h("p", {}, h("strong", {}, `${err.status || "No answer"} ${err.code}`), " — ", err.message));
  } else {
    parts.push(h("p", {}, err.message || String(err)));
  }
  if (err.status === 403) {
    const s = current();
    const missing = (err.message.split("Insufficient privileges to complete the operation.")[1] || "").trim();
    parts.push(h("div", { class: "explain" },
      h("p", {}, h("strong", {}, "What was missing: "), missing || "the message above says which permission or role."),
      s ? h("p", {}, h("strong", {}, "Your token holds: "),
        "delegated permissions (scp) ", s.scopes.length ? s.scopes.join(", ") : "none",
        "; directory roles (wids) ", s.roleIds.length ? roleNames(s.roleIds).join(", ") : "none",
        ".") : null,
      h("p", { class: "hint" }, "A delegated call needs the permission in the token and a directory role that allows it. An administrator gives the role: extdir user add --wids …, or the users of --auth-config.")));
  }
  if (err.status === 429) {
    parts.push(h("p", {}, `The server throttled the call; it asks to wait ${err.retryAfter || 1} s before trying again.`));
  }
  if (err.requestId) parts.push(h("p", { class: "hint" }, "request-id ", h("code", {}, err.requestId)));
  return h("div", { class: "alert", role: "alert" }, parts);
}
