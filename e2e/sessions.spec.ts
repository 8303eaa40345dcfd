// The account page lists where the user is signed in and signs other
// sessions out.

import { expect, test } from "@playwright/test";
import { addAuthenticator, signUpThroughPage, uniqueUsername } from "./support";

test("another session can be seen and signed out from the account page", async ({ page }) => {
  await addAuthenticator(page);
  const username = uniqueUsername("sessions");
  await signUpThroughPage(page, username, "Session Person");
  // A second sign-in (as from another device) leaves the first session open.
  await page.evaluate(async () => {
    const { Latch } = await import("/latch.js");
    await new Latch().signIn();
  });

  await page.goto("/account");
  await expect(page.getByTestId("view-account")).toBeVisible();
  const items = page.getByTestId("session-item");
  await expect(items).toHaveCount(2);
  await expect(items.filter({ hasText: "(this browser)" })).toHaveCount(1);

  await items.getByTestId("session-end").click();
  await expect(page.getByTestId("status")).toHaveText("That session is signed out.");
  await expect(items).toHaveCount(1);
  await expect(items.first()).toContainText("(this browser)");
  // This browser's own session still works.
  const me = await page.evaluate(async () => {
    const { Latch } = await import("/latch.js");
    return (await new Latch().userinfo()).username;
  });
  expect(me).toBe(username);
});

test("sessions show a readable browser and can all be signed out at once", async ({ page }) => {
  await addAuthenticator(page);
  await signUpThroughPage(page, uniqueUsername("everywhere"), "Everywhere Person");
  // Two more sign-ins, as from other devices.
  await page.evaluate(async () => {
    const { Latch } = await import("/latch.js");
    await new Latch().signIn();
    await new Latch().signIn();
  });
  await page.goto("/account");
  const items = page.getByTestId("session-item");
  await expect(items).toHaveCount(3);
  // Playwright's Chromium says HeadlessChrome on Linux.
  await expect(items.filter({ hasText: "(this browser)" })).toContainText("Chrome on Linux");

  const button = page.getByRole("button", { name: "Sign out all other sessions" });
  await button.focus();
  await page.keyboard.press("Enter");
  await expect(page.getByTestId("status")).toHaveText("2 other sessions are signed out.");
  await expect(items).toHaveCount(1);
  await expect(items.first()).toContainText("(this browser)");
  await expect(button).toBeHidden();
  await expect(page.locator("#sessions-title")).toBeFocused();
});
