// Calls to the Graph API (/beta) and the admin API (/admin), and their
// errors. Every call carries a client-request-id, so that a request the
// person quotes can be found in the request journal.

import { accessToken, current, expire } from "./auth.js";

// GraphError is a refused call: Graph's error envelope, or what went wrong
// on the way.
export class GraphError extends Error {
  constructor(status, code, message, requestId, extra = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
    Object.assign(this, extra);
  }
}

// errorOf reads a failed answer's Graph envelope.
export async function errorOf(res) {
  const text = await res.text();
  let code = String(res.status), message = text || res.statusText;
  try {
    const e = JSON.parse(text).error;
    if (e) { code = e.code || code; message = e.message || message; }
  } catch { /* not JSON: the text is the message */ }
  return new GraphError(res.status, code, message, res.headers.get("request-id") || "",
    { retryAfter: Number(res.headers.get("Retry-After")) || 0 });
}

// graph calls the API. path is under /beta ("/directory/..." or a full
// nextLink); opts: method, body (JSON), etag (If-Match), eventual
// (ConsistencyLevel: eventual), headers. It resolves to {status, headers,
// data}, data being the parsed JSON body (or the text of a text answer),
// and rejects with a GraphError.
export async function graph(path, opts = {}) {
  const url = path.startsWith("http") ? new URL(path).pathname + new URL(path).search : "/beta" + path;
  for (let attempt = 0; ; attempt++) {
    const token = await accessToken();
    if (!token) throw new GraphError(401, "SignedOut", "You are not signed in.", "");
    const headers = { Authorization: "Bearer " + token, "client-request-id": crypto.randomUUID(), ...(opts.headers || {}) };
    if (opts.eventual) headers.ConsistencyLevel = "eventual";
    if (opts.etag) headers["If-Match"] = opts.etag;
    let body;
    if (opts.body !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(opts.body);
    }
    let res;
    try {
      res = await fetch(url, { method: opts.method || "GET", headers, body });
    } catch (e) {
      throw new GraphError(0, "NetworkError", "The server could not be reached: " + e.message, headers["client-request-id"]);
    }
    if (res.ok) {
      const type = res.headers.get("Content-Type") || "";
      const data = res.status === 204 ? null : type.includes("json") ? await res.json() : await res.text();
      return { status: res.status, headers: res.headers, data };
    }
    const err = await errorOf(res);
    // A read that was throttled or met a busy server is tried again after
    // the wait the server asks for; a write is not, since the person
    // decides (the import view retries its own).
    const read = !opts.method || opts.method === "GET";
    if (read && (res.status === 429 || res.status === 503) && attempt < 3) {
      await sleep(Math.min(err.retryAfter || 1, 30) * 1000);
      continue;
    }
    if (res.status === 401 && current()) {
      expire("The server refused your token (" + err.message + "). Sign in again.");
    }
    throw err;
  }
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// batch sends up to 20 requests as one $batch (requests as Graph takes
// them: id, method, url, headers, body) and resolves to {answers} by id
// and the batch's requestId.
export async function batch(requests) {
  const { data, headers } = await graph("/$batch", { method: "POST", body: { requests } });
  const answers = new Map();
  for (const r of data.responses || []) answers.set(String(r.id), r);
  return { answers, requestId: headers.get("request-id") || "" };
}

// The admin API admits loopback clients, or the bearer of the server's
// admin token, which the person may paste: it is kept in memory like the
// Graph tokens.
let adminToken = "";
export function setAdminToken(t) { adminToken = t; }

// admin calls the admin API and resolves to the parsed JSON answer.
export async function admin(path, { method = "GET", body, contentType } = {}) {
  const headers = {};
  if (adminToken) headers.Authorization = "Bearer " + adminToken;
  if (body !== undefined) headers["Content-Type"] = contentType || "application/json";
  let res;
  try {
    res = await fetch("/admin" + path, { method, headers, body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body) });
  } catch (e) {
    throw new GraphError(0, "NetworkError", "The admin API could not be reached: " + e.message, "");
  }
  if (!res.ok) throw await errorOf(res);
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

// adminState says whether the admin API answers this browser: "ok",
// "token" (it wants the admin token), "loopback" (it answers this
// machine's clients only), "off", or "unreachable".
export async function adminState() {
  try {
    await admin("/clock");
    return "ok";
  } catch (e) {
    if (e.status === 401) return "token";
    if (e.status === 403) return "loopback";
    if (e.status === 404) return "off";
    return "unreachable";
  }
}

// quote is an OData string literal.
export function quote(s) {
  return "'" + String(s).replaceAll("'", "''") + "'";
}
