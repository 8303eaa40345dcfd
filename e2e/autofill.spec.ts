// Passkey autofill (conditional mediation) on the sign-in page and on the
// provider's sign-in page: a load starts a conditional request, picking the
// passkey from it signs in the way the button does (second step included),
// and the button ends it before its own prompt. The page's calls to
// navigator.credentials.get are spied on; they still reach Chromium's
// virtual authenticator, which answers a conditional request at once when
// presence simulation is on (the person picks the passkey) and never while
// it is off (the person has not), see withoutAutofill.

import { expect, test, type Page } from "@playwright/test";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { promisify } from "node:util";
import { addAuthenticator, signOutThroughPage, signUpThroughPage, uniqueUsername, unusedCode, base32Decode, withoutAutofill } from "./support";

type GetCall = { mediation: string | null; aborted: boolean; outcome: string };

async function spyOnGet(page: Page) {
  await page.addInitScript(() => {
    const calls: GetCall[] = [];
    (window as unknown as { getCalls: GetCall[] }).getCalls = calls;
    const original = navigator.credentials.get.bind(navigator.credentials);
    navigator.credentials.get = (options?: CredentialRequestOptions) => {
      const call: GetCall = { mediation: options?.mediation ?? null, aborted: false, outcome: "pending" };
      calls.push(call);
      options?.signal?.addEventListener("abort", () => (call.aborted = true));
      const result = original(options);
      result.then(
        () => (call.outcome = "resolved"),
        (err: Error) => (call.outcome = err.name),
      );
      return result;
    };
  });
}

const getCalls = (page: Page) => page.evaluate(() => (window as unknown as { getCalls: GetCall[] }).getCalls);

test("a load offers autofill, and picking the passkey there signs in", async ({ page }) => {
  await spyOnGet(page);
  await addAuthenticator(page);
  const username = uniqueUsername("autofill");
  await signUpThroughPage(page, username, "Autofill Person");
  await expect(page.locator("#signin-username")).toHaveAttribute("autocomplete", "username webauthn");

  // A sign-out on the page offers no autofill: the person just left.
  const before = (await getCalls(page)).length;
  await signOutThroughPage(page);
  await page.waitForTimeout(500);
  expect(await getCalls(page)).toHaveLength(before);

  // The next load does; the virtual authenticator picks the passkey.
  await page.reload();
  await expect(page.getByTestId("view-signed-in")).toBeVisible();
  await expect(page.getByTestId("whoami-username")).toHaveText(username);
  await expect(page.getByTestId("status")).not.toHaveAttribute("data-kind", "error");
  expect(await getCalls(page)).toEqual([{ mediation: "conditional", aborted: false, outcome: "resolved" }]);
});

test("the sign-in button ends the autofill request and signs in with its own prompt", async ({ page }) => {
  await spyOnGet(page);
  await addAuthenticator(page);
  const username = uniqueUsername("autofill-button");
  await signUpThroughPage(page, username, "Button Person");
  await signOutThroughPage(page);

  await withoutAutofill(page, () => page.reload());
  await expect(page.getByTestId("view-signed-out")).toBeVisible();
  expect(await getCalls(page)).toEqual([{ mediation: "conditional", aborted: false, outcome: "pending" }]);

  await page.getByTestId("signin-submit").click();
  await expect(page.getByTestId("view-signed-in")).toBeVisible();
  await expect(page.getByTestId("whoami-username")).toHaveText(username);
  // No error for the ended request.
  await expect(page.getByTestId("status")).not.toHaveAttribute("data-kind", "error");
  expect(await getCalls(page)).toEqual([
    { mediation: "conditional", aborted: true, outcome: "AbortError" },
    { mediation: null, aborted: false, outcome: "resolved" },
  ]);
});

test("an autofill sign-in of an account with two-step verification asks for the code", async ({ page }) => {
  await addAuthenticator(page);
  const username = uniqueUsername("autofill-totp");
  await signUpThroughPage(page, username, "Totp Autofill");
  await page.goto("/account");
  await page.getByTestId("totp-enroll").click();
  // The key shows once the enrolment has answered.
  await expect(page.getByTestId("totp-secret")).toHaveText(/[A-Z2-7]{4}/);
  const secret = base32Decode((await page.getByTestId("totp-secret").textContent()) ?? "");
  let { code, step } = await unusedCode(secret, -1);
  await page.locator("#totp-confirm-code").fill(code);
  await page.getByTestId("totp-confirm").click();
  await page.getByTestId("recovery-codes-done").click();
  await page.goto("/");
  await signOutThroughPage(page);

  await page.reload();
  await expect(page.getByTestId("view-mfa")).toBeVisible();
  ({ code, step } = await unusedCode(secret, step));
  void step;
  await page.locator("#mfa-code").fill(code);
  await page.getByTestId("mfa-submit").click();
  await expect(page.getByTestId("view-signed-in")).toBeVisible();
  await expect(page.getByTestId("whoami-amr")).toContainText(/app/i);
});

test("the provider's sign-in page offers autofill too, and its button ends it", async ({ page }) => {
  test.setTimeout(90_000);
  await spyOnGet(page);
  await addAuthenticator(page);
  const latchPort = Number(process.env.LATCH_E2E_PORT || "8089");
  const dataDir = readFileSync(`bin/e2e-data-${latchPort}`, "utf8").trim();
  const client = `autofill-app-${Date.now().toString(36)}`;
  const redirect = `http://localhost:${latchPort + 5000}/cb`;
  await promisify(execFile)("bin/latch", ["clients", "add", client, "--public", "--first-party", "--redirect-uri", redirect, "--data", dataDir]);
  const app = createServer((_, res) => res.writeHead(200, { "Content-Type": "text/plain" }).end("the app"));
  await new Promise<void>((resolve) => app.listen(latchPort + 5000, "127.0.0.1", resolve));
  try {
    const challenge = createHash("sha256").update("v".repeat(43)).digest("base64url");
    // prompt=login: a sign-in is asked for even with a session here.
    const authorize = `/authorize?${new URLSearchParams({ client_id: client, redirect_uri: redirect, response_type: "code", scope: "openid",
      state: "s-1", nonce: "n-1", code_challenge: challenge, code_challenge_method: "S256", prompt: "login" })}`;
    await signUpThroughPage(page, uniqueUsername("autofill-provider"), "Provider Person");

    // Picked from autofill: straight on to the application.
    await page.goto(authorize);
    await page.waitForURL(`${redirect}?**`);
    expect(new URL(page.url()).searchParams.get("code")).toBeTruthy();
    // The button instead: the autofill request ends first.
    await withoutAutofill(page, () => page.goto(authorize));
    expect(await getCalls(page)).toEqual([{ mediation: "conditional", aborted: false, outcome: "pending" }]);
    await page.getByRole("button", { name: "Sign in with a passkey" }).click();
    await page.waitForURL(`${redirect}?**`);
    expect(new URL(page.url()).searchParams.get("code")).toBeTruthy();
  } finally {
    await new Promise<void>((resolve) => app.close(() => resolve()));
  }
});
