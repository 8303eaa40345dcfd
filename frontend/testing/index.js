// Playwright helpers for apps that sign people in with Latch: a virtual
// passkey authenticator per page (Chrome DevTools Protocol, so Chromium
// only), sign-up and sign-in through Latch's own pages, reading and
// restoring the authenticator's passkeys for a new browser context, and
// TOTP codes.
//
//   import { test, signUp, signIn } from "@latchid/latch-testing";
//   test("orders", async ({ page, authenticator }) => { await signUp(page, { username: "alice" }); ... });

import { expect, test as base } from "@playwright/test";

export { base32Decode, timeStep, totp, totpCode, unusedCode } from "./totp.js";

/**
 * addAuthenticator attaches a CTAP2 platform authenticator to the page that
 * holds discoverable credentials (resident keys) and verifies the user
 * (UV) without a prompt. Resolves to {cdp, authenticatorId}.
 */
export async function addAuthenticator(page, cdp) {
  const session = cdp ?? (await page.context().newCDPSession(page));
  await session.send("WebAuthn.enable");
  const { authenticatorId } = await session.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  const authenticator = { cdp: session, authenticatorId };
  authenticators.set(page, authenticator);
  return authenticator;
}

// The authenticator last added to each page, for withoutAutofill.
const authenticators = new WeakMap();

function setPresence(authenticator, enabled) {
  return authenticator.cdp.send("WebAuthn.setAutomaticPresenceSimulation", {
    authenticatorId: authenticator.authenticatorId,
    enabled,
  });
}

/**
 * withoutAutofill runs `load` (a navigation to one of Latch's sign-in
 * pages: page.goto, page.reload, a click that leads there) so that the
 * passkey autofill the page offers on load waits, like a person who has
 * not picked a passkey from the username field's suggestions. Chromium's
 * virtual authenticator answers a conditional (autofill) request at once
 * when it holds a passkey for the site, so without this a signed-out page
 * signs straight back in. It turns the authenticator's presence
 * simulation off, loads, waits until the page has asked for its autofill
 * request (which then waits until the page ends it, as when the sign-in
 * button is pressed), and turns presence simulation back on for the
 * ceremonies that follow. `authenticator` defaults to the one
 * addAuthenticator last added to the page; without one, it only loads.
 */
export async function withoutAutofill(page, load, authenticator = authenticators.get(page)) {
  if (!authenticator) return load();
  await setPresence(authenticator, false);
  try {
    const begun = page
      .waitForResponse((r) => r.request().method() === "POST" && new URL(r.url()).pathname.endsWith("/webauthn/login/begin"), {
        timeout: 5_000,
      })
      .catch(() => null);
    const result = await load();
    // No autofill where the browser has none: nothing to wait for.
    const offered = await page
      .evaluate(async () => (await globalThis.PublicKeyCredential?.isConditionalMediationAvailable?.()) === true)
      .catch(() => true);
    // The page passes the ceremony to the browser as soon as this answer
    // arrives; presence stays off until that request has reached the
    // authenticator, which reads it when the request comes in.
    if (offered && (await begun)) await page.waitForTimeout(300);
    return result;
  } finally {
    await setPresence(authenticator, true).catch(() => {});
  }
}

/**
 * exportCredentials returns the passkeys the authenticator holds, private
 * keys included (CDP's WebAuthn.Credential objects), to hand to
 * importCredentials in another context or page.
 */
export async function exportCredentials(authenticator) {
  const { credentials } = await authenticator.cdp.send("WebAuthn.getCredentials", {
    authenticatorId: authenticator.authenticatorId,
  });
  return credentials;
}

/** importCredentials puts passkeys from exportCredentials into another authenticator. */
export async function importCredentials(authenticator, credentials) {
  for (const credential of credentials) {
    await authenticator.cdp.send("WebAuthn.addCredential", { authenticatorId: authenticator.authenticatorId, credential });
  }
}

/**
 * test is Playwright's test with an `authenticator` fixture: the page gets
 * a virtual authenticator before the test body runs.
 */
export const test = base.extend({
  authenticator: async ({ page }, use) => {
    await use(await addAuthenticator(page));
  },
});

