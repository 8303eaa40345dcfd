// The test helpers apps use (frontend/testing, @latchid/latch-testing),
// used as a third-party app's suite would: the authenticator fixture and
// page flows, passkeys carried into a new browser context, TOTP sign-in,
// and a passkey file from `latch users add` signing in without a browser.

import { expect } from "@playwright/test";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { addAuthenticator, exportCredentials, importCredentials, signIn, signInAtProvider, signOut, signUp, test, totpCode, withoutAutofill } from "../frontend/testing/index.js";
import { readPasskeyFile, signInWithPasskeyFile } from "../frontend/testing/passkey.js";
import { uniqueUsername } from "./support";

const root = fileURLToPath(new URL("..", import.meta.url));
const latchBinary = path.join(root, "bin/latch"); // built by serve.sh for the run

test("the fixture's authenticator signs up, out and in through Latch's pages", async ({ page, authenticator }) => {
  const username = uniqueUsername("pkg");
  await signUp(page, { username, displayName: "Package User" });
  await expect(page.getByTestId("whoami-display-name")).toHaveText("Package User");
  await signOut(page);
  await signIn(page);
  await expect(page.getByTestId("whoami-username")).toHaveText(username);
  const held = await exportCredentials(authenticator);
  expect(held).toHaveLength(1);
  expect(held[0].isResidentCredential).toBe(true);
});

test("passkeys read from one context sign in again in a new one", async ({ page, authenticator, browser }) => {
  const username = uniqueUsername("carry");
  await signUp(page, { username });
  const credentials = await exportCredentials(authenticator);

  const context = await browser.newContext();
  try {
    const fresh = await context.newPage();
    const other = await addAuthenticator(fresh);
    expect(await exportCredentials(other)).toHaveLength(0);
    await importCredentials(other, credentials);
    await signIn(fresh, { username });
    await expect(fresh.getByTestId("whoami-username")).toHaveText(username);
  } finally {
    await context.close();
  }
});

test("signIn answers the TOTP step with the account's secret", async ({ page, authenticator }) => {
  expect(authenticator.authenticatorId).toBeTruthy();
  await signUp(page, { username: uniqueUsername("pkgtotp") });
  const secret = await page.evaluate(async () => {
    const { Latch } = await import("/latch.js");
    const latch = new Latch();
    return (await latch.enrollTotp()).secret as string;
  });
  await page.evaluate(async (code) => {
    const { Latch } = await import("/latch.js");
    await new Latch().confirmTotp(code);
  }, totpCode(secret));
  await page.reload();
  await signOut(page);
  // The enrolment spent this step's code: sign in on the next one.
  const wait = 30_000 - (Date.now() % 30_000) + 500;
  await page.waitForTimeout(wait);
  await signIn(page, { totpSecret: secret });
  const amr = await page.evaluate(async () => {
    const { Latch } = await import("/latch.js");
    return (await new Latch().userinfo()).amr;
  });
  expect(amr).toContain("otp");
});

