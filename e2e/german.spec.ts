// The pages in German: a browser that prefers German gets the sign-in,
// account and provider pages in German (Accept-Language), an application
// may ask for a language with ui_locales, and no English text the
// catalogue translates is left on the page.

import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { expect, test, type Page } from "@playwright/test";
import { scan } from "./axe";
import { addAuthenticator, uniqueUsername } from "./support";

const en: Record<string, string> = JSON.parse(readFileSync("frontend/locales/en.json", "utf8"));
const de: Record<string, string> = JSON.parse(readFileSync("frontend/locales/de.json", "utf8"));
// Texts German writes differently: if one of these shows, the page is not translated.
const englishOnly = Object.keys(en).filter((text) => de[text] !== text && !text.includes("{") && text.length > 3);

/** untranslated returns the English texts still shown on the page. */
async function untranslated(page: Page): Promise<string[]> {
  const shown = await page.evaluate(() => {
    const texts: string[] = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const parent = node.parentElement;
      if (parent && parent.checkVisibility() && node.textContent!.trim()) texts.push(node.textContent!.trim());
    }
    for (const el of document.querySelectorAll("[aria-label], [alt], [placeholder]")) {
      for (const name of ["aria-label", "alt", "placeholder"]) {
        const v = el.getAttribute(name);
        if (v) texts.push(v);
      }
    }
    return texts;
  });
  return shown.filter((text) => englishOnly.includes(text));
}

test.describe("in German", () => {
  test.use({ locale: "de-DE" });

  test("sign-in, sign-up and the account page speak German", async ({ page }) => {
    // The messages block is data: it breaks no Content-Security-Policy and runs nothing.
    const problems: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error" && !/Failed to load resource/.test(message.text())) problems.push(message.text());
    });
    page.on("pageerror", (error) => problems.push(error.message));
    await addAuthenticator(page);
    await page.goto("/");
    await expect(page.locator("html")).toHaveAttribute("lang", "de");
    await expect(page).toHaveTitle("Latch – Anmelden");
    await expect(page.getByRole("heading", { name: "Anmelden", exact: true })).toBeVisible();
    await expect(page.locator("#signup-username")).toHaveAccessibleDescription(/^3 bis 64 Zeichen/);
    expect(await untranslated(page)).toEqual([]);

    // A message from the scripts, with its hints.
    await page.getByRole("button", { name: "Mit Passkey anmelden" }).click();
    await expect(page.getByTestId("action-error-message")).toHaveText("Auf diesem Gerät wurde kein Passkey für diese Website gefunden.");
    await expect(page.getByTestId("signin-error").getByRole("button", { name: "Konto erstellen" })).toBeVisible();
    expect(await untranslated(page)).toEqual([]);
    await scan(page, "german-sign-in");

    // Sign up in German: the rules are checked in German too.
    const username = uniqueUsername("deutsch");
    await page.locator("#signup-username").fill("a b");
    await page.locator("#signup-display-name").fill("Erika Mustermann");
    await page.getByRole("button", { name: "Konto mit Passkey erstellen" }).click();
    await expect(page.getByTestId("signup-error")).toHaveText(/^Verwenden Sie in Ihrem Benutzernamen nur Buchstaben/);
    await page.locator("#signup-username").fill(username);
    await page.getByRole("button", { name: "Konto mit Passkey erstellen" }).click();
    await expect(page.getByTestId("status")).toHaveText("Konto erstellt. Speichern Sie Ihre Wiederherstellungscodes.");
    await page.getByRole("button", { name: "Ich habe diese Codes gespeichert" }).click();
    await expect(page.getByTestId("whoami-amr")).toHaveText("Passkey");

    await page.goto("/account");
    await expect(page.getByTestId("view-account")).toBeVisible();
    await expect(page).toHaveTitle("Latch – Ihr Konto");
    await expect(page.getByTestId("account-user")).toHaveText(`Angemeldet als ${username}`);
    await expect(page.getByRole("heading", { name: "Apps mit Zugriff" })).toBeVisible();
    // Dates in German, too.
    await expect(page.getByTestId("passkey-item")).toContainText(/Hinzugefügt am \d{1,2}\.\d{1,2}\.\d{4}|Hinzugefügt am \d{1,2}\. \S+ \d{4}/);
    await expect(page.getByTestId("session-item")).toContainText("(dieser Browser)");
    expect(await untranslated(page)).toEqual([]);

    // An action's result in German; the counting down button too.
    await page.getByRole("button", { name: "Authenticator-App einrichten" }).click();
    await expect(page.getByRole("link", { name: "In einer Authenticator-App auf diesem Gerät öffnen" })).toBeVisible();
    await page.locator("#totp-confirm-code").fill("12");
    await page.getByRole("button", { name: "Bestätigung in zwei Schritten einschalten" }).click();
    await expect(page.getByTestId("totp-confirm-error")).toHaveText("Geben Sie den 6-stelligen Code ein, den Ihre App anzeigt.");
    expect(await untranslated(page)).toEqual([]);
    await scan(page, "german-account");
    await page.getByRole("button", { name: "Abbrechen" }).click();
    await expect(page.getByTestId("status")).toHaveText("Die Bestätigung in zwei Schritten wurde nicht eingerichtet.");

    // The share page too.
    await page.goto("/share");
    await expect(page.locator("html")).toHaveAttribute("lang", "de");
    await expect(page.getByRole("button", { name: "Nachweis holen" })).toBeVisible();
    expect(await untranslated(page)).toEqual([]);

    await page.goto("/account");
    await page.getByRole("banner").getByRole("button", { name: "Abmelden" }).click();
    await expect(page.getByTestId("status")).toHaveText("Sie sind abgemeldet.");
    expect(problems).toEqual([]);
  });
});

