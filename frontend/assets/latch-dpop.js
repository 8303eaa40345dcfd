// DPoP proofs (RFC 9449) signed with a non-extractable WebCrypto P-256 key.

const encoder = new TextEncoder();

/** base64url encodes bytes without padding (RFC 4648 section 5). */
export function base64url(input) {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  let binary = "";
  // Chunked so a large buffer never exceeds the engine's argument limit.
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** base64urlDecode decodes unpadded base64url, rejecting any other alphabet. */
export function base64urlDecode(text) {
  if (typeof text !== "string" || !/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) {
    throw new TypeError("invalid base64url");
  }
  const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
  const binary = atob(padded);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * generateKeyPair makes an ECDSA P-256 key pair whose private half can never
 * be exported: script that runs later on the page (or an XSS payload) can
 * use it to sign while the page is open, but cannot copy it elsewhere.
 */
export function generateKeyPair() {
  return crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
}

/** publicJwk returns only the public members of a P-256 key as a JWK. */
export async function publicJwk(publicKey) {
  const { kty, crv, x, y } = await crypto.subtle.exportKey("jwk", publicKey);
  return { kty, crv, x, y };
}

/** thumbprint is the RFC 7638 SHA-256 JWK thumbprint (the `cnf.jkt` value). */
export async function thumbprint(jwk) {
  // RFC 7638: required members only, in lexicographic order, no whitespace.
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return base64url(await crypto.subtle.digest("SHA-256", encoder.encode(canonical)));
}

/** htu is the proof's target URI: the absolute URL without query or fragment. */
export function htu(url) {
  const parsed = new URL(url);
  return parsed.origin + parsed.pathname;
}

/** accessTokenHash is the `ath` claim: base64url(SHA-256(ASCII token)). */
export async function accessTokenHash(token) {
  return base64url(await crypto.subtle.digest("SHA-256", encoder.encode(token)));
}

/**
 * createProof builds a compact DPoP proof JWT for one request. `accessToken`
 * adds `ath` (protected endpoints), `nonce` echoes the server's DPoP-Nonce.
 */
export async function createProof(privateKey, jwk, { method, url, accessToken, nonce, now = Date.now() }) {
  const header = { typ: "dpop+jwt", alg: "ES256", jwk };
  const payload = {
    jti: base64url(crypto.getRandomValues(new Uint8Array(16))),
    htm: method.toUpperCase(),
    htu: htu(url),
    iat: Math.floor(now / 1000),
  };
  if (accessToken) payload.ath = await accessTokenHash(accessToken);
  if (nonce) payload.nonce = nonce;
  return signES256JWT(privateKey, header, payload);
}

/** signES256JWT returns the compact JWS of header and payload, signed with an ECDSA P-256 key. */
export async function signES256JWT(privateKey, header, payload) {
  const signingInput =
    base64url(encoder.encode(JSON.stringify(header))) + "." + base64url(encoder.encode(JSON.stringify(payload)));
  // WebCrypto ECDSA signatures are already the raw r||s form JWS wants.
  const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, privateKey, encoder.encode(signingInput));
  return signingInput + "." + base64url(signature);
}
