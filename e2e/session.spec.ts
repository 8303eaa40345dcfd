// A reload resumes the session with the refresh token and the DPoP key kept
// in IndexedDB; each refresh rotates the refresh token, and presenting a
// rotated one again ends the whole login session.

import { expect, test, type Page } from "@playwright/test";
import {
  addAuthenticator,
  captureTokenExchanges,
  jwtPart,
  lastIssued,
  pageThumbprint,
  signUpThroughPage,
  uniqueUsername,
  type TokenExchange,
  withoutAutofill,
} from "./support";

// Successful refreshes; a service run with DPoP nonces may also have
// answered use_dpop_nonce first, which the client retries and which is not a
// second use of the token.
function refreshes(exchanges: TokenExchange[]) {
  const tokenCalls = exchanges.filter((e) => e.path === "/token");
  for (const call of tokenCalls) {
    if (call.status !== 200) expect(call.body?.error).toBe("use_dpop_nonce");
  }
  return tokenCalls.filter((e) => e.status === 200);
}

// presentRefreshToken redeems a refresh token from inside the page, signing
// the proof with the page's own stored key, as an attacker holding a stolen
// (already rotated) token together with the key would.
function presentRefreshToken(page: Page, refreshToken: string) {
  return page.evaluate(async (token) => {
    const { createProof, publicJwk } = await import("/latch-dpop.js");
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const open = indexedDB.open("latch");
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
    const pair = await new Promise<CryptoKeyPair>((resolve, reject) => {
      const get = db.transaction("session").objectStore("session").get("dpop_key");
      get.onsuccess = () => resolve(get.result);
      get.onerror = () => reject(get.error);
    });
    db.close();
    const url = `${location.origin}/token`;
    const jwk = await publicJwk(pair.publicKey);
    const post = async (nonce?: string) =>
      fetch(url, {
        method: "POST",
        headers: {
          "Content-Type": "application/x-www-form-urlencoded",
          DPoP: await createProof(pair.privateKey, jwk, { method: "POST", url, nonce }),
        },
        body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: token }),
      });
    let res = await post();
    // A service run with DPoP nonces first asks for one; that spends nothing.
    const nonce = res.headers.get("DPoP-Nonce");
    if (res.status === 400 && nonce) res = await post(nonce);
    let body: unknown = null;
    try {
      body = await res.json();
    } catch {
      body = null;
    }
    return { status: res.status, body: body as Record<string, unknown> | null };
  }, refreshToken);
}

test("a reload resumes the session with the stored key and every refresh rotates the refresh token", async ({ page }) => {
  await addAuthenticator(page);
  const { exchanges, settled } = captureTokenExchanges(page);
  const username = uniqueUsername("reload");
  await signUpThroughPage(page, username, "Reload Person");
  await settled();
  const signUp = lastIssued(exchanges);
  const jkt = await pageThumbprint(page);

  await page.reload();
  await expect(page.getByTestId("view-signed-in")).toBeVisible();
  await expect(page.getByTestId("whoami-username")).toHaveText(username);
  await settled();
  const firstRefresh = refreshes(exchanges);
  expect(firstRefresh, "the reload refreshed once").toHaveLength(1);
  expect(firstRefresh[0].status).toBe(200);
  expect(firstRefresh[0].dpopHeader, "the refresh carried a DPoP proof").toBeTruthy();
  expect(new URLSearchParams(firstRefresh[0].requestBody ?? "").get("refresh_token")).toBe(signUp.refresh_token);
  const afterReload = lastIssued(exchanges);
  expect(afterReload.token_type).toBe("DPoP");
  expect(afterReload.refresh_token, "the refresh token rotated").not.toBe(signUp.refresh_token);
  expect(await pageThumbprint(page), "the key survived the reload").toBe(jkt);
  expect(jwtPart(afterReload.access_token as string, 1).cnf?.jkt).toBe(jkt);

  // The rotated token works in its turn.
  await page.reload();
  await expect(page.getByTestId("whoami-username")).toHaveText(username);
  await settled();
  const secondRefresh = refreshes(exchanges);
  expect(secondRefresh).toHaveLength(2);
  expect(new URLSearchParams(secondRefresh[1].requestBody ?? "").get("refresh_token")).toBe(afterReload.refresh_token);
  const current = lastIssued(exchanges);
  expect(current.refresh_token).not.toBe(afterReload.refresh_token);

  // Replaying the first, long-rotated token is refused and revokes the session...
  const replay = await presentRefreshToken(page, signUp.refresh_token as string);
  expect(replay.status).toBe(400);
  expect(replay.body?.error).toBe("invalid_grant");
  // ...so even the current refresh token no longer resumes it.
  await withoutAutofill(page, () => page.reload());
  await expect(page.getByTestId("view-signed-out")).toBeVisible();
});