test("an application asks for German with ui_locales; the browser's language otherwise", async ({ browser }) => {
  const port = Number(process.env.LATCH_E2E_PORT || "8089");
  const client = `sprachen-${Date.now().toString(36)}`;
  const redirect = `http://localhost:${port + 4000}/cb`;
  const dataDir = readFileSync(`bin/e2e-data-${port}`, "utf8").trim();
  await promisify(execFile)("bin/latch", ["clients", "add", client, "--public", "--redirect-uri", redirect, "--data", dataDir]);
  const authorize = (extra: Record<string, string>) =>
    `/authorize?${new URLSearchParams({
      client_id: client,
      redirect_uri: redirect,
      response_type: "code",
      scope: "openid profile",
      code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
      code_challenge_method: "S256",
      ...extra,
    })}`;

  const english = await browser.newContext({ locale: "en-US" });
  const page = await english.newPage();
  await page.goto(authorize({ ui_locales: "fr-CA de" }));
  await expect(page.locator("html")).toHaveAttribute("lang", "de");
  await expect(page.getByText(`${client} bittet Sie, sich mit Latch anzumelden.`)).toBeVisible();
  await expect(page.getByRole("button", { name: "Mit Passkey anmelden" })).toBeVisible();
  expect(await untranslated(page)).toEqual([]);
  await addAuthenticator(page);
  await page.getByRole("button", { name: "Mit Passkey anmelden" }).click();
  await expect(page.getByTestId("action-error-message")).toHaveText("Auf diesem Gerät wurde kein Passkey für diese Website gefunden.");
  await page.goto(authorize({}));
  await expect(page.locator("html")).toHaveAttribute("lang", "en");
  await expect(page.getByRole("button", { name: "Sign in with a passkey" })).toBeVisible();
  await english.close();

  const german = await browser.newContext({ locale: "de-DE" });
  const dePage = await german.newPage();
  await dePage.goto(authorize({ ui_locales: "en" }));
  await expect(dePage.locator("html")).toHaveAttribute("lang", "en");
  await dePage.goto(authorize({}));
  await expect(dePage.locator("html")).toHaveAttribute("lang", "de");
  await german.close();
});
