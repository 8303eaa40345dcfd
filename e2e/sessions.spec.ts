// The account page lists where the user is signed in and signs other
// sessions out.

import { expect, test } from "@playwright/test";
import { addAuthenticator, exportCredentials, importCredentials, signUpThroughPage, startSignIn, uniqueUsername, withoutAutofill } from "./support";

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

test("a browser signed out from another device says so on its next load", async ({ browser }) => {
  const phone = await browser.newContext();
  const laptop = await browser.newContext();
  try {
    const phonePage = await phone.newPage();
    const phoneKey = await addAuthenticator(phonePage);
    const username = uniqueUsername("remote");
    await signUpThroughPage(phonePage, username, "Remote Person");

    // The same passkey on the laptop (as a synced passkey would be).
    const laptopPage = await laptop.newPage();
    const laptopKey = await addAuthenticator(laptopPage);
    await importCredentials(laptopKey, await exportCredentials(phoneKey));
    await withoutAutofill(laptopPage, () => laptopPage.goto("/"));
    await startSignIn(laptopPage);
    await expect(laptopPage.getByTestId("whoami-username")).toHaveText(username);

    // The laptop signs the phone out.
    await laptopPage.goto("/account");
    const phoneSession = laptopPage.getByTestId("session-item").filter({ hasNotText: "(this browser)" });
    await phoneSession.getByTestId("session-end").click();
    await expect(laptopPage.getByTestId("status")).toHaveText("That session is signed out.");

    // The phone's next load tells the person why they see the sign-in form.
    await withoutAutofill(phonePage, () => phonePage.reload());
    await expect(phonePage.getByTestId("view-signed-out")).toBeVisible();
    await expect(phonePage.getByTestId("status")).toHaveText(/You were signed out of this browser/);
    // A plain sign-out, by contrast, is not reported as one from elsewhere.
    await laptopPage.goto("/");
    await laptopPage.getByTestId("signout").click();
    // The sign-out has finished (and latch.js forgotten the session) before
    // the reload, which would otherwise race it.
    await expect(laptopPage.getByTestId("view-signed-out")).toBeVisible();
    await withoutAutofill(laptopPage, () => laptopPage.reload());
    await expect(laptopPage.getByTestId("view-signed-out")).toBeVisible();
    await expect(laptopPage.getByTestId("status")).not.toHaveText(/another device/);
  } finally {
    await phone.close();
    await laptop.close();
  }
});

test("a session shows its device, where it signed in and when it was last active, in English and German", async ({ browser }) => {
  for (const [locale, place, active, device] of [
    ["en-GB", "near Zürich, CH", "Last active", "Chrome on Linux"],
    ["de-DE", "in der Nähe von Zürich, CH", "Zuletzt aktiv", "Chrome auf Linux"],
  ] as const) {
    const context = await browser.newContext({ locale });
    const page = await context.newPage();
    await addAuthenticator(page);
    await signUpThroughPage(page, uniqueUsername("place"), "Place Person");
    // The service fills place only behind a trusted proxy that tells it,
    // and last activity moves with refreshes (both tested in Go); here the
    // page is shown what such a service answers for this very session.
    await page.route("**/me/sessions", async (route) => {
      if (route.request().method() !== "GET") return route.continue();
      const res = await route.fetch();
      const items = await res.json();
      for (const s of items) {
        s.place = "Zürich, CH";
        s.last_active_at = new Date(Date.parse(s.auth_time) + 3 * 3600_000).toISOString();
      }
      await route.fulfill({ response: res, json: items });
    });
    await page.goto("/account");
    const item = page.getByTestId("session-item").first();
    await expect(item).toContainText(place);
    await expect(item).toContainText(active);
    await expect(item).toContainText(device);
    await context.close();
  }
});
