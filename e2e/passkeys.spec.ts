// Passkey management on the account page: add a second passkey from
// another authenticator, rename, delete, and the refusal to delete the last.

import { expect, test } from "@playwright/test";
import { addAuthenticator, signOutThroughPage, signUpThroughPage, startSignIn, uniqueUsername } from "./support";

test("passkeys can be added, renamed and deleted, but never the last one", async ({ page }) => {
  const first = await addAuthenticator(page);
  const username = uniqueUsername("keys");
  await signUpThroughPage(page, username, "Key Person");

  await page.goto("/account");
  await expect(page.getByTestId("view-account")).toBeVisible();
  await expect(page.getByTestId("account-user")).toContainText(username);
  const items = page.getByTestId("passkey-item");
  await expect(items).toHaveCount(1);

  // The second passkey lives on a second authenticator; the first one is
  // unplugged so the browser cannot offer it (it is excluded anyway).
  await first.cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId: first.authenticatorId });
  await addAuthenticator(page, first.cdp);
  await page.locator("#new-passkey-name").fill("Backup key");
  await page.getByTestId("add-passkey").click();
  await expect(page.getByTestId("status")).toHaveText("Passkey added.");
  await expect(items).toHaveCount(2);
  await expect(items.filter({ hasText: "Backup key" })).toHaveCount(1);

  // Rename the original passkey.
  const original = items.filter({ hasNotText: "Backup key" });
  await original.getByTestId("passkey-rename").click();
  await original.getByTestId("passkey-rename-input").fill("Old laptop");
  await original.getByTestId("passkey-rename-save").click();
  await expect(page.getByTestId("status")).toHaveText("Passkey renamed.");
  // The service decides the order; the set of names is what matters.
  await expect
    .poll(async () => (await page.getByTestId("passkey-name").allTextContents()).sort())
    .toEqual(["Backup key", "Old laptop"]);

  // Delete it (its authenticator is gone anyway).
  const renamed = items.filter({ hasText: "Old laptop" });
  await renamed.getByTestId("passkey-delete").click();
  await renamed.getByTestId("passkey-delete-confirm").click();
  await expect(page.getByTestId("status")).toHaveText("Passkey deleted.");
  await expect(items).toHaveCount(1);
  await expect(page.getByTestId("passkey-name")).toHaveText("Backup key");

  // The last passkey cannot go: the refusal is shown and the passkey stays.
  await items.getByTestId("passkey-delete").click();
  await items.getByTestId("passkey-delete-confirm").click();
  await expect(page.getByTestId("status")).toHaveText(/cannot delete your only passkey/i);
  await expect(page.getByTestId("status")).toHaveAttribute("data-kind", "error");
  await page.reload();
  await expect(items).toHaveCount(1);

  // The remaining passkey still signs in.
  await page.goto("/");
  await signOutThroughPage(page);
  await startSignIn(page);
  await expect(page.getByTestId("whoami-username")).toHaveText(username);
});
