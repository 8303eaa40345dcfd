// Every page (with the recovery views and the recovery codes offered at
// sign-up), and the step-up dialog the account page opens, scanned with
// axe-core at desktop and phone width in light and dark: no serious or
// critical violation. A screenshot of each state is attached to the report
// and, with LATCH_SHOTS=DIR, also written to DIR to look at.

import { expect, test } from "@playwright/test";
import { layouts, scan, schemes } from "./axe";
import { addAuthenticator, signUpThroughPage, uniqueUsername } from "./support";

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
      // No passkey on this device yet: the message and its hints.
      await page.getByTestId("signin-submit").click();
      await expect(page.getByTestId("hint-create")).toBeVisible();
      await scan(page, state("sign-in-no-passkey"));

      await signUpThroughPage(page, uniqueUsername("axe"), "Axe Person");
      await expect(page.getByTestId("new-codes")).toBeVisible();
      await scan(page, state("signup-codes"));
      await page.getByTestId("new-codes-done").click();
      await page.goto("/account");
      await expect(page.getByTestId("view-account")).toBeVisible();
      await scan(page, state("account"));

      // Setting up an authenticator app, with a wrong code explained.
      await page.getByTestId("totp-enroll").click();
      await expect(page.getByTestId("totp-enrollment")).toBeVisible();
      await page.locator("#totp-confirm-code").fill("12345");
      await page.getByTestId("totp-confirm").click();
      await expect(page.getByTestId("totp-confirm-error")).toBeVisible();
      await scan(page, state("totp-enrolment"));
      await page.getByTestId("totp-cancel").click();

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
