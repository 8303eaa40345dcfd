// Shared helpers for the end-to-end specs: a CDP virtual authenticator,
// page flows, token capture and a small RFC 6238 TOTP generator.

import { expect, type Page } from "@playwright/test";
import { randomBytes } from "node:crypto";
import { signOut, signUp } from "../frontend/testing/index.js";

// The reusable parts live in the package apps use for their own tests
// (frontend/testing); the specs take them from there.
export { addAuthenticator, exportCredentials, importCredentials, withoutAutofill } from "../frontend/testing/index.js";
export type { Authenticator } from "../frontend/testing/index.js";
export { base32Decode, timeStep, totp, unusedCode } from "../frontend/testing/totp.js";

/** uniqueUsername returns a valid username no other test uses. */
export function uniqueUsername(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
}

/** signUpThroughPage creates an account on the home page and waits until signed in. */
export function signUpThroughPage(page: Page, username: string, displayName: string): Promise<void> {
  return signUp(page, { username, displayName });
}

/** signOutThroughPage presses "Sign out" and waits for the signed-out view. */
export function signOutThroughPage(page: Page): Promise<void> {
  return signOut(page);
}

/** startSignIn submits the sign-in form (usernameless unless a username is given). */
export async function startSignIn(page: Page, username = ""): Promise<void> {
  await page.locator("#signin-username").fill(username);
  await page.getByTestId("signin-submit").click();
}

/** A token response seen on the wire, with the request that produced it. */
export interface TokenExchange {
  path: string;
  dpopHeader: string | null;
  requestBody: string | null;
  status: number;
  body: Record<string, unknown> | null;
}

const tokenPaths = new Set(["/webauthn/register/finish", "/webauthn/login/finish", "/totp/verify", "/token"]);

/**
 * captureTokenExchanges records every response of a token-issuing endpoint.
 * The tests read tokens from the network, never from the page, because the
 * page deliberately has no way to hand them out.
 */
export function captureTokenExchanges(page: Page): { exchanges: TokenExchange[]; settled: () => Promise<void> } {
  const exchanges: TokenExchange[] = [];
  const pending: Promise<void>[] = [];
  page.on("response", (response) => {
    const request = response.request();
    const path = new URL(request.url()).pathname;
    if (request.method() !== "POST" || !tokenPaths.has(path)) return;
    pending.push(
      (async () => {
        let body: Record<string, unknown> | null = null;
        try {
          body = await response.json();
        } catch {
          body = null;
        }
        exchanges.push({
          path,
          dpopHeader: await request.headerValue("dpop"),
          requestBody: request.postData(),
          status: response.status(),
          body,
        });
      })(),
    );
  });
  return { exchanges, settled: async () => void (await Promise.all(pending)) };
}

/** lastIssued returns the most recent successful token response. */
export function lastIssued(exchanges: TokenExchange[]): Record<string, unknown> {
  const issued = exchanges.filter((e) => e.status === 200 && e.body && typeof e.body.access_token === "string");
  expect(issued.length, "a token response was captured").toBeGreaterThan(0);
  return issued[issued.length - 1].body as Record<string, unknown>;
}

/** jwtPart decodes the header (0) or payload (1) of a compact JWT. */
export function jwtPart(token: string, index: 0 | 1): Record<string, any> {
  return JSON.parse(Buffer.from(token.split(".")[index], "base64url").toString("utf8"));
}

/** pageThumbprint asks the page's client library for its DPoP key thumbprint. */
export function pageThumbprint(page: Page): Promise<string> {
  return page.evaluate(async () => {
    const { Latch } = await import("/latch.js");
    return new Latch().keyThumbprint();
  });
}