function home(latchURL) {
  return latchURL ?? "/";
}

/**
 * signUp creates an account on Latch's home page (`latchURL`, default "/"
 * under the test's baseURL) with a new passkey from the page's
 * authenticator, and waits until signed in.
 */
export async function signUp(page, { username, displayName = username, latchURL } = {}) {
  if (!username) throw new TypeError("signUp: username is required");
  await withoutAutofill(page, () => page.goto(home(latchURL)));
  await expect(page.getByTestId("view-signed-out")).toBeVisible();
  await page.locator("#signup-username").fill(username);
  await page.locator("#signup-display-name").fill(displayName);
  await page.getByTestId("signup-submit").click();
  await expect(page.getByTestId("view-signed-in")).toBeVisible();
  await expect(page.getByTestId("whoami-username")).toHaveText(username.toLowerCase());
}

/**
 * signIn signs in on Latch's home page with a passkey (usernameless unless
 * `username` is given). For an account with two-step verification, give
 * `totpSecret` (base32, as shown at enrolment) or `code`; the helper
 * answers the second step and waits until signed in.
 */
export async function signIn(page, { username = "", latchURL, totpSecret, code } = {}) {
  await withoutAutofill(page, () => page.goto(home(latchURL)));
  await expect(page.getByTestId("view-signed-out")).toBeVisible();
  await page.locator("#signin-username").fill(username);
  await page.getByTestId("signin-submit").click();
  const signedIn = page.getByTestId("view-signed-in");
  const mfa = page.getByTestId("view-mfa");
  await expect(signedIn.or(mfa).filter({ visible: true })).toBeVisible();
  if (await mfa.isVisible()) {
    const { totpCode } = await import("./totp.js");
    const answer = code ?? (totpSecret ? totpCode(totpSecret) : undefined);
    if (!answer) throw new Error("signIn: the account asks for a TOTP code; pass totpSecret or code");
    await page.locator("#mfa-code").fill(answer);
    await page.getByTestId("mfa-submit").click();
  }
  await expect(signedIn).toBeVisible();
}

/**
 * signInAtProvider completes the sign-in of an OpenID Connect flow on
 * Latch's provider page: the page is there already (your app sent it to
 * Latch's /authorize). It signs in with a passkey (usernameless unless
 * `username` is given; `totpSecret` or `code` answer a second step), or
 * creates the account when `create` names a username, allows the consent
 * page if one comes (`consent: "deny"` denies it), and resolves once the
 * browser has left Latch for the application's redirect URI.
 */
export async function signInAtProvider(page, { username = "", create, totpSecret, code, consent = "allow" } = {}) {
  const latchOrigin = new URL(page.url()).origin;
  const away = () => new URL(page.url()).origin !== latchOrigin;
  if (create) {
    await page.locator("#signup-username").fill(create);
    await page.locator("#signup-display-name").fill(create);
    await page.getByRole("button", { name: "Create account with a passkey" }).click();
  } else {
    await page.locator("#signin-username").fill(username);
    await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  }
  const mfa = page.getByTestId("view-mfa");
  const allow = page.getByRole("button", { name: consent === "deny" ? "Deny" : "Allow" });
  for (;;) {
    await expect.poll(async () => away() || (await mfa.isVisible()) || (await allow.isVisible()), { timeout: 15_000 }).toBe(true);
    if (away()) return;
    if (await mfa.isVisible()) {
      const { totpCode } = await import("./totp.js");
      const answer = code ?? (totpSecret ? totpCode(totpSecret) : undefined);
      if (!answer) throw new Error("signInAtProvider: the account asks for a TOTP code; pass totpSecret or code");
      await page.locator("#mfa-code").fill(answer);
      await page.getByTestId("mfa-submit").click();
      await expect(mfa).toBeHidden();
      continue;
    }
    await allow.click();
    await expect.poll(away, { timeout: 15_000 }).toBe(true);
    return;
  }
}

/** signOut presses "Sign out" on Latch's home page and waits for the signed-out view. */
export async function signOut(page) {
  await page.getByTestId("signout").click();
  await expect(page.getByTestId("view-signed-out")).toBeVisible();
}
