// TOTP end to end: enrol from the account page with the shown secret,
// sign in with a code and with a recovery code, then turn TOTP off.

import { expect, test } from "@playwright/test";
import {
  addAuthenticator,
  base32Decode,
  captureTokenExchanges,
  jwtPart,
  lastIssued,
  signOutThroughPage,
  signUpThroughPage,
  startSignIn,
  uniqueUsername,
  unusedCode,
} from "./support";

test("TOTP enrolment, MFA sign-in with a code and a recovery code, then disabling", async ({ page }) => {
  // Codes are single-use, so the test may wait for the next 30 s step once.
  test.setTimeout(150_000);
  await addAuthenticator(page);
  const { exchanges, settled } = captureTokenExchanges(page);
  const username = uniqueUsername("totp");
  await signUpThroughPage(page, username, "Totp Person");

  await page.goto("/account");
  await expect(page.getByTestId("totp-enroll")).toBeVisible();
  await page.getByTestId("totp-enroll").click();
  await expect(page.getByTestId("totp-enrollment")).toBeVisible();
  await expect(page.getByTestId("totp-qr")).toHaveAttribute("src", /^data:image\/png;base64,/);
  const secret = base32Decode((await page.getByTestId("totp-secret").textContent()) ?? "");
  expect(secret.length, "the secret has at least 128 bits").toBeGreaterThanOrEqual(16);

  let { code, step } = await unusedCode(secret, -1);
  await page.locator("#totp-confirm-code").fill(code);
  await page.getByTestId("totp-confirm").click();
  await expect(page.getByTestId("recovery-codes")).toBeVisible();
  const recoveryCodes = await page.getByTestId("recovery-code-list").locator("li").allTextContents();
  expect(recoveryCodes).toHaveLength(10);
  expect(new Set(recoveryCodes).size).toBe(10);
  await expect(page.getByTestId("totp-enrollment")).toBeHidden();
  await page.getByTestId("recovery-codes-done").click();
  await expect(page.getByTestId("recovery-codes")).toBeHidden();

  // Sign in again: the passkey alone is not enough any more.
  await page.goto("/");
  await signOutThroughPage(page);
  await startSignIn(page);
  await expect(page.getByTestId("view-mfa")).toBeVisible();
  await expect(page.getByTestId("view-signed-in")).toBeHidden();

  // A wrong code is refused without ending the sign-in.
  await page.locator("#mfa-code").fill(code === "000000" ? "111111" : "000000");
  await page.getByTestId("mfa-submit").click();
  await expect(page.getByTestId("status")).toHaveText(/code is not right/i);
  await expect(page.getByTestId("view-mfa")).toBeVisible();

  ({ code, step } = await unusedCode(secret, step));
  await page.locator("#mfa-code").fill(code);
  await page.getByTestId("mfa-submit").click();
  await expect(page.getByTestId("view-signed-in")).toBeVisible();
  await expect(page.getByTestId("whoami-username")).toHaveText(username);
  await settled();
  const mfaTokens = lastIssued(exchanges);
  expect(mfaTokens.token_type).toBe("DPoP");
  expect(jwtPart(mfaTokens.access_token as string, 1).amr).toEqual(expect.arrayContaining(["otp", "mfa"]));

  // A recovery code also completes the second step, once.
  await signOutThroughPage(page);
  await startSignIn(page);
  await expect(page.getByTestId("view-mfa")).toBeVisible();
  await page.getByText("Use a recovery code instead").click();
  await page.locator("#recovery-code").fill(recoveryCodes[0]);
  await page.getByTestId("recovery-submit").click();
  await expect(page.getByTestId("view-signed-in")).toBeVisible();

  // Turn TOTP off with a fresh code; the next sign-in needs the passkey only.
  await page.goto("/account");
  await expect(page.getByTestId("totp-disable-form")).toBeVisible();
  ({ code, step } = await unusedCode(secret, step));
  await page.locator("#totp-disable-code").fill(code);
  await page.getByTestId("totp-disable").click();
  await expect(page.getByTestId("status")).toHaveText("Two-step verification is off.");
  await expect(page.getByTestId("totp-enroll")).toBeVisible();

  await page.goto("/");
  await signOutThroughPage(page);
  await startSignIn(page);
  await expect(page.getByTestId("view-signed-in")).toBeVisible();
  await expect(page.getByTestId("whoami-username")).toHaveText(username);
});
