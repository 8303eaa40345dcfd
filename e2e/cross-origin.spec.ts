// latch.js used by an app on another origin: a page served from a second
// origin imports the client from Latch's versioned path (CORS), signs up and
// in with a passkey, and calls an API on a third origin through
// latch.fetch. Two APIs answer: a stand-in that checks what a resource
// server must (RFC 9449 section 7) with WebCrypto, the proof's signature,
// htm, htu, ath, its key against the token's cnf.jkt, and the token's
// signature against Latch's JWKS; and the Go example API guarded by
// auth/resource, which must also refuse a revoked token within its
// introspection staleness bound.

import { expect, test, type Page } from "@playwright/test";
import { createHash, webcrypto } from "node:crypto";
import { readFileSync } from "node:fs";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { addAuthenticator, captureTokenExchanges, uniqueUsername } from "./support";

const latchPort = Number(process.env.LATCH_E2E_PORT || "8089");
const latchOrigin = `http://localhost:${latchPort}`;
// serve.sh registers this origin with --web-origin and --origins.
const appOrigin = `http://localhost:${latchPort + 1000}`;
const version = JSON.parse(readFileSync(new URL("../frontend/package.json", import.meta.url), "utf8")).version;

const subtle = webcrypto.subtle;
const b64url = (bytes: ArrayBuffer | Buffer) => Buffer.from(bytes as ArrayBuffer).toString("base64url");
const sha256 = (text: string) => b64url(createHash("sha256").update(text, "ascii").digest());

function decodeJws(jws: string) {
  const [h, p, s] = jws.split(".");
  return {
    header: JSON.parse(Buffer.from(h, "base64url").toString("utf8")),
    payload: JSON.parse(Buffer.from(p, "base64url").toString("utf8")),
    signingInput: Buffer.from(`${h}.${p}`, "ascii"),
    signature: Buffer.from(s, "base64url"),
  };
}

async function verifyES256(jwk: webcrypto.JsonWebKey, jws: ReturnType<typeof decodeJws>) {
  const key = await subtle.importKey("jwk", { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
  return subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, jws.signature, jws.signingInput);
}

/** What the API saw of one request, after its checks. */
interface APICall {
  origin: string;
  method: string;
  url: string;
  token: string;
  proof: Record<string, any>;
  failures: string[];
}

/** StandInAPI is a resource server on its own origin that verifies Latch's DPoP-bound tokens. */
class StandInAPI {
  server!: Server;
  origin = "";
  calls: APICall[] = [];
  nonce: string | null = null; // demand this nonce when set
  staleNonces = false; // the nonce changes with every request, so any proof's is stale
  private rotations = 0;
  rejectTokens = new Set<string>(); // answer invalid_token for these
  rejectAll = false; // answer invalid_token for every token
  private seenJti = new Set<string>();

  async start() {
    this.server = createServer((req, res) => void this.handle(req, res).catch(() => res.writeHead(500).end()));
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.origin = `http://localhost:${(this.server.address() as AddressInfo).port}`;
  }

  stop() {
    return new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private cors(res: ServerResponse) {
    res.setHeader("Access-Control-Allow-Origin", appOrigin);
    res.setHeader("Access-Control-Expose-Headers", "DPoP-Nonce, WWW-Authenticate");
    res.setHeader("Vary", "Origin");
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    this.cors(res);
    if (req.method === "OPTIONS") {
      res.writeHead(204, { "Access-Control-Allow-Methods": "GET, POST, DELETE", "Access-Control-Allow-Headers": "Authorization, DPoP, Content-Type" }).end();
      return;
    }
    for await (const _ of req); // drain the body
    const host = req.headers.host ?? "";
    const authz = String(req.headers.authorization ?? "");
    const proofJws = String(req.headers.dpop ?? "");
    const token = authz.startsWith("DPoP ") ? authz.slice(5) : "";
    const call: APICall = { origin: `http://${host}`, method: req.method ?? "", url: req.url ?? "", token, proof: {}, failures: [] };
    this.calls.push(call);
    const fail = (why: string) => call.failures.push(why);
    try {
      const proof = decodeJws(proofJws);
      call.proof = proof.payload;
      if (proof.header.typ !== "dpop+jwt" || proof.header.alg !== "ES256") fail("proof header");
      if (!(await verifyES256(proof.header.jwk, proof))) fail("proof signature");
      // htu is what this API knows as its own public URL, never the Host header's word.
      const expectedHtu = this.origin + new URL(req.url ?? "/", this.origin).pathname;
      if (proof.payload.htm !== req.method) fail("htm");
      if (proof.payload.htu !== expectedHtu) fail(`htu ${proof.payload.htu} != ${expectedHtu}`);
      if (proof.payload.ath !== sha256(token)) fail("ath");
      if (Math.abs(Date.now() / 1000 - proof.payload.iat) > 60) fail("iat");
      if (this.seenJti.has(proof.payload.jti)) fail("jti replayed");
      this.seenJti.add(proof.payload.jti);

      const access = decodeJws(token);
      const jwks = await (await fetch(`${latchOrigin}/.well-known/jwks.json`)).json();
      const key = jwks.keys.find((k: { kid: string }) => k.kid === access.header.kid);
      if (access.header.typ !== "at+jwt" || !key || !(await verifyES256(key, access))) fail("token signature");
      if (access.payload.iss !== latchOrigin) fail("iss");
      if (access.payload.exp <= Date.now() / 1000) fail("exp");
      const jwk = proof.header.jwk;
      const jkt = sha256(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }));
      if (access.payload.cnf?.jkt !== jkt) fail("cnf.jkt");
      call.proof.sub = access.payload.sub;
    } catch (err) {
      fail(`malformed: ${err}`);
    }
    if (call.failures.length) {
      res.writeHead(401, { "WWW-Authenticate": `DPoP error="invalid_dpop_proof", algs="ES256"` }).end();
      return;
    }
    if (this.staleNonces) this.nonce = `stale-${++this.rotations}`;
    if (this.nonce && call.proof.nonce !== this.nonce) {
      res.writeHead(401, { "WWW-Authenticate": `DPoP error="use_dpop_nonce", algs="ES256"`, "DPoP-Nonce": this.nonce }).end();
      return;
    }
    if (this.rejectAll || this.rejectTokens.has(token)) {
      res.writeHead(401, { "WWW-Authenticate": `DPoP error="invalid_token", error_description="token revoked", algs="ES256"` }).end();
      return;
    }
    res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ sub: call.proof.sub, path: call.url }));
  }
}

