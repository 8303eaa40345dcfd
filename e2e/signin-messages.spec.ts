// What the sign-in page tells a person before and after a ceremony: the
// username rules before they type, and distinct messages, next to the
// button, for a prompt they closed, a device with no passkey for the site
// and a passkey that belongs to no account, with what to do next.

import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { expect, test, type Page } from "@playwright/test";
import { addAuthenticator, signOutThroughPage, signUpThroughPage, uniqueUsername, withoutAutofill, type Authenticator } from "./support";

async function setUserVerified(authenticator: Authenticator, verified: boolean) {
  await authenticator.cdp.send("WebAuthn.setUserVerified", { authenticatorId: authenticator.authenticatorId, isUserVerified: verified });
}

function signInError(page: Page) {
  return page.getByTestId("signin-error");
}

test("the username rules are shown before typing and checked next to the field", async ({ page }) => {
  await addAuthenticator(page);
  await page.goto("/");
  const field = page.locator("#signup-username");
  await expect(field).toHaveAccessibleDescription(/3 to 64 characters: letters, digits and \. _ - @, no spaces/);
  await expect(page.getByTestId("signup-username-hint")).toBeVisible();

  await field.fill("a b");
  await page.locator("#signup-display-name").fill("Someone");
  await page.getByTestId("signup-submit").click();
  const error = page.getByTestId("signup-error");
  await expect(error).toHaveText(/Use only letters, digits and \. _ - @/);
  await expect(error).toHaveAttribute("role", "alert");
  await expect(field).toBeFocused();
  await expect(field).toHaveAttribute("aria-invalid", "true");
  await expect(field).toHaveAccessibleDescription(/no spaces.*Use only letters/);

  await field.fill("ab");
  await page.getByTestId("signup-submit").click();
  await expect(error).toHaveText("Your username needs at least 3 characters.");

  // A name that follows the rules but is taken: the service's answer, at the field.
  const username = uniqueUsername("rules");
  await signUpThroughPage(page, username, "Rules Person");
  await page.getByTestId("new-codes-done").click();
  await signOutThroughPage(page);
  await field.fill(username.toUpperCase());
  await page.locator("#signup-display-name").fill("Someone Else");
  await page.getByTestId("signup-submit").click();
  await expect(error).toHaveText("That username is already taken.");
  await expect(field).toBeFocused();
});

test("a device with no passkey for the site gets hints: create an account, or use another device", async ({ page }) => {
  await addAuthenticator(page); // holds no passkey
  await page.goto("/");
  await page.getByTestId("signin-submit").click();
  await expect(signInError(page).getByTestId("action-error-message")).toHaveText("No passkey for this site was found on this device.");
  await expect(signInError(page).getByTestId("hint-other-device")).toContainText("Use a phone or tablet");
  await expect(page.getByTestId("signin-submit")).toBeFocused();
  await expect(page.getByTestId("status")).toHaveText("");
  await signInError(page).getByRole("button", { name: "Create an account" }).click();
  await expect(page.locator("#signup-username")).toBeFocused();
});

test("a closed prompt is a cancelled sign-in or sign-up, not a missing passkey", async ({ page }) => {
  const authenticator = await addAuthenticator(page);
  await signUpThroughPage(page, uniqueUsername("cancel"), "Cancel Person");
  await page.getByTestId("new-codes-done").click();
  await signOutThroughPage(page);

  // The person declines the prompt (the authenticator does not verify them).
  await setUserVerified(authenticator, false);
  await page.getByTestId("signin-submit").click();
  await expect(signInError(page).getByTestId("action-error-message")).toHaveText(/^Sign-in cancelled: the passkey prompt was closed/);
  await expect(signInError(page).getByTestId("hint-create")).toHaveCount(0);
  await expect(page.getByTestId("signin-submit")).toBeFocused();

  await page.locator("#signup-username").fill(uniqueUsername("never"));
  await page.locator("#signup-display-name").fill("Never Person");
  await page.getByTestId("signup-submit").click();
  await expect(page.getByTestId("signup-error")).toHaveText(/^Creating the passkey was cancelled, so no account was made/);
  await expect(page.getByTestId("signup-submit")).toBeFocused();

  // Trying again works, and clears the message.
  await setUserVerified(authenticator, true);
  await page.getByTestId("signin-submit").click();
  await expect(page.getByTestId("view-signed-in")).toBeVisible();
  await expect(page.locator("#whoami-title")).toBeFocused();
});

test("a passkey whose account was deleted is told apart, with hints", async ({ page }) => {
  await addAuthenticator(page);
  await signUpThroughPage(page, uniqueUsername("gone"), "Gone Person");
  await page.getByTestId("new-codes-done").click();
  await page.evaluate(async () => {
    const { Latch } = await import("/latch.js");
    await new Latch().deleteAccount();
  });
  // The button's answer: Chromium's test authenticator would otherwise
  // answer the load's autofill request by itself, before the click.
  await withoutAutofill(page, () => page.goto("/"));
  await page.getByTestId("signin-submit").click();
  await expect(signInError(page).getByTestId("action-error-message")).toHaveText(/^This passkey belongs to no account here/);
  await expect(signInError(page).getByTestId("hint-create")).toBeVisible();
  await expect(signInError(page).getByTestId("hint-other-device")).toBeVisible();
});

test("the provider's sign-in page states the rules and explains a missing passkey the same way", async ({ page }) => {
  const port = Number(process.env.LATCH_E2E_PORT || "8089");
  const client = `rules-app-${Date.now().toString(36)}`;
  const dataDir = readFileSync(`bin/e2e-data-${port}`, "utf8").trim();
  await promisify(execFile)("bin/latch", ["clients", "add", client, "--public", "--redirect-uri", `http://localhost:${port + 4000}/cb`, "--data", dataDir]);
  await addAuthenticator(page); // holds no passkey
  await page.goto(
    `/authorize?${new URLSearchParams({
      client_id: client,
      redirect_uri: `http://localhost:${port + 4000}/cb`,
      response_type: "code",
      scope: "openid",
      code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
      code_challenge_method: "S256",
    })}`,
  );
  const field = page.locator("#signup-username");
  await expect(field).toHaveAccessibleDescription(/3 to 64 characters/);
  await page.getByTestId("signin-submit").click();
  await expect(signInError(page).getByTestId("action-error-message")).toHaveText("No passkey for this site was found on this device.");
  await signInError(page).getByRole("button", { name: "Create an account" }).click();
  await expect(field).toBeFocused();
  await field.fill("no way");
  await page.locator("#signup-display-name").fill("No Way");
  await page.getByTestId("signup-submit").click();
  await expect(page.getByTestId("signup-error")).toHaveText(/Use only letters/);
  await expect(field).toBeFocused();
});
