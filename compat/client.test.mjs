// Client-compatibility test: the official Microsoft Graph JavaScript clients,
// unchanged but for their base URL, driven against the real extdir binary over
// https. See README.md; harness.mjs explains the two-process TLS setup.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";

import { Client, PageIterator, GraphError, ResponseType, } from "@microsoft/microsoft-graph-client";
import { BaseBearerTokenAuthenticationProvider, AllowedHostsValidator, RequestInformation, HttpMethod, InMemoryBackingStoreFactory } from "@microsoft/kiota-abstractions";
import { FetchRequestAdapter, HttpClient, MiddlewareFactory } from "@microsoft/kiota-http-fetchlibrary";
import { PageIterator as KiotaPageIterator } from "@microsoft/msgraph-sdk-core";
import { createGraphBetaServiceClient, GraphBetaRequestAdapter } from "@microsoft/msgraph-beta-sdk";
import { createExternalUserProfileFromDiscriminatorValue, createPendingExternalUserProfileCollectionResponseFromDiscriminatorValue, createDirectoryAuditCollectionResponseFromDiscriminatorValue } from "@microsoft/msgraph-beta-sdk/models/index.js";
import { createODataErrorFromDiscriminatorValue } from "@microsoft/msgraph-beta-sdk/models/oDataErrors/index.js";
// Registers client.directory (pendingExternalUserProfiles, externalUserProfiles, deletedItems).
import "@microsoft/msgraph-beta-sdk-directory";

import { isInner, runOuter, serverInfo, mintToken } from "./harness.mjs";

// Protocol tests (batching, $metadata, throttling): see defineProtocolTests.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { BatchRequestContent, BatchResponseContent, AuthenticationHandler, RetryHandler, HTTPMessageHandler } from "@microsoft/microsoft-graph-client";
import { BatchRequestContent as KiotaBatchRequestContent } from "@microsoft/msgraph-sdk-core";
import odataCsdl from "odata-csdl";

// ---------------------------------------------------------------------------
// Fixtures

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ADDRESS_FIELDS = ["city", "countryOrRegion", "officeLocation", "postalCode", "state", "street"];
const TEST_TIMEOUT = 20000;

const plain = { timeout: TEST_TIMEOUT };

let phoneSeq = Math.floor(Math.random() * 1e6);
/** phone returns a fresh E.164 number: +1 555 then 7 digits. */
function phone() {
  phoneSeq = (phoneSeq + 1) % 1e7;
  return "+1555" + String(phoneSeq).padStart(7, "0");
}

/**
 * tenantCtx gives a test its own directory: a fresh tenant id and a token
 * with all four permissions in it, so that listings see only what the test
 * created and tests stay independent.
 */
function tenantCtx() {
  const tenant = randomUUID();
  const oid = randomUUID();
  const token = mintToken({ tenant, oid });
  return { tenant, oid, token };
}

/** tenantOid is the oid claim of a token: the caller's object id. */
function tenantOid(token) {
  return JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString()).oid;
}

/**
 * classicClient is what a Graph JS (3.x) application writes, pointed at
 * extdir. customHosts is required: the client only attaches the token to
 * graph.microsoft.com and the hosts listed there (compared without port).
 */
function classicClient(token, { customHosts = true } = {}) {
  const { origin, hostname } = serverInfo();
  return Client.init({
    authProvider: (done) => done(null, token),
    baseUrl: origin + "/",
    defaultVersion: "beta",
    ...(customHosts ? { customHosts: new Set([hostname]) } : {}),
  });
}

/** A Kiota access-token provider that hands out a fixed token to allowed hosts. */
class StaticAccessTokenProvider {
  constructor(token, hosts) {
    this.token = token;
    this.validator = new AllowedHostsValidator(new Set(hosts));
  }
  async getAuthorizationToken(url) {
    return this.validator.isUrlHostValid(url) ? this.token : "";
  }
  getAllowedHostsValidator() {
    return this.validator;
  }
}

/**
 * kiotaClient is what a Kiota beta SDK application writes, pointed at
 * extdir. GraphBetaRequestAdapter is the SDK's FetchRequestAdapter (with the
 * JSON/text serializers registered and Graph's middleware); a bare
 * FetchRequestAdapter has no parse node factories and cannot read JSON.
 */
function kiotaClient(token, { httpClient } = {}) {
  const { url, hostname } = serverInfo();
  const auth = new BaseBearerTokenAuthenticationProvider(new StaticAccessTokenProvider(token, [hostname]));
  const adapter = new GraphBetaRequestAdapter(auth, undefined, undefined, httpClient);
  adapter.baseUrl = url;
  assert.ok(adapter instanceof FetchRequestAdapter);
  return { client: createGraphBetaServiceClient(adapter), adapter };
}

/** createPending creates n pending profiles with the classic client; returns their bodies. */
async function createPending(client, n, extra = {}) {
  const out = [];
  for (let i = 0; i < n; i++) {
    out.push(await client.api("/directory/pendingExternalUserProfiles").post({ displayName: `Guest ${i}`, phoneNumber: phone(), ...extra }));
  }
  return out;
}

/** expectGraphError asserts that promise rejects with the classic client's GraphError. */
async function expectGraphError(promise, statusCode, code) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected a GraphError ${statusCode} ${code}, the call resolved`);
  assert.ok(err instanceof GraphError, `expected a GraphError, got ${err?.constructor?.name}: ${err?.message ?? err}`);
  assert.equal(err.statusCode, statusCode, `statusCode (body: ${err.body})`);
  assert.equal(err.code, code, `code (body: ${err.body})`);
  assert.equal(typeof err.message, "string");
  assert.ok(err.message.length > 0, "message is not empty");
  assert.match(err.requestId ?? "", GUID, "requestId from innerError['request-id']");
  assert.ok(err.date instanceof Date && !Number.isNaN(err.date.getTime()), `date from innerError.date is a valid Date (body: ${err.body})`);
  return err;
}

/** expectODataError asserts that promise rejects with the Kiota SDK's ODataError. */
async function expectODataError(promise, statusCode, code) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected an ODataError ${statusCode} ${code}, the call resolved`);
  assert.equal(err.responseStatusCode, statusCode, `responseStatusCode (${err.message})`);
  assert.ok(err.errorEscaped, `the error body was deserialized as ODataError (got ${err?.constructor?.name}: ${err?.message})`);
  assert.equal(err.errorEscaped.code, code);
  assert.equal(err.message, err.errorEscaped.message);
  assert.ok(err.message.length > 0);
  assert.match(err.errorEscaped.innerError?.requestId ?? "", GUID);
  assert.match(err.errorEscaped.innerError?.clientRequestId ?? "", /.+/);
  assert.ok(err.errorEscaped.innerError?.date instanceof Date && !Number.isNaN(err.errorEscaped.innerError.date.getTime()));
  return err;
}

