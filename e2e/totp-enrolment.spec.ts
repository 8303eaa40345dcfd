// Setting up an authenticator app on the account page: a link for an app
// on the same device, Cancel, a wrong code explained at the field, a live
// countdown while the service locks the codes out, and the recovery codes
// with copy and download.

import { readFile } from "node:fs/promises";
import { expect, test, type Page } from "@playwright/test";
import { addAuthenticator, base32Decode, signUpThroughPage, timeStep, totp, uniqueUsername, unusedCode } from "./support";

async function enrol(page: Page) {
  await page.getByTestId("totp-enroll").click();
  await expect(page.getByTestId("totp-enrollment")).toBeVisible();
  await expect(page.locator("#totp-confirm-code")).toBeFocused();
  return (await page.getByTestId("totp-secret").textContent())!.replace(/\s+/g, "");
}

/** wrongCode is a code that no step the service accepts now would give. */
function wrongCode(secret: string) {
  const key = base32Decode(secret);
  const now = timeStep();
  const valid = new Set([totp(key, now - 1), totp(key, now), totp(key, now + 1)]);
  for (let n = 0; ; n++) {
    const code = String(n).padStart(6, "0");
    if (!valid.has(code)) return code;
  }
}

test("enrolment offers an otpauth link and Cancel, and explains a wrong code at the field", async ({ page }) => {
  await addAuthenticator(page);
  await signUpThroughPage(page, uniqueUsername("enrol"), "Enrol Person");
  await page.getByTestId("new-codes-done").click();
  await page.goto("/account");

  const secret = await enrol(page);
  const link = page.getByRole("link", { name: "Open in an authenticator app on this device" });
  const href = (await link.getAttribute("href"))!;
  expect(href).toMatch(/^otpauth:\/\/totp\//);
  expect(new URL(href).searchParams.get("secret")).toBe(secret);

  // Cancel: back to the start, nothing turned on.
  await page.getByTestId("totp-cancel").click();
  await expect(page.getByTestId("totp-enrollment")).toBeHidden();
  await expect(page.getByTestId("totp-enroll")).toBeFocused();
  await expect(page.getByTestId("status")).toHaveText("Two-step verification was not set up.");
  await expect(page.getByTestId("totp-secret")).toHaveText("");

  // A new secret; a wrong code is explained next to the field, in view.
  const second = await enrol(page);
  expect(second).not.toBe(secret);
  await page.locator("#totp-confirm-code").fill(wrongCode(second));
  await page.getByTestId("totp-confirm").click();
  const error = page.getByTestId("totp-confirm-error");
  await expect(error).toHaveText(/That code is not right/);
  await expect(error).toBeInViewport();
  await expect(page.locator("#totp-confirm-code")).toBeFocused();
  await expect(page.locator("#totp-confirm-code")).toHaveAttribute("aria-invalid", "true");

  // The right code turns it on; the recovery codes can be copied and downloaded.
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"]);
  const { code } = await unusedCode(base32Decode(second), -1);
  await page.locator("#totp-confirm-code").fill(code);
  await page.getByTestId("totp-confirm").click();
  await expect(page.getByTestId("recovery-codes")).toBeVisible();
  await expect(page.locator("#recovery-codes-title")).toBeFocused();
  const codes = await page.getByTestId("recovery-code-list").locator("li").allTextContents();
  expect(codes).toHaveLength(10);
  await page.getByTestId("recovery-codes-copy").click();
  await expect(page.getByTestId("status")).toHaveText("The codes are copied.");
  expect(await page.evaluate(() => navigator.clipboard.readText())).toContain(codes.join("\n"));
  const download = page.waitForEvent("download");
  await page.getByTestId("recovery-codes-download").click();
  const file = await (await download).path();
  expect(await readFile(file, "utf8")).toContain(codes.join("\n"));
  await page.getByTestId("recovery-codes-done").click();
  await expect(page.getByTestId("recovery-codes")).toBeHidden();
  await expect(page.getByTestId("totp-disable-form")).toBeVisible();
});

test("after too many wrong codes the confirm button counts down until codes are taken again", async ({ page }) => {
  await addAuthenticator(page);
  await signUpThroughPage(page, uniqueUsername("lockout"), "Lockout Person");
  await page.getByTestId("new-codes-done").click();
  await page.clock.install();
  await page.goto("/account");
  const secret = await enrol(page);
  const input = page.locator("#totp-confirm-code");
  const button = page.getByTestId("totp-confirm");
  const error = page.getByTestId("totp-confirm-error");

  // Five wrong codes are refused one by one; the sixth attempt finds the factor locked.
  for (let i = 0; i < 5; i++) {
    await input.fill(wrongCode(secret));
    await button.click();
    await expect(error).toHaveText(/That code is not right/);
    await expect(input).toBeEnabled();
  }
  await input.fill(wrongCode(secret));
  await button.click();
  await expect(error).toHaveText(/^Too many wrong codes\. You can try again in (about a minute|\d+ seconds)/);
  await expect(error).toBeFocused();
  await expect(button).toBeDisabled();
  await expect(input).toBeDisabled();
  await expect(page.getByTestId("totp-cancel")).toBeEnabled();
  await expect(button).toHaveText(/^Try again in (5\d|60|61) s$/);
  const first = Number(/(\d+) s$/.exec((await button.textContent())!)![1]);

  // It counts down live...
  await page.clock.runFor(10_000);
  await expect(button).toHaveText(`Try again in ${first - 10} s`);
  // ...and when the wait is over, the form is back with the focus in the field.
  await page.clock.runFor(first * 1000);
  await expect(button).toHaveText("Turn on two-step verification");
  await expect(button).toBeEnabled();
  await expect(error).toHaveText(/You can try again now/);
  await expect(input).toBeFocused();
});
