// The share page: a person gets an SD-JWT credential, chooses what a
// verifier may see, makes a presentation for the verifier's audience and
// nonce, copies it or shows it as a QR code, and sees the verifier's answer.

import { expect, test } from "@playwright/test";
import { layouts, scan, schemes } from "./axe";
import { addAuthenticator, signUpThroughPage, uniqueUsername } from "./support";

test.use({ permissions: ["clipboard-read", "clipboard-write"] });

test("a person shares only the details they tick, and sees what the verifier sees", async ({ page }) => {
  await addAuthenticator(page);
  const username = uniqueUsername("share");
  await signUpThroughPage(page, username, "Share Person");

  // A verifier links here with its audience and nonce.
  await page.goto("/share?aud=https%3A%2F%2Fshop.example&nonce=n-0451");
  await expect(page.getByTestId("view-share")).toBeVisible();
  await expect(page.getByLabel("Service address (audience)")).toHaveValue("https://shop.example");
  await expect(page.getByLabel("One-time code (nonce)")).toHaveValue("n-0451");

  await page.getByRole("button", { name: "Get a credential" }).click();
  await expect(page.locator("#claims-title")).toBeFocused();
  const usernameBox = page.getByRole("checkbox", { name: /Username/ });
  await expect(usernameBox).toBeVisible();
  await expect(page.getByTestId("claims")).toContainText(username);
  // By keyboard: tick the username, leave the rest.
  await usernameBox.focus();
  await page.keyboard.press("Space");
  await expect(usernameBox).toBeChecked();

  await page.getByRole("button", { name: "Create the presentation" }).click();
  await expect(page.getByTestId("status")).toHaveText("The presentation shows 1 of your details.");
  const presentation = await page.getByTestId("presentation").inputValue();
  // Issuer JWT, one disclosure, key-binding JWT.
  expect(presentation.split("~")).toHaveLength(3);

  await page.getByRole("button", { name: "Copy" }).click();
  await expect(page.getByTestId("status")).toHaveText(/Copied/);
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(presentation);

  await page.getByRole("button", { name: "Show as QR code" }).click();
  const qr = page.getByTestId("presentation-qr");
  await expect(qr).toBeVisible();
  await expect.poll(() => qr.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(100);

  await page.getByRole("button", { name: "Check what the service will see" }).click();
  const answer = page.getByTestId("verifier-answer");
  await expect(answer).toContainText("The service will accept it and see:");
  await expect(answer).toContainText(username);
  await expect(answer).not.toContainText("Share Person");

  // A presentation is made for one service: changing who asks takes it
  // away, so it is never handed to another.
  await page.getByLabel("Service address (audience)").fill("https://other.example");
  await expect(page.getByTestId("presentation-view")).toBeHidden();
});

test("the share page says what is missing and works signed out", async ({ page }) => {
  await page.goto("/share");
  await expect(page.getByTestId("view-signed-out")).toBeVisible();
  await expect(page.getByRole("link", { name: "Sign in" })).toHaveAttribute("href", "/");

  await addAuthenticator(page);
  await signUpThroughPage(page, uniqueUsername("share-missing"), "Missing Person");
  await page.goto("/share");
  await page.getByRole("button", { name: "Get a credential" }).click();
  await page.getByRole("button", { name: "Create the presentation" }).click();
  await expect(page.getByTestId("status")).toHaveText("Enter the address of the service you share with.");
  await expect(page.getByTestId("status")).toHaveAttribute("data-kind", "error");
  await expect(page.getByLabel("Service address (audience)")).toBeFocused();
  await page.getByRole("button", { name: "Make a code to try it out" }).click();
  await expect(page.getByLabel("One-time code (nonce)")).toHaveValue(/^[0-9a-f]{32}$/);
  await page.getByRole("button", { name: "Create the presentation" }).click();
  await expect(page.getByTestId("status")).toHaveText(/none of your details/);
});

for (const layout of layouts) {
  for (const scheme of schemes) {
    test(`the share page passes axe at ${layout.name} width, ${scheme}`, async ({ page }) => {
      await page.setViewportSize({ width: layout.width, height: layout.height });
      await page.emulateMedia({ colorScheme: scheme });
      await addAuthenticator(page);
      await signUpThroughPage(page, uniqueUsername("share-axe"), "Axe Person");
      await page.goto("/share?aud=https%3A%2F%2Fshop.example&nonce=n-1");
      await expect(page.getByTestId("view-share")).toBeVisible();
      await page.getByRole("button", { name: "Get a credential" }).click();
      await page.getByRole("checkbox", { name: /Username/ }).check();
      await page.getByRole("button", { name: "Create the presentation" }).click();
      await page.getByRole("button", { name: "Show as QR code" }).click();
      await page.getByRole("button", { name: "Check what the service will see" }).click();
      await expect(page.getByTestId("verifier-answer")).toBeVisible();
      await scan(page, `share-${layout.name}-${scheme}`);
    });
  }
}
