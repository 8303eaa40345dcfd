// The OpenID Connect provider's own pages — its sign-in, the consent page,
// an error page and the sign-out confirmation — scanned with axe-core at
// desktop and phone width in light and dark, a screenshot of each state
// attached (LATCH_SHOTS=DIR also writes them out), and the consent page
// answered by keyboard.

import { createHash, randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { expect, test, type Page } from "@playwright/test";
import { layouts, scan, schemes } from "./axe";
import { addAuthenticator, uniqueUsername } from "./support";

const latchPort = Number(process.env.LATCH_E2E_PORT || "8089");
const clientId = "pages-app";
// Nothing listens here: the spec answers the redirect itself.
const redirectURI = `http://localhost:${latchPort + 7000}/callback`;

test.beforeAll(() => {
  const dataDir = readFileSync(`bin/e2e-data-${latchPort}`, "utf8").trim();
  execFileSync("bin/latch", ["clients", "add", clientId, "--public", "--redirect-uri", redirectURI, "--data", dataDir]);
});

function authorizeURL(): string {
  const verifier = randomBytes(32).toString("base64url");
  const q = new URLSearchParams({
    client_id: clientId, redirect_uri: redirectURI, response_type: "code", scope: "openid profile",
    state: randomBytes(8).toString("hex"), code_challenge: createHash("sha256").update(verifier).digest("base64url"),
    code_challenge_method: "S256",
  });
  return `/authorize?${q}`;
}

async function answerRedirect(page: Page) {
  await page.route(`${redirectURI}**`, (route) => route.fulfill({ status: 200, contentType: "text/html", body: "<!doctype html><title>App</title><p>back at the app</p>" }));
}

for (const layout of layouts) {
  for (const scheme of schemes) {
    test(`the provider's pages pass axe at ${layout.name} width, ${scheme}`, async ({ page }) => {
      await page.setViewportSize({ width: layout.width, height: layout.height });
      await page.emulateMedia({ colorScheme: scheme });
      const state = (what: string) => `provider-${what}-${layout.name}-${scheme}`;
      await addAuthenticator(page);
      await answerRedirect(page);

      await page.goto(authorizeURL());
      await expect(page.getByRole("button", { name: "Sign in with a passkey" })).toBeVisible();
      await scan(page, state("sign-in"));

      const name = uniqueUsername("prov");
      await page.locator("#signup-username").fill(name);
      await page.locator("#signup-display-name").fill(name);
      await page.getByRole("button", { name: "Create account with a passkey" }).click();
      const allow = page.getByRole("button", { name: "Allow" });
      await expect(allow).toBeVisible();
      await expect(page.getByTestId("consent-scopes")).toBeVisible();
      await scan(page, state("consent"));
      // By keyboard: Allow takes the focus and Enter answers.
      await allow.focus();
      await page.keyboard.press("Enter");
      await expect(page).toHaveURL(new RegExp(`^${redirectURI}\\?`));
      expect(new URL(page.url()).searchParams.get("code")).toBeTruthy();

      await page.goto("/authorize?client_id=nobody&response_type=code");
      await expect(page.getByTestId("message")).toBeVisible();
      // What to do comes first; the description is for the app's developers.
      await expect(page.getByTestId("hint")).toContainText("Go back to the app");
      await scan(page, state("error"));

      await page.goto("/oidc/logout");
      const confirm = page.getByTestId("confirm");
      await expect(confirm).toBeVisible();
      await scan(page, state("sign-out"));
      await confirm.click();
      await expect(page.getByTestId("message")).toBeVisible();
      await scan(page, state("signed-out"));
    });
  }
}
