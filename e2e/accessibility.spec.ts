// Every page (with the recovery views and the recovery codes offered at
// sign-up), and the step-up dialog the account page opens, scanned with
// axe-core at desktop and phone width in light and dark: no serious or
// critical violation. A screenshot of each state is attached to the report
// and, with LATCH_SHOTS=DIR, also written to DIR to look at.

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import { addAuthenticator, signUpThroughPage, uniqueUsername } from "./support";

const layouts = [
  { name: "desktop", width: 1280, height: 800 },
  { name: "phone", width: 390, height: 844 },
] as const;
const schemes = ["light", "dark"] as const;

async function scan(page: Page, state: string) {
  const results = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
  const serious = results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  const shot = await page.screenshot({ fullPage: true });
  await test.info().attach(`${state}.png`, { body: shot, contentType: "image/png" });
  if (process.env.LATCH_SHOTS) writeFileSync(join(process.env.LATCH_SHOTS, `${state}.png`), shot);
  expect(serious, `${state}: serious or critical accessibility violations`).toEqual([]);
}

for (const layout of layouts) {
  for (const scheme of schemes) {
    test(`pages and the step-up dialog pass axe at ${layout.name} width, ${scheme}`, async ({ page }) => {
      await page.setViewportSize({ width: layout.width, height: layout.height });
      await page.emulateMedia({ colorScheme: scheme });
      const state = (what: string) => `${what}-${layout.name}-${scheme}`;

      await addAuthenticator(page);
      await page.goto("/");
      await expect(page.getByTestId("view-signed-out")).toBeVisible();
      await scan(page, state("sign-in"));

      await signUpThroughPage(page, uniqueUsername("axe"), "Axe Person");
      await expect(page.getByTestId("new-codes")).toBeVisible();
      await scan(page, state("signup-codes"));
      await page.getByTestId("new-codes-done").click();
      await page.goto("/account");
      await expect(page.getByTestId("view-account")).toBeVisible();
      await scan(page, state("account"));

      // The step-up dialog, as an aged sign-in opens it.
      await page.route("**/webauthn/register/begin", (route) =>
        route.fulfill({
          status: 401,
          contentType: "application/json",
          headers: { "WWW-Authenticate": 'DPoP error="insufficient_user_authentication", max_age=300, algs="ES256 EdDSA"' },
          body: JSON.stringify({ error: "insufficient_user_authentication", error_description: "sign in again", max_age: 300 }),
        }),
      );
      await page.locator("#new-passkey-name").fill("Backup key");
      await page.locator("#new-passkey-name").press("Enter");
      const dialog = page.getByRole("dialog", { name: "Confirm it’s you" });
      await expect(dialog).toBeVisible();
      await expect(dialog).toBeInViewport();
      await scan(page, state("step-up"));

      // The recovery views, each with its error showing.
      await page.goto("/recover#token=not-a-token");
      await expect(page.getByTestId("view-recover-link")).toBeVisible();
      await page.getByTestId("recover-link-submit").click();
      await expect(page.getByTestId("recover-link-error")).toBeVisible();
      await scan(page, state("recover-link"));
      await page.goto("/");
      await page.goto("/recover");
      await expect(page.getByTestId("view-recover")).toBeVisible();
      await page.locator("#recover-username").fill("nobody-here");
      await page.locator("#recover-code").fill("aaaa-bbbb-cccc-dddd");
      await page.getByTestId("recover-submit").click();
      await expect(page.getByTestId("recover-error")).toBeVisible();
      await scan(page, state("recover"));
    });
  }
}
