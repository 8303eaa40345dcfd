// Conditional create (passkey upgrade): after an account recovery, or a
// sign-in with another device's passkey, the sign-in page asks the browser
// to create a passkey for the account without a prompt of its own, where
// getClientCapabilities reports conditionalCreate; nothing is asked where it
// does not, or after a sign-in with this device's own passkey. The
// capability is stubbed either way and navigator.credentials.create spied
// on; the calls still reach Chromium, whose virtual authenticator leaves a
// conditional create waiting (as a browser that decides against one may),
// which must hold nothing up.

import { expect, test, type Page } from "@playwright/test";
import { addAuthenticator, exportCredentials, importCredentials, signOutThroughPage, signUpThroughPage, uniqueUsername, withoutAutofill, type Authenticator } from "./support";

type CreateCall = { mediation: string | null; outcome: string };

async function spyOnCreate(page: Page, conditionalCreate: boolean) {
  await page.addInitScript((conditionalCreate) => {
    const original = PublicKeyCredential.getClientCapabilities?.bind(PublicKeyCredential);
    PublicKeyCredential.getClientCapabilities = async () => ({ ...(original ? await original() : {}), conditionalCreate });
    const calls: CreateCall[] = [];
    (window as unknown as { createCalls: CreateCall[] }).createCalls = calls;
    const create = navigator.credentials.create.bind(navigator.credentials);
    navigator.credentials.create = (options?: CredentialCreationOptions) => {
      const call: CreateCall = { mediation: options?.mediation ?? null, outcome: "pending" };
      calls.push(call);
      const result = create(options);
      result.then(
        () => (call.outcome = "resolved"),
        (err: Error) => (call.outcome = err.name),
      );
      return result;
    };
  }, conditionalCreate);
}

const createCalls = (page: Page) => page.evaluate(() => (window as unknown as { createCalls: CreateCall[] }).createCalls);

/** registerBegins counts the signed-in registrations (add-passkey ceremonies) the page starts. */
function registerBegins(page: Page): { statuses: number[] } {
  const seen = { statuses: [] as number[] };
  page.on("response", async (response) => {
    const request = response.request();
    if (request.method() !== "POST" || new URL(request.url()).pathname !== "/webauthn/register/begin") return;
    if (!(await request.headerValue("authorization"))) return;
    seen.statuses.push(response.status());
  });
  return seen;
}

/** recoverOnNewDevice signs up, loses the passkey, and recovers with a code on a new authenticator. */
async function recoverOnNewDevice(page: Page) {
  const first = await addAuthenticator(page);
  const username = uniqueUsername("upgrade");
  await signUpThroughPage(page, username, "Upgrade Person");
  await expect(page.getByTestId("new-codes")).toBeVisible();
  const [code] = await page.getByTestId("new-code-list").locator("li").allTextContents();
  await page.getByTestId("new-codes-done").click();
  await first.cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId: first.authenticatorId });
  await addAuthenticator(page, first.cdp);
  await signOutThroughPage(page);
  await page.goto("/recover");
  await page.locator("#recover-username").fill(username);
  await page.locator("#recover-code").fill(code);
  await page.getByTestId("recover-submit").click();
  await expect(page.getByTestId("view-signed-in")).toBeVisible();
  await expect(page.getByTestId("status")).toHaveText(/new passkey is ready/);
}

test("after a recovery the browser is asked for a passkey without a prompt", async ({ page }) => {
  await spyOnCreate(page, true);
  const begins = registerBegins(page);
  await recoverOnNewDevice(page);
  // The recovery's own passkey, then the silent offer on the add-passkey
  // registration, which the just-finished sign-in is recent enough for.
  await expect.poll(() => createCalls(page)).toEqual([
    { mediation: null, outcome: "resolved" },
    { mediation: "conditional", outcome: "pending" },
  ]);
  expect(begins.statuses).toEqual([200]);
  await expect(page.getByTestId("status")).not.toHaveAttribute("data-kind", "error");

  // Waiting for the browser holds nothing up: signing out ends the request,
  // and signing in again works.
  await signOutThroughPage(page);
  await expect.poll(async () => (await createCalls(page))[1].outcome).toBe("AbortError");
  await page.getByTestId("signin-submit").click();
  await expect(page.getByTestId("view-signed-in")).toBeVisible();
});

test("without conditional create nothing is asked after a recovery", async ({ page }) => {
  await spyOnCreate(page, false);
  const begins = registerBegins(page);
  await recoverOnNewDevice(page);
  await page.waitForTimeout(1000);
  expect(await createCalls(page)).toEqual([{ mediation: null, outcome: "resolved" }]);
  expect(begins.statuses).toEqual([]);
});

test("a sign-in with another device's passkey offers one for this device, one with this device's does not", async ({ page }) => {
  await spyOnCreate(page, true);
  const platform = await addAuthenticator(page);
  await signUpThroughPage(page, uniqueUsername("upgrade-cross"), "Cross Person");
  await page.getByTestId("new-codes-done").click();

  // This device's own passkey: nothing asked.
  await signOutThroughPage(page);
  await page.getByTestId("signin-submit").click();
  await expect(page.getByTestId("view-signed-in")).toBeVisible();
  await page.waitForTimeout(1000);
  expect((await createCalls(page)).map((c) => c.mediation)).toEqual([null]);

  // The same passkey on a security key (another device): asked once.
  const passkeys = await exportCredentials(platform);
  await signOutThroughPage(page);
  await platform.cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId: platform.authenticatorId });
  const { authenticatorId } = await platform.cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: { protocol: "ctap2", transport: "usb", hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  const key: Authenticator = { cdp: platform.cdp, authenticatorId };
  await importCredentials(key, passkeys);
  await withoutAutofill(page, () => page.reload(), key);
  await page.getByTestId("signin-submit").click();
  await expect(page.getByTestId("view-signed-in")).toBeVisible();
  await expect.poll(async () => (await createCalls(page)).map((c) => c.mediation)).toEqual(["conditional"]);
  await expect(page.getByTestId("status")).not.toHaveAttribute("data-kind", "error");
});
