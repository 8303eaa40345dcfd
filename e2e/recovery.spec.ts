// Account recovery end to end: recovery codes offered at sign-up (copy and
// download), "Lost your passkey?" with a code and a new authenticator, and
// an operator's recovery link from `latch users recover`, all by keyboard,
// with errors announced next to the field they concern.

import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { expect, test, type Page } from "@playwright/test";
import {
  addAuthenticator,
  base32Decode,
  signUpThroughPage,
  uniqueUsername,
  unusedCode,
  type Authenticator,
} from "./support";

const port = process.env.LATCH_E2E_PORT || "8089";

/** saveCodes reads the codes the page offers after sign-up and dismisses them. */
async function saveCodes(page: Page): Promise<string[]> {
  await expect(page.getByTestId("new-codes")).toBeVisible();
  await expect(page.locator("#new-codes-title")).toBeFocused();
  const codes = await page.getByTestId("new-code-list").locator("li").allTextContents();
  expect(codes).toHaveLength(10);
  expect(new Set(codes).size).toBe(10);
  for (const code of codes) expect(code).toMatch(/^[a-z2-7]{4}(-[a-z2-7]{4}){3}$/);
  return codes;
}

/** newAuthenticator replaces the page's authenticator (the lost passkey) with an empty one. */
async function newAuthenticator(page: Page, old: Authenticator): Promise<Authenticator> {
  await old.cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId: old.authenticatorId });
  return addAuthenticator(page, old.cdp);
}

async function credentialCount(auth: Authenticator): Promise<number> {
  const { credentials } = await auth.cdp.send("WebAuthn.getCredentials", { authenticatorId: auth.authenticatorId });
  return credentials.length;
}

test("sign up, keep a code, lose the passkey, recover with a new one by keyboard", async ({ page, context }) => {
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  const first = await addAuthenticator(page);
  const username = uniqueUsername("recover");
  await signUpThroughPage(page, username, "Recover Person");
  const codes = await saveCodes(page);

  // Copy and download give the same ten codes.
  await page.getByTestId("new-codes-copy").click();
  await expect(page.getByTestId("status")).toHaveText("The codes are copied.");
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  for (const code of codes) expect(copied).toContain(code);
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId("new-codes-download").click()]);
  expect(download.suggestedFilename()).toBe("latch-recovery-codes.txt");
  const saved = readFileSync(await download.path(), "utf8");
  for (const code of codes) expect(saved).toContain(code);
  await page.getByTestId("new-codes-done").click();
  await expect(page.getByTestId("new-codes")).toBeHidden();
  await expect(page.getByTestId("new-code-list").locator("li")).toHaveCount(0);

  // The passkey is lost: a new, empty authenticator, and the session gone.
  const second = await newAuthenticator(page, first);
  await page.getByTestId("signout").click();
  await expect(page.getByTestId("view-signed-out")).toBeVisible();

  // "Lost your passkey?" and the whole form by keyboard.
  await page.getByTestId("lost-passkey").focus();
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/recover$/);
  await expect(page.getByTestId("view-recover")).toBeVisible();
  await expect(page.locator("#recover-title")).toBeFocused();
  await page.keyboard.press("Tab");
  await expect(page.locator("#recover-username")).toBeFocused();
  await page.keyboard.type(username);
  await page.keyboard.press("Tab");
  await expect(page.locator("#recover-code")).toBeFocused();

  // Errors: an empty code, then a wrong one, each announced next to the field.
  await page.keyboard.press("Enter");
  const error = page.getByTestId("recover-error");
  await expect(error).toHaveText("Enter one of your recovery codes.");
  await expect(error).toHaveAttribute("role", "alert");
  await expect(page.locator("#recover-code")).toBeFocused();
  await expect(page.locator("#recover-code")).toHaveAttribute("aria-invalid", "true");
  await expect(page.locator("#recover-code")).toHaveAttribute("aria-describedby", /recover-error/);
  await page.keyboard.type("aaaa-bbbb-cccc-dddd");
  await page.keyboard.press("Enter");
  await expect(error).toHaveText(/do not match/);
  await expect(error).toBeInViewport();
  await expect(page.locator("#recover-code")).toBeFocused();
  expect(await credentialCount(second), "no passkey prompt for a wrong code").toBe(0);

  await page.locator("#recover-code").fill(codes[4].toUpperCase());
  await page.keyboard.press("Enter");
  await expect(page.getByTestId("view-signed-in")).toBeVisible();
  await expect(page.getByTestId("whoami-username")).toHaveText(username);
  await expect(page.getByTestId("status")).toHaveText(/new passkey is ready/);
  await expect(page).toHaveURL(/\/$/);
  expect(await credentialCount(second)).toBe(1);

  // The new passkey signs in; the account shows it, one session, nine codes.
  await page.goto("/account");
  await expect(page.getByTestId("view-account")).toBeVisible();
  await expect(page.getByTestId("passkey-list").locator("li")).toHaveCount(2);
  await expect(page.getByTestId("session-list").locator("li")).toHaveCount(1);
  await expect(page.getByTestId("codes-state")).toHaveText(/^9 unused codes left/);
  await page.goto("/");
  await page.getByTestId("signout").click();
  await page.getByTestId("signin-submit").click();
  await expect(page.getByTestId("view-signed-in")).toBeVisible();

  // The code is spent.
  await page.getByTestId("signout").click();
  await page.goto("/recover");
  await page.locator("#recover-username").fill(username);
  await page.locator("#recover-code").fill(codes[4]);
  await page.getByTestId("recover-submit").click();
  await expect(page.getByTestId("recover-error")).toHaveText(/do not match/);
});

