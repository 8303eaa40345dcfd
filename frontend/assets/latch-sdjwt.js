// SD-JWT presentations (RFC 9901 section 4.3): the holder keeps the
// disclosures it chooses and signs a key-binding JWT with the key the
// credential is bound to (cnf.jwk), here the browser's DPoP key.

import { base64url, base64urlDecode, signES256JWT, thumbprint } from "./latch-dpop.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function decodeJSON(part) {
  return JSON.parse(decoder.decode(base64urlDecode(part)));
}

/**
 * credentialParts splits "<issuer JWT>~<disclosure>~...~" into its pieces:
 * the issuer JWT, its payload, and each disclosure's encoding, claim name
 * and value (name and value undefined for an array element's disclosure).
 */
export function credentialParts(credential) {
  const parts = String(credential).split("~");
  if (parts.length < 2 || parts[parts.length - 1] !== "" || parts[0].split(".").length !== 3) {
    throw new TypeError("not an SD-JWT credential (<issuer JWT>~<disclosures>~)");
  }
  const disclosures = parts.slice(1, -1).map((encoded) => {
    const value = decodeJSON(encoded);
    const claim = Array.isArray(value) && value.length === 3;
    return { encoded, name: claim ? value[1] : undefined, value: claim ? value[2] : undefined };
  });
  return { issuerJWT: parts[0], payload: decodeJSON(parts[0].split(".")[1]), disclosures };
}

/** holderThumbprint is the RFC 7638 thumbprint of the credential's cnf.jwk. */
export function holderThumbprint(credential) {
  const jwk = credentialParts(credential).payload?.cnf?.jwk;
  if (!jwk) throw new TypeError("the credential is not key-bound");
  return thumbprint(jwk);
}

/**
 * createPresentation keeps the disclosures of the claims named in `reveal`
 * (byte for byte, as issued) and appends a KB-JWT for `aud` and `nonce`
 * whose sd_hash covers exactly what is presented.
 */
export async function createPresentation(privateKey, credential, { reveal = [], aud, nonce, now = Date.now() }) {
  if (!aud || !nonce) throw new TypeError("a presentation needs the verifier's aud and nonce");
  const { issuerJWT, disclosures } = credentialParts(credential);
  const kept = disclosures.filter((d) => reveal.includes(d.name)).map((d) => d.encoded);
  const presented = [issuerJWT, ...kept].join("~") + "~";
  const sdHash = base64url(await crypto.subtle.digest("SHA-256", encoder.encode(presented)));
  const header = { typ: "kb+jwt", alg: "ES256" };
  const payload = { iat: Math.floor(now / 1000), aud, nonce, sd_hash: sdHash };
  return presented + (await signES256JWT(privateKey, header, payload));
}
