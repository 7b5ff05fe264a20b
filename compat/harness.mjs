// Harness of the client-compatibility test: runs the real extdir binary over
// https and hands its address, certificate and data directory to the tests.
//
// Why two processes. extdir --ephemeral creates its certificate when it
// starts, inside a fresh data directory, so the certificate does not exist
// when `node --test` starts. Node reads NODE_EXTRA_CA_CERTS once, at process
// start (a file that appears later is ignored with "Warning: Ignoring extra
// certs from ..."), and both the classic client (global fetch, i.e. undici)
// and Kiota (global fetch too) verify TLS against that store. So the test
// file runs in two roles:
//   outer: builds or finds the binary, starts `extdir serve --ephemeral`,
//          reads its JSON ready line, then re-runs this same file as a
//          child with NODE_EXTRA_CA_CERTS=<the line's ca_file>, and stops
//          the server when the child exits;
//   inner: the child; it trusts the certificate from its first instruction
//          and registers the tests.
// The child inherits stdout and the test runner's NODE_TEST_CONTEXT, so under
// `node --test` its results are reported as those of this file.
// Nothing disables certificate checks: a test proves that a client without
// the certificate is refused.

import { spawn, spawnSync, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, "..");

const INNER = "EXTDIR_COMPAT_INNER";

/** isInner reports whether this process is the child that runs the tests. */
export function isInner() {
  return process.env[INNER] === "1";
}

/**
 * serverEnv is the environment for extdir: every EXTDIR_* variable removed,
 * because extdir reads each flag that the command line does not set from
 * EXTDIR_<FLAG> and a developer's shell must not change what is tested.
 */
function serverEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith("EXTDIR_")) env[k] = v;
  }
  return env;
}

/** binary returns $EXTDIR_BIN, or builds extdir into dir. */
function binary(dir) {
  if (process.env.EXTDIR_BIN) {
    const bin = resolve(process.env.EXTDIR_BIN);
    if (!existsSync(bin)) throw new Error(`EXTDIR_BIN=${bin} does not exist`);
    return bin;
  }
  const bin = join(dir, "extdir");
  const r = spawnSync("go", ["build", "-o", bin, "./cmd/extdir"], { cwd: repoRoot, encoding: "utf8", env: serverEnv() });
  if (r.error) throw new Error(`go build: ${r.error.message} (set EXTDIR_BIN to a built extdir)`);
  if (r.status !== 0) throw new Error(`go build ./cmd/extdir failed:\n${r.stderr}`);
  return bin;
}

/**
 * startServer runs `extdir serve --ephemeral`, as a test suite in any
 * language would: memory database, a free loopback port, self-signed https,
 * a fresh data directory removed at exit. It resolves with the JSON ready
 * line the server prints on stdout once it serves (url, admin_url, ca_file,
 * data_dir, tenant_id, client_id, client_secret, upn, password).
 */
function startServer(bin, extraArgs = [], timeoutMs = 15000) {
  // extraArgs come last: a flag given twice takes its last value.
  const args = ["serve", "--ephemeral", "--log-format", "json", "--shutdown-timeout", "5s", ...extraArgs];
  const proc = spawn(bin, args, { env: serverEnv(), stdio: ["ignore", "pipe", "pipe"] });
  const log = [];
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`extdir printed no ready line within ${timeoutMs} ms:\n${log.join("\n")}`));
    }, timeoutMs);
    let ready = false;
    createInterface({ input: proc.stderr }).on("line", (line) => {
      if (!ready) log.push(line);
      if (process.env.EXTDIR_COMPAT_SERVER_LOG) process.stderr.write(`[extdir] ${line}\n`);
    });
    createInterface({ input: proc.stdout }).once("line", (line) => {
      let info;
      try {
        info = JSON.parse(line);
      } catch {
        reject(new Error(`the ready line is not JSON: ${line}`));
        return;
      }
      ready = true;
      clearTimeout(timer);
      resolvePromise({ proc, url: info.url, ready: info });
    });
    proc.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    proc.on("exit", (code, signal) => {
      if (!ready) {
        clearTimeout(timer);
        reject(new Error(`extdir exited (code ${code}, signal ${signal}) before it was ready:\n${log.join("\n")}`));
      }
    });
  });
}

