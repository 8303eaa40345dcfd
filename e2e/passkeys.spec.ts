// Passkey management on the account page: add a second passkey from
// another authenticator, rename, delete, and the last one, which is not offered for deletion.

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

  // The last passkey is not offered for deletion, and the page says why
  // (the service refuses it as well, 409 last_credential: auth's TestAddRenameDeletePasskeys).
  await expect(items.getByTestId("passkey-delete")).toHaveCount(0);
  await expect(items.getByTestId("passkey-only")).toHaveText(/only passkey/i);
  await page.reload();
  await expect(items).toHaveCount(1);

  // The remaining passkey still signs in.
  await page.goto("/");
  await signOutThroughPage(page);
  await startSignIn(page);
  await expect(page.getByTestId("whoami-username")).toHaveText(username);
});

test("a passkey shows its provider's name and icon, in light and dark", async ({ page }) => {
  await addAuthenticator(page);
  await signUpThroughPage(page, uniqueUsername("provider"), "Provider Person");
  // Chromium's virtual authenticator reports an AAGUID no provider list
  // knows, so the listing is given the provider an iCloud Keychain or
  // Google Password Manager passkey gets from the service; the icons are
  // the service's own.
  const gpm = "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4";
  await page.route("**/me/credentials", async (route) => {
    if (route.request().method() !== "GET") return route.continue();
    const res = await route.fetch();
    const items = await res.json();
    items[0].provider = {
      name: "Google Password Manager",
      icon_light: `/passkey-providers/${gpm}/icon-light.svg`,
      icon_dark: `/passkey-providers/${gpm}/icon-dark.svg`,
    };
    await route.fulfill({ response: res, json: items });
  });
  for (const colorScheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme });
    await page.goto("/account");
    const item = page.getByTestId("passkey-item");
    await expect(item).toContainText("Google Password Manager");
    const icon = item.getByTestId("passkey-provider-icon");
    await expect(icon).toHaveAttribute("alt", "");
    await expect.poll(() => icon.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
    const shown = await icon.evaluate((img: HTMLImageElement) => img.currentSrc);
    expect(shown).toContain(`icon-${colorScheme}.svg`);
    await test.info().attach(`passkey-provider-${colorScheme}`, { body: await item.screenshot(), contentType: "image/png" });
    if (process.env.LATCH_SHOTS) await item.screenshot({ path: `${process.env.LATCH_SHOTS}/passkey-provider-${colorScheme}.png` });
  }
});
