// Latch as the OpenID Connect provider of two server-side web apps built
// on openid-client v6 (e2e/rp/app.mjs): the authorization code flow with
// PKCE and DPoP-bound tokens, a person signing in on Latch's pages with a
// passkey, userinfo, refresh, RP-initiated logout, single sign-on into the
// second app without a second ceremony, consent asked once (the second app
// is a third party, the first is first-party and skips it), and
// back-channel logout tokens reaching both apps when the person signs out.

import { expect, type Page } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { signInAtProvider, test, withoutAutofill } from "../frontend/testing/index.js";
import { uniqueUsername } from "./support";
// @ts-expect-error: a plain JavaScript module without declarations
import { startRP } from "./rp/app.mjs";

const latchPort = Number(process.env.LATCH_E2E_PORT || "8089");
const issuer = `http://localhost:${latchPort}`;

function latchCommand(...args: string[]) {
  const dataDir = readFileSync(`bin/e2e-data-${latchPort}`, "utf8").trim();
  return execFileSync("bin/latch", [...args, "--data", dataDir], { encoding: "utf8" });
}

interface RP {
  origin: string;
  clientId: string;
  close(): Promise<void>;
}

/** register adds a confidential client for an app on port and starts the app. */
async function register(clientId: string, port: number, firstParty: boolean): Promise<RP> {
  const origin = `http://localhost:${port}`;
  const flags = ["--redirect-uri", `${origin}/cb`, "--post-logout-redirect-uri", `${origin}/logged-out`,
    "--backchannel-logout-uri", `${origin}/backchannel-logout`];
  if (firstParty) flags.push("--first-party");
  const secret = latchCommand("clients", "add", clientId, ...flags).trim();
  expect(secret.length).toBeGreaterThan(20);
  expect(latchCommand("clients", "show", clientId)).toContain(`${origin}/backchannel-logout`);
  const rp = await startRP({ port, issuer, clientId, clientSecret: secret });
  return { origin, clientId, close: rp.close };
}

let first: RP;
let third: RP;

test.beforeAll(async () => {
  // A worker started again after a failure registers new clients.
  const run = Date.now().toString(36);
  first = await register(`notes-${run}`, latchPort + 5000, true);
  third = await register(`partner-${run}`, latchPort + 6000, false);
});

test.afterAll(async () => {
  await first?.close();
  await third?.close();
});

/** appState reads what an app's home page says of its session. */
async function appState(page: Page, rp: RP): Promise<Record<string, any>> {
  await page.goto(`${rp.origin}/`);
  return JSON.parse((await page.locator("#state").textContent()) ?? "{}");
}

/** appCall makes a request of an app from its own page, with its cookie. */
async function appCall(page: Page, rp: RP, method: string, path: string): Promise<{ status: number; body: any }> {
  if (!page.url().startsWith(`${rp.origin}/`)) await page.goto(`${rp.origin}/`);
  return page.evaluate(async ([m, p]) => {
    const res = await fetch(p, { method: m });
    return { status: res.status, body: await res.json() };
  }, [method, path]);
}

/** logouts are the logout tokens an app has received. */
async function logouts(rp: RP): Promise<any[]> {
  return (await fetch(`${rp.origin}/backchannel-logouts`)).json();
}

/**
 * ceremonies counts the WebAuthn ceremonies the page completes from now on
 * (a sign-in page starts one on load for passkey autofill, which ends
 * unused when the person presses a button instead).
 */
async function countCeremonies(page: Page): Promise<() => number> {
  let n = 0;
  page.on("request", (req) => {
    if (/\/(login|register)\/finish$/.test(new URL(req.url()).pathname)) n++;
  });
  return () => n;
}

