// The client library (latch.js) against a scripted stand-in for the service,
// so that its DPoP proofs, nonce retries, single-flight refresh and error
// handling are checked exactly, independently of the real service.

import { expect, test, type Page, type Route } from "@playwright/test";
import { createHash, createPublicKey, randomBytes, verify } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { addAuthenticator } from "./support";

const origin = "http://localhost:8099"; // never listened on: every request is answered by the mock
const assets = fileURLToPath(new URL("../frontend/assets/", import.meta.url));

interface Call {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

interface Reply {
  status: number;
  json?: unknown;
  headers?: Record<string, string>;
}

const b64url = (bytes: Buffer) => bytes.toString("base64url");
const sha256 = (text: string) => b64url(createHash("sha256").update(text, "ascii").digest());

function parseJwt(token: string) {
  const [h, p, s] = token.split(".");
  return {
    header: JSON.parse(Buffer.from(h, "base64url").toString("utf8")),
    payload: JSON.parse(Buffer.from(p, "base64url").toString("utf8")),
    signingInput: `${h}.${p}`,
    signature: Buffer.from(s, "base64url"),
  };
}

/** verifyProof checks a DPoP proof's signature with its own jwk and returns its parts. */
function verifyProof(proof: string) {
  const jwt = parseJwt(proof);
  const key = createPublicKey({ key: jwt.header.jwk, format: "jwk" });
  const valid = verify("sha256", Buffer.from(jwt.signingInput), { key, dsaEncoding: "ieee-p1363" }, jwt.signature);
  return { ...jwt, valid };
}

function jwkThumbprint(jwk: { crv: string; kty: string; x: string; y: string }) {
  return sha256(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }));
}

/**
 * MockService answers the endpoints latch.js uses. Tests override single
 * endpoints through `handlers`; the defaults behave like a well-behaved
 * service (tokens rotate, access tokens are checked against the live set).
 */
class MockService {
  calls: Call[] = [];
  handlers = new Map<string, (call: Call, service: MockService) => Reply | undefined>();
  liveAccess = new Set<string>();
  liveRefresh = new Set<string>();
  expiresIn = 600;
  private serial = 0;

  calledAt(method: string, p: string) {
    return this.calls.filter((c) => c.method === method && c.path === p);
  }

  issue(extra: Record<string, unknown> = {}) {
    this.serial++;
    const access = `${b64url(Buffer.from('{"alg":"none"}'))}.${b64url(Buffer.from(JSON.stringify({ n: this.serial })))}.sig${this.serial}`;
    const refresh = `refresh-${this.serial}-${randomBytes(8).toString("hex")}`;
    this.liveAccess.add(access);
    this.liveRefresh.add(refresh);
    return {
      status: 200,
      json: { access_token: access, token_type: "DPoP", expires_in: this.expiresIn, refresh_token: refresh, scope: "", ...extra },
    };
  }

  private defaultReply(call: Call): Reply {
    switch (`${call.method} ${call.path}`) {
      case "POST /webauthn/register/begin":
        return {
          status: 200,
          json: {
            ceremony: `reg-${this.calls.length}`,
            publicKey: {
              rp: { id: "localhost", name: "Latch" },
              user: { id: b64url(randomBytes(16)), name: "mock-user", displayName: "Mock User" },
              challenge: b64url(randomBytes(32)),
              pubKeyCredParams: [{ type: "public-key", alg: -7 }],
              timeout: 60000,
              authenticatorSelection: { residentKey: "required", userVerification: "required" },
              attestation: "none",
            },
          },
        };
      case "POST /webauthn/login/begin":
        return {
          status: 200,
          json: {
            ceremony: `login-${this.calls.length}`,
            publicKey: { challenge: b64url(randomBytes(32)), rpId: "localhost", timeout: 60000, userVerification: "required" },
          },
        };
      case "POST /webauthn/register/finish":
      case "POST /webauthn/login/finish":
      case "POST /totp/verify":
        return this.issue({ credential_id: "cred-1" });
      case "POST /token": {
        const presented = new URLSearchParams(call.body).get("refresh_token") ?? "";
        if (!this.liveRefresh.delete(presented)) {
          return { status: 400, json: { error: "invalid_grant", error_description: "refresh token is not valid" } };
        }
        return this.issue();
      }
      case "GET /userinfo": {
        const token = (call.headers["authorization"] ?? "").replace(/^DPoP /, "");
        if (!this.liveAccess.has(token)) {
          return {
            status: 401,
            json: { error: "invalid_token", error_description: "token is not valid" },
            headers: { "WWW-Authenticate": 'DPoP error="invalid_token", algs="ES256"' },
          };
        }
        return { status: 200, json: { sub: "u1", username: "mock-user", display_name: "Mock User", amr: ["hwk"] } };
      }
      case "POST /logout":
        return { status: 204 };
      default:
        return { status: 404, json: { error: "not_found", error_description: "no such endpoint" } };
    }
  }

