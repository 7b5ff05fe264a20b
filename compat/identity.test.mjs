// Identity compatibility: Microsoft's own authentication libraries get
// tokens from extdir's built-in issuer in its default configuration (no
// --issuer), and the Graph clients authenticate through them unchanged:
// @azure/identity's ClientSecretCredential with authorityHost pointed at
// extdir, @azure/msal-node's ConfidentialClientApplication with the
// authority <extdir>/<tenant>, the Kiota beta SDK with
// AzureIdentityAuthenticationProvider and the classic client with
// TokenCredentialAuthenticationProvider. harness.mjs runs the binary.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";

import { ClientSecretCredential } from "@azure/identity";
import { ConfidentialClientApplication } from "@azure/msal-node";
import { AzureIdentityAuthenticationProvider } from "@microsoft/kiota-authentication-azure";
import { Client } from "@microsoft/microsoft-graph-client";
import { TokenCredentialAuthenticationProvider } from "@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials/index.js";
import { createGraphBetaServiceClient, GraphBetaRequestAdapter } from "@microsoft/msgraph-beta-sdk";
import "@microsoft/msgraph-beta-sdk-directory";

import { isInner, runOuter, serverInfo } from "./harness.mjs";

const GRAPH_DEFAULT = "https://graph.microsoft.com/.default";
const plain = { timeout: 30000 };
const ALL = [
  "PendingExternalUserProfile.ReadWrite.All",
  "ExternalUserProfile.ReadWrite.All",
];

let phoneSeq = Math.floor(Math.random() * 1e6);
function phone() {
  phoneSeq = (phoneSeq + 1) % 1e7;
  return "+1556" + String(phoneSeq).padStart(7, "0");
}

/** addClient registers a confidential client with `extdir client add`. */
function addClient(tenant, roles = ALL) {
  const { bin, dataDir } = serverInfo();
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("EXTDIR_")));
  const out = execFileSync(bin, ["client", "add", "--data-dir", dataDir, "--tenant", tenant, "--roles", roles.join(","), "--name", "identity-compat"], { env, encoding: "utf8" });
  const c = JSON.parse(out);
  assert.ok(c.client_id && c.client_secret, `client add printed ${out}`);
  return { tenant, clientId: c.client_id, secret: c.client_secret };
}

/** credential is what an Azure SDK application writes, pointed at extdir. */
function credential({ tenant, clientId, secret }) {
  return new ClientSecretCredential(tenant, clientId, secret, {
    authorityHost: serverInfo().origin,
    disableInstanceDiscovery: true,
  });
}

/** listPending calls the API with a bearer token through fetch. */
async function listPending(token) {
  return fetch(`${serverInfo().url}/directory/pendingExternalUserProfiles`, { headers: { Authorization: `Bearer ${token}` } });
}

function claims(jwt) {
  return JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString());
}

