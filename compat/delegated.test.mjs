// Compatibility test of the delegated flows: @azure/msal-node's public
// client application, unchanged but for its authority, signs test users in
// to extdir's built-in issuer by every flow extdir offers (username and
// password, device code, authorization code with PKCE, refresh), and each
// token is then used on the Graph API, where the role rule decides: a user
// with the Extended Directory User Administrator role invites (201), a user
// without a role is refused (403). harness.mjs explains the two processes.
//
// The server runs in its default configuration (no --issuer): MSAL checks
// that the discovery document's issuer has the authority's host, and the
// issuer is named after the server's own origin.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";

import { PublicClientApplication, CryptoProvider } from "@azure/msal-node";

import { isInner, runOuter, serverInfo } from "./harness.mjs";

const TEST_TIMEOUT = 30000;
const ADMIN_ROLE = "dd13091a-6207-4fc0-82ba-3641e056ab95"; // Extended Directory User Administrator
const SCOPES = ["https://graph.microsoft.com/PendingExternalUserProfile.ReadWrite.All"];
const PASSWORD = "Compat-Pass-1234";

/** extdir runs `extdir <args>` on the server's data directory and parses its JSON. */
function extdir(...args) {
  const { bin, dataDir } = serverInfo();
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("EXTDIR_")));
  return JSON.parse(execFileSync(bin, [...args, "--data-dir", dataDir], { env, encoding: "utf8" }));
}

/**
 * directory gives a test its own tenant, a public client registered for it
 * and two users: an administrator and one without a role.
 */
function directory(redirectUri = "http://localhost/redirect") {
  const tenant = randomUUID();
  const client = extdir("client", "add", "--public", "--tenant", tenant, "--redirect-uri", redirectUri, "--name", "compat");
  const admin = extdir("user", "add", "--tenant", tenant, "--upn", `admin@${tenant}.example`, "--password", PASSWORD, "--wids", ADMIN_ROLE);
  const plain = extdir("user", "add", "--tenant", tenant, "--upn", `plain@${tenant}.example`, "--password", PASSWORD);
  const { origin, hostname } = serverInfo();
  const pca = new PublicClientApplication({
    auth: {
      clientId: client.client_id,
      authority: `${origin}/${tenant}`,
      knownAuthorities: [new URL(origin).host, hostname],
    },
  });
  return { tenant, client, admin, plain, pca };
}

let phoneSeq = Math.floor(Math.random() * 1e6);

/** invite creates a pending profile with the token and returns the status. */
async function invite(accessToken) {
  phoneSeq = (phoneSeq + 1) % 1e7;
  const resp = await fetch(`${serverInfo().origin}/beta/directory/pendingExternalUserProfiles`, {
    method: "POST",
    headers: { Authorization: `Bearer ${accessToken}`, "Content-Type": "application/json" },
    body: JSON.stringify({ displayName: "Invited by MSAL", phoneNumber: "+1555" + String(phoneSeq).padStart(7, "0") }),
  });
  await resp.arrayBuffer();
  return resp.status;
}

/** Hidden inputs and the action of the page's form, as a browser reads them. */
function readForm(html, base) {
  const unescape = (s) => s.replaceAll("&#34;", '"').replaceAll("&#39;", "'").replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&amp;", "&");
  const action = html.match(/<form method="post" action="([^"]*)"/);
  assert.ok(action, `the page has a form:\n${html}`);
  const fields = new URLSearchParams();
  for (const m of html.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)) fields.set(unescape(m[1]), unescape(m[2]));
  return { action: new URL(unescape(action[1]), base), fields };
}

/** cookieOf returns the name=value of a response's Set-Cookie. */
function cookieOf(resp) {
  const set = resp.headers.get("set-cookie");
  assert.ok(set, "the sign-in page sets its anti-CSRF cookie");
  return set.split(";")[0];
}

/**
 * fillSignInPage does what a user does in the browser: opens the page,
 * types the credentials (and fields), presses the button; it resolves with
 * the answer to the post, redirects not followed.
 */
async function fillSignInPage(pageUrl, values) {
  const page = await fetch(pageUrl, { redirect: "manual" });
  assert.equal(page.status, 200, `sign-in page ${pageUrl}`);
  const html = await page.text();
  const { action, fields } = readForm(html, pageUrl);
  for (const [k, v] of Object.entries(values)) fields.set(k, v);
  return fetch(action, {
    method: "POST",
    redirect: "manual",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Cookie: cookieOf(page) },
    body: fields.toString(),
  });
}

function claims(jwt) {
  return JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString());
}

/** assertUserToken checks what every delegated flow must give. */
function assertUserToken(result, user, client) {
  assert.ok(result?.accessToken, "an access token");
  const at = claims(result.accessToken);
  assert.equal(at.oid, user.object_id);
  assert.equal(at.tid, user.tenant_id);
  assert.equal(at.preferred_username, user.upn);
  assert.match(at.scp, /PendingExternalUserProfile\.ReadWrite\.All/);
  assert.equal(at.roles, undefined);
  assert.equal(result.idTokenClaims.aud, client.client_id);
  assert.equal(result.account.homeAccountId, `${user.object_id}.${user.tenant_id}`, "MSAL built the account from client_info");
  assert.equal(result.account.username, user.upn);
}