  async route(route: Route) {
    const request = route.request();
    const url = new URL(request.url());
    if (request.method() === "GET" && url.pathname === "/blank") {
      return route.fulfill({ status: 200, contentType: "text/html", body: "<!doctype html><title>client</title>" });
    }
    if (request.method() === "GET" && /^\/[a-z-]+\.js$/.test(url.pathname)) {
      const body = await readFile(path.join(assets, url.pathname.slice(1)));
      return route.fulfill({ status: 200, contentType: "text/javascript", body });
    }
    const call: Call = {
      method: request.method(),
      path: url.pathname,
      headers: await request.allHeaders(),
      body: request.postData() ?? "",
    };
    this.calls.push(call);
    const reply = this.handlers.get(`${call.method} ${call.path}`)?.(call, this) ?? this.defaultReply(call);
    return route.fulfill({
      status: reply.status,
      headers: reply.headers,
      contentType: reply.json === undefined ? undefined : "application/json",
      body: reply.json === undefined ? "" : JSON.stringify(reply.json),
    });
  }
}

async function open(page: Page): Promise<MockService> {
  const service = new MockService();
  await page.route(`${origin}/**`, (route) => service.route(route));
  await page.goto(`${origin}/blank`);
  await addAuthenticator(page);
  return service;
}

// inPage runs the body of an async function in the page with `latch` (one
// Latch instance per page, kept across calls) and `LatchError` in scope.
// The body is source text because it runs in the browser, not in Node.
function inPage<T>(page: Page, body: string): Promise<T> {
  return page.evaluate(async (source) => {
    const { Latch, LatchError } = await import("/latch.js");
    const w = window as unknown as { latch?: InstanceType<typeof Latch> };
    w.latch ??= new Latch();
    const run = new Function("latch", "LatchError", `return (async () => { ${source} })();`);
    return run(w.latch, LatchError);
  }, body) as Promise<T>;
}

