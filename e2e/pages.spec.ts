// The pages under the exact Content-Security-Policy the service sends, with
// a scripted stand-in for the API: no policy violations or script errors,
// and text from the service is shown as text, never parsed as HTML.

import { expect, test, type Page } from "@playwright/test";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

const origin = "http://localhost:8099"; // answered by the route below, never listened on
const assets = fileURLToPath(new URL("../frontend/assets/", import.meta.url));
const csp =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
const hostileName = '<img src=x data-injected="1">Mallory';
const types: Record<string, string> = { js: "text/javascript", css: "text/css", html: "text/html", svg: "image/svg+xml" };

async function servePages(page: Page): Promise<string[]> {
  const problems: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(message.text());
  });
  page.on("pageerror", (error) => problems.push(error.message));
  await page.route(`${origin}/**`, async (route) => {
    const { pathname } = new URL(route.request().url());
    const json = (body: unknown) => route.fulfill({ status: 200, contentType: "application/json", body: JSON.stringify(body) });
    switch (pathname) {
      case "/token":
        return json({ access_token: "h.p.s", token_type: "DPoP", expires_in: 600, refresh_token: "next" });
      case "/userinfo":
        return json({ sub: "u1", username: "mallory", display_name: hostileName, amr: ["hwk", "user"] });
      case "/me/credentials":
        return json([
          { id: "c1", name: hostileName, created_at: "2025-01-01T00:00:00Z", last_used_at: null, backup_state: true },
        ]);
      case "/webauthn/login/begin": // the passkey autofill a signed-out page offers
        return json({ ceremony: "stand-in", publicKey: { challenge: "c3RhbmQtaW4", rpId: "localhost", timeout: 300000, userVerification: "preferred" } });
      case "/me/recovery-codes":
        return json({ remaining: 3, created_at: "2025-01-01T00:00:00Z" });
      case "/me/apps":
        return json([{ client_id: hostileName, scopes: ["openid", hostileName], granted_at: "2025-01-01T00:00:00Z" }]);
      case "/me/sessions":
        return json([
          { id: "s1", device: hostileName, created_at: "2025-01-01T00:00:00Z", amr: ["pop"], dpop_bound: true, current: true },
          { id: "s2", device: hostileName, created_at: "2024-12-01T00:00:00Z", amr: ["pop"], dpop_bound: false, current: false },
        ]);
    }
    const file = pathname === "/" ? "index.html" : pathname === "/account" ? "account.html" : pathname.slice(1);
    if (!/^[a-z-]+\.(js|css|html|svg)$/.test(file)) return route.fulfill({ status: 404, body: "" });
    return route.fulfill({
      status: 200,
      contentType: types[file.split(".").pop()!],
      headers: { "Content-Security-Policy": csp },
      body: await readFile(`${assets}${file}`),
    });
  });
  return problems;
}

// signedInState stores a refresh token the way latch.js does, so the
// pages resume a session from the stand-in service.
async function signedInState(page: Page) {
  await page.evaluate(async () => {
    const { SessionStore } = await import("/latch-store.js");
    await new SessionStore("latch").put("refresh_token", "stored");
  });
}

test("the home page runs under the service's CSP and shows the signed-out view", async ({ page }) => {
  const problems = await servePages(page);
  await page.goto(`${origin}/`);
  await expect(page.getByTestId("view-signed-out")).toBeVisible();
  await expect(page.getByLabel("Display name")).toBeVisible();
  expect(problems).toEqual([]);
});

test("service-provided names are rendered as text on both pages", async ({ page }) => {
  const problems = await servePages(page);
  await page.goto(`${origin}/`);
  await signedInState(page);
  await page.reload();
  await expect(page.getByTestId("whoami-display-name")).toHaveText(hostileName);

  await page.goto(`${origin}/account`);
  await expect(page.getByTestId("passkey-name")).toHaveText(hostileName);
  // Devices come from clients' User-Agent headers: text too.
  await expect(page.getByTestId("session-item")).toHaveCount(2);
  await expect(page.getByTestId("session-item").first()).toContainText(hostileName);
  // Applications are named by their registration, and an unknown scope by itself: text too.
  await expect(page.getByTestId("app-name")).toHaveText(hostileName);
  await expect(page.getByTestId("app-scopes")).toContainText(hostileName);
  await expect(page.locator("[data-injected]")).toHaveCount(0);
  expect(problems).toEqual([]);
});

test("the account page sends a signed-out visitor to sign in", async ({ page }) => {
  const problems = await servePages(page);
  await page.goto(`${origin}/account`);
  await expect(page.getByTestId("view-signed-out")).toBeVisible();
  await expect(page.getByRole("link", { name: "Sign in" })).toHaveAttribute("href", "/");
  expect(problems).toEqual([]);
});
