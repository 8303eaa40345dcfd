// Credential changes on the account page after the sign-in has aged: the
// service answers with RFC 9470's step-up challenge, the page asks the
// person to confirm with a passkey of the account (and the authenticator
// app code once TOTP is on) in a dialog, then makes the change. An aged
// sign-in is simulated, as in account-deletion.spec.ts, by answering the
// first request the way the service does after five minutes; a session
// from before TOTP was turned on gets the real challenge from the service.

import { expect, test, type Page, type Response } from "@playwright/test";
import {
  addAuthenticator,
  base32Decode,
  signUpThroughPage,
  uniqueUsername,
  unusedCode,
  type Authenticator,
} from "./support";

// agedOnce answers the first `method` request to `pattern` as the service
// answers a sign-in older than five minutes; later ones go through, after
// `beforeRetry` when given.
async function agedOnce(page: Page, pattern: string, method: string, beforeRetry?: () => Promise<void>) {
  let stale = true;
  await page.route(pattern, async (route) => {
    if (route.request().method() !== method) return route.continue();
    if (!stale) {
      if (beforeRetry) await beforeRetry();
      return route.continue();
    }
    stale = false;
    await route.fulfill({
      status: 401,
      contentType: "application/json",
      headers: {
        "WWW-Authenticate": 'DPoP error="insufficient_user_authentication", error_description="sign in again", max_age=300, algs="ES256 EdDSA"',
      },
      body: JSON.stringify({ error: "insufficient_user_authentication", error_description: "sign in again", max_age: 300 }),
    });
  });
}

// record lists "METHOD /path status" for every response of the given paths.
function record(page: Page, paths: RegExp): string[] {
  const seen: string[] = [];
  page.on("response", (res: Response) => {
    const path = new URL(res.url()).pathname;
    if (paths.test(path)) seen.push(`${res.request().method()} ${path} ${res.status()}`);
  });
  return seen;
}

const confirmDialog = (page: Page) => page.getByRole("dialog", { name: "Confirm it’s you" });

test("adding and deleting a passkey after the sign-in has aged confirm with the passkey first", async ({ page }) => {
  const first = await addAuthenticator(page);
  const username = uniqueUsername("stepkey");
  await signUpThroughPage(page, username, "Step Person");
  await page.goto("/account");
  await expect(page.getByTestId("view-account")).toBeVisible();
  const items = page.getByTestId("passkey-item");
  await expect(items).toHaveCount(1);
  const calls = record(page, /^\/(webauthn\/(register|login)\/(begin|finish)|me\/credentials\/.+)$/);

  // The new passkey is made on a second authenticator (the first holds an
  // excluded one); it is plugged in after the confirmation, which uses the
  // first.
  let second: Authenticator | null = null;
  await agedOnce(page, "**/webauthn/register/begin", "POST", async () => {
    if (second) return;
    await first.cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId: first.authenticatorId });
    second = await addAuthenticator(page, first.cdp);
  });
  // Keyboard only: type the name, Enter submits, Enter on the focused
  // "Continue" confirms.
  await page.locator("#new-passkey-name").fill("Backup key");
  await page.locator("#new-passkey-name").press("Enter");
  const dialog = confirmDialog(page);
  await expect(dialog).toBeVisible();
  await expect(dialog).toHaveAccessibleDescription(
    "Adding a passkey needs a sign-in from the last 5 minutes. Confirm with your passkey to continue.",
  );
  await expect(page.getByTestId("step-up-continue")).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(page.getByTestId("status")).toHaveText("Passkey added.");
  await expect(dialog).toBeHidden();
  await expect(items).toHaveCount(2);
  expect(calls).toEqual([
    "POST /webauthn/register/begin 401",
    "POST /webauthn/login/begin 200",
    "POST /webauthn/login/finish 200",
    "POST /webauthn/register/begin 200",
    "POST /webauthn/register/finish 200",
  ]);

  // Deleting the first passkey: confirmed with the new one, the only one
  // the browser still has.
  calls.length = 0;
  await agedOnce(page, "**/me/credentials/*", "DELETE");
  const original = items.filter({ hasNotText: "Backup key" });
  await original.getByTestId("passkey-delete").click();
  await original.getByTestId("passkey-delete-confirm").click();
  await expect(dialog).toHaveAccessibleDescription(/^Deleting a passkey needs a sign-in from the last 5 minutes/);
  await page.getByTestId("step-up-continue").click();
  await expect(page.getByTestId("status")).toHaveText("Passkey deleted.");
  await expect(items).toHaveCount(1);
  await expect(page.getByTestId("passkey-name")).toHaveText("Backup key");
  expect(calls.filter((c) => c.startsWith("DELETE"))).toEqual([
    expect.stringMatching(/^DELETE \/me\/credentials\/\S+ 401$/),
    expect.stringMatching(/^DELETE \/me\/credentials\/\S+ 204$/),
  ]);
  // Each confirmation replaced this browser's session instead of adding one.
  await page.reload();
  await expect(page.getByTestId("session-item")).toHaveCount(1);

  // Giving up (Escape) changes nothing and says so.
  await agedOnce(page, "**/webauthn/register/begin", "POST");
  await page.locator("#new-passkey-name").fill("Never added");
  await page.locator("#new-passkey-name").press("Enter");
  await expect(dialog).toBeVisible();
  await page.keyboard.press("Escape");
  await expect(dialog).toBeHidden();
  await expect(page.getByTestId("status")).toHaveText("Nothing was changed.");
  await expect(page.getByTestId("status")).toHaveAttribute("data-kind", "info");
  await expect(items).toHaveCount(1);
});