test("new recovery codes from the account page", async ({ page }) => {
  await addAuthenticator(page);
  const username = uniqueUsername("codes");
  await signUpThroughPage(page, username, "Codes Person");
  const old = await saveCodes(page);
  await page.getByTestId("new-codes-done").click();
  await page.goto("/account");
  await expect(page.getByTestId("codes-state")).toHaveText(/^10 unused codes left/);
  await page.getByTestId("codes-new").click();
  await expect(page.getByTestId("codes-panel")).toBeVisible();
  const codes = await page.getByTestId("codes-list").locator("li").allTextContents();
  expect(codes).toHaveLength(10);
  expect(codes.filter((c) => old.includes(c))).toEqual([]);
  await page.getByTestId("codes-done").click();
  await expect(page.getByTestId("codes-panel")).toBeHidden();
  await expect(page.getByTestId("codes-new")).toBeFocused();

  // The old set no longer opens a recovery.
  await page.goto("/recover");
  await page.locator("#recover-username").fill(username);
  await page.locator("#recover-code").fill(old[0]);
  await page.getByTestId("recover-submit").click();
  await expect(page.getByTestId("recover-error")).toHaveText(/do not match/);
});

test("an operator's recovery link registers a new passkey once", async ({ page }) => {
  const first = await addAuthenticator(page);
  const username = uniqueUsername("link");
  await signUpThroughPage(page, username, "Link Person");
  await saveCodes(page);
  await page.getByTestId("new-codes-done").click();
  const second = await newAuthenticator(page, first);

  // Through the running server's admin socket.
  const data = readFileSync(`bin/e2e-data-${port}`, "utf8").trim();
  const link = execFileSync("bin/latch", ["users", "recover", username, "--data", data], { encoding: "utf8" }).trim();
  expect(link).toMatch(new RegExp(`^http://localhost:${port}/recover#token=[A-Za-z0-9_-]+$`));

  await page.goto(link);
  await expect(page.getByTestId("view-recover-link")).toBeVisible();
  await expect(page.locator("#recover-link-title")).toBeFocused();
  await expect(page, "the token leaves the address bar").toHaveURL(new RegExp(`/recover$`));
  await page.keyboard.press("Tab");
  await expect(page.getByTestId("recover-link-submit")).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(page.getByTestId("view-signed-in")).toBeVisible();
  await expect(page.getByTestId("whoami-username")).toHaveText(username);
  expect(await credentialCount(second)).toBe(1);

  // Only once.
  await page.getByTestId("signout").click();
  await page.goto(link);
  await expect(page.getByTestId("view-recover-link")).toBeVisible();
  await page.getByTestId("recover-link-submit").click();
  const error = page.getByTestId("recover-link-error");
  await expect(error).toHaveText(/expired or was already used/);
  await expect(error).toHaveAttribute("role", "alert");
  await expect(page.getByTestId("recover-link-submit")).toBeFocused();
});

test("with two-step verification on, recovery asks for the second step", async ({ page }) => {
  const first = await addAuthenticator(page);
  const username = uniqueUsername("recover2");
  await signUpThroughPage(page, username, "Two Step");
  await saveCodes(page);
  await page.getByTestId("new-codes-done").click();
  await page.goto("/account");
  await page.getByTestId("totp-enroll").click();
  await expect(page.getByTestId("totp-enrollment")).toBeVisible();
  const secret = base32Decode((await page.getByTestId("totp-secret").textContent()) ?? "");
  const { code } = await unusedCode(secret, -1);
  await page.locator("#totp-confirm-code").fill(code);
  await page.getByTestId("totp-confirm").click();
  await expect(page.getByTestId("recovery-codes")).toBeVisible();
  const codes = await page.getByTestId("recovery-code-list").locator("li").allTextContents();
  await page.getByTestId("recovery-codes-done").click();
  await newAuthenticator(page, first);
  await page.getByTestId("signout").click();

  await page.goto("/recover");
  await page.locator("#recover-username").fill(username);
  await page.locator("#recover-code").fill(codes[0]);
  await page.keyboard.press("Enter");
  const error = page.getByTestId("recover-error");
  await expect(page.getByTestId("recover-second")).toBeVisible();
  await expect(error).toHaveText(/also uses two-step verification/);
  await expect(page.locator("#recover-totp")).toBeFocused();
  await expect(page.locator("#recover-totp")).toHaveAttribute("aria-invalid", "true");

  // A wrong app code is refused at its field; a second recovery code does instead.
  await page.keyboard.type(code === "000000" ? "111111" : "000000");
  await page.keyboard.press("Enter");
  await expect(error).toHaveText(/code is not right/);
  await expect(page.locator("#recover-totp")).toBeFocused();
  await page.getByTestId("recover-second-switch").click();
  await expect(page.locator("#recover-totp-label")).toHaveText("Second recovery code");
  await expect(page.locator("#recover-totp")).toBeFocused();
  await page.keyboard.type(codes[1]);
  await page.keyboard.press("Enter");
  await expect(page.getByTestId("view-signed-in")).toBeVisible();
  await expect(page.getByTestId("whoami-username")).toHaveText(username);
  await expect(page.getByTestId("whoami-amr")).toHaveText(/authenticator app code/);
});