test.describe("latch.js client", () => {
  test("sign-up sends an ES256 DPoP proof with only public key members and a correct htm/htu", async ({ page }) => {
    const service = await open(page);
    const before = Math.floor(Date.now() / 1000);
    await inPage(page, `await latch.signUp("mock-user", "Mock User");`);

    const [finish] = service.calledAt("POST", "/webauthn/register/finish");
    const proof = verifyProof(finish.headers["dpop"]);
    expect(proof.valid, "signature verifies with the embedded jwk").toBe(true);
    expect(proof.header.typ).toBe("dpop+jwt");
    expect(proof.header.alg).toBe("ES256");
    expect(Object.keys(proof.header.jwk).sort()).toEqual(["crv", "kty", "x", "y"]);
    expect(proof.header.jwk.crv).toBe("P-256");
    expect(proof.payload.htm).toBe("POST");
    expect(proof.payload.htu).toBe(`${origin}/webauthn/register/finish`);
    expect(proof.payload.iat).toBeGreaterThanOrEqual(before - 1);
    expect(proof.payload.iat).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 1);
    expect(Buffer.from(proof.payload.jti, "base64url").length).toBeGreaterThanOrEqual(16);
    expect(proof.payload).not.toHaveProperty("ath");
    expect(proof.payload).not.toHaveProperty("nonce");

    const body = JSON.parse(finish.body);
    expect(body.ceremony).toMatch(/^reg-/);
    expect(body.credential.type).toBe("public-key");
    expect(typeof body.credential.response.attestationObject).toBe("string");

    const thumbprint = await inPage<string>(page, `return latch.keyThumbprint();`);
    expect(thumbprint).toBe(jwkThumbprint(proof.header.jwk));
  });

  test("protected calls send the token with the DPoP scheme and a proof carrying ath, without query in htu", async ({ page }) => {
    const service = await open(page);
    await inPage(page, `await latch.signUp("mock-user", "Mock User");`);
    const [token] = service.liveAccess;
    const status = await inPage<number>(page, `return (await latch.fetch("/userinfo?view=full#top")).status;`);
    expect(status).toBe(200);

    const [call] = service.calledAt("GET", "/userinfo");
    expect(call.headers["authorization"]).toBe(`DPoP ${token}`);
    const proof = verifyProof(call.headers["dpop"]);
    expect(proof.valid).toBe(true);
    expect(proof.payload.htm).toBe("GET");
    expect(proof.payload.htu).toBe(`${origin}/userinfo`);
    expect(proof.payload.ath).toBe(sha256(token));
    const signUpProof = parseJwt(service.calledAt("POST", "/webauthn/register/finish")[0].headers["dpop"]);
    expect(proof.payload.jti, "every proof has its own jti").not.toBe(signUpProof.payload.jti);
  });

  test("a use_dpop_nonce answer at a token endpoint is retried once with the supplied nonce", async ({ page }) => {
    const service = await open(page);
    service.handlers.set("POST /webauthn/register/finish", (call, s) => {
      const { payload } = parseJwt(call.headers["dpop"]);
      if (payload.nonce !== "nonce-1") {
        return { status: 400, json: { error: "use_dpop_nonce", error_description: "nonce required" }, headers: { "DPoP-Nonce": "nonce-1" } };
      }
      return s.issue();
    });
    await inPage(page, `await latch.signUp("mock-user", "Mock User");`);
    const finishes = service.calledAt("POST", "/webauthn/register/finish");
    expect(finishes).toHaveLength(2);
    expect(finishes[1].body, "the same ceremony and credential are resent").toBe(finishes[0].body);
    expect(parseJwt(finishes[1].headers["dpop"]).payload.nonce).toBe("nonce-1");
  });

  test("a service that keeps demanding new nonces gets one retry, not a loop", async ({ page }) => {
    const service = await open(page);
    let n = 0;
    service.handlers.set("POST /webauthn/register/finish", () => ({
      status: 400,
      json: { error: "use_dpop_nonce", error_description: "nonce required" },
      headers: { "DPoP-Nonce": `nonce-${++n}` },
    }));
    const code = await inPage<string>(page, `try { await latch.signUp("mock-user", "Mock User"); return "resolved"; } catch (e) { return e.code; }`);
    expect(code).toBe("use_dpop_nonce");
    expect(service.calledAt("POST", "/webauthn/register/finish")).toHaveLength(2);
  });

  test("a use_dpop_nonce challenge at a protected endpoint is retried with the nonce", async ({ page }) => {
    const service = await open(page);
    await inPage(page, `await latch.signUp("mock-user", "Mock User");`);
    let challenged = false;
    service.handlers.set("GET /userinfo", (call) => {
      if (!challenged) {
        challenged = true;
        return {
          status: 401,
          json: { error: "use_dpop_nonce", error_description: "nonce required" },
          headers: { "WWW-Authenticate": 'DPoP error="use_dpop_nonce"', "DPoP-Nonce": "resource-nonce" },
        };
      }
      return { status: 200, json: { username: "mock-user", nonce: parseJwt(call.headers["dpop"]).payload.nonce } };
    });
    const info = await inPage<{ nonce: string }>(page, `return latch.userinfo();`);
    expect(info.nonce).toBe("resource-nonce");
    expect(service.calledAt("GET", "/userinfo")).toHaveLength(2);
  });

  test("concurrent calls with an expiring access token share a single refresh", async ({ page }) => {
    const service = await open(page);
    service.expiresIn = 1; // renewed at half-life: already due when the calls start
    await inPage(page, `await latch.signUp("mock-user", "Mock User"); await new Promise((r) => setTimeout(r, 600));`);
    const signUpRefresh = [...service.liveRefresh][0];
    service.expiresIn = 600;
    const names = await inPage<string[]>(page, `return (await Promise.all([1, 2, 3, 4, 5].map(() => latch.userinfo()))).map((u) => u.username);`);
    expect(names).toEqual(Array(5).fill("mock-user"));

    const refreshes = service.calledAt("POST", "/token");
    expect(refreshes).toHaveLength(1);
    expect(refreshes[0].headers["content-type"]).toContain("application/x-www-form-urlencoded");
    const form = new URLSearchParams(refreshes[0].body);
    expect(form.get("grant_type")).toBe("refresh_token");
    expect(form.get("refresh_token")).toBe(signUpRefresh);
    const proof = verifyProof(refreshes[0].headers["dpop"]);
    expect(proof.valid).toBe(true);
    expect(proof.payload.htu).toBe(`${origin}/token`);
    expect(proof.payload, "no ath at the token endpoint").not.toHaveProperty("ath");
  });

  test("an invalid_token answer leads to one refresh and one retry", async ({ page }) => {
    const service = await open(page);
    await inPage(page, `await latch.signUp("mock-user", "Mock User");`);
    service.liveAccess.clear(); // the service revoked the access token early
    const info = await inPage<{ username: string }>(page, `return latch.userinfo();`);
    expect(info.username).toBe("mock-user");
    expect(service.calledAt("POST", "/token")).toHaveLength(1);
    expect(service.calledAt("GET", "/userinfo")).toHaveLength(2);
  });

  test("a refused refresh token ends the local session", async ({ page }) => {
    const service = await open(page);
    await inPage(page, `await latch.signUp("mock-user", "Mock User");`);
    service.liveAccess.clear();
    service.liveRefresh.clear();
    const outcome = await inPage<{ code: string; signedIn: boolean; resumed: boolean }>(
      page,
      `let code = "resolved";
       try { await latch.fetch("/userinfo"); } catch (e) { code = e.code; }
       return { code, signedIn: await latch.isSignedIn(), resumed: await latch.resume() };`,
    );
    expect(outcome).toEqual({ code: "invalid_grant", signedIn: false, resumed: false });
    expect(service.calledAt("POST", "/token")).toHaveLength(1);
  });

  test("error responses become LatchError with code, description and status", async ({ page }) => {
    const service = await open(page);
    service.handlers.set("POST /webauthn/register/begin", () => ({
      status: 409,
      json: { error: "username_taken", error_description: "that username is taken" },
    }));
    const err = await inPage<Record<string, unknown>>(
      page,
      `try { await latch.signUp("taken", "Taken"); return {}; }
       catch (e) { return { isLatchError: e instanceof LatchError, name: e.name, code: e.code, description: e.description, status: e.status }; }`,
    );
    expect(err).toEqual({ isLatchError: true, name: "LatchError", code: "username_taken", description: "that username is taken", status: 409 });
  });

  test("a step-up challenge carries max_age and amr_values, from the body or from WWW-Authenticate alone", async ({ page }) => {
    const service = await open(page);
    await inPage(page, `await latch.signUp("stepper", "Stepper");`);
    service.handlers.set("POST /totp/enroll", () => ({
      status: 401,
      json: { error: "insufficient_user_authentication", error_description: "sign in again", max_age: 300, amr_values: "otp" },
    }));
    service.handlers.set("DELETE /me", () => ({
      status: 401,
      headers: { "WWW-Authenticate": 'Bearer error="insufficient_user_authentication", error_description="x", max_age=120' },
    }));
    const errs = await inPage<Record<string, unknown>[]>(
      page,
      `const out = [];
       for (const call of [() => latch.enrollTotp(), () => latch.deleteAccount()]) {
         try { await call(); out.push({}); }
         catch (e) { out.push({ code: e.code, status: e.status, maxAge: e.maxAge, amrValues: e.amrValues }); }
       }
       return out;`,
    );
    expect(errs).toEqual([
      { code: "insufficient_user_authentication", status: 401, maxAge: 300, amrValues: ["otp"] },
      { code: "insufficient_user_authentication", status: 401, maxAge: 120, amrValues: [] },
    ]);
  });

  test("reauthenticate signs the same account in again, hands wrong codes back to secondStep and ends the replaced session", async ({ page }) => {
    const service = await open(page);
    await inPage(page, `await latch.signUp("mock-user", "Mock User");`);
    service.handlers.set("GET /me/sessions", () => ({ status: 200, json: [{ id: "s-new", current: false }, { id: "s-old", current: true }] }));
    service.handlers.set("DELETE /me/sessions/s-old", () => ({ status: 204 }));
    service.handlers.set("POST /webauthn/login/finish", () => ({
      status: 401,
      json: { error: "mfa_required", error_description: "a second factor is required", mfa_token: "mfa-9" },
    }));
    service.handlers.set("POST /totp/verify", (call, s) =>
      JSON.parse(call.body).code === "111111" ? { status: 400, json: { error: "invalid_code", error_description: "wrong code" } } : s.issue(),
    );
    const asked = await inPage<unknown[]>(
      page,
      `const asked = [];
       await latch.reauthenticate({ secondStep: async (previous) => {
         asked.push(previous ? previous.code : null);
         return { code: asked.length === 1 ? "111111" : "222222" };
       } });
       return asked;`,
    );
    expect(asked).toEqual([null, "invalid_code"]);
    expect(JSON.parse(service.calledAt("POST", "/webauthn/login/begin").at(-1)!.body)).toEqual({ username: "mock-user" });
    expect(service.calledAt("POST", "/totp/verify").map((c) => JSON.parse(c.body).code)).toEqual(["111111", "222222"]);
    expect(service.calledAt("DELETE", "/me/sessions/s-old")).toHaveLength(1);

    // A new sign-in that turns out to be another account is not accepted as a confirmation.
    service.handlers.delete("POST /webauthn/login/finish");
    let userinfo = 0;
    service.handlers.set("GET /userinfo", () => ({
      status: 200,
      json: { sub: ++userinfo === 1 ? "u1" : "u2", username: "mock-user", display_name: "Mock User", amr: ["pop"] },
    }));
    const changed = await inPage<string>(page, `try { await latch.reauthenticate(); return "resolved"; } catch (e) { return e.code; }`);
    expect(changed).toBe("account_changed");
    expect(service.calledAt("DELETE", "/me/sessions/s-old")).toHaveLength(1);
  });

  test("rate limiting carries Retry-After and an MFA sign-in survives a wrong code", async ({ page }) => {
    const service = await open(page);
    await inPage(page, `await latch.signUp("mock-user", "Mock User"); await latch.signOut();`);
    service.handlers.set("POST /webauthn/login/finish", () => ({
      status: 401,
      json: { error: "mfa_required", error_description: "a second factor is required", mfa_token: "mfa-123" },
    }));
    service.handlers.set("POST /totp/verify", (call, s) => {
      const body = JSON.parse(call.body);
      if (body.code === "111111") return { status: 400, json: { error: "invalid_code", error_description: "wrong code" } };
      if (body.code === "999999") return { status: 429, json: { error: "rate_limited", error_description: "slow down" }, headers: { "Retry-After": "30" } };
      return s.issue();
    });
    const outcome = await inPage<Record<string, unknown>>(
      page,
      `const result = await latch.signIn();
       const pendingAfterSignIn = latch.mfaPending;
       let wrong;
       try { await latch.verifyTotp("111111"); } catch (e) { wrong = e.code; }
       const pendingAfterWrong = latch.mfaPending;
       await latch.verifyTotp(" 123456 ");
       const info = await latch.userinfo();
       return { result, pendingAfterSignIn, wrong, pendingAfterWrong, pendingAfterRight: latch.mfaPending, username: info.username };`,
    );
    expect(outcome).toEqual({
      result: { mfaRequired: true, authenticatorAttachment: "platform" },
      pendingAfterSignIn: true,
      wrong: "invalid_code",
      pendingAfterWrong: true,
      pendingAfterRight: false,
      username: "mock-user",
    });
    const verifies = service.calledAt("POST", "/totp/verify");
    expect(verifies.map((v) => JSON.parse(v.body))).toEqual([
      { mfa_token: "mfa-123", code: "111111" },
      { mfa_token: "mfa-123", code: "123456" },
    ]);
    expect(verifyProof(verifies[1].headers["dpop"]).payload.htu).toBe(`${origin}/totp/verify`);

    const limited = await inPage<Record<string, unknown>>(
      page,
      `await latch.signIn();
       try { await latch.verifyTotp("999999"); } catch (e) { return { code: e.code, retryAfter: e.retryAfter, status: e.status, pending: latch.mfaPending }; }
       return {};`,
    );
    expect(limited).toEqual({ code: "rate_limited", retryAfter: 30, status: 429, pending: false });
  });

  test("signOut revokes the session, forgets the tokens and replaces the key", async ({ page }) => {
    const service = await open(page);
    await inPage(page, `await latch.signUp("mock-user", "Mock User");`);
    const token = [...service.liveAccess][0];
    const outcome = await inPage<Record<string, unknown>>(
      page,
      `const before = await latch.keyThumbprint();
       const revoked = await latch.signOut();
       const signedIn = await latch.isSignedIn();
       let code;
       try { await latch.userinfo(); } catch (e) { code = e.code; }
       return { revoked, signedIn, code, keyChanged: before !== (await latch.keyThumbprint()) };`,
    );
    expect(outcome).toEqual({ revoked: true, signedIn: false, code: "not_signed_in", keyChanged: true });
    const [logout] = service.calledAt("POST", "/logout");
    expect(logout.headers["authorization"]).toBe(`DPoP ${token}`);
    expect(verifyProof(logout.headers["dpop"]).payload.ath).toBe(sha256(token));
  });

  test("fetch refuses URLs outside the service so the token cannot leak", async ({ page }) => {
    const service = await open(page);
    await inPage(page, `await latch.signUp("mock-user", "Mock User");`);
    const before = service.calls.length;
    const errors = await inPage<string[]>(
      page,
      `const out = [];
       for (const target of ["https://elsewhere.example/userinfo", "//elsewhere.example/userinfo", "userinfo", "/\\\\elsewhere.example"]) {
         try { await latch.fetch(target); out.push("sent"); } catch (e) { out.push(e.name); }
       }
       return out;`,
    );
    expect(errors).toEqual(["TypeError", "TypeError", "TypeError", "TypeError"]);
    expect(service.calls.length).toBe(before);
  });

  test("tokens stay out of web storage and the stored key is not extractable", async ({ page }) => {
    await open(page);
    const state = await inPage<Record<string, unknown>>(
      page,
      `await latch.signUp("mock-user", "Mock User");
       await latch.userinfo();
       const db = await new Promise((resolve, reject) => { const r = indexedDB.open("latch"); r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
       const pair = await new Promise((resolve) => { const g = db.transaction("session").objectStore("session").get("dpop_key"); g.onsuccess = () => resolve(g.result); });
       db.close();
       let exportable = true;
       try { await crypto.subtle.exportKey("pkcs8", pair.privateKey); } catch { exportable = false; }
       return { local: localStorage.length, session: sessionStorage.length, cookie: document.cookie, extractable: pair.privateKey.extractable, exportable };`,
    );
    expect(state).toEqual({ local: 0, session: 0, cookie: "", extractable: false, exportable: false });
  });

  test("a second instance on the page shares the session instead of refreshing again", async ({ page }) => {
    const service = await open(page);
    const names = await inPage<string[]>(
      page,
      `await latch.signUp("mock-user", "Mock User");
       const { Latch } = await import("/latch.js");
       const other = new Latch();
       return [(await other.userinfo()).username, String(await other.isSignedIn())];`,
    );
    expect(names).toEqual(["mock-user", "true"]);
    expect(service.calledAt("POST", "/token")).toHaveLength(0);
  });
});
