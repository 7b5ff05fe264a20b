// What the views share about profiles: the kinds, the property table
// (schema.js, generated from the server's), how a value reads, and the
// query options a listing is asked with.

import { properties, kinds } from "./schema.js";
import { h, when } from "./dom.js";
import { quote } from "./api.js";

export const kindNames = {
  pending: { type: "pendingExternalUserProfile", title: "Pending profiles", one: "pending profile" },
  external: { type: "externalUserProfile", title: "External profiles", one: "external profile" },
};

export function kindInfo(kind) {
  return { ...kindNames[kind], ...kinds[kindNames[kind].type] };
}

// Every property a listing can show ($select): who the person is first,
// then the rest in the table's order; the address is one column of its
// six fields.
const first = ["displayName", "phoneNumber", "companyName", "department", "jobTitle"];
const last = ["createdBy", "createdDateTime", "deletedDateTime", "epoch", "id"];
export const columns = [
  ...first,
  ...properties.map((p) => p.name).filter((n) => !first.includes(n) && !last.includes(n)),
  ...last,
].filter((n) => properties.some((p) => p.name === n));

// inColumnOrder sorts names as the columns are.
export function inColumnOrder(names) {
  return [...names].sort((a, b) => columns.indexOf(a) - columns.indexOf(b));
}

export const defaultColumns = ["displayName", "phoneNumber", "companyName", "createdDateTime"];

export function property(name) {
  const [top, field] = name.split("/");
  const p = properties.find((q) => q.name === top);
  return field ? p?.fields?.find((f) => f.name === field) : p;
}

// filterable lists the properties $filter takes, address fields by path.
export function filterable() {
  const out = [];
  for (const p of properties) {
    if (p.type === "address") {
      for (const f of p.fields) if (f.filter) out.push({ ...f, path: "address/" + f.name });
    } else if (p.filter) {
      out.push({ ...p, path: p.name });
    }
  }
  return out;
}

export const searchable = properties.filter((p) => p.searchable).map((p) => p.name);
export const sortable = properties.filter((p) => p.sortable).map((p) => p.name);

// cell is how a value reads in a table or a list of properties: never by
// colour alone, an unset value says so.
export function cell(name, value) {
  if (value === null || value === undefined) return h("span", { class: "null" }, "not set");
  const p = property(name);
  if (p?.type === "boolean") return value ? "yes" : "no";
  if (p?.type === "datetime") return when(value);
  if (p?.type === "address") {
    const parts = p.fields.map((f) => value[f.name]).filter((v) => v !== null && v !== undefined && v !== "");
    return parts.length ? parts.join(", ") : h("span", { class: "null" }, "not set");
  }
  return String(value);
}

// searchExpression is the $search of a search box: the text in one
// property, or in any searchable one.
export function searchExpression(text, prop) {
  const t = text.trim();
  if (!t) return "";
  const escaped = t.replaceAll("\\", "\\\\").replaceAll('"', '\\"');
  const props = prop && prop !== "any" ? [prop] : searchable;
  return props.map((p) => `"${p}:${escaped}"`).join(" OR ");
}

// The filter builder's operators, as people read them.
export const operatorLabels = {
  eq: "equals", ne: "does not equal", startswith: "starts with", in: "is one of",
  ge: "is at or after", gt: "is after", le: "is at or before", lt: "is before",
  null: "is not set", notnull: "is set",
};

// operatorsOf are the operators the builder offers for a property: the
// server's, and the comparisons with null for a property that may be unset.
export function operatorsOf(p) {
  const ops = [...p.filter];
  if (p.nullable && p.filter.includes("eq")) ops.push("null", "notnull");
  return ops;
}

// condition is one clause of the builder as $filter; "" when incomplete.
export function condition(p, op, value) {
  const path = p.path;
  if (op === "null") return `${path} eq null`;
  if (op === "notnull") return `${path} ne null`;
  const v = String(value ?? "").trim();
  if (v === "") return "";
  if (p.type === "boolean") return `${path} ${op} ${v === "true" ? "true" : "false"}`;
  if (p.type === "datetime") {
    // datetime-local gives minutes or seconds without a zone: the API's
    // timestamps are UTC, and so is the form's value.
    const iso = v.length === 16 ? v + ":00Z" : v.endsWith("Z") ? v : v + "Z";
    return `${path} ${op} ${iso}`;
  }
  if (op === "startswith") return `startswith(${path},${quote(v)})`;
  if (op === "in") {
    const items = v.split(",").map((s) => s.trim()).filter(Boolean);
    return items.length ? `${path} in (${items.map(quote).join(",")})` : "";
  }
  return `${path} ${op} ${quote(v)}`;
}
