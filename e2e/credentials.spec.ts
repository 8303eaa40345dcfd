// SD-JWT credentials from the browser: issue one bound to the page's DPoP
// key, present a subset to a relying party, and have the service verify it.

import { expect, test } from "@playwright/test";
import { addAuthenticator, signUpThroughPage, uniqueUsername } from "./support";

test("a credential is issued, presented with only the chosen claims, and verified", async ({ page, request }) => {
  await addAuthenticator(page);
  const username = uniqueUsername("holder");
  await signUpThroughPage(page, username, "Holder Person");

  const presentation = await page.evaluate(async () => {
    const { Latch } = await import("/latch.js");
    const latch = new Latch();
    const { format, credential } = await latch.issueCredential();
    if (format !== "dc+sd-jwt") throw new Error(`format ${format}`);
    return latch.presentCredential(credential, { reveal: ["username"], aud: "https://rp.example", nonce: "n-42" });
  });
  // <issuer JWT>~<one disclosure>~<KB-JWT>
  expect(presentation.split("~")).toHaveLength(3);

  const verified = await request.post("/credentials/verify", {
    data: { presentation, aud: "https://rp.example", nonce: "n-42" },
  });
  expect(verified.status()).toBe(200);
  const body = await verified.json();
  expect(body.valid).toBe(true);
  expect(body.claims.username).toBe(username);
  expect(body.claims.display_name).toBeUndefined();
  expect(body.claims.sub).toBeUndefined();

  // The same presentation for another relying party is refused.
  const elsewhere = await request.post("/credentials/verify", {
    data: { presentation, aud: "https://other.example", nonce: "n-42" },
  });
  expect(elsewhere.status()).toBe(400);
  expect((await elsewhere.json()).valid).toBe(false);
});