test("TOTP: enrolling after the sign-in has aged, and removing it needs the app code in the confirmation", async ({ page }) => {
  // Codes are single-use, so the test may wait for the next 30 s step.
  test.setTimeout(150_000);
  await addAuthenticator(page);
  const username = uniqueUsername("steptotp");
  await signUpThroughPage(page, username, "Step Totp");
  await page.goto("/account");
  await expect(page.getByTestId("totp-enroll")).toBeVisible();
  const calls = record(page, /^\/(totp(\/enroll|\/confirm|\/verify)?|webauthn\/login\/finish)$/);

  await agedOnce(page, "**/totp/enroll", "POST");
  await page.getByTestId("totp-enroll").click();
  const dialog = confirmDialog(page);
  await expect(dialog).toHaveAccessibleDescription(
    "Setting up an authenticator app needs a sign-in from the last 5 minutes. Confirm with your passkey to continue.",
  );
  await page.getByTestId("step-up-continue").click();
  await expect(page.getByTestId("totp-enrollment")).toBeVisible();
  await expect(dialog).toBeHidden();
  const secret = base32Decode((await page.getByTestId("totp-secret").textContent()) ?? "");
  let { code, step } = await unusedCode(secret, -1);
  await page.locator("#totp-confirm-code").fill(code);
  await page.getByTestId("totp-confirm").click();
  await expect(page.getByTestId("recovery-codes")).toBeVisible();
  await page.getByTestId("recovery-codes-done").click();
  const confirmed = step;
  expect(calls).toEqual(["POST /totp/enroll 401", "POST /webauthn/login/finish 200", "POST /totp/enroll 200", "POST /totp/confirm 200"]);

  // This sign-in predates TOTP: the service itself now wants one that
  // included the app code before TOTP can be turned off.
  calls.length = 0;
  const refusal = page.waitForResponse((res) => res.url().endsWith("/totp") && res.request().method() === "DELETE");
  ({ code, step } = await unusedCode(secret, step));
  await page.locator("#totp-disable-code").fill(code);
  await page.locator("#totp-disable-code").press("Enter");
  const refused = await refusal;
  expect(refused.status()).toBe(401);
  expect(refused.headers()["www-authenticate"]).toMatch(/^DPoP error="insufficient_user_authentication", .*max_age=300, amr_values="otp"/);
  await expect(dialog).toHaveAccessibleDescription(
    "Turning off two-step verification needs a sign-in from the last 5 minutes with your passkey and a code from your authenticator app.",
  );
  await page.keyboard.press("Enter"); // Continue with the passkey
  await expect(page.getByTestId("step-up-code-form")).toBeVisible();
  await expect(page.locator("#step-up-code")).toBeFocused();
  await expect(page.getByTestId("step-up-message")).toHaveText("Enter the code your authenticator app shows.");

  // A wrong code is said so inside the dialog, which stays open.
  await page.keyboard.type(code === "000000" ? "111111" : "000000");
  await page.keyboard.press("Enter");
  await expect(page.getByTestId("step-up-message")).toHaveText(/code is not right/i);
  await expect(page.getByTestId("step-up-message")).toHaveAttribute("data-kind", "error");
  await expect(page.locator("#step-up-code")).toBeFocused();
  ({ code, step } = await unusedCode(secret, confirmed)); // the refused DELETE spent nothing
  await page.keyboard.type(code);
  await page.keyboard.press("Enter");
  await expect(dialog).toBeHidden();
  await expect(page.getByTestId("status")).toHaveText(/You are confirmed\. When your app shows a new code/);
  await expect(page.locator("#totp-disable-code")).toBeFocused();

  // That code is spent; the app's next one turns TOTP off.
  ({ code, step } = await unusedCode(secret, step));
  await page.keyboard.type(code);
  await page.keyboard.press("Enter");
  await expect(page.getByTestId("status")).toHaveText("Two-step verification is off.");
  await expect(page.getByTestId("totp-enroll")).toBeVisible();
  expect(calls).toEqual([
    "DELETE /totp 401",
    "POST /webauthn/login/finish 401",
    "POST /totp/verify 400",
    "POST /totp/verify 200",
    "DELETE /totp 204",
  ]);
});
