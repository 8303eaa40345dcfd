// Shared helpers for the end-to-end specs: a CDP virtual authenticator,
// page flows, token capture and a small RFC 6238 TOTP generator.

import { expect, type CDPSession, type Page } from "@playwright/test";
import { createHmac, randomBytes } from "node:crypto";

/** A virtual passkey authenticator attached to one page. */
export interface Authenticator {
  cdp: CDPSession;
  authenticatorId: string;
}

/** addAuthenticator attaches a user-verifying platform authenticator that holds discoverable credentials. */
export async function addAuthenticator(page: Page, cdp?: CDPSession): Promise<Authenticator> {
  const session = cdp ?? (await page.context().newCDPSession(page));
  await session.send("WebAuthn.enable");
  const { authenticatorId } = await session.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp: session, authenticatorId };
}

/** uniqueUsername returns a valid username no other test uses. */
export function uniqueUsername(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
}

/** signUpThroughPage creates an account on the home page and waits until signed in. */
export async function signUpThroughPage(page: Page, username: string, displayName: string): Promise<void> {
  await page.goto("/");
  await expect(page.getByTestId("view-signed-out")).toBeVisible();
  await page.locator("#signup-username").fill(username);
  await page.locator("#signup-display-name").fill(displayName);
  await page.getByTestId("signup-submit").click();
  await expect(page.getByTestId("view-signed-in")).toBeVisible();
  await expect(page.getByTestId("whoami-username")).toHaveText(username);
}

/** signOutThroughPage presses "Sign out" and waits for the signed-out view. */
export async function signOutThroughPage(page: Page): Promise<void> {
  await page.getByTestId("signout").click();
  await expect(page.getByTestId("view-signed-out")).toBeVisible();
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

// ---- TOTP (RFC 6238 over RFC 4226, HMAC-SHA-1, 30 s steps) --------------

/** base32Decode decodes RFC 4648 base32, ignoring spaces, case and padding. */
export function base32Decode(text: string): Buffer {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const clean = text.replace(/[\s=]/g, "").toUpperCase();
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const char of clean) {
    const index = alphabet.indexOf(char);
    if (index < 0) throw new Error(`not base32: ${char}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** totp computes the code for one time step. */
export function totp(secret: Buffer, step: number, digits = 6): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", secret).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** digits).padStart(digits, "0");
}

/** timeStep is the RFC 6238 counter for a moment (default now). */
export function timeStep(nowMs = Date.now()): number {
  return Math.floor(nowMs / 1000 / 30);
}

/**
 * unusedCode returns a code for a step later than `lastStep`, since the
 * service accepts each code once. It uses the current step, or the next one
 * (within the one-step skew the service allows) when the current step is
 * already spent, and waits only if even that is spent.
 */
export async function unusedCode(secret: Buffer, lastStep: number): Promise<{ code: string; step: number }> {
  let now = timeStep();
  while (lastStep + 1 > now + 1) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    now = timeStep();
  }
  const step = Math.max(lastStep + 1, now);
  return { code: totp(secret, step), step };
}