test("two openid-client apps: sign-in with PKCE and DPoP, userinfo, refresh, SSO, consent once, RP-initiated and back-channel logout", async ({ page, authenticator }) => {
  void authenticator;
  const ceremonies = await countCeremonies(page);
  const firstBefore = (await logouts(first)).length;
  const thirdBefore = (await logouts(third)).length;

  // The first-party app: Latch's sign-in page, a new account with a
  // passkey, and no consent page (were one shown, "Deny" would be pressed
  // and the app would get access_denied instead of tokens).
  const username = uniqueUsername("rp");
  await page.goto(`${first.origin}/login`);
  await expect(page).toHaveURL(new RegExp(`^${issuer}/authorize\\?`));
  await signInAtProvider(page, { create: username, consent: "deny" });
  await page.waitForURL(`${first.origin}/`);
  const signedIn = await appState(page, first);
  expect(signedIn).toMatchObject({ signedIn: true, username, tokenType: "dpop" });
  expect(signedIn.sub).toBeTruthy();
  expect(signedIn.sid).toBeTruthy();
  expect(ceremonies()).toBe(1);

  // userinfo with the DPoP-bound token, a refresh, and userinfo again with
  // the new token.
  let r = await appCall(page, first, "GET", "/userinfo");
  expect(r.status).toBe(200);
  expect(r.body).toMatchObject({ sub: signedIn.sub, preferred_username: username });
  r = await appCall(page, first, "POST", "/refresh");
  expect(r).toMatchObject({ status: 200, body: { refreshed: true, tokenType: "dpop", newAccessToken: true, newRefreshToken: true } });
  r = await appCall(page, first, "GET", "/userinfo");
  expect(r).toMatchObject({ status: 200, body: { sub: signedIn.sub } });

  // The third-party app: single sign-on, no second ceremony, but a
  // consent page the first time.
  await page.goto(`${third.origin}/login`);
  const allow = page.getByRole("button", { name: "Allow" });
  await expect(allow).toBeVisible();
  await expect(page.getByRole("button", { name: "Sign in with a passkey" })).toHaveCount(0);
  await allow.click();
  await page.waitForURL(`${third.origin}/`);
  const thirdSignedIn = await appState(page, third);
  expect(thirdSignedIn).toMatchObject({ signedIn: true, sub: signedIn.sub, sid: signedIn.sid, tokenType: "dpop" });
  // Consent is asked once: signed out of the app alone, signing in again
  // goes straight back.
  expect((await appCall(page, third, "POST", "/forget")).body).toEqual({ forgotten: true });
  expect(await appState(page, third)).toMatchObject({ signedIn: false });
  await page.goto(`${third.origin}/login`);
  await page.waitForURL(`${third.origin}/`);
  expect(await appState(page, third)).toMatchObject({ signedIn: true, sub: signedIn.sub });
  expect(ceremonies()).toBe(1);

  // RP-initiated logout from the first app: Latch ends the provider
  // session and returns to the app with its state...
  await page.goto(`${first.origin}/logout`);
  await page.waitForURL(new RegExp(`^${first.origin}/logged-out\\?`));
  expect(JSON.parse((await page.locator("#state").textContent()) ?? "{}")).toEqual({ signedIn: false, loggedOut: true });
  // ...and both apps signed into through that session get one logout
  // token for it, which they verified; the third app drops its session.
  for (const [rp, before] of [[first, firstBefore], [third, thirdBefore]] as const) {
    await expect.poll(async () => (await logouts(rp)).length, { timeout: 15_000 }).toBe(before + 1);
    const got = (await logouts(rp)).slice(before);
    expect(got[0].error).toBeUndefined();
    expect(got[0].claims).toMatchObject({ iss: issuer, aud: rp.clientId, sub: signedIn.sub, sid: signedIn.sid });
  }
  expect(await appState(page, third)).toMatchObject({ signedIn: false });
  // A new sign-in at the first app needs a ceremony again (the person has
  // not picked the passkey the page offers for autofill).
  await withoutAutofill(page, () => page.goto(`${first.origin}/login`));
  await expect(page).toHaveURL(new RegExp(`^${issuer}/authorize\\?`));
  await expect(page.getByRole("button", { name: "Sign in with a passkey" })).toBeVisible();
});

test("signing out on Latch's account page sends the apps a back-channel logout", async ({ page, authenticator }) => {
  void authenticator;
  const username = uniqueUsername("bcl");
  await page.goto(`${first.origin}/login`);
  await signInAtProvider(page, { create: username });
  await page.waitForURL(`${first.origin}/`);
  const signedIn = await appState(page, first);
  expect(signedIn).toMatchObject({ signedIn: true, username });
  const before = (await logouts(first)).length;

  // The person goes to Latch's account page, signed in there by the same
  // sign-in, and signs out.
  await page.goto(`${issuer}/account`);
  await expect(page.getByTestId("signout")).toBeVisible();
  await page.getByTestId("signout").click();

  await expect.poll(async () => (await logouts(first)).length, { timeout: 15_000 }).toBe(before + 1);
  const [got] = (await logouts(first)).slice(before);
  expect(got.error).toBeUndefined();
  expect(got.claims).toMatchObject({ iss: issuer, aud: first.clientId, sub: signedIn.sub, sid: signedIn.sid });
  expect(got.ended).toBe(1);
  expect(await appState(page, first)).toMatchObject({ signedIn: false });
});