function assertFullPendingBody(body, { displayName, phoneNumber, oid }) {
  assert.match(body["@odata.context"], /\/beta\/\$metadata#directory\/pendingExternalUserProfiles\/\$entity$/);
  assert.match(body.id, GUID);
  assert.equal(body.displayName, displayName);
  assert.equal(body.phoneNumber, phoneNumber);
  assert.equal(body.epoch, 1);
  assert.equal(body.isEnabled, true);
  assert.equal(body.isDiscoverable, true);
  assert.equal(body.deletedDateTime, null);
  assert.equal(body.createdBy, oid);
  assert.match(body.createdDateTime, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  assert.ok(Math.abs(Date.parse(body.createdDateTime) - Date.now()) < 5 * 60 * 1000, "createdDateTime is now");
  for (const p of ["companyName", "department", "jobTitle", "supervisorId"]) assert.ok(p in body && body[p] === null, `${p} is rendered as null`);
  assert.equal(typeof body.address, "object");
  assert.notEqual(body.address, null);
  assert.deepEqual(Object.keys(body.address).sort(), [...ADDRESS_FIELDS].sort());
}

// ---------------------------------------------------------------------------
// Tests

function defineTests() {
  // ----- TLS ---------------------------------------------------------------

  test("TLS: a client that does not trust the extdir certificate is refused, so trust really comes from NODE_EXTRA_CA_CERTS", plain, () => {
    const { url } = serverInfo();
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    delete env.NODE_TLS_REJECT_UNAUTHORIZED;
    delete env.NODE_TEST_CONTEXT;
    const probe = `fetch(${JSON.stringify(url + "/directory/pendingExternalUserProfiles")}).then(r => console.log("STATUS " + r.status), e => console.log("ERROR " + (e.cause?.code ?? e.message)))`;
    const untrusted = spawnSync(process.execPath, ["-e", probe], { env, encoding: "utf8", timeout: 10000 });
    assert.match(untrusted.stdout, /^ERROR .*(CERT|SELF_SIGNED|UNABLE_TO_VERIFY)/m, untrusted.stdout + untrusted.stderr);
    const trusted = spawnSync(process.execPath, ["-e", probe], { env: { ...env, NODE_EXTRA_CA_CERTS: serverInfo().cert }, encoding: "utf8", timeout: 10000 });
    assert.match(trusted.stdout, /^STATUS 401$/m, trusted.stdout + trusted.stderr);
  });

  // ----- classic client (@microsoft/microsoft-graph-client 3.x) -------------

  test("classic client: POST /directory/pendingExternalUserProfiles resolves to the created entity (id, displayName, phoneNumber, epoch 1, address object)", plain, async () => {
    const { token, oid } = tenantCtx();
    const client = classicClient(token);
    const phoneNumber = phone();
    const body = await client.api("/directory/pendingExternalUserProfiles").post({ displayName: "Bob Henry", phoneNumber });
    assertFullPendingBody(body, { displayName: "Bob Henry", phoneNumber, oid });
    for (const f of ADDRESS_FIELDS) assert.equal(body.address[f], null);

    // With optional properties and the address the SDK sample shapes use.
    const phone2 = phone();
    const rich = await client.api("/directory/pendingExternalUserProfiles").post({
      "@odata.type": "#microsoft.graph.pendingExternalUserProfile",
      displayName: "Ana Díaz",
      phoneNumber: phone2,
      companyName: "Contoso",
      department: "Sales",
      jobTitle: "Buyer",
      supervisorId: "sup-1",
      isDiscoverable: false,
      address: { "@odata.type": "#microsoft.graph.physicalOfficeAddress", city: "Seattle", street: "1 Main St" },
    });
    assert.equal(rich.displayName, "Ana Díaz");
    assert.equal(rich.companyName, "Contoso");
    assert.equal(rich.isDiscoverable, false);
    assert.equal(rich.isEnabled, true);
    assert.deepEqual(rich.address, { city: "Seattle", countryOrRegion: null, officeLocation: null, postalCode: null, state: null, street: "1 Main St" });

    // The raw response: 201, Location of the new entity, Graph's headers.
    const raw = await client
      .api("/directory/pendingExternalUserProfiles")
      .responseType(ResponseType.RAW)
      .post({ displayName: "Raw", phoneNumber: phone() });
    assert.equal(raw.status, 201);
    const created = await raw.json();
    assert.equal(raw.headers.get("location"), `${serverInfo().url}/directory/pendingExternalUserProfiles/${created.id}`);
    assert.match(raw.headers.get("content-type"), /^application\/json;/);
    assert.equal(raw.headers.get("odata-version"), "4.0");
    assert.match(raw.headers.get("request-id"), GUID);
    assert.ok(raw.headers.get("client-request-id"), "client-request-id echoed");
  });

  test("classic client: PageIterator over $top=3 pages visits each of 7 profiles exactly once", plain, async () => {
    const { token } = tenantCtx();
    const client = classicClient(token);
    const created = await createPending(client, 7);
    const first = await client.api("/directory/pendingExternalUserProfiles").top(3).get();
    assert.equal(first.value.length, 3);
    assert.equal(typeof first["@odata.nextLink"], "string");
    const seen = [];
    const it = new PageIterator(client, first, (p) => {
      seen.push(p.id);
      return true;
    });
    await it.iterate();
    assert.ok(it.isComplete(), "iterator completed");
    assert.equal(seen.length, 7, `ids seen: ${seen}`);
    assert.equal(new Set(seen).size, 7, "no id twice");
    assert.deepEqual([...seen].sort(), created.map((p) => p.id).sort());
  });

  test("classic client: following @odata.nextLink by hand keeps $top and $select and yields each id once", plain, async () => {
    const { token } = tenantCtx();
    const client = classicClient(token);
    const created = await createPending(client, 5, { companyName: "Fabrikam" });
    const seen = [];
    const pages = [];
    let res = await client.api("/directory/pendingExternalUserProfiles").top(2).select(["displayName", "companyName"]).get();
    for (;;) {
      pages.push(res.value.length);
      assert.ok(res.value.length <= 2, "a page holds at most $top items");
      for (const p of res.value) {
        seen.push(p.id);
        assert.equal(p.companyName, "Fabrikam");
        assert.ok(!("phoneNumber" in p), "$select is kept on every page");
      }
      const next = res["@odata.nextLink"];
      if (!next) break;
      assert.ok(next.startsWith(serverInfo().url + "/directory/pendingExternalUserProfiles?"), `nextLink is absolute under the base URL: ${next}`);
      assert.ok(pages.length < 10, "paging terminates");
      res = await client.api(next).get();
    }
    assert.deepEqual(pages, [2, 2, 1]);
    assert.deepEqual([...seen].sort(), created.map((p) => p.id).sort());
  });

  test("classic client: a profile created between two pages neither repeats nor hides an existing one", plain, async () => {
    const { token } = tenantCtx();
    const client = classicClient(token);
    const created = await createPending(client, 4);
    const first = await client.api("/directory/pendingExternalUserProfiles").top(2).get();
    const [late] = await createPending(client, 1);
    const seen = first.value.map((p) => p.id);
    let next = first["@odata.nextLink"];
    while (next) {
      const page = await client.api(next).get();
      seen.push(...page.value.map((p) => p.id));
      next = page["@odata.nextLink"];
    }
    assert.equal(new Set(seen).size, seen.length, `no id twice: ${seen}`);
    for (const p of created) assert.ok(seen.includes(p.id), `existing profile ${p.id} was listed`);
    assert.ok(seen.length === 4 || (seen.length === 5 && seen.includes(late.id)));
  });

  test("classic client: $select returns only the selected properties and id", plain, async () => {
    const { token } = tenantCtx();
    const client = classicClient(token);
    const [p] = await createPending(client, 1, { jobTitle: "Chef" });
    const list = await client.api("/directory/pendingExternalUserProfiles").select(["displayName", "jobTitle"]).get();
    assert.match(list["@odata.context"], /#directory\/pendingExternalUserProfiles\(displayName,jobTitle\)$/);
    assert.equal(list.value.length, 1);
    const props = (o) => Object.keys(o).filter((k) => !k.startsWith("@odata.")).sort();
    assert.deepEqual(props(list.value[0]), ["displayName", "id", "jobTitle"]);
    assert.equal(list.value[0].jobTitle, "Chef");
    const one = await client.api(`/directory/pendingExternalUserProfiles/${p.id}`).select("phoneNumber").get();
    assert.deepEqual(props(one), ["id", "phoneNumber"]);
    assert.equal(one.phoneNumber, p.phoneNumber);
  });

  test("classic client: PATCH resolves with no body and GET then shows the change with epoch 2", plain, async () => {
    const { token } = tenantCtx();
    const client = classicClient(token);
    const [p] = await createPending(client, 1);
    const got = await client.api(`/directory/pendingExternalUserProfiles/${p.id}`).get();
    assert.deepEqual(got, p, "GET returns what POST returned");
    const patched = await client.api(`/directory/pendingExternalUserProfiles/${p.id}`).patch({ displayName: "Renamed", companyName: "Northwind", address: { city: "Lisbon" } });
    assert.equal(patched, undefined, "204 resolves to undefined");
    const after = await client.api(`/directory/pendingExternalUserProfiles/${p.id}`).get();
    assert.equal(after.displayName, "Renamed");
    assert.equal(after.companyName, "Northwind");
    assert.equal(after.address.city, "Lisbon");
    assert.equal(after.phoneNumber, p.phoneNumber);
    assert.equal(after.epoch, 2);
  });

  test("classic client: redeem turns the pending profile into an externalUserProfile with the same id", plain, async () => {
    const { token } = tenantCtx();
    const client = classicClient(token);
    const [p] = await createPending(client, 1, { companyName: "Litware" });
    const ext = await client.api(`/directory/pendingExternalUserProfiles/${p.id}/redeem`).post({});
    assert.match(ext["@odata.context"], /#directory\/externalUserProfiles\/\$entity$/);
    assert.equal(ext.id, p.id);
    assert.equal(ext.epoch, 2);
    const got = await client.api(`/directory/externalUserProfiles/${p.id}`).get();
    for (const k of ["id", "displayName", "phoneNumber", "companyName", "createdBy", "createdDateTime", "address"]) assert.deepEqual(got[k], p[k], k);
    const list = await client.api("/directory/externalUserProfiles").get();
    assert.deepEqual(list.value.map((x) => x.id), [p.id]);
    await expectGraphError(client.api(`/directory/pendingExternalUserProfiles/${p.id}`).get(), 404, "Request_ResourceNotFound");
  });

  test("classic client: DELETE, the deletedItems type-cast listing and restore bring the profile back", plain, async () => {
    const { token } = tenantCtx();
    const client = classicClient(token);
    const [p, keep] = await createPending(client, 2);
    assert.equal(await client.api(`/directory/pendingExternalUserProfiles/${p.id}`).delete(), undefined);
    await expectGraphError(client.api(`/directory/pendingExternalUserProfiles/${p.id}`).get(), 404, "Request_ResourceNotFound");
    const live = await client.api("/directory/pendingExternalUserProfiles").get();
    assert.deepEqual(live.value.map((x) => x.id), [keep.id]);

    const deleted = await client.api("/directory/deletedItems/microsoft.graph.pendingExternalUserProfile").get();
    assert.equal(deleted.value.length, 1);
    const d = deleted.value[0];
    assert.equal(d.id, p.id);
    assert.equal(d["@odata.type"], "#microsoft.graph.pendingExternalUserProfile");
    assert.ok(!Number.isNaN(Date.parse(d.deletedDateTime)), "deletedDateTime is set");
    const one = await client.api(`/directory/deletedItems/${p.id}`).get();
    assert.equal(one.id, p.id);

    // No body at all, as in the documented request.
    const restored = await client.api(`/directory/deletedItems/${p.id}/restore`).post();
    assert.equal(restored.id, p.id);
    assert.equal(restored["@odata.type"], "#microsoft.graph.pendingExternalUserProfile");
    assert.equal(restored.deletedDateTime, null);
    const back = await client.api(`/directory/pendingExternalUserProfiles/${p.id}`).get();
    assert.equal(back.displayName, p.displayName);
    const none = await client.api("/directory/deletedItems/microsoft.graph.pendingExternalUserProfile").get();
    assert.deepEqual(none.value, []);
  });

  test("classic client: an invalid phone number rejects with GraphError 400 Request_BadRequest", plain, async () => {
    const { token } = tenantCtx();
    const client = classicClient(token);
    const err = await expectGraphError(client.api("/directory/pendingExternalUserProfiles").post({ displayName: "Bad", phoneNumber: "555-0100" }), 400, "Request_BadRequest");
    assert.match(err.message, /phoneNumber/);
    const none = await client.api("/directory/pendingExternalUserProfiles").get();
    assert.deepEqual(none.value, [], "nothing was stored");
  });

  test("classic client: an unknown id rejects with GraphError 404 Request_ResourceNotFound naming the id", plain, async () => {
    const { token } = tenantCtx();
    const client = classicClient(token);
    const id = randomUUID();
    const err = await expectGraphError(client.api(`/directory/pendingExternalUserProfiles/${id}`).get(), 404, "Request_ResourceNotFound");
    assert.match(err.message, new RegExp(id));
    await expectGraphError(client.api(`/directory/pendingExternalUserProfiles/${id}`).patch({ displayName: "x" }), 404, "Request_ResourceNotFound");
    await expectGraphError(client.api(`/directory/pendingExternalUserProfiles/${id}`).delete(), 404, "Request_ResourceNotFound");
  });

  test("classic client: without customHosts the client withholds the token and extdir answers GraphError 401 InvalidAuthenticationToken", plain, async () => {
    const { token } = tenantCtx();
    const client = classicClient(token, { customHosts: false });
    await expectGraphError(client.api("/directory/pendingExternalUserProfiles").get(), 401, "InvalidAuthenticationToken");
  });

  test("classic client: /$count and $count=true answer with ConsistencyLevel: eventual", plain, async () => {
    const { token } = tenantCtx();
    const client = classicClient(token);
    await createPending(client, 3);
    const n = await client.api("/directory/pendingExternalUserProfiles/$count").header("ConsistencyLevel", "eventual").get();
    assert.equal(String(n), "3");
    const page = await client.api("/directory/pendingExternalUserProfiles").header("ConsistencyLevel", "eventual").count(true).top(2).get();
    assert.equal(page["@odata.count"], 3);
    assert.equal(page.value.length, 2);
  });

  test("classic client: the documented $filter companyName eq 'x' returns only the matching profiles", plain, async () => {
    const { token } = tenantCtx();
    const client = classicClient(token);
    const [a] = await createPending(client, 1, { companyName: "Wingtip" });
    await createPending(client, 1, { companyName: "Other" });
    const res = await client.api("/directory/pendingExternalUserProfiles").filter("companyName eq 'Wingtip'").get();
    assert.deepEqual(res.value.map((x) => x.id), [a.id]);
  });

  test("classic client: $orderby=displayName desc returns the profiles in that order", plain, async () => {
    const { token } = tenantCtx();
    const client = classicClient(token);
    for (const name of ["Bravo", "Alpha", "Charlie"]) await createPending(client, 1, { displayName: name });
    const res = await client.api("/directory/pendingExternalUserProfiles").orderby("displayName desc").get();
    assert.deepEqual(res.value.map((x) => x.displayName), ["Charlie", "Bravo", "Alpha"]);
  });

  test("classic client: $search \"displayName:...\" with ConsistencyLevel: eventual finds the matching profile", plain, async () => {
    const { token } = tenantCtx();
    const client = classicClient(token);
    const [a] = await createPending(client, 1, { displayName: "Zelda Quartz" });
    await createPending(client, 1, { displayName: "Other Person" });
    const res = await client.api("/directory/pendingExternalUserProfiles").header("ConsistencyLevel", "eventual").search('"displayName:Zelda"').get();
    assert.deepEqual(res.value.map((x) => x.id), [a.id]);
  });

  // ----- Kiota beta SDK (@microsoft/msgraph-beta-sdk + -directory) ----------

  test("kiota beta SDK: pendingExternalUserProfiles.post deserializes the created profile (Date createdDateTime, address object, booleans)", plain, async () => {
    const { token, oid } = tenantCtx();
    const { client } = kiotaClient(token);
    const phoneNumber = phone();
    const before = Date.now();
    const p = await client.directory.pendingExternalUserProfiles.post({
      odataType: "#microsoft.graph.pendingExternalUserProfile",
      displayName: "Kiota Guest",
      phoneNumber,
      companyName: "Adatum",
      isEnabled: false,
      address: { city: "Oslo", countryOrRegion: "NO" },
    });
    assert.match(p.id, GUID);
    assert.equal(p.displayName, "Kiota Guest");
    assert.equal(p.phoneNumber, phoneNumber);
    assert.equal(p.companyName, "Adatum");
    assert.equal(p.isEnabled, false);
    assert.equal(p.isDiscoverable, true);
    assert.equal(p.createdBy, oid);
    assert.ok(p.createdDateTime instanceof Date, "createdDateTime is a Date");
    assert.ok(Math.abs(p.createdDateTime.getTime() - before) < 5 * 60 * 1000);
    // Kiota turns JSON null into undefined.
    assert.equal(p.deletedDateTime, undefined);
    assert.equal(p.address.city, "Oslo");
    assert.equal(p.address.countryOrRegion, "NO");
    assert.equal(p.address.street, undefined);
    // The SDK's model has no epoch property: it lands in additionalData.
    assert.equal(p.additionalData?.epoch, 1);
  });

  test("kiota beta SDK: get with top and select pages through odataNextLink via withUrl, each id once", plain, async () => {
    const { token } = tenantCtx();
    const { client } = kiotaClient(token);
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await client.directory.pendingExternalUserProfiles.post({ displayName: `K${i}`, phoneNumber: phone(), department: "Ops" })).id);
    const seen = [];
    let pages = 0;
    let page = await client.directory.pendingExternalUserProfiles.get({ queryParameters: { top: 2, select: ["displayName", "department"] } });
    for (;;) {
      pages++;
      assert.ok(page.value.length <= 2);
      for (const p of page.value) {
        seen.push(p.id);
        assert.equal(p.department, "Ops");
        assert.equal(p.phoneNumber, undefined, "unselected properties are absent");
        assert.equal(p.createdDateTime, undefined);
      }
      if (!page.odataNextLink) break;
      assert.ok(pages < 10, "paging terminates");
      page = await client.directory.pendingExternalUserProfiles.withUrl(page.odataNextLink).get();
    }
    assert.equal(pages, 3);
    assert.deepEqual([...seen].sort(), [...ids].sort());
  });

  test("kiota beta SDK: filter, orderby, search and count query parameters reach extdir and shape the result", plain, async () => {
    const { token } = tenantCtx();
    const { client } = kiotaClient(token);
    for (const [name, company] of [["Kilo Bravo", "Northwind"], ["kilo alpha", "northwind traders"], ["Lima", "Contoso"]]) {
      await client.directory.pendingExternalUserProfiles.post({ displayName: name, companyName: company, phoneNumber: phone() });
    }
    const eventual = { ConsistencyLevel: "eventual" };
    const filtered = await client.directory.pendingExternalUserProfiles.get({
      queryParameters: { filter: "startswith(companyName,'northwind')", orderby: ["displayName desc"], count: true, top: 1 },
      headers: eventual,
    });
    assert.equal(filtered.odataCount, 2);
    assert.deepEqual(filtered.value.map((x) => x.displayName), ["Kilo Bravo"]);
    const next = await client.directory.pendingExternalUserProfiles.withUrl(filtered.odataNextLink).get({ headers: eventual });
    assert.deepEqual(next.value.map((x) => x.displayName), ["kilo alpha"]);
    assert.equal(next.odataNextLink, undefined);
    const searched = await client.directory.pendingExternalUserProfiles.get({
      queryParameters: { search: '"displayName:lima"' },
      headers: eventual,
    });
    assert.deepEqual(searched.value.map((x) => x.displayName), ["Lima"]);
  });

  test("kiota beta SDK: msgraph-sdk-core PageIterator visits each profile once", plain, async () => {
    const { token } = tenantCtx();
    const { client, adapter } = kiotaClient(token);
    const ids = [];
    for (let i = 0; i < 4; i++) ids.push((await client.directory.pendingExternalUserProfiles.post({ displayName: `I${i}`, phoneNumber: phone() })).id);
    const first = await client.directory.pendingExternalUserProfiles.get({ queryParameters: { top: 3 } });
    const seen = [];
    const it = new KiotaPageIterator(
      adapter,
      first,
      (p) => {
        seen.push(p.id);
        return true;
      },
      createPendingExternalUserProfileCollectionResponseFromDiscriminatorValue,
      { XXX: createODataErrorFromDiscriminatorValue },
    );
    await it.iterate();
    assert.equal(it.getPagingState(), "Complete");
    assert.deepEqual([...seen].sort(), [...ids].sort());
  });

  test("kiota beta SDK: byPendingExternalUserProfileId patch resolves and get shows the change", plain, async () => {
    const { token } = tenantCtx();
    const { client } = kiotaClient(token);
    const p = await client.directory.pendingExternalUserProfiles.post({ displayName: "Before", phoneNumber: phone() });
    const item = client.directory.pendingExternalUserProfiles.byPendingExternalUserProfileId(p.id);
    const res = await item.patch({ odataType: "#microsoft.graph.pendingExternalUserProfile", displayName: "After", jobTitle: "Lead", isDiscoverable: false });
    assert.equal(res, undefined, "204 resolves to undefined");
    const got = await item.get();
    assert.equal(got.displayName, "After");
    assert.equal(got.jobTitle, "Lead");
    assert.equal(got.isDiscoverable, false);
    assert.equal(got.additionalData?.epoch, 2);
    assert.equal(got.createdDateTime.getTime(), p.createdDateTime.getTime());
    const sel = await item.get({ queryParameters: { select: ["jobTitle"] } });
    assert.equal(sel.jobTitle, "Lead");
    assert.equal(sel.displayName, undefined);
  });

  test("kiota beta SDK: delete resolves, get then rejects with ODataError 404, and deletedItems list/get/restore return the profile typed by @odata.type", plain, async () => {
    const { token } = tenantCtx();
    const { client } = kiotaClient(token);
    const p = await client.directory.pendingExternalUserProfiles.post({ displayName: "Doomed", phoneNumber: phone() });
    const item = client.directory.pendingExternalUserProfiles.byPendingExternalUserProfileId(p.id);
    assert.equal(await item.delete(), undefined);
    const err = await expectODataError(item.get(), 404, "Request_ResourceNotFound");
    assert.match(err.message, new RegExp(p.id));

    // The SDK has no builder for this type cast (only graphUser, graphGroup, ...):
    // an application reaches it with withUrl on the deletedItems builder.
    const deleted = await client.directory.deletedItems.withUrl(`${serverInfo().url}/directory/deletedItems/microsoft.graph.pendingExternalUserProfile`).get();
    assert.equal(deleted.value.length, 1);
    const d = deleted.value[0];
    assert.equal(d.id, p.id);
    assert.equal(d.odataType, "#microsoft.graph.pendingExternalUserProfile");
    assert.equal(d.displayName, "Doomed", "deserialized as a pendingExternalUserProfile through the @odata.type discriminator");
    assert.ok(d.deletedDateTime instanceof Date);

    const one = await client.directory.deletedItems.byDirectoryObjectId(p.id).get();
    assert.equal(one.odataType, "#microsoft.graph.pendingExternalUserProfile");
    assert.equal(one.phoneNumber, p.phoneNumber);

    const restored = await client.directory.deletedItems.byDirectoryObjectId(p.id).restore.post();
    assert.equal(restored.id, p.id);
    assert.equal(restored.odataType, "#microsoft.graph.pendingExternalUserProfile");
    assert.equal(restored.displayName, "Doomed");
    assert.equal(restored.deletedDateTime, undefined, "deletedDateTime is null again (Kiota reads null as undefined)");
    assert.equal((await item.get()).id, p.id);
  });

  test("kiota beta SDK: externalUserProfiles list and get return a redeemed profile (redeem sent as a hand-built RequestInformation)", plain, async () => {
    const { token } = tenantCtx();
    const { client, adapter } = kiotaClient(token);
    const p = await client.directory.pendingExternalUserProfiles.post({ displayName: "Redeemer", phoneNumber: phone(), supervisorId: "boss" });
    // redeem is extdir's extension: the SDK has no builder for it.
    const ri = new RequestInformation(HttpMethod.POST, "{+baseurl}/directory/pendingExternalUserProfiles/{id}/redeem", { id: p.id });
    ri.headers.tryAdd("Accept", "application/json");
    const ext = await adapter.send(ri, createExternalUserProfileFromDiscriminatorValue, { XXX: createODataErrorFromDiscriminatorValue });
    assert.equal(ext.id, p.id);
    assert.equal(ext.supervisorId, "boss");
    assert.ok(ext.createdDateTime instanceof Date);

    const list = await client.directory.externalUserProfiles.get({ queryParameters: { top: 10 } });
    assert.deepEqual(list.value.map((x) => x.id), [p.id]);
    assert.equal(list.odataNextLink, undefined);
    const got = await client.directory.externalUserProfiles.byExternalUserProfileId(p.id).get();
    assert.equal(got.displayName, "Redeemer");
    assert.equal(got.phoneNumber, p.phoneNumber);
    assert.equal(got.createdDateTime.getTime(), p.createdDateTime.getTime());
    await client.directory.externalUserProfiles.byExternalUserProfileId(p.id).patch({ department: "Field" });
    assert.equal((await client.directory.externalUserProfiles.byExternalUserProfileId(p.id).get()).department, "Field");
    await expectODataError(client.directory.pendingExternalUserProfiles.byPendingExternalUserProfileId(p.id).get(), 404, "Request_ResourceNotFound");
    await expectODataError(client.directory.externalUserProfiles.post({ displayName: "x", phoneNumber: phone() }), 405, "Request_BadRequest");
  });

  test("audit log: the classic client reads who changed a profile, and the Kiota models deserialize the records", plain, async () => {
    const { token } = tenantCtx();
    const { client, adapter } = kiotaClient(token);
    const p = await client.directory.pendingExternalUserProfiles.post({ displayName: "Audited", phoneNumber: phone(), companyName: "Contoso" });
    await client.directory.pendingExternalUserProfiles.byPendingExternalUserProfileId(p.id).patch({ companyName: "Fabrikam" });

    const filter = `targetResources/any(t: t/id eq '${p.id}')`;
    const classic = await classicClient(token).api("/auditLogs/directoryAudits").filter(filter).orderby("activityDateTime desc").get();
    assert.deepEqual(classic.value.map((r) => r.activityDisplayName), ["Update external user profile", "Invite external user"]);
    const change = classic.value[0].targetResources[0].modifiedProperties.find((m) => m.displayName === "companyName");
    assert.deepEqual([JSON.parse(change.oldValue), JSON.parse(change.newValue)], [["Contoso"], ["Fabrikam"]]);

    // The beta SDK's own model of directoryAudit, through its adapter (the
    // auditLogs request builders ship in a package of their own).
    const ri = new RequestInformation(HttpMethod.GET, "{+baseurl}/auditLogs/directoryAudits{?%24filter,%24top}", { "%24filter": filter, "%24top": 1 });
    ri.headers.tryAdd("Accept", "application/json");
    const page = await adapter.send(ri, createDirectoryAuditCollectionResponseFromDiscriminatorValue, { XXX: createODataErrorFromDiscriminatorValue });
    assert.equal(page.value.length, 1);
    const rec = page.value[0];
    assert.ok(rec.activityDateTime instanceof Date, "activityDateTime is a DateTimeOffset");
    assert.equal(rec.operationType, "Update");
    assert.equal(rec.result, "success");
    assert.equal(rec.initiatedBy.app.servicePrincipalId, tenantOid(token));
    assert.equal(rec.targetResources[0].id, p.id);
    assert.ok(page.odataNextLink, "a second page is linked");
  });

  test("kiota beta SDK: an invalid phone number rejects with ODataError 400 Request_BadRequest", plain, async () => {
    const { token } = tenantCtx();
    const { client } = kiotaClient(token);
    const err = await expectODataError(client.directory.pendingExternalUserProfiles.post({ displayName: "Bad", phoneNumber: "12345" }), 400, "Request_BadRequest");
    assert.match(err.message, /phoneNumber/);
    await expectODataError(client.directory.pendingExternalUserProfiles.post({ displayName: "NoPhone" }), 400, "Request_BadRequest");
  });

  test("kiota beta SDK: count.get with ConsistencyLevel: eventual returns a number, and count: true fills odataCount", plain, async () => {
    const { token } = tenantCtx();
    const { client } = kiotaClient(token);
    for (let i = 0; i < 3; i++) await client.directory.pendingExternalUserProfiles.post({ displayName: `C${i}`, phoneNumber: phone() });
    const n = await client.directory.pendingExternalUserProfiles.count.get({ headers: { ConsistencyLevel: "eventual" } });
    assert.equal(n, 3);
    const page = await client.directory.pendingExternalUserProfiles.get({ headers: { ConsistencyLevel: "eventual" }, queryParameters: { count: true, top: 1 } });
    assert.equal(page.odataCount, 3);
    assert.equal(page.value.length, 1);
    await expectODataError(client.directory.pendingExternalUserProfiles.count.get(), 400, "Request_BadRequest");
  });

  test("kiota beta SDK: a token with only PendingExternalUserProfile.Read.All can list but its POST rejects with ODataError 403 Authorization_RequestDenied", plain, async () => {
    const tenant = randomUUID();
    const reader = mintToken({ tenant, roles: ["PendingExternalUserProfile.Read.All"] });
    const { client } = kiotaClient(reader);
    const list = await client.directory.pendingExternalUserProfiles.get();
    assert.deepEqual(list.value, []);
    await expectODataError(client.directory.pendingExternalUserProfiles.post({ displayName: "No", phoneNumber: phone() }), 403, "Authorization_RequestDenied");
  });

  test("kiota beta SDK with the backing store: get, change one property, patch sends only that change and succeeds", plain, async () => {
    const { token } = tenantCtx();
    const { client, adapter } = kiotaClient(token);
    adapter.enableBackingStore(new InMemoryBackingStoreFactory());
    const p = await client.directory.pendingExternalUserProfiles.post({ displayName: "Round", phoneNumber: phone() });
    const item = client.directory.pendingExternalUserProfiles.byPendingExternalUserProfileId(p.id);
    const got = await item.get();
    got.displayName = "Trip";
    // Only the dirty property is serialized: {"displayName":"Trip"}. Without the
    // backing store the SDK would send the whole object back, id and
    // createdDateTime included, which Graph refuses as read-only.
    await item.patch(got);
    const after = await item.get();
    assert.equal(after.displayName, "Trip");
    assert.equal(after.additionalData?.epoch, 2);
  });

  test("kiota beta SDK with the performance middlewares: a gzip-compressed body gets Graph's own answer, 400 BadRequest 'Unable to read JSON request payload', and nothing is stored", plain, async () => {
    // Graph answers a compressed body with exactly this 400 (msgraph-sdk-design
    // middleware/CompressionHandler.md); the Graph SDK design falls back to an
    // uncompressed body on it, but kiota-http-fetchlibrary's CompressionHandler
    // only falls back on 415, so this client fails against Graph as well.
    const { token } = tenantCtx();
    const { client } = kiotaClient(token, { httpClient: new HttpClient(undefined, ...MiddlewareFactory.getPerformanceMiddlewares()) });
    const err = await expectODataError(client.directory.pendingExternalUserProfiles.post({ displayName: "Zipped", phoneNumber: phone() }), 400, "BadRequest");
    assert.equal(err.message, "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.");
    const { client: plainClient } = kiotaClient(token);
    assert.deepEqual((await plainClient.directory.pendingExternalUserProfiles.get()).value, []);
  });
}

// ---------------------------------------------------------------------------
// Protocol: JSON batching, $metadata and throttling, as the official clients
// use them.

/**
 * startThrottledServer runs a second extdir with --throttle on the suite's
 * data directory, so that it presents the certificate this process already
 * trusts and accepts the tokens mintToken makes; its store is in memory so
 * that the two servers share no database. Resolves with its /beta URL and a
 * stop function.
 */
function startThrottledServer(units) {
  const { bin, dataDir } = serverInfo();
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("EXTDIR_")));
  const args = ["serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--tls-self-signed", "--database", "memory",
    "--log-format", "json", "--shutdown-timeout", "2s", "--throttle", "--throttle-units", units];
  const proc = spawn(bin, args, { env, stdio: ["ignore", "ignore", "pipe"] });
  const stop = () => new Promise((done) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return done();
    proc.once("exit", () => done());
    proc.kill("SIGTERM");
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { proc.kill("SIGKILL"); reject(new Error("throttled extdir did not start")); }, 15000);
    createInterface({ input: proc.stderr }).on("line", (line) => {
      let entry;
      try { entry = JSON.parse(line); } catch { return; }
      if (entry.msg === "listening") {
        clearTimeout(timer);
        resolve({ url: entry.url, origin: new URL(entry.url).origin, stop });
      }
    });
    proc.on("exit", (code) => { clearTimeout(timer); reject(new Error(`throttled extdir exited with ${code}`)); });
  });
}

