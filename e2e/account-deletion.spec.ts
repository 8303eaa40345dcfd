// Deleting an account from the account page: a sign-in too old to delete
// with is confirmed with the passkey first, in the step-up dialog; then the
// account, its passkey and its sessions are gone, the passkey left on the
// authenticator no longer signs in, and the username is free again.

import { expect, test } from "@playwright/test";
import { addAuthenticator, signUpThroughPage, startSignIn, uniqueUsername, withoutAutofill } from "./support";

test("an account deleted from the account page cannot sign in and frees its username", async ({ page }) => {
  await addAuthenticator(page);
  const username = uniqueUsername("gone");
  await signUpThroughPage(page, username, "Leaving Person");

  await page.goto("/account");
  await expect(page.getByTestId("view-account")).toBeVisible();
  // The first attempt is answered as if the sign-in were older than five
  // minutes: the page must confirm with the passkey, then retry.
  const calls: string[] = [];
  page.on("request", (req) => {
    const path = new URL(req.url()).pathname;
    if (path === "/me" || path === "/webauthn/login/finish") calls.push(`${req.method()} ${path}`);
  });
  let stale = true;
  await page.route("**/me", async (route) => {
    if (route.request().method() !== "DELETE" || !stale) return route.continue();
    stale = false;
    await route.fulfill({
      status: 401,
      contentType: "application/json",
      headers: { "WWW-Authenticate": 'DPoP error="insufficient_user_authentication", max_age=300' },
      body: JSON.stringify({ error: "insufficient_user_authentication", error_description: "sign in again" }),
    });
  });
  await page.getByTestId("delete-account").click();
  await expect(page.getByTestId("delete-confirm")).toBeVisible();
  await page.getByTestId("delete-account-confirm").click();
  const dialog = page.getByRole("dialog", { name: "Confirm it’s you" });
  await expect(dialog).toHaveAccessibleDescription(/^Deleting your account needs a sign-in from the last 5 minutes/);
  await page.getByTestId("step-up-continue").click();
  await expect(page.getByTestId("status")).toHaveText(/Your account has been deleted/);
  await expect(page.getByTestId("view-signed-out")).toBeVisible();
  expect(calls).toEqual(["DELETE /me", "POST /webauthn/login/finish", "DELETE /me"]);

  // This browser forgot its tokens; the service forgot the account.
  const signedIn = await page.evaluate(async () => {
    const { Latch } = await import("/latch.js");
    return new Latch().isSignedIn();
  });
  expect(signedIn).toBe(false);
  await withoutAutofill(page, () => page.goto("/"));
  await expect(page.getByTestId("view-signed-out")).toBeVisible();
  await startSignIn(page);
  await expect(page.getByTestId("signin-error")).toHaveText(/This passkey belongs to no account here/);
  await expect(page.getByTestId("view-signed-out")).toBeVisible();

  // The username can be taken again, with a new passkey.
  await signUpThroughPage(page, username, "New Person");
});
