// The rows of an invitation spreadsheet, checked as extdir invite checks
// them (docs/invite.md): the header names the API's properties (any case;
// address fields as address/city, address.city or city), each cell is
// trimmed and checked as the same value in a create body, the phone number
// is normalised to E.164 first, and a number an earlier row has makes the
// row a duplicate of that row. The messages are the server's and the
// command's words.

import { properties, kinds } from "./schema.js";
import { normalise, validE164 } from "./phone.js";

const resource = kinds.pendingExternalUserProfile.resource;
const address = properties.find((p) => p.type === "address");
const readOnly = (p) => !p.onCreate && !p.onUpdate;

// columnNames are the columns a spreadsheet may have, in the table's order.
export const columnNames = properties.flatMap((p) =>
  readOnly(p) ? [] : p.type === "address" ? p.fields.map((f) => "address/" + f.name) : [p.name]);

function columnProperty(key) {
  const slash = key.includes("/");
  if (slash || key.includes(".")) {
    const [top, ...rest] = key.split(slash ? "/" : ".");
    const f = rest.join(slash ? "/" : ".");
    if (top !== "address") return null;
    const field = address.fields.find((x) => x.name.toLowerCase() === f);
    return field ? { path: "address/" + field.name, prop: field } : null;
  }
  const top = properties.find((p) => p.name.toLowerCase() === key && p.type !== "address");
  if (top) return { path: top.name, prop: top };
  const field = address.fields.find((x) => x.name.toLowerCase() === key);
  return field ? { path: "address/" + field.name, prop: field } : null;
}

// quoted is a name as Go's %q writes it.
const quoted = (s) => '"' + s.replaceAll("\\", "\\\\").replaceAll('"', '\\"') + '"';

// parseHeader maps the header's cells onto the properties: {columns} (a
// {path, prop} or null per column) or {error}.
export function parseHeader(header) {
  const columns = [];
  const unknown = [], ro = [], twice = [];
  const seen = new Set();
  for (const raw of header) {
    const name = raw.trim();
    const c = columnProperty(name.toLowerCase());
    if (!c) { unknown.push(quoted(name)); columns.push(null); continue; }
    if (readOnly(c.prop)) { ro.push(name); columns.push(null); continue; }
    if (seen.has(c.path)) twice.push(name);
    seen.add(c.path);
    columns.push(c);
  }
  const why = [];
  if (unknown.length) why.push(`unknown columns ${unknown.join(", ")} (the columns are property names: ${columnNames.join(", ")})`);
  if (ro.length) why.push(`read-only properties ${ro.join(", ")} cannot be set`);
  if (twice.length) why.push(`columns given twice: ${twice.join(", ")}`);
  if (why.length) return { error: `Invalid header row: ${why.join("; ")}.` };
  const missing = properties.filter((p) => p.required && !columns.some((c) => c && c.path === p.name)).map((p) => p.name);
  if (missing.length) {
    return { error: `the header has no ${missing.join(" and no ")} column: each invitation needs ${missing.join(" and ")}` };
  }
  return { columns };
}

function invalid(path, why) {
  return `Invalid value specified for property '${path}' of resource '${resource}'. ${why}`;
}

// checkRow checks one row's trimmed cells: {phone, name, body} or {phone,
// name, error}; phone is the number as sent (as written when it is none).
export function checkRow(columns, cells, region) {
  const at = (path) => columns.findIndex((c) => c && c.path === path);
  const phoneAt = at("phoneNumber"), nameAt = at("displayName");
  const row = { phone: "", name: nameAt < cells.length ? cells[nameAt] : "" };
  cells = cells.slice();
  if (phoneAt < cells.length && cells[phoneAt] !== "") {
    row.phone = cells[phoneAt];
    const n = normalise(cells[phoneAt], region);
    if (n.error) return { ...row, error: n.error };
    row.phone = n.e164;
    cells[phoneAt] = n.e164;
  }
  if (cells.length > columns.length) {
    return { ...row, error: `The row has ${cells.length} cells but the header only ${columns.length} columns.` };
  }
  const body = {};
  const has = new Set();
  for (let i = 0; i < cells.length; i++) {
    const c = columns[i], cell = cells[i];
    if (!c || cell === "") continue;
    let v = cell;
    if (c.prop.type === "boolean") {
      const b = { true: true, yes: true, 1: true, false: false, no: false, 0: false }[cell.trim().toLowerCase()];
      if (b === undefined) return { ...row, error: `Invalid value '${cell}' for property '${c.path}': it must be true or false.` };
      v = b;
    } else {
      if (c.path === "phoneNumber" && !validE164(v)) {
        return { ...row, error: invalid(c.path, "It must be in E.164 format: '+' followed by 2 to 15 digits, the first of them not 0.") };
      }
      if (c.path === "displayName" && v.trim() === "") return { ...row, error: invalid(c.path, "It cannot be empty.") };
      if (c.prop.maxLength && [...v].length > c.prop.maxLength) {
        return { ...row, error: invalid(c.path, `It is longer than the limit of ${c.prop.maxLength} characters.`) };
      }
    }
    const [top, f] = c.path.split("/");
    if (f) (body[top] ||= {})[f] = v;
    else body[top] = v;
    has.add(top);
  }
  for (const p of properties) {
    if (p.required && !has.has(p.name)) return { ...row, error: invalid(p.name, "It is required.") };
  }
  return { ...row, body };
}

// duplicateMessage is extdir invite's words for a duplicate row.
export function duplicateMessage(first, phone) {
  return `Duplicate of row ${first}: the same phoneNumber ${phone} (a live profile's phone number is unique).`;
}