function defineProtocolTests() {
  test("classic client: BatchRequestContent creates and reads in one batch, then patches and reads back in another", plain, async () => {
    const { token } = tenantCtx();
    const client = classicClient(token);
    const { origin } = serverInfo();
    const p = phone();
    // Absolute URLs, as a Node application builds them: BatchRequestContent
    // strips scheme and host and keeps /beta.
    const batch = new BatchRequestContent([
      {
        id: "1",
        request: new Request(`${origin}/beta/directory/pendingExternalUserProfiles`, {
          method: "POST",
          body: JSON.stringify({ displayName: "Batched", phoneNumber: p }),
          headers: { "Content-Type": "application/json" },
        }),
      },
      { id: "2", dependsOn: ["1"], request: new Request(`${origin}/beta/directory/pendingExternalUserProfiles`, { method: "GET" }) },
    ]);
    const res = new BatchResponseContent(await client.api("/$batch").post(await batch.getContent()));
    const created = res.getResponseById("1");
    assert.equal(created.status, 201);
    const body = await created.json();
    assert.equal(body.phoneNumber, p);
    assert.match(body.id, GUID);
    assert.equal(created.headers.get("Location"), `${origin}/beta/directory/pendingExternalUserProfiles/${body.id}`);
    const listed = res.getResponseById("2");
    assert.equal(listed.status, 200);
    assert.deepEqual((await listed.json()).value.map((x) => x.id), [body.id]);

    const item = `${origin}/beta/directory/pendingExternalUserProfiles/${body.id}`;
    const second = new BatchRequestContent([
      { id: "patch", request: new Request(item, { method: "PATCH", body: JSON.stringify({ jobTitle: "Batched lead" }), headers: { "Content-Type": "application/json" } }) },
      { id: "get", dependsOn: ["patch"], request: new Request(item, { method: "GET" }) },
    ]);
    const res2 = new BatchResponseContent(await client.api("/$batch").post(await second.getContent()));
    // A 204 arrives without a body: the Response constructor refuses a body
    // for a null-body status.
    const patched = res2.getResponseById("patch");
    assert.equal(patched.status, 204);
    assert.equal(await patched.text(), "");
    const got = await res2.getResponseById("get").json();
    assert.equal(got.jobTitle, "Batched lead");
    assert.equal(got.epoch, 2);
  });

  test("classic client: a failed batched create gives its dependent 424 and the whole batch still resolves", plain, async () => {
    const { token } = tenantCtx();
    const client = classicClient(token);
    const { origin } = serverInfo();
    const collection = `${origin}/beta/directory/pendingExternalUserProfiles`;
    const batch = new BatchRequestContent([
      { id: "1", request: new Request(collection, { method: "POST", body: JSON.stringify({ displayName: "Bad", phoneNumber: "555" }), headers: { "Content-Type": "application/json" } }) },
      { id: "2", dependsOn: ["1"], request: new Request(collection, { method: "POST", body: JSON.stringify({ displayName: "Never", phoneNumber: phone() }), headers: { "Content-Type": "application/json" } }) },
    ]);
    const res = new BatchResponseContent(await client.api("/$batch").post(await batch.getContent()));
    assert.equal(res.getResponseById("1").status, 400);
    assert.equal((await res.getResponseById("1").json()).error.code, "Request_BadRequest");
    assert.equal(res.getResponseById("2").status, 424);
    assert.deepEqual((await client.api("/directory/pendingExternalUserProfiles").get()).value, []);
  });

  test("classic client: a batch of 21 requests rejects with GraphError 400 BadRequest", plain, async () => {
    const { token } = tenantCtx();
    const client = classicClient(token);
    const requests = Array.from({ length: 21 }, (_, i) => ({ id: String(i), method: "GET", url: "/directory/pendingExternalUserProfiles" }));
    const err = await expectGraphError(client.api("/$batch").post({ requests }), 400, "BadRequest");
    assert.match(err.message, /at most 20 requests/);
  });

  test("kiota SDK: msgraph-sdk-core's BatchRequestContent batches reads and deletes built by the beta SDK", plain, async () => {
    const { token } = tenantCtx();
    const classic = classicClient(token);
    const [a, b] = await createPending(classic, 2);
    const { client, adapter } = kiotaClient(token);
    const profiles = client.directory.pendingExternalUserProfiles;
    const content = new KiotaBatchRequestContent(adapter, { XXX: createODataErrorFromDiscriminatorValue });
    content.addBatchRequest(profiles.toGetRequestInformation(), "list");
    content.addBatchRequest(profiles.byPendingExternalUserProfileId(a.id).toGetRequestInformation(), "read");
    content.addBatchRequest(profiles.byPendingExternalUserProfileId(a.id).toDeleteRequestInformation(), "deleteA");
    content.addBatchRequest(profiles.byPendingExternalUserProfileId(b.id).toDeleteRequestInformation(), "deleteB");
    content.addBatchRequest(profiles.byPendingExternalUserProfileId(randomUUID()).toDeleteRequestInformation(), "missing");
    const res = await content.postAsync();
    // msgraph-sdk-core (1.0.0-preview.17) reads each step's body with
    // getByteArrayValue, which yields undefined for a JSON object body such
    // as Graph's (and extdir's) answer to a read; so the reads are checked by
    // status, the deletes by their effect.
    const statuses = Object.fromEntries(await res.getResponsesStatusCodes());
    // Steps without dependsOn run in the order of the batch: the reads
    // before the deletes.
    assert.deepEqual(statuses, { list: 200, read: 200, deleteA: 204, deleteB: 204, missing: 404 });
    assert.equal(res.getResponseById("deleteA").body, undefined, "a 204 has no body");
    assert.deepEqual((await profiles.get()).value, []);
    const deleted = await classic.api("/directory/deletedItems/microsoft.graph.pendingExternalUserProfile").get();
    assert.deepEqual(deleted.value.map((x) => x.id).sort(), [a.id, b.id].sort());
  });

  test("$metadata: the OASIS CSDL converter accepts it in strict mode, and it declares exactly what a served profile holds", plain, async () => {
    const { origin } = serverInfo();
    const res = await fetch(`${origin}/beta/$metadata`);
    assert.equal(res.status, 200, "no token needed");
    assert.match(res.headers.get("content-type"), /^application\/xml/);
    const messages = [];
    const csdl = odataCsdl.xml2json(await res.text(), { strict: true, messages });
    assert.deepEqual(messages, []);
    assert.equal(csdl.$Version, "4.0");
    const schema = csdl["microsoft.graph"];
    assert.equal(schema.$Alias, "graph");
    // Structural properties of a type and its bases.
    const members = (name) => {
      const out = [];
      for (let t = schema[name]; t; t = t.$BaseType ? schema[t.$BaseType.replace(/^graph\./, "")] : undefined) {
        for (const [k, v] of Object.entries(t)) if (!k.startsWith("$") && !k.startsWith("@") && v.$Kind !== "NavigationProperty") out.push(k);
      }
      return out.sort();
    };
    const { token } = tenantCtx();
    const [served] = await createPending(classicClient(token), 1);
    const servedProps = Object.keys(served).filter((k) => !k.startsWith("@odata.")).sort();
    assert.deepEqual(members("pendingExternalUserProfile"), servedProps);
    assert.deepEqual(members("externalUserProfile"), servedProps);
    assert.deepEqual(members("physicalOfficeAddress"), Object.keys(served.address).sort());
    assert.deepEqual(schema.entity.$Key, ["id"]);
    assert.equal(schema.pendingExternalUserProfile.$BaseType, "graph.externalProfile");
    assert.equal(schema.externalProfile.$BaseType, "graph.directoryObject");
    assert.equal(schema.directory.pendingExternalUserProfiles.$Type, "graph.pendingExternalUserProfile");
    assert.equal(schema.directory.externalUserProfiles.$Type, "graph.externalUserProfile");
    const redeem = schema.redeem?.[0];
    assert.ok(redeem?.$IsBound, "redeem is a bound action");
    assert.equal(redeem.$Parameter[0].$Type, "graph.pendingExternalUserProfile");
    assert.equal(redeem.$ReturnType.$Type, "graph.externalUserProfile");
  });

  test("classic client: the RetryHandler waits Retry-After on a throttled 429, retries, and the call resolves", { timeout: 30000 }, async () => {
    // 2 requests per 4 s: the third within a second of the first is refused,
    // with a Retry-After of 1 or 2 s.
    const server = await startThrottledServer("2/4s");
    try {
      const { token } = tenantCtx();
      const seen = [];
      // The classic client's own handlers, with a probe between the retry
      // handler and the network to see what the retry handler gets.
      const probe = {
        async execute(context) {
          await this.next.execute(context);
          seen.push({ status: context.response.status, retryAfter: context.response.headers.get("Retry-After"), at: Date.now() });
        },
        setNext(next) { this.next = next; },
      };
      const client = Client.initWithMiddleware({
        middleware: [new AuthenticationHandler({ getAccessToken: async () => token }), new RetryHandler(), probe, new HTTPMessageHandler()],
        baseUrl: server.origin + "/",
        defaultVersion: "beta",
        customHosts: new Set([serverInfo().hostname]),
      });
      for (let i = 0; i < 2; i++) await client.api("/directory/pendingExternalUserProfiles").get();
      const start = Date.now();
      const list = await client.api("/directory/pendingExternalUserProfiles").get();
      assert.deepEqual(list.value, []);
      const statuses = seen.map((s) => s.status);
      assert.deepEqual(statuses.slice(0, 3), [200, 200, 429], `statuses: ${statuses}`);
      assert.equal(statuses.at(-1), 200);
      const throttled = seen[2];
      assert.match(throttled.retryAfter, /^[12]$/);
      const waited = seen[3].at - throttled.at;
      assert.ok(waited >= Number(throttled.retryAfter) * 1000 - 50, `the retry came ${waited} ms after the 429, before its Retry-After of ${throttled.retryAfter} s`);
      assert.ok(Date.now() - start >= 900);
    } finally {
      await server.stop();
    }
  });
}

