// Signing in: the authorization code flow with PKCE (RFC 7636) against the
// server's built-in issuer, as a public client, the way a single-page
// application signs in to Entra ID. The tokens live in this module's
// memory only: never in localStorage, sessionStorage or a cookie, where
// another script or a later visitor could read them. A reload signs in
// again. Only the PKCE verifier and the state cross the redirect to the
// sign-in page, in sessionStorage, and they are removed on the way back.

const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content || "";

export const config = {
  clientId: meta("extdir-client-id"),
  tenant: meta("extdir-tenant"),
  redirectUri: meta("extdir-redirect-uri"),
};

// The permissions the console asks for: what its views use. A user holds
// them only with a directory role that allows them (the token's wids).
export const graphScopes = [
  "PendingExternalUserProfile.ReadWrite.All",
  "ExternalUserProfile.ReadWrite.All",
  "AuditLog.Read.All",
];
const scope = graphScopes.map((p) => "https://graph.microsoft.com/" + p).join(" ") + " openid profile offline_access";

const pendingKey = "extdir-console-sign-in";

// session is the signed-in user: tokens and what the access token says.
let session = null;
let refreshing = null;
const listeners = new Set();

export function onSessionChange(f) { listeners.add(f); }
function changed() { for (const f of listeners) f(session); }

export function current() { return session; }

function base64url(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function randomString(bytes) {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

async function challengeOf(verifier) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

// claimsOf reads a JWT's payload. The console trusts it only to say what
// to show: the server checks every token it is sent.
export function claimsOf(jwt) {
  const part = jwt.split(".")[1] || "";
  const json = atob(part.replaceAll("-", "+").replaceAll("_", "/"));
  const bytes = Uint8Array.from(json, (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

// cannotSignIn says why this page cannot sign in, or "".
export function cannotSignIn() {
  if (!window.isSecureContext || !crypto.subtle) {
    return "The console signs in with PKCE, which browsers allow only on https or on this machine (localhost, 127.0.0.1): serve extdir over https (--tls-cert, --tls-self-signed) or open it on a loopback address.";
  }
  if (config.redirectUri && new URL(config.redirectUri).origin !== location.origin) {
    return `The issuer sends the sign-in back to ${config.redirectUri}, which is not where this page was opened (${location.origin}). Open the console there, or start the server with --public-url ${location.origin}.`;
  }
  return "";
}

// signIn goes to the issuer's sign-in page; it comes back to the redirect
// URI with the code in the fragment, never sent to any server.
export async function signIn(tenant, returnTo, loginHint) {
  const verifier = randomString(32);
  const state = randomString(16);
  sessionStorage.setItem(pendingKey, JSON.stringify({ state, verifier, tenant, returnTo }));
  const q = new URLSearchParams({
    client_id: config.clientId,
    response_type: "code",
    response_mode: "fragment",
    redirect_uri: config.redirectUri,
    scope,
    state,
    code_challenge: await challengeOf(verifier),
    code_challenge_method: "S256",
  });
  if (loginHint) q.set("login_hint", loginHint);
  location.assign(`/${encodeURIComponent(tenant)}/oauth2/v2.0/authorize?${q}`);
}

// completeSignIn finishes a sign-in when the page is the redirect back from
// the issuer: it takes the code out of the fragment and redeems it. It
// returns null when the page is no such redirect, else {returnTo} or
// {error}.
export async function completeSignIn() {
  const params = new URLSearchParams(location.hash.slice(1));
  if (!params.has("state") || (!params.has("code") && !params.has("error"))) return null;
  const pending = JSON.parse(sessionStorage.getItem(pendingKey) || "null");
  sessionStorage.removeItem(pendingKey);
  // The code must not stay in the address bar or the history.
  history.replaceState(null, "", location.pathname + (pending?.returnTo || "#/pending"));
  if (!pending || pending.state !== params.get("state")) {
    return { error: "The sign-in answer does not belong to a sign-in this page started (its state differs). Sign in again." };
  }
  if (params.has("error")) {
    return { error: `${params.get("error")}: ${params.get("error_description") || "the sign-in was refused"}`, tenant: pending.tenant };
  }
  const answer = await tokenRequest(pending.tenant, {
    grant_type: "authorization_code",
    code: params.get("code"),
    redirect_uri: config.redirectUri,
    code_verifier: pending.verifier,
  });
  if (answer.error) return { error: answer.error, tenant: pending.tenant };
  start(pending.tenant, answer);
  return { returnTo: pending.returnTo };
}

async function tokenRequest(tenant, fields) {
  const body = new URLSearchParams({ client_id: config.clientId, ...fields });
  let res;
  try {
    res = await fetch(`/${encodeURIComponent(tenant)}/oauth2/v2.0/token`, { method: "POST", body });
  } catch (e) {
    return { error: "The token endpoint could not be reached: " + e.message };
  }
  const data = await res.json().catch(() => ({}));
  if (!res.ok) return { error: `${data.error || res.status}: ${data.error_description || "the token request was refused"}` };
  return data;
}

function start(tenant, answer) {
  const claims = claimsOf(answer.access_token);
  session = {
    tenant,
    accessToken: answer.access_token,
    refreshToken: answer.refresh_token || "",
    // Renewed a minute early, so that no call goes out with a token about
    // to expire on the way.
    renewAt: Date.now() + (answer.expires_in - 60) * 1000,
    claims,
    scopes: (claims.scp || "").split(" ").filter(Boolean),
    roleIds: claims.wids || [],
  };
  changed();
}

// accessToken is a valid access token, renewed with the refresh token when
// it is about to expire; null once signed out.
export async function accessToken() {
  if (!session) return null;
  if (Date.now() < session.renewAt || !session.refreshToken) return session.accessToken;
  if (!refreshing) {
    const s = session;
    refreshing = tokenRequest(s.tenant, { grant_type: "refresh_token", refresh_token: s.refreshToken }).then((answer) => {
      refreshing = null;
      if (session !== s) return;
      if (answer.error) {
        expire("Your session could not be renewed (" + answer.error + "). Sign in again.");
        return;
      }
      start(s.tenant, answer);
    });
  }
  await refreshing;
  return session ? session.accessToken : null;
}

let signedOutReason = "";
export function signedOutBecause() { return signedOutReason; }

// expire ends the session because the server no longer takes its tokens.
export function expire(reason) {
  signedOutReason = reason;
  session = null;
  changed();
}

// signOut forgets the tokens. The issuer keeps no browser session (its
// sign-in page asks for the password every time) and a refresh token
// held nowhere else is as good as revoked once forgotten.
export function signOut() {
  signedOutReason = "You signed out. The console holds no token any more.";
  session = null;
  changed();
}
