// One primary action per view, and "Sign out" at the top of the account
// page: the pages' buttons are primary (filled) only where they are the
// view's main action; every other button is secondary, a link or danger.

import { expect, test, type Page } from "@playwright/test";
import { addAuthenticator, signUpThroughPage, uniqueUsername } from "./support";

/** primaries lists the labels of the visible filled buttons on the page. */
function primaries(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll("button")]
      .filter((b) => b.checkVisibility() && !b.matches(".secondary, .danger, .link"))
      .map((b) => b.textContent!.trim()),
  );
}

test("each view has at most one primary button, and the account page signs out from its top", async ({ page }) => {
  await addAuthenticator(page);
  await page.goto("/");
  await expect(page.getByTestId("view-signed-out")).toBeVisible();
  expect(await primaries(page)).toEqual(["Sign in with a passkey"]);
  await expect(page.getByRole("button", { name: "Create account with a passkey" })).toHaveClass(/secondary/);

  await signUpThroughPage(page, uniqueUsername("primary"), "Primary Person");
  await expect(page.getByTestId("new-codes")).toBeVisible();
  expect(await primaries(page)).toEqual(["I have saved these codes"]);
  await page.getByTestId("new-codes-done").click();
  expect(await primaries(page)).toEqual([]);

  await page.goto("/account");
  await expect(page.getByTestId("view-account")).toBeVisible();
  expect(await primaries(page)).toEqual(["Add a passkey"]);
  // A panel an action opens (setting up the app) adds its own one primary: its confirmation.
  await page.getByTestId("totp-enroll").click();
  await expect(page.getByTestId("totp-enrollment")).toBeVisible();
  expect(await primaries(page)).toEqual(["Add a passkey", "Turn on two-step verification"]);
  await page.getByTestId("totp-cancel").click();

  // Sign out sits in the page's header, first among its controls, and is gone once signed out.
  const signOut = page.getByRole("banner").getByRole("button", { name: "Sign out" });
  await expect(signOut).toBeVisible();
  await expect(page.getByRole("main").getByRole("button", { name: "Sign out" })).toHaveCount(0);
  await page.reload();
  await expect(page.getByTestId("view-account")).toBeVisible();
  await page.keyboard.press("Tab");
  await expect(signOut).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(page.getByTestId("view-signed-out")).toBeVisible();
  await expect(page.locator("#signed-out-title")).toBeFocused();
  await expect(page.getByTestId("status")).toHaveText("You are signed out.");
  await expect(signOut).toBeHidden();
});