// ---------------------------------------------------------------------------
// The test kit from Node: what a suite in any language does with the ready
// line of `extdir serve --ephemeral` and the admin API.

/** admin calls the ephemeral server's admin API and returns its JSON. */
async function admin(method, path, body, contentType = "application/json") {
  const resp = await fetch(serverInfo().adminUrl + path, {
    method,
    ...(body !== undefined ? { body, headers: { "Content-Type": contentType } } : {}),
  });
  const text = await resp.text();
  assert.ok(resp.ok, `${method} /admin${path}: ${resp.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** appToken gets a token with the ready line's client credentials. */
async function appToken() {
  const { tokenEndpoint, clientId, clientSecret } = serverInfo();
  const resp = await fetch(tokenEndpoint, {
    method: "POST",
    body: new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret, scope: "https://graph.microsoft.com/.default" }),
  });
  assert.equal(resp.status, 200);
  return (await resp.json()).access_token;
}

function defineTestKitTests() {
  test("test kit: seed, call with a Graph client, read the journal, move the clock, reset", plain, async () => {
    const { tenantId } = serverInfo();
    await admin("POST", `/reset?tenant=${tenantId}`);
    const seeded = await admin("POST", "/seed", "displayName,phoneNumber,companyName\nAda,+14255550100,Contoso\nGrace,+14255550101,Fabrikam\n", "text/csv");
    assert.equal(seeded.count, 2);

    const client = classicClient(await appToken());
    const list = await client.api("/directory/pendingExternalUserProfiles").filter("companyName eq 'Contoso'").get();
    assert.deepEqual(list.value.map((p) => p.displayName), ["Ada"]);
    await client.api(`/directory/pendingExternalUserProfiles/${seeded.value[1].id}`).delete();

    const journal = await admin("GET", `/requests?tenant=${tenantId}&path=/beta/directory/**`);
    assert.deepEqual(journal.value.map((r) => [r.method, r.status]), [["GET", 200], ["DELETE", 204]]);
    assert.equal(journal.value[0].query, "$filter=companyName%20eq%20%27Contoso%27");
    assert.equal(journal.value[1].caller.type, "app");

    try {
      const moved = await admin("PUT", "/clock", JSON.stringify({ advance: "31d" }));
      // The sweep is the server's: other tests' deleted items go too.
      assert.ok(moved.purged >= 1, `the profile deleted 31 days ago is purged (purged: ${moved.purged})`);
      const deleted = await client.api(`/directory/deletedItems/${seeded.value[1].id}`).get().catch((e) => e);
      assert.equal(deleted.statusCode, 401, "the token issued before the move has expired");
      const fresh = classicClient(await appToken());
      const gone = await fresh.api(`/directory/deletedItems/${seeded.value[1].id}`).get().catch((e) => e);
      assert.equal(gone.statusCode, 404);
    } finally {
      await admin("DELETE", "/clock");
    }
    const reset = await admin("POST", `/reset?tenant=${tenantId}`);
    assert.equal(reset.profiles, 1);
  });

  test("test kit: the classic RetryHandler rides out injected 429s, and the journal shows every attempt", { timeout: 30000 }, async () => {
    const { token } = tenantCtx();
    const since = new Date().toISOString();
    await admin("PUT", "/faults", JSON.stringify({ rules: [{ name: "busy", method: "GET", path: "/beta/directory/externalUserProfiles", status: 429, retryAfter: 1, times: 2 }] }));
    try {
      const client = Client.initWithMiddleware({
        middleware: [new AuthenticationHandler({ getAccessToken: async () => token }), new RetryHandler(), new HTTPMessageHandler()],
        baseUrl: serverInfo().origin + "/",
        defaultVersion: "beta",
        customHosts: new Set([serverInfo().hostname]),
      });
      const list = await client.api("/directory/externalUserProfiles").get();
      assert.deepEqual(list.value, []);
      // An injected failure answers before the token is read, so its entry
      // has no tenant: select by path and time instead.
      const journal = await admin("GET", `/requests?path=/beta/directory/externalUserProfiles&since=${since}`);
      assert.deepEqual(journal.value.map((r) => [r.status, r.fault ?? ""]), [[429, "status=429; rule=busy"], [429, "status=429; rule=busy"], [200, ""]]);
    } finally {
      await admin("DELETE", "/faults");
    }
  });

  test("test kit: a 429 inside a $batch is the inner request's own, with its Retry-After", plain, async () => {
    const { token } = tenantCtx();
    await admin("PUT", "/faults", JSON.stringify({ rules: [{ method: "POST", path: "/beta/directory/pendingExternalUserProfiles", scope: "inner", status: 429, retryAfter: 3, times: 1 }] }));
    try {
      const { origin } = serverInfo();
      const collection = `${origin}/beta/directory/pendingExternalUserProfiles`;
      const post = (id) => ({ id, request: new Request(collection, { method: "POST", body: JSON.stringify({ displayName: id, phoneNumber: phone() }), headers: { "Content-Type": "application/json" } }) });
      const batch = new BatchRequestContent([post("1"), post("2")]);
      const res = new BatchResponseContent(await classicClient(token).api("/$batch").post(await batch.getContent()));
      assert.equal(res.getResponseById("1").status, 429);
      assert.equal(res.getResponseById("1").headers.get("Retry-After"), "3");
      assert.equal(res.getResponseById("2").status, 201);
    } finally {
      await admin("DELETE", "/faults");
    }
  });
}

// ---------------------------------------------------------------------------
// Role dispatch (last, so that every fixture above is initialised).

if (!isInner()) {
  // Outer role: start extdir, re-run this file with its certificate trusted.
  try {
    process.exitCode = await runOuter(fileURLToPath(import.meta.url));
  } catch (err) {
    test("extdir starts over https and the compatibility suite runs", () => {
      throw err;
    });
  }
} else {
  defineTests();
  defineProtocolTests();
  defineTestKitTests();
}
