// Sign-in with a passkey file (`latch users add NAME --passkey-out FILE`)
// over Latch's HTTP API, for API tests without a browser (Node 20+, no
// dependencies). The tokens come back bound to a DPoP key made for the
// session, as latch.js gets them in a browser.
//
//   import { signInWithPasskeyFile } from "@latchid/latch-testing/passkey";
//   const session = await signInWithPasskeyFile({ issuer: "http://localhost:8080", passkeyFile: "alice.passkey.json" });
//   const res = await session.fetch("http://localhost:4000/orders");

import { readFile } from "node:fs/promises";

const subtle = globalThis.crypto.subtle;
const encoder = new TextEncoder();
const PASSKEY_FORMAT = "latch-passkey/1";

const b64url = (bytes) => Buffer.from(bytes).toString("base64url");
const fromB64url = (text) => new Uint8Array(Buffer.from(text, "base64url"));
const sha256 = async (bytes) => new Uint8Array(await subtle.digest("SHA-256", bytes));

/** readPasskeyFile reads and checks a passkey file. */
export async function readPasskeyFile(path) {
  const file = JSON.parse(await readFile(path, "utf8"));
  if (file?.format !== PASSKEY_FORMAT) throw new Error(`passkey file ${path}: format ${file?.format}, want ${PASSKEY_FORMAT}`);
  for (const field of ["rp_id", "origin", "credential_id", "user_handle", "private_key_jwk"]) {
    if (!file[field]) throw new Error(`passkey file ${path}: ${field} is missing`);
  }
  return file;
}

// ES256 signatures in WebAuthn are ASN.1 DER (WebAuthn section 6.5.6);
// WebCrypto gives r||s.
function derSignature(raw) {
  const int = (bytes) => {
    let i = 0;
    while (i < bytes.length - 1 && bytes[i] === 0) i++;
    let v = bytes.subarray(i);
    if (v[0] & 0x80) v = Uint8Array.of(0, ...v);
    return Uint8Array.of(0x02, v.length, ...v);
  };
  const r = int(raw.subarray(0, 32));
  const s = int(raw.subarray(32));
  return Uint8Array.of(0x30, r.length + s.length, ...r, ...s);
}

/**
 * assertion answers a sign-in's PublicKeyCredentialRequestOptionsJSON
 * with the file's passkey: the AuthenticationResponseJSON a browser's
 * credential.toJSON() would give (user present and verified, counter 0).
 */
export async function assertion(file, publicKey) {
  if (publicKey.rpId && publicKey.rpId !== file.rp_id) {
    throw new Error(`the options are for RP ${publicKey.rpId}, the passkey for ${file.rp_id} (SecurityError)`);
  }
  const key = await subtle.importKey("jwk", { ...file.private_key_jwk, ext: false }, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
  const clientData = encoder.encode(
    JSON.stringify({ type: "webauthn.get", challenge: publicKey.challenge, origin: file.origin, crossOrigin: false }),
  );
  const flags = 0x01 | 0x04; // UP, UV
  const authData = new Uint8Array([...(await sha256(encoder.encode(file.rp_id))), flags, 0, 0, 0, 0]);
  const signed = new Uint8Array([...authData, ...(await sha256(clientData))]);
  const raw = new Uint8Array(await subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, signed));
  return {
    id: file.credential_id,
    rawId: file.credential_id,
    type: "public-key",
    response: {
      clientDataJSON: b64url(clientData),
      authenticatorData: b64url(authData),
      signature: b64url(derSignature(raw)),
      userHandle: file.user_handle,
    },
    authenticatorAttachment: "platform",
    clientExtensionResults: {},
  };
}

async function dpopKey() {
  const pair = await subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
  const { kty, crv, x, y } = await subtle.exportKey("jwk", pair.publicKey);
  const jwk = { kty, crv, x, y };
  const jkt = b64url(await sha256(encoder.encode(JSON.stringify({ crv, kty, x, y }))));
  return { privateKey: pair.privateKey, jwk, jkt };
}

async function proof(key, { method, url, accessToken, nonce }) {
  const target = new URL(url);
  const payload = {
    jti: b64url(globalThis.crypto.getRandomValues(new Uint8Array(16))),
    htm: method.toUpperCase(),
    htu: target.origin + target.pathname,
    iat: Math.floor(Date.now() / 1000),
  };
  if (accessToken) payload.ath = b64url(await sha256(encoder.encode(accessToken)));
  if (nonce) payload.nonce = nonce;
  const input =
    b64url(encoder.encode(JSON.stringify({ typ: "dpop+jwt", alg: "ES256", jwk: key.jwk }))) + "." + b64url(encoder.encode(JSON.stringify(payload)));
  const sig = await subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key.privateKey, encoder.encode(input));
  return input + "." + b64url(sig);
}