function defineTests() {
  test("discovery names the issuer at the URL it is served under", plain, async () => {
    const tenant = randomUUID();
    const { origin } = serverInfo();
    const res = await fetch(`${origin}/${tenant}/v2.0/.well-known/openid-configuration`);
    assert.equal(res.status, 200);
    const doc = await res.json();
    assert.equal(doc.issuer, `${origin}/${tenant}/v2.0`);
    assert.equal(doc.token_endpoint, `${origin}/${tenant}/oauth2/v2.0/token`);
  });

  test("@azure/identity ClientSecretCredential gets a token the API accepts", plain, async () => {
    const c = addClient(randomUUID());
    const tok = await credential(c).getToken(GRAPH_DEFAULT);
    assert.ok(tok.token && tok.expiresOnTimestamp > Date.now());
    const cl = claims(tok.token);
    assert.equal(cl.iss, `${serverInfo().origin}/${c.tenant}/v2.0`);
    assert.equal(cl.tid, c.tenant);
    assert.deepEqual([...cl.roles].sort(), [...ALL].sort());
    const res = await listPending(tok.token);
    assert.equal(res.status, 200, await res.text());
  });

  test("@azure/identity surfaces a wrong secret as AADSTS7000215", plain, async () => {
    const c = addClient(randomUUID());
    await assert.rejects(credential({ ...c, secret: "not-the-secret" }).getToken(GRAPH_DEFAULT), (err) => {
      assert.match(String(err.message), /AADSTS7000215/);
      return true;
    });
  });

  test("@azure/msal-node ConfidentialClientApplication gets a token by client credentials", plain, async () => {
    const c = addClient(randomUUID());
    const { origin, hostname } = serverInfo();
    const app = new ConfidentialClientApplication({
      auth: { clientId: c.clientId, clientSecret: c.secret, authority: `${origin}/${c.tenant}`, knownAuthorities: [new URL(origin).host, hostname] },
    });
    const result = await app.acquireTokenByClientCredential({ scopes: [GRAPH_DEFAULT] });
    assert.ok(result?.accessToken, "an access token");
    assert.equal(claims(result.accessToken).tid, c.tenant);
    const res = await listPending(result.accessToken);
    assert.equal(res.status, 200, await res.text());

    const wrong = new ConfidentialClientApplication({
      auth: { clientId: c.clientId, clientSecret: "wrong", authority: `${origin}/${c.tenant}`, knownAuthorities: [new URL(origin).host, hostname] },
    });
    await assert.rejects(wrong.acquireTokenByClientCredential({ scopes: [GRAPH_DEFAULT] }), /AADSTS7000215/);
  });

  test("Kiota beta SDK with AzureIdentityAuthenticationProvider invites and reads back", plain, async () => {
    const c = addClient(randomUUID());
    const { url, hostname } = serverInfo();
    const auth = new AzureIdentityAuthenticationProvider(credential(c), [GRAPH_DEFAULT], undefined, new Set([hostname]));
    const adapter = new GraphBetaRequestAdapter(auth);
    adapter.baseUrl = url;
    const client = createGraphBetaServiceClient(adapter);
    const p = phone();
    const created = await client.directory.pendingExternalUserProfiles.post({ displayName: "Via azidentity", phoneNumber: p });
    assert.equal(created.phoneNumber, p);
    const read = await client.directory.pendingExternalUserProfiles.byPendingExternalUserProfileId(created.id).get();
    assert.equal(read.displayName, "Via azidentity");
  });

  test("classic client with TokenCredentialAuthenticationProvider invites and lists", plain, async () => {
    const c = addClient(randomUUID());
    const { origin, hostname } = serverInfo();
    const authProvider = new TokenCredentialAuthenticationProvider(credential(c), { scopes: [GRAPH_DEFAULT] });
    const client = Client.initWithMiddleware({ authProvider, baseUrl: origin + "/", defaultVersion: "beta", customHosts: new Set([hostname]) });
    const created = await client.api("/directory/pendingExternalUserProfiles").post({ displayName: "Classic", phoneNumber: phone() });
    const list = await client.api("/directory/pendingExternalUserProfiles").get();
    assert.deepEqual(list.value.map((x) => x.id), [created.id], "a client's tenant holds only what it created");
  });

  test("a browser's CORS preflight to the API and the token endpoint is allowed", plain, async () => {
    const { origin, url } = serverInfo();
    for (const target of [`${url}/directory/pendingExternalUserProfiles`, `${origin}/${randomUUID()}/oauth2/v2.0/token`]) {
      const res = await fetch(target, {
        method: "OPTIONS",
        headers: { Origin: "http://localhost:5173", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type" },
      });
      assert.equal(res.status, 204, target);
      assert.equal(res.headers.get("access-control-allow-origin"), "http://localhost:5173");
      assert.match(res.headers.get("access-control-allow-headers"), /Authorization/);
    }
  });

  test("a client registered for one tenant cannot get a token in another", plain, async () => {
    const c = addClient(randomUUID());
    await assert.rejects(credential({ ...c, tenant: randomUUID() }).getToken(GRAPH_DEFAULT), /AADSTS/);
  });
}

if (!isInner()) {
  try {
    process.exitCode = await runOuter(fileURLToPath(import.meta.url));
  } catch (err) {
    test("extdir starts over https and the identity suite runs", () => {
      throw err;
    });
  }
} else {
  defineTests();
}