test.describe("a passkey file from latch users add", () => {
  const port = Number(process.env.LATCH_E2E_PORT || "8089") + 2000;
  const issuer = `http://localhost:${port}`;
  let dir = "";
  let server: ChildProcess | undefined;
  let passkeyFile = "";

  test.beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "latch-pkg-"));
    passkeyFile = path.join(dir, "alice.passkey.json");
    const data = path.join(dir, "data");
    const flags = ["--data", data, "--issuer", issuer];
    await promisify(execFile)(latchBinary, ["clients", "add", "bootstrap", ...flags]); // creates the store
    await promisify(execFile)(latchBinary, ["users", "add", "alice", "--passkey-out", passkeyFile, ...flags]);
    server = spawn(latchBinary, ["serve", "--addr", `127.0.0.1:${port}`, "--dpop-nonce", ...flags], { stdio: "ignore" });
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${issuer}/healthz`)).ok) break;
      } catch {
        if (i > 100) throw new Error("the service did not start");
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  test.afterAll(async () => {
    if (server) {
      const exited = new Promise((resolve) => server!.once("exit", resolve));
      server.kill("SIGTERM");
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  });

  test("the file is private and in the documented format", async () => {
    expect((await stat(passkeyFile)).mode & 0o777).toBe(0o600);
    const file = await readPasskeyFile(passkeyFile);
    expect(file).toMatchObject({ format: "latch-passkey/1", rp_id: "localhost", origin: issuer, username: "alice" });
    expect(file.private_key_jwk).toMatchObject({ kty: "EC", crv: "P-256" });
    expect(file.private_key_jwk.d).toBeTruthy();
  });

  test("signs in over the HTTP API with DPoP-bound tokens, through nonces, refresh and sign-out", async () => {
    const session = await signInWithPasskeyFile({ issuer, passkeyFile });
    const claims = JSON.parse(Buffer.from(session.accessToken.split(".")[1], "base64url").toString("utf8"));
    expect(claims.cnf.jkt).toBe(session.thumbprint);

    const me = await session.fetch(`${issuer}/userinfo`);
    expect(me.status).toBe(200);
    expect((await me.json()).username).toBe("alice");

    const before = session.accessToken;
    await session.refresh();
    expect(session.accessToken).not.toBe(before);
    expect((await session.fetch(`${issuer}/me/credentials`)).status).toBe(200);

    // The file signs in again: a second, independent session.
    const second = await signInWithPasskeyFile({ issuer, passkeyFile });
    expect(second.thumbprint).not.toBe(session.thumbprint);

    await session.signOut();
    expect((await session.fetch(`${issuer}/userinfo`)).status).toBe(401);
    expect((await second.fetch(`${issuer}/userinfo`)).status).toBe(200);
  });

  test("a file for another origin is refused by the service", async () => {
    const file = await readPasskeyFile(passkeyFile);
    await expect(signInWithPasskeyFile({ issuer, passkey: { ...file, origin: "http://localhost:1" } })).rejects.toMatchObject({
      name: "LatchAPIError",
      status: 400,
    });
  });
});

test("signInAtProvider completes an OpenID Connect sign-in on Latch's provider page", async ({ page, authenticator }) => {
  void authenticator;
  const latchPort = Number(process.env.LATCH_E2E_PORT || "8089");
  const { readFileSync } = await import("node:fs");
  const dataDir = readFileSync(`bin/e2e-data-${latchPort}`, "utf8").trim();
  const client = `helper-app-${Date.now().toString(36)}`;
  const redirect = `http://localhost:${latchPort + 4000}/cb`;
  await promisify(execFile)("bin/latch", ["clients", "add", client, "--public", "--redirect-uri", redirect, "--data", dataDir]);
  // The application's redirect URI: a server that just answers.
  const { createServer } = await import("node:http");
  const app = createServer((_, res) => res.writeHead(200, { "Content-Type": "text/plain" }).end("the app"));
  await new Promise<void>((resolve) => app.listen(latchPort + 4000, "127.0.0.1", resolve));
  try {
    const verifier = "v".repeat(43);
    const { createHash } = await import("node:crypto");
    const challenge = createHash("sha256").update(verifier).digest("base64url");
    const authorize = (extra: Record<string, string> = {}) =>
      `/authorize?${new URLSearchParams({ client_id: client, redirect_uri: redirect, response_type: "code", scope: "openid profile",
        state: "s-1", nonce: "n-1", code_challenge: challenge, code_challenge_method: "S256", ...extra })}`;

    // A new account created on the provider page, then consent, then back.
    const username = uniqueUsername("provider");
    await page.goto(authorize({ prompt: "create" }));
    await signInAtProvider(page, { create: username });
    const back = new URL(page.url());
    expect(`${back.origin}${back.pathname}`).toBe(redirect);
    expect(back.searchParams.get("state")).toBe("s-1");
    expect(back.searchParams.get("code")).toBeTruthy();

    // Signed out of the provider, a returning person signs in with the passkey.
    await page.context().clearCookies();
    await withoutAutofill(page, () => page.goto(authorize({ prompt: "login" })));
    await signInAtProvider(page);
    expect(new URL(page.url()).searchParams.get("code")).toBeTruthy();
  } finally {
    await new Promise<void>((resolve) => app.close(() => resolve()));
  }
});