/** LatchAPIError is an error answer of the service: `code` is its `error` value. */
export class LatchAPIError extends Error {
  constructor(status, code, description) {
    super(`${status} ${code}: ${description}`);
    this.name = "LatchAPIError";
    this.status = status;
    this.code = code;
    this.description = description;
  }
}

async function apiError(res) {
  let body = {};
  try {
    body = await res.json();
  } catch {
    body = {};
  }
  return new LatchAPIError(res.status, body.error || `http_${res.status}`, body.error_description || "");
}

/**
 * signInWithPasskeyFile runs a usernameless passkey sign-in with the file
 * (`passkeyFile`, a path, or `passkey`, its parsed contents) at `issuer`
 * and resolves to a session:
 * - `accessToken`, `refreshToken`, `thumbprint` (the tokens' cnf.jkt);
 * - `fetch(url, init)`: a request with `Authorization: DPoP` and a proof
 *   for that method and URL, retried once on use_dpop_nonce;
 * - `createProof(method, url)`, `refresh()`, `signOut()`.
 * An account with TOTP on rejects with code "mfa_required".
 */
export async function signInWithPasskeyFile({ issuer, passkeyFile, passkey, fetch: fetchImpl = globalThis.fetch } = {}) {
  if (!issuer) throw new TypeError("signInWithPasskeyFile: issuer is required");
  const file = passkey ?? (await readPasskeyFile(passkeyFile));
  const base = String(issuer).replace(/\/+$/, "");
  const key = await dpopKey();
  const nonces = new Map(); // DPoP-Nonce by origin
  const noteNonce = (url, res) => {
    const nonce = res.headers.get("DPoP-Nonce");
    const origin = new URL(url).origin;
    const fresh = Boolean(nonce) && nonces.get(origin) !== nonce;
    if (nonce) nonces.set(origin, nonce);
    return fresh;
  };

  const session = {
    accessToken: "",
    refreshToken: "",
    thumbprint: key.jkt,
    createProof(method, url) {
      return proof(key, { method, url, accessToken: session.accessToken, nonce: nonces.get(new URL(url).origin) });
    },
    async fetch(url, init = {}) {
      const method = (init.method ?? "GET").toUpperCase();
      for (let attempt = 0; ; attempt++) {
        const headers = new Headers(init.headers);
        headers.set("Authorization", `DPoP ${session.accessToken}`);
        headers.set("DPoP", await session.createProof(method, url));
        const res = await fetchImpl(url, { ...init, method, headers });
        const fresh = noteNonce(url, res);
        if (attempt === 0 && fresh && res.status === 401 && /error="use_dpop_nonce"/.test(res.headers.get("WWW-Authenticate") ?? "")) continue;
        return res;
      }
    },
    async refresh() {
      const body = new URLSearchParams({ grant_type: "refresh_token", refresh_token: session.refreshToken }).toString();
      await tokenRequest("/token", body, "application/x-www-form-urlencoded");
    },
    async signOut() {
      const res = await session.fetch(base + "/logout", { method: "POST" });
      if (res.status !== 204) throw await apiError(res);
    },
  };

  // A token request with a proof, retried once with the service's nonce
  // (a use_dpop_nonce answer spends nothing).
  async function tokenRequest(path, body, contentType) {
    const url = base + path;
    for (let attempt = 0; ; attempt++) {
      const dpop = await proof(key, { method: "POST", url, nonce: nonces.get(new URL(url).origin) });
      const res = await fetchImpl(url, { method: "POST", headers: { "Content-Type": contentType, DPoP: dpop }, body });
      noteNonce(url, res);
      if (res.ok) {
        const tokens = await res.json();
        if (String(tokens.token_type).toLowerCase() !== "dpop") throw new Error("the service returned a token that is not DPoP-bound");
        session.accessToken = tokens.access_token;
        session.refreshToken = tokens.refresh_token ?? session.refreshToken;
        return;
      }
      const err = await apiError(res);
      if (err.code === "use_dpop_nonce" && attempt === 0) continue;
      throw err;
    }
  }

  const begin = await fetchImpl(base + "/webauthn/login/begin", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: "{}",
  });
  noteNonce(base, begin);
  if (!begin.ok) throw await apiError(begin);
  const { ceremony, publicKey } = await begin.json();
  const credential = await assertion(file, publicKey);
  await tokenRequest("/webauthn/login/finish", JSON.stringify({ ceremony, credential }), "application/json");
  return session;
}
