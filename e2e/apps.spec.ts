// "Apps with access" on the account page: a third-party application the
// person allowed through Latch's provider pages is listed with what it may
// see, and removing its access signs it out and makes its next sign-in ask
// for consent again.

import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { promisify } from "node:util";
import { expect, test } from "@playwright/test";
import { signInAtProvider } from "../frontend/testing/index.js";
import { addAuthenticator, uniqueUsername } from "./support";

const latchPort = Number(process.env.LATCH_E2E_PORT || "8089");
const appPort = latchPort + 4000;
const redirect = `http://localhost:${appPort}/cb`;
// serve.sh writes where the running service keeps its data; commands go through it.
const dataDir = () => readFileSync(`bin/e2e-data-${latchPort}`, "utf8").trim();

test("an allowed app is listed, its access removed, and its next sign-in asks again", async ({ page }) => {
  const client = `photos-${Date.now().toString(36)}`;
  // A third-party public client (no --first-party: it gets the consent page).
  await promisify(execFile)("bin/latch", ["clients", "add", client, "--public", "--redirect-uri", redirect, "--data", dataDir()]);
  // The application's redirect URI: a server that just answers.
  const app = createServer((_, res) => res.writeHead(200, { "Content-Type": "text/plain" }).end("the app"));
  await new Promise<void>((resolve) => app.listen(appPort, "127.0.0.1", resolve));
  try {
    await addAuthenticator(page);
    const challenge = createHash("sha256").update("v".repeat(43)).digest("base64url");
    const authorize = (extra: Record<string, string> = {}) =>
      `/authorize?${new URLSearchParams({
        client_id: client,
        redirect_uri: redirect,
        response_type: "code",
        scope: "openid profile offline_access",
        state: "s-1",
        code_challenge: challenge,
        code_challenge_method: "S256",
        ...extra,
      })}`;

    // A new account made on the provider page, allowing the app.
    await page.goto(authorize({ prompt: "create" }));
    await signInAtProvider(page, { create: uniqueUsername("apps") });
    expect(new URL(page.url()).searchParams.get("code")).toBeTruthy();

    // The same browser is signed in to Latch: the account page lists the app.
    await page.goto(`http://localhost:${latchPort}/account`);
    await expect(page.getByTestId("view-account")).toBeVisible();
    const item = page.getByTestId("app-item").filter({ hasText: client });
    await expect(item).toHaveCount(1);
    await expect(item.getByTestId("app-scopes")).toHaveText(
      "It can know who you are, see your username and display name and stay signed in while you are away.",
    );
    await expect(item).toContainText(/Allowed \w/);
    await expect(page.getByTestId("apps-empty")).toBeHidden();

    // Removing asks once more, then the app is gone and focus is on the list's heading.
    await item.getByRole("button", { name: `Remove access for ${client}` }).click();
    await expect(item.getByTestId("app-remove-confirm")).toBeFocused();
    await item.getByTestId("app-remove-confirm").click();
    await expect(page.getByTestId("status")).toHaveText(new RegExp(`^${client} no longer has access`));
    await expect(page.getByTestId("app-item")).toHaveCount(0);
    await expect(page.getByTestId("apps-empty")).toBeVisible();
    await expect(page.locator("#apps-title")).toBeFocused();
    // Its session went with it.
    await expect(page.getByTestId("session-item").filter({ hasText: `app: ${client}` })).toHaveCount(0);

    // The next authorization asks for consent again (the provider session is still there).
    await page.goto(authorize());
    await expect(page.getByRole("button", { name: "Allow" })).toBeVisible();
    await page.getByRole("button", { name: "Allow" }).click();
    await expect.poll(() => new URL(page.url()).port).toBe(String(appPort));
    await page.goto(`http://localhost:${latchPort}/account`);
    await expect(page.getByTestId("app-item").filter({ hasText: client })).toHaveCount(1);
  } finally {
    await new Promise<void>((resolve) => app.close(() => resolve()));
  }
});

test("a first-party app, which asks no consent, is listed by its sign-in and can be removed too", async ({ page }) => {
  const client = `portal-${Date.now().toString(36)}`;
  await promisify(execFile)("bin/latch", ["clients", "add", client, "--public", "--first-party", "--redirect-uri", redirect, "--data", dataDir()]);
  const app = createServer((_, res) => res.writeHead(200, { "Content-Type": "text/plain" }).end("the app"));
  await new Promise<void>((resolve) => app.listen(appPort, "127.0.0.1", resolve));
  try {
    await addAuthenticator(page);
    const challenge = createHash("sha256").update("v".repeat(43)).digest("base64url");
    await page.goto(
      `/authorize?${new URLSearchParams({
        client_id: client,
        redirect_uri: redirect,
        response_type: "code",
        scope: "openid",
        code_challenge: challenge,
        code_challenge_method: "S256",
        prompt: "create",
      })}`,
    );
    await signInAtProvider(page, { create: uniqueUsername("portal") });
    const code = new URL(page.url()).searchParams.get("code")!;
    // The app exchanges its code: now it holds tokens, in a session of its own.
    const res = await page.request.post(`http://localhost:${latchPort}/token`, {
      form: { grant_type: "authorization_code", code, redirect_uri: redirect, client_id: client, code_verifier: "v".repeat(43) },
    });
    expect(res.status()).toBe(200);

    await page.goto(`http://localhost:${latchPort}/account`);
    const item = page.getByTestId("app-item").filter({ hasText: client });
    await expect(item.getByTestId("app-scopes")).toHaveText("It is signed in to your account.");
    await expect(item).toContainText(/Signed in \w/);
    await item.getByRole("button", { name: `Remove access for ${client}` }).click();
    await item.getByTestId("app-remove-confirm").click();
    await expect(page.getByTestId("status")).toHaveText(new RegExp(`^${client} no longer has access`));
    await expect(page.getByTestId("app-item")).toHaveCount(0);
    await expect(page.getByTestId("session-item").filter({ hasText: `app: ${client}` })).toHaveCount(0);
  } finally {
    await new Promise<void>((resolve) => app.close(() => resolve()));
  }
});