/** The app on the second origin: one page that imports latch.js from Latch. */
function appServer(apiOrigins: () => string[]): Server {
  return createServer((req, res) => {
    if (req.url !== "/") {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(`<!doctype html>
<html lang="en"><head><title>An app on another origin</title></head><body>
<script type="module">
  import { Latch } from "${latchOrigin}/latch/v${version}/latch.js";
  window.latch = new Latch({ issuer: "${latchOrigin}", apiOrigins: ${JSON.stringify(apiOrigins())} });
  window.latchReady = true;
</script></body></html>`);
  });
}

const api = new StandInAPI();
let app: Server;

// The real thing beside the stand-in: cmd/latch-example-api, a Go API
// guarded by auth/resource, on a third origin, introspecting through a
// client registered on the running Latch so that it sees revocations.
const goAPIOrigin = `http://localhost:${latchPort + 3000}`;
const introspectClient = `example-api-${latchPort}`;
let introspectSecret = "";
let goAPI: ChildProcess;

function latchCommand(...args: string[]) {
  const dataDir = readFileSync(`bin/e2e-data-${latchPort}`, "utf8").trim();
  return execFileSync("bin/latch", [...args, "--data", dataDir], { encoding: "utf8" });
}

test.beforeAll(async () => {
  await api.start();
  app = appServer(() => [api.origin, goAPIOrigin]);
  await new Promise<void>((resolve) => app.listen(latchPort + 1000, "127.0.0.1", resolve));

  execFileSync("go", ["build", "-o", "bin/latch-example-api", "./cmd/latch-example-api"], { stdio: "inherit" });
  introspectSecret = latchCommand("clients", "add", introspectClient).trim();
  goAPI = spawn(
    "bin/latch-example-api",
    ["--issuer", latchOrigin, "--addr", `127.0.0.1:${latchPort + 3000}`, "--public-url", goAPIOrigin, "--allow-origin", appOrigin,
      "--introspect-client", introspectClient, "--introspect-max-stale", "2s"],
    { env: { ...process.env, LATCH_INTROSPECT_SECRET: introspectSecret }, stdio: "ignore" },
  );
  await expect.poll(async () => (await fetch(`${goAPIOrigin}/api/hello`).catch(() => null))?.status ?? 0, { timeout: 20_000 }).toBe(401);
});

test.afterAll(async () => {
  goAPI?.kill("SIGTERM");
  await api.stop();
  await new Promise<void>((resolve) => app.close(() => resolve()));
});

test.beforeEach(() => {
  api.calls = [];
  api.nonce = null;
  api.staleNonces = false;
  api.rejectTokens.clear();
  api.rejectAll = false;
});

async function openApp(page: Page, username: string) {
  await addAuthenticator(page);
  await page.goto(appOrigin + "/");
  await page.waitForFunction(() => (window as any).latchReady === true);
  await page.evaluate((name) => (window as any).latch.signUp(name), username);
}

function callAPI(page: Page, path: string, init: RequestInit = {}) {
  return page.evaluate(
    async ({ url, init }) => {
      const res = await (window as any).latch.fetch(url, init);
      return { status: res.status, body: res.status === 200 ? await res.json() : null };
    },
    { url: api.origin + path, init },
  );
}

test("an app on another origin signs up and in with Latch and calls its API with DPoP proofs made for it", async ({ page }) => {
  const username = uniqueUsername("cross");
  await openApp(page, username);
  const me = await page.evaluate(() => (window as any).latch.userinfo());
  expect(me.username).toBe(username);

  // Sign out and back in (usernameless), as a returning user would.
  await page.evaluate(async () => {
    await (window as any).latch.signOut();
    await (window as any).latch.signIn();
  });

  const out = await callAPI(page, "/orders?page=2#top", { method: "POST", body: "{}", headers: { "Content-Type": "application/json" } });
  expect(out).toEqual({ status: 200, body: { sub: me.sub, path: "/orders?page=2" } });
  expect(api.calls).toHaveLength(1);
  const [call] = api.calls;
  expect(call.failures).toEqual([]);
  expect(call.proof).toMatchObject({ htm: "POST", htu: `${api.origin}/orders` });
  expect(call.proof.nonce).toBeUndefined();

  // The same key signs for the API as for Latch: its thumbprint is the token's cnf.jkt.
  const jkt = await page.evaluate(() => (window as any).latch.keyThumbprint());
  expect(decodeJws(call.token).payload.cnf.jkt).toBe(jkt);
  expect(decodeJws(call.token).payload.sub).toBe(me.sub);
});

test("a use_dpop_nonce challenge from the API is answered once with its nonce", async ({ page }) => {
  await openApp(page, uniqueUsername("nonce"));
  api.nonce = "api-nonce-1";
  expect((await callAPI(page, "/orders")).status).toBe(200);
  expect(api.calls.map((c) => c.proof.nonce ?? null)).toEqual([null, "api-nonce-1"]);
  expect(api.calls.every((c) => c.failures.length === 0)).toBe(true);
  expect(api.calls[0].proof.jti).not.toBe(api.calls[1].proof.jti);

  // The nonce is remembered for that origin: the next call needs no retry.
  api.calls = [];
  expect((await callAPI(page, "/orders")).status).toBe(200);
  expect(api.calls.map((c) => c.proof.nonce)).toEqual(["api-nonce-1"]);

  // A nonce the API replaces is picked up from the challenge.
  api.calls = [];
  api.nonce = "api-nonce-2";
  expect((await callAPI(page, "/orders")).status).toBe(200);
  expect(api.calls.map((c) => c.proof.nonce)).toEqual(["api-nonce-1", "api-nonce-2"]);

  // A second challenge in a row is handed to the caller, not looped on.
  api.calls = [];
  api.staleNonces = true;
  expect((await callAPI(page, "/orders")).status).toBe(401);
  expect(api.calls.map((c) => c.proof.nonce)).toEqual(["api-nonce-2", "stale-1"]);
});

test("an invalid_token from the API gets one refresh and one retry with the new token", async ({ page }) => {
  const tokens = captureTokenExchanges(page);
  await openApp(page, uniqueUsername("refresh"));
  const first = await page.evaluate(() => (window as any).latch.getAccessToken());
  api.rejectTokens.add(first);
  expect((await callAPI(page, "/orders")).status).toBe(200);
  expect(api.calls).toHaveLength(2);
  expect(api.calls[0].token).toBe(first);
  expect(api.calls[1].token).not.toBe(first);
  await tokens.settled();
  expect(tokens.exchanges.filter((e) => e.path === "/token" && e.status === 200)).toHaveLength(1);

  // An API that refuses every token gets its 401 handed back after that
  // one retry, and the session stays: the API's reasons are its own.
  api.calls = [];
  api.rejectAll = true;
  expect((await callAPI(page, "/orders")).status).toBe(401);
  expect(api.calls).toHaveLength(2);
  expect(api.calls[0].token).not.toBe(api.calls[1].token);
  expect(await page.evaluate(() => (window as any).latch.isSignedIn())).toBe(true);
});

test("an origin that is not in apiOrigins never sees the token", async ({ page }) => {
  await openApp(page, uniqueUsername("refuse"));
  // The same server under another name is another origin.
  const other = api.origin.replace("localhost", "127.0.0.1");
  const outcome = await page.evaluate(async (url) => {
    const latch = (window as any).latch;
    const out: string[] = [];
    for (const attempt of [() => latch.fetch(url), () => latch.createProof("GET", url)]) {
      try {
        await attempt();
        out.push("sent");
      } catch (err) {
        out.push((err as Error).name);
      }
    }
    return out;
  }, other + "/orders");
  expect(outcome).toEqual(["TypeError", "TypeError"]);
  expect(api.calls).toHaveLength(0);
});

test("getAccessToken and createProof build a request the API accepts", async ({ page }) => {
  await openApp(page, uniqueUsername("manual"));
  const status = await page.evaluate(async (url) => {
    const latch = (window as any).latch;
    const token = await latch.getAccessToken();
    const proof = await latch.createProof("DELETE", url);
    const res = await fetch(url, { method: "DELETE", headers: { Authorization: `DPoP ${token}`, DPoP: proof } });
    return res.status;
  }, api.origin + "/orders/7");
  expect(status).toBe(200);
  expect(api.calls[0].failures).toEqual([]);
  expect(api.calls[0].proof).toMatchObject({ htm: "DELETE", htu: `${api.origin}/orders/7` });
});

test("the Go API guarded by auth/resource takes latch.js's proofs and refuses a revoked token within its staleness bound", async ({ page }) => {
  const username = uniqueUsername("goapi");
  await openApp(page, username);
  const me = await page.evaluate(() => (window as any).latch.userinfo());

  // latch.fetch with a proof made for the Go API's exact URL.
  const hello = await page.evaluate(async (url) => {
    const res = await (window as any).latch.fetch(url);
    return { status: res.status, body: await res.json() };
  }, `${goAPIOrigin}/api/hello`);
  expect(hello.status).toBe(200);
  expect(hello.body.hello).toBe(me.sub);
  expect(hello.body.principal).toMatchObject({ sub: me.sub, client_id: "latch" });
  const jkt = await page.evaluate(() => (window as any).latch.keyThumbprint());
  expect(hello.body.principal.jkt).toBe(jkt);

  // The same token, sent by hand with a fresh proof each time: accepted,
  // then, once an operator's client revokes it at Latch, refused by the
  // API as soon as its introspection answer is older than the bound.
  const callWithCurrentToken = () =>
    page.evaluate(async (url) => {
      const latch = (window as any).latch;
      const token = await latch.getAccessToken();
      const res = await fetch(url, { headers: { Authorization: `DPoP ${token}`, DPoP: await latch.createProof("GET", url) } });
      return { status: res.status, challenge: res.headers.get("WWW-Authenticate") ?? "", token };
    }, `${goAPIOrigin}/api/hello`);
  const before = await callWithCurrentToken();
  expect(before.status).toBe(200);
  const revoked = await fetch(`${latchOrigin}/revoke`, {
    method: "POST",
    headers: {
      Authorization: "Basic " + Buffer.from(`${introspectClient}:${introspectSecret}`).toString("base64"),
      "Content-Type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({ token: before.token, token_type_hint: "access_token" }),
  });
  expect(revoked.status).toBe(200);
  await expect
    .poll(async () => {
      const r = await callWithCurrentToken();
      return r.token === before.token ? `${r.status} ${r.challenge.includes('error="invalid_token"')}` : "the token changed";
    }, { timeout: 20_000, intervals: [500] })
    .toBe("401 true");
});