/** stopServer sends SIGTERM (graceful shutdown), then SIGKILL after 5 s. */
function stopServer(proc) {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const kill = setTimeout(() => proc.kill("SIGKILL"), 5000);
    proc.once("exit", () => {
      clearTimeout(kill);
      done();
    });
    proc.kill("SIGTERM");
  });
}

/**
 * runOuter is the outer role: server up, the same test file re-run as the
 * inner child with the certificate trusted, server down. It resolves with
 * the child's exit code; on a setup failure it rejects.
 */
export async function runOuter(testFile, { serverArgs = async () => [] } = {}) {
  const work = mkdtempSync(join(tmpdir(), "extdir-compat-"));
  let server;
  let child;
  // On a signal or an unexpected exit: stop both processes, drop the data.
  const cleanup = () => {
    child?.kill("SIGTERM");
    server?.proc.kill("SIGKILL");
    rmSync(work, { recursive: true, force: true });
  };
  const onSignal = (sig) => {
    cleanup();
    process.exit(sig === "SIGINT" ? 130 : 143);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  process.once("exit", cleanup);
  try {
    const bin = binary(work);
    server = await startServer(bin, await serverArgs());
    const cert = server.ready.ca_file;
    if (!cert || !existsSync(cert)) throw new Error(`extdir serves ${server.url} but its ca_file ${cert} does not exist`);
    const env = {
      ...process.env,
      [INNER]: "1",
      NODE_EXTRA_CA_CERTS: cert,
      EXTDIR_COMPAT_READY: JSON.stringify(server.ready),
      EXTDIR_COMPAT_BIN: bin,
    };
    // Never let an inherited switch turn verification off.
    delete env.NODE_TLS_REJECT_UNAUTHORIZED;
    child = spawn(process.execPath, [...process.execArgv, testFile], { env, stdio: "inherit" });
    const code = await new Promise((done) => child.on("exit", (c, s) => done(c ?? (s ? 1 : 0))));
    child = undefined;
    return code;
  } finally {
    if (server) await stopServer(server.proc);
    server = undefined;
    rmSync(work, { recursive: true, force: true });
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    process.off("exit", cleanup);
  }
}

/** The server as the inner role sees it. */
export function serverInfo() {
  const ready = JSON.parse(process.env.EXTDIR_COMPAT_READY);
  const u = new URL(ready.url); // e.g. https://127.0.0.1:PORT/beta
  return {
    url: ready.url,
    origin: u.origin, // https://127.0.0.1:PORT
    hostname: u.hostname, // 127.0.0.1
    adminUrl: ready.admin_url,
    bin: process.env.EXTDIR_COMPAT_BIN,
    dataDir: ready.data_dir,
    cert: process.env.NODE_EXTRA_CA_CERTS,
    // The ephemeral server's own tenant, client and administrator.
    tenantId: ready.tenant_id,
    clientId: ready.client_id,
    clientSecret: ready.client_secret,
    tokenEndpoint: ready.token_endpoint,
    upn: ready.upn,
    password: ready.password,
  };
}

/**
 * mintToken runs `extdir token` against the server's data directory. Without
 * roles or scp the token holds all four permissions.
 */
export function mintToken({ tenant, oid, roles, scp, wids } = {}) {
  const { bin, dataDir } = serverInfo();
  const args = ["token", "--data-dir", dataDir];
  if (tenant) args.push("--tenant", tenant);
  if (oid) args.push("--oid", oid);
  if (roles) args.push("--roles", roles.join(","));
  if (scp) args.push("--scp", scp.join(" "));
  if (wids) args.push("--wids", wids.join(","));
  return execFileSync(bin, args, { env: serverEnv(), encoding: "utf8" }).trim();
}
