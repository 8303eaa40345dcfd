// Sign up, sign out and sign in again without a username, all through the
// page, and check that the session is DPoP-bound and that no token is left
// where page script could read it.

import { expect, test } from "@playwright/test";
import {
  addAuthenticator,
  captureTokenExchanges,
  jwtPart,
  lastIssued,
  pageThumbprint,
  signOutThroughPage,
  signUpThroughPage,
  startSignIn,
  uniqueUsername,
} from "./support";

test("sign-up, sign-out and usernameless sign-in give a DPoP-bound session kept out of web storage", async ({
  page,
  request,
  context,
}) => {
  await addAuthenticator(page);
  const { exchanges, settled } = captureTokenExchanges(page);
  const username = uniqueUsername("first");

  await signUpThroughPage(page, username, "First Person");
  await expect(page.getByTestId("whoami-display-name")).toHaveText("First Person");

  await signOutThroughPage(page);
  await startSignIn(page);
  await expect(page.getByTestId("view-signed-in")).toBeVisible();
  await expect(page.getByTestId("whoami-username")).toHaveText(username);

  await settled();
  const finish = exchanges.filter((e) => e.path === "/webauthn/login/finish" && e.status === 200);
  expect(finish, "one successful usernameless sign-in").toHaveLength(1);
  expect(finish[0].dpopHeader, "the sign-in carried a DPoP proof").toBeTruthy();
  const tokens = lastIssued(exchanges);
  expect(tokens.token_type).toBe("DPoP");
  const accessToken = tokens.access_token as string;
  const refreshToken = tokens.refresh_token as string;

  // Bound to the page's key: cnf.jkt is the thumbprint of the key latch.js holds.
  const jkt = await pageThumbprint(page);
  expect(jwtPart(accessToken, 1).cnf?.jkt).toBe(jkt);

  // The client library, imported by other page script, reaches the same session.
  const info = await page.evaluate(async () => {
    const { Latch } = await import("/latch.js");
    return new Latch().userinfo();
  });
  expect(info.username).toBe(username);
  expect(info.display_name).toBe("First Person");

  // A bound token without its proof is useless: as Bearer (downgrade) and as DPoP without a proof.
  const asBearer = await request.get("/userinfo", { headers: { Authorization: `Bearer ${accessToken}` } });
  expect(asBearer.status()).toBe(401);
  const withoutProof = await request.get("/userinfo", { headers: { Authorization: `DPoP ${accessToken}` } });
  expect(withoutProof.status()).toBe(401);

  // Nothing token-like in web storage or cookies.
  const storage = await page.evaluate(() => {
    const dump = (s: Storage) => Array.from({ length: s.length }, (_, i) => `${s.key(i)}=${s.getItem(s.key(i)!)}`);
    return { local: dump(localStorage), session: dump(sessionStorage), cookie: document.cookie };
  });
  expect(storage.local).toEqual([]);
  expect(storage.session).toEqual([]);
  expect(storage.cookie).toBe("");
  for (const cookie of await context.cookies()) {
    expect(cookie.value).not.toContain(accessToken);
    expect(cookie.value).not.toContain(refreshToken);
  }

  // The DPoP private key kept for reloads cannot be exported.
  const key = await page.evaluate(async () => {
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
    let exported = true;
    try {
      await crypto.subtle.exportKey("jwk", pair.privateKey);
    } catch {
      exported = false;
    }
    return { extractable: pair.privateKey.extractable, exported, algorithm: (pair.privateKey.algorithm as EcKeyAlgorithm).namedCurve };
  });
  expect(key).toEqual({ extractable: false, exported: false, algorithm: "P-256" });
});