/** The four flows, each signing user in with MSAL. */
const flows = {
  "username and password": async ({ pca }, user) =>
    pca.acquireTokenByUsernamePassword({ scopes: SCOPES, username: user.upn, password: PASSWORD }),

  "device code (the test fills the verification page)": async ({ pca }, user) => {
    let filled;
    const result = await pca.acquireTokenByDeviceCode({
      scopes: SCOPES,
      deviceCodeCallback: (r) => {
        assert.match(r.message, new RegExp(r.userCode));
        filled = fillSignInPage(r.verificationUri, { user_code: r.userCode, username: user.upn, password: PASSWORD });
      },
    });
    const page = await filled;
    assert.equal(page.status, 200, await page.text());
    return result;
  },

  "authorization code with PKCE (the test follows the sign-in page)": async ({ pca }, user) => {
    const redirectUri = "http://localhost:53117/redirect"; // any port of the registered loopback URI
    const { verifier, challenge } = await new CryptoProvider().generatePkceCodes();
    const state = randomBytes(8).toString("hex");
    const url = await pca.getAuthCodeUrl({ scopes: SCOPES, redirectUri, codeChallenge: challenge, codeChallengeMethod: "S256", state });
    const answer = await fillSignInPage(url, { username: user.upn, password: PASSWORD });
    assert.equal(answer.status, 302, await answer.text());
    const back = new URL(answer.headers.get("location"));
    assert.equal(back.origin + back.pathname, redirectUri);
    assert.equal(back.searchParams.get("state"), state);
    return pca.acquireTokenByCode({ code: back.searchParams.get("code"), scopes: SCOPES, redirectUri, codeVerifier: verifier, state }, { code: back.searchParams.get("code"), state });
  },

  "refresh (acquireTokenSilent with forceRefresh)": async ({ pca }, user) => {
    const first = await pca.acquireTokenByUsernamePassword({ scopes: SCOPES, username: user.upn, password: PASSWORD });
    const refreshed = await pca.acquireTokenSilent({ account: first.account, scopes: SCOPES, forceRefresh: true });
    assert.notEqual(refreshed.accessToken, first.accessToken, "a new access token, from the refresh token");
    return refreshed;
  },
};

function defineTests() {
  for (const [name, signIn] of Object.entries(flows)) {
    test(`${name}: an administrator invites (201), a user without a role is refused (403)`, { timeout: TEST_TIMEOUT }, async () => {
      const dir = directory();
      for (const [user, want] of [[dir.admin, 201], [dir.plain, 403]]) {
        const result = await signIn(dir, user);
        assertUserToken(result, user, dir.client);
        assert.equal(await invite(result.accessToken), want, `${user.upn} invites`);
      }
    });
  }

  test("acquireTokenByRefreshToken rotates: the old refresh token is refused afterwards", { timeout: TEST_TIMEOUT }, async () => {
    const dir = directory();
    const form = new URLSearchParams({ grant_type: "password", client_id: dir.client.client_id, username: dir.admin.upn, password: PASSWORD, scope: `${SCOPES[0]} openid profile offline_access` });
    const tokenUrl = `${serverInfo().origin}/${dir.tenant}/oauth2/v2.0/token`;
    const first = await (await fetch(tokenUrl, { method: "POST", body: form })).json();
    const result = await dir.pca.acquireTokenByRefreshToken({ refreshToken: first.refresh_token, scopes: SCOPES });
    assertUserToken(result, dir.admin, dir.client);
    assert.equal(await invite(result.accessToken), 201);
    await assert.rejects(dir.pca.acquireTokenByRefreshToken({ refreshToken: first.refresh_token, scopes: SCOPES }), (err) => {
      assert.equal(err.errorCode, "invalid_grant");
      assert.match(err.errorMessage, /AADSTS50173/);
      return true;
    });
  });

  test("a wrong password surfaces as invalid_grant AADSTS50126", { timeout: TEST_TIMEOUT }, async () => {
    const dir = directory();
    await assert.rejects(dir.pca.acquireTokenByUsernamePassword({ scopes: SCOPES, username: dir.admin.upn, password: "wrong-password" }), (err) => {
      assert.equal(err.errorCode, "invalid_grant");
      assert.match(err.errorMessage, /AADSTS50126/);
      return true;
    });
  });
}

if (!isInner()) {
  try {
    process.exitCode = await runOuter(fileURLToPath(import.meta.url), {
      serverArgs: async () => ["--device-code-interval", "1s"],
    });
  } catch (err) {
    test("extdir starts over https and the delegated suite runs", () => {
      throw err;
    });
  }
} else {
  defineTests();
}
