// The WebAuthn Signal API: after a sign-in latch.js tells the device which
// passkeys the account has and what it is called, after a deletion which
// remain, and when the service answers that a passkey is known to no
// account, that the device may forget it. The page's calls are spied on.

import { expect, test, type Page } from "@playwright/test";
import { addAuthenticator, exportCredentials, importCredentials, signOutThroughPage, signUpThroughPage, startSignIn, uniqueUsername } from "./support";

type Call = { fn: string; arg: Record<string, unknown> };

async function spyOnSignals(page: Page) {
  await page.addInitScript(() => {
    const calls: unknown[] = [];
    (window as unknown as { signalCalls: unknown[] }).signalCalls = calls;
    for (const fn of ["signalUnknownCredential", "signalAllAcceptedCredentials", "signalCurrentUserDetails"]) {
      const original = (PublicKeyCredential as unknown as Record<string, unknown>)[fn];
      if (typeof original !== "function") continue;
      (PublicKeyCredential as unknown as Record<string, unknown>)[fn] = (arg: unknown) => {
        calls.push({ fn, arg: JSON.parse(JSON.stringify(arg)) });
        return Promise.resolve();
      };
    }
  });
}

const calls = (page: Page) => page.evaluate(() => (window as unknown as { signalCalls: Call[] }).signalCalls);

test("the device is told which passkeys live, and which one is dead", async ({ page }) => {
  await spyOnSignals(page);
  const first = await addAuthenticator(page);
  const username = uniqueUsername("signal");
  await signUpThroughPage(page, username, "Signal Person");
  const supported = await page.evaluate(() => typeof PublicKeyCredential.signalAllAcceptedCredentials === "function");
  expect(supported, "this Chromium has the Signal API").toBe(true);

  // A sign-in reports the account's passkeys and names.
  await signOutThroughPage(page);
  await startSignIn(page);
  await expect(page.getByTestId("whoami-username")).toHaveText(username);
  await expect.poll(async () => (await calls(page)).map((c) => c.fn)).toEqual(["signalAllAcceptedCredentials", "signalCurrentUserDetails"]);
  const [accepted, details] = await calls(page);
  const firstId = (accepted.arg.allAcceptedCredentialIds as string[])[0];
  expect(accepted.arg.rpId).toBe("localhost");
  expect(accepted.arg.allAcceptedCredentialIds).toHaveLength(1);
  expect(details.arg).toMatchObject({ rpId: "localhost", userId: accepted.arg.userId, name: username, displayName: "Signal Person" });

  // A second passkey on a second authenticator; then, signed in with it,
  // the first is deleted on the account page: the device hears that only
  // the second lives.
  const firstCredentials = await exportCredentials(first);
  await page.goto("/account");
  await first.cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId: first.authenticatorId });
  const second = await addAuthenticator(page, first.cdp);
  await page.locator("#new-passkey-name").fill("Second");
  await page.getByTestId("add-passkey").click();
  await expect(page.getByTestId("status")).toHaveText("Passkey added.");
  await page.goto("/");
  await signOutThroughPage(page);
  await startSignIn(page);
  await expect(page.getByTestId("whoami-username")).toHaveText(username);
  await page.goto("/account");
  const old = page.getByTestId("passkey-item").filter({ hasNotText: "Second" });
  await old.getByTestId("passkey-delete").click();
  await old.getByTestId("passkey-delete-confirm").click();
  await expect(page.getByTestId("status")).toHaveText("Passkey deleted.");
  await expect
    .poll(async () => (await calls(page)).filter((c) => c.fn === "signalAllAcceptedCredentials").map((c) => c.arg.allAcceptedCredentialIds))
    .toContainEqual([expect.not.stringMatching(firstId)]);

  // The deleted passkey, offered again by a device that still holds it, is
  // refused, and the device is told to forget it.
  await page.goto("/");
  await signOutThroughPage(page);
  await second.cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId: second.authenticatorId });
  const stale = await addAuthenticator(page, second.cdp);
  await importCredentials(stale, firstCredentials);
  await page.getByTestId("signin-submit").click();
  await expect(page.getByTestId("signin-error")).toHaveText(/This passkey belongs to no account here/);
  await expect.poll(async () => (await calls(page)).filter((c) => c.fn === "signalUnknownCredential").map((c) => c.arg)).toEqual([
    { rpId: "localhost", credentialId: firstId },
  ]);
});
