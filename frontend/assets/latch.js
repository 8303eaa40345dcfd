// Latch browser client: passkey sign-up and sign-in, DPoP-bound tokens,
// TOTP second factor and account management against a Latch service.
//
//   import { Latch } from "/latch.js";
//   const latch = new Latch();
//   if (!(await latch.resume())) await latch.signIn();
//   const me = await latch.userinfo();
//
// From an app on another origin (registered with --web-origin), calling its
// own API with DPoP proofs made for it:
//
//   import { Latch } from "https://id.example/latch/v0.1.0/latch.js";
//   const latch = new Latch({ issuer: "https://id.example", apiOrigins: ["https://api.example"] });
//   const res = await latch.fetch("https://api.example/orders");
//
// Where secrets live:
// - the DPoP private key: a non-extractable WebCrypto key in IndexedDB;
// - the refresh token: IndexedDB, next to the key. It is DPoP-bound, so a
//   copy is useless without the key, and the key cannot be copied;
// - the access token: memory only, gone on reload (the refresh token
//   brings a new one).
// Nothing goes to localStorage, sessionStorage, cookies or the console.
//
// signOut() revokes the login session and then deletes both the refresh
// token and the key: the next sign-in gets a fresh key, so two accounts
// used one after the other in the same browser are not linkable through a
// shared key thumbprint, and a refresh token that leaked before sign-out is
// dead twice over.
//
// Instances created with the same baseURL and dbName on one page share
// their session, and refreshes are serialised across tabs with the Web
// Locks API, so a rotated refresh token is never presented twice (which the
// service treats as theft and answers by revoking the whole session).

import { LatchError, challengeError, errorBody, errorFromResponse } from "./latch-error.js";
import { createProof, generateKeyPair, publicJwk, thumbprint } from "./latch-dpop.js";
import { createPresentation, holderThumbprint } from "./latch-sdjwt.js";
import { conditionalMediationAvailable, signalAccepted, signalDetails, signalUnknown } from "./latch-signal.js";
import { SessionStore } from "./latch-store.js";
import { attachment, conditionalCreateAvailable, creationOptions, credentialJSON, requestOptions } from "./latch-webauthn.js";

export { LatchError } from "./latch-error.js";

const KEY_RECORD = "dpop_key";
const REFRESH_RECORD = "refresh_token";
// The RP ID and WebAuthn user handle of the last passkey sign-in, for the
// Signal API after a later page load (not secret: the handle is an opaque id).
const SIGNAL_RECORD = "signal_target";

// Session state shared by every Latch instance of the same service and
// database on this page.
const sessions = new Map();

function sharedSession(id, dbName) {
  let session = sessions.get(id);
  if (!session) {
    session = {
      store: new SessionStore(dbName),
      key: null, // Promise<{privateKey, jwk, jkt}>
      accessToken: null,
      renewAt: 0,
      refreshing: null,
      nonce: null,
      mfaToken: null,
      // The RP ID and user handle of the last passkey sign-in, for the
      // Signal API (latch-signal.js); null until one.
      signalTarget: null,
      signalAfterMfa: null,
      listeners: new Set(),
    };
    sessions.set(id, session);
  }
  return session;
}

function withLock(name, task) {
  const locks = globalThis.navigator?.locks;
  return locks ? locks.request(name, task) : task();
}

// Whether this browser has completed a passkey ceremony with the service
// (a sign-up, sign-in, added passkey or recovery). Not secret and naming no
// account, it outlives sign-out: it only tells a prompt the person closed
// from one that found no passkey here (see passkeyError).
const PASSKEY_USED_RECORD = "passkey_used";

// Passkey prompts fail with DOMExceptions; give callers stable codes.
// Browsers answer "the person closed the prompt" and "there is no passkey
// for this site here" alike (NotAllowedError, so that a page cannot probe
// for passkeys); `reason` is the client's best reading: a sign-in on a
// browser that never used a passkey with this service most likely found
// none.
function passkeyError(err, { usedBefore = true } = {}) {
  if (err instanceof LatchError) return err;
  const name = err?.name ?? "";
  if (name === "NotAllowedError" || name === "AbortError") {
    const out = new LatchError("ceremony_aborted", "The passkey prompt was cancelled or timed out.", 0, { cause: err });
    out.reason = name === "NotAllowedError" && !usedBefore ? "no_passkey" : "cancelled";
    return out;
  }
  if (name === "InvalidStateError") {
    return new LatchError("passkey_exists", "This authenticator already holds a passkey for the account.", 0, {
      cause: err,
    });
  }
  return new LatchError("passkey_error", err?.message ?? String(err), 0, { cause: err });
}

/**
 * Latch is a client for one Latch service. Options: `issuer` (or its older
 * name `baseURL`: the service's URL, default the page's origin),
 * `apiOrigins` (origins of your own APIs that fetch may call with the
 * access token, default none), `dbName` (IndexedDB database, default
 * "latch"), `refreshLeeway` (seconds before expiry at which the access
 * token is renewed, default 30).
 */
export class Latch {
  #endedElsewhere = false;
  #base;
  #session;
  #leewayMs;
  #apiOrigins;
  #apiNonces = new Map();

  constructor({ issuer, baseURL, apiOrigins = [], dbName = "latch", refreshLeeway = 30 } = {}) {
    const service = issuer ?? baseURL ?? globalThis.location?.origin;
    if (!service) throw new TypeError("Latch: issuer is required outside a web page");
    const base = new URL(service);
    this.#base = (base.origin + base.pathname).replace(/\/+$/, "");
    this.#session = sharedSession(`${this.#base}|${dbName}`, dbName);
    this.#leewayMs = Math.max(0, refreshLeeway) * 1000;
    this.#apiOrigins = new Set(Array.from(apiOrigins, apiOrigin));
  }

  // ---- session -----------------------------------------------------------

  /** onChange calls listener(signedIn) whenever the session starts or ends; returns an unsubscribe function. */
  onChange(listener) {
    this.#session.listeners.add(listener);
    return () => this.#session.listeners.delete(listener);
  }

  /** isSignedIn reports whether there is a session to use or resume (no network). */
  async isSignedIn() {
    if (this.#session.accessToken) return true;
    return Boolean(await this.#session.store.get(REFRESH_RECORD));
  }

  /** mfaPending is true between a sign-in that answered mfa_required and verifyTotp/verifyRecoveryCode. */
  get mfaPending() {
    return this.#session.mfaToken !== null;
  }

  /**
   * resume makes sure there is a usable access token, refreshing with the
   * stored refresh token when needed. It resolves to false when there is no
   * session (or the service no longer honours it) and throws on other
   * failures such as a network error.
   */
  async resume() {
    this.#endedElsewhere = false;
    try {
      await this.#currentAccessToken();
      return true;
    } catch (err) {
      if (err instanceof LatchError && (err.code === "not_signed_in" || err.code === "invalid_grant")) {
        this.#endedElsewhere = errorBody(err)?.reason === "session_ended";
        return false;
      }
      throw err;
    }
  }

  /**
   * endedElsewhere is true when the last resume() found this browser's
   * session ended by the service (signed out from another device or the
   * account page, by an operator, or by an account recovery), as opposed to
   * never signed in or expired: a page can tell the person why.
   */
  get endedElsewhere() {
    return this.#endedElsewhere;
  }

  /** keyThumbprint returns the RFC 7638 thumbprint of this browser's DPoP key (public information). */
  async keyThumbprint() {
    return (await this.#key()).jkt;
  }

  /**
   * signOut revokes the login session at the service (best effort) and then
   * forgets the tokens and the DPoP key on this browser whatever the
   * service answered. Resolves to true when the service confirmed.
   */
  async signOut() {
    let revoked = false;
    try {
      if (await this.isSignedIn()) {
        const res = await this.fetch("/logout", { method: "POST" });
        revoked = res.ok;
      }
    } catch {
      revoked = false; // offline or already expired: forgetting locally still ends the session here
    }
    await this.#forget({ dropKey: true });
    return revoked;
  }

  // ---- passkeys ----------------------------------------------------------

  /** signUp creates an account with a new passkey and signs in. Resolves to {credentialId}. */
  async signUp(username, displayName = username, { passkeyName } = {}) {
    const begin = await this.#postJSON("/webauthn/register/begin", { username, display_name: displayName });
    const credential = await this.#create(begin.publicKey);
    const body = { ceremony: begin.ceremony, credential: credentialJSON(credential) };
    if (passkeyName) body.name = passkeyName;
    const tokens = await this.#tokenRequest("/webauthn/register/finish", JSON.stringify(body), "application/json");
    this.#session.mfaToken = null;
    await this.#acceptTokens(tokens);
    return { credentialId: tokens.credential_id };
  }

  /**
   * signIn signs in with a passkey: usernameless (discoverable credential)
   * by default, or restricted to `username`'s passkeys. Resolves to
   * {mfaRequired: false} when signed in, or {mfaRequired: true} when the
   * account also needs a TOTP or recovery code (call verifyTotp or
   * verifyRecoveryCode next). `mediation` and `signal` go to credentials.get.
   * The answer also carries the passkey's `authenticatorAttachment`
   * ("platform", "cross-platform", or null when the browser does not say):
   * "cross-platform" means a passkey from another device (a phone, a
   * security key), so this one may be offered upgradeToPasskey.
   */
  async signIn({ username, mediation, signal } = {}) {
    const begin = await this.#postJSON("/webauthn/login/begin", username ? { username } : {});
    let assertion;
    try {
      const options = { publicKey: requestOptions(begin.publicKey) };
      if (mediation) options.mediation = mediation;
      if (signal) options.signal = signal;
      assertion = await navigator.credentials.get(options);
    } catch (err) {
      const usedBefore = Boolean(await this.#session.store.get(PASSKEY_USED_RECORD).catch(() => true));
      throw passkeyError(err, { usedBefore });
    }
    this.#passkeyUsed(); // in the background: the sign-in does not wait for it
    const json = credentialJSON(assertion);
    const body = JSON.stringify({ ceremony: begin.ceremony, credential: json });
    this.#session.mfaToken = null;
    const rpId = begin.publicKey?.rpId;
    let tokens;
    try {
      tokens = await this.#tokenRequest("/webauthn/login/finish", body, "application/json");
    } catch (err) {
      const details = errorBody(err);
      if (err.code === "mfa_required" && typeof details?.mfa_token === "string") {
        this.#session.mfaToken = details.mfa_token;
        this.#session.signalAfterMfa = { rpId, userId: json.response?.userHandle };
        return { mfaRequired: true, authenticatorAttachment: attachment(assertion) };
      }
      // A passkey no account here holds (deleted, or its account deleted):
      // the device may forget it, so it is not offered again.
      if (details?.reason === "unknown_credential") await signalUnknown(rpId, json.id);
      throw err;
    }
    await this.#acceptTokens(tokens);
    await this.#signalSignedIn(rpId, json.response?.userHandle);
    return { mfaRequired: false, authenticatorAttachment: attachment(assertion) };
  }

  /**
   * signInWithAutofill offers the person's passkeys in the username field's
   * autofill (conditional mediation; the field needs autocomplete="username
   * webauthn") and signs in when one is picked. It resolves to
   * {available: false} at once where the browser cannot, and otherwise
   * waits; abort it with `signal` (for example when the person presses a
   * sign-in button instead), which rejects with code "ceremony_aborted".
   */
  async signInWithAutofill({ signal } = {}) {
    if (!(await conditionalMediationAvailable())) return { available: false, mfaRequired: false };
    const result = await this.signIn({ mediation: "conditional", signal });
    return { available: true, ...result };
  }

  // After a sign-in, tell the device which passkeys the account still has
  // and what it is called (the Signal API; best effort, in the background,
  // and only where the browser has it).
  // The target is stored before the sign-in resolves, so that a page the
  // app moves to next (an account page deleting a passkey) finds it.
  async #signalSignedIn(rpId, userId) {
    if (!rpId || !userId) return;
    this.#session.signalTarget = { rpId, userId };
    await this.#session.store.put(SIGNAL_RECORD, { rpId, userId }).catch(() => {});
    (async () => {
      const [passkeys, me] = await Promise.all([this.listPasskeys(), this.userinfo()]);
      await signalAccepted(rpId, userId, passkeys.map((p) => p.id));
      await signalDetails(rpId, userId, me.username, me.display_name);
    })().catch(() => {});
  }

  /**
   * addPasskey registers another passkey for the signed-in user. Resolves to
   * {credentialId}. Like every credential change it needs a recent sign-in
   * (see reauthenticate): it rejects with "insufficient_user_authentication"
   * before the passkey prompt, or, when the sign-in turned too old during
   * the prompt, after it (the new passkey is then not registered; remove it
   * from the authenticator or let the user ignore it).
   */
  async addPasskey(name) {
    const begin = await this.#authJSON("POST", "/webauthn/register/begin", {});
    const credential = await this.#create(begin.publicKey);
    const body = { ceremony: begin.ceremony, credential: credentialJSON(credential) };
    if (name) body.name = name;
    const out = await this.#authJSON("POST", "/webauthn/register/finish", body);
    return { credentialId: out.credential_id };
  }

  /**
   * upgradeToPasskey lets the browser create a passkey for the signed-in
   * account without a prompt of its own (conditional create), where
   * PublicKeyCredential.getClientCapabilities() reports conditionalCreate:
   * after an account recovery, or a sign-in with a passkey from another
   * device, so that this device signs in by itself next time. The browser
   * decides whether to make one (it answers NotAllowedError when it does
   * not, which is normal), and a device that already holds one of the
   * account's passkeys makes none. Like addPasskey it needs a recent
   * sign-in, which one that has just finished is. It never rejects and
   * never prompts: it resolves to {available: false} where the browser
   * cannot, and otherwise to {available: true, credentialId} with the new
   * passkey's id, or null when none was made. Abort it with `signal`.
   */
  async upgradeToPasskey({ signal } = {}) {
    if (!(await conditionalCreateAvailable())) return { available: false, credentialId: null };
    try {
      const begin = await this.#authJSON("POST", "/webauthn/register/begin", { mediation: "conditional" });
      const options = { mediation: "conditional", publicKey: creationOptions(begin.publicKey) };
      if (signal) options.signal = signal;
      const credential = await navigator.credentials.create(options);
      const out = await this.#authJSON("POST", "/webauthn/register/finish", {
        ceremony: begin.ceremony,
        credential: credentialJSON(credential),
      });
      return { available: true, credentialId: out.credential_id };
    } catch {
      return { available: true, credentialId: null };
    }
  }

  /** listPasskeys returns the signed-in user's passkeys. */
  listPasskeys() {
    return this.#authJSON("GET", "/me/credentials");
  }

  /** renamePasskey sets a passkey's label and returns the updated item. */
  renamePasskey(id, name) {
    return this.#authJSON("PATCH", `/me/credentials/${encodeURIComponent(id)}`, { name });
  }

  /**
   * deletePasskey removes a passkey; the service refuses the last one
   * (last_credential). Needs a recent sign-in (see reauthenticate).
   */
  async deletePasskey(id) {
    await this.#authJSON("DELETE", `/me/credentials/${encodeURIComponent(id)}`);
    // The device may drop the deleted passkey (Signal API), when this
    // browser signed in with one of the account's passkeys.
    (async () => {
      const target = this.#session.signalTarget ?? (await this.#session.store.get(SIGNAL_RECORD));
      if (!target) return;
      const passkeys = await this.listPasskeys();
      await signalAccepted(target.rpId, target.userId, passkeys.map((p) => p.id));
    })().catch(() => {});
  }

  /** listSessions returns where the user is signed in: [{id, created_at, auth_time, amr, device, device_name, device_browser, device_system, dpop_bound, current, last_active_at, place}], newest first. */
  listSessions() {
    return this.#authJSON("GET", "/me/sessions");
  }

  /** endSession signs one session out (another device); ending the current one is signOut(). */
  async endSession(id) {
    await this.#authJSON("DELETE", `/me/sessions/${encodeURIComponent(id)}`);
  }

  /** endOtherSessions signs out every session but this browser's; resolves to how many it ended. */
  async endOtherSessions() {
    return (await this.#authJSON("DELETE", "/me/sessions")).ended;
  }

  /**
   * listApps returns the applications the user has allowed to sign them in
   * (OpenID Connect clients they consented to): [{client_id, scopes,
   * granted_at}].
   */
  listApps() {
    return this.#authJSON("GET", "/me/apps");
  }

  /**
   * revokeApp takes an application's access back: the consent goes (its
   * next sign-in asks again) and so do its sessions, whose tokens stop
   * working at once. Rejects with "not_found" when the application has
   * neither.
   */
  async revokeApp(clientId) {
    await this.#authJSON("DELETE", `/me/apps/${encodeURIComponent(clientId)}`);
  }

  /**
   * deleteAccount deletes the signed-in user's account and everything the
   * service keeps for it (passkeys, sessions, TOTP), then forgets this
   * browser's tokens and DPoP key. Needs a recent sign-in: otherwise it
   * rejects with code "insufficient_user_authentication"; call
   * reauthenticate and retry. The passkeys themselves stay on the user's
   * devices, to be removed there.
   */
  async deleteAccount() {
    await this.#authJSON("DELETE", "/me");
    await this.#forget({ dropKey: true });
  }

  /**
   * reauthenticate signs the current user in again, for a credential change
   * (adding or deleting a passkey, TOTP enrolment, confirmation or removal,
   * deleting the account) that was refused with
   * "insufficient_user_authentication": the service wants a sign-in from the
   * last five minutes (`err.maxAge` seconds) and, once TOTP is on, one that
   * included it (`err.amrValues` has "otp"). It asks for a passkey of this
   * account only, then, when the account has TOTP on, calls
   * `secondStep(previousError)` for {code} or {recoveryCode} until one is
   * accepted (previousError is the last wrong code's error, or null; throw
   * from secondStep to give up). It checks the new sign-in is the same
   * account (else rejects with "account_changed") and ends the session it
   * replaces, so the browser keeps one. Retry the change afterwards.
   */
  async reauthenticate({ secondStep, signal } = {}) {
    const before = await this.userinfo();
    let replaced = null;
    try {
      replaced = (await this.listSessions()).find((s) => s.current)?.id ?? null;
    } catch {
      replaced = null; // the old session then simply expires
    }
    const { mfaRequired } = await this.signIn({ username: before.username, signal });
    if (mfaRequired) {
      if (typeof secondStep !== "function") {
        this.cancelMfa();
        throw new LatchError("mfa_required", "The account needs its second step, and no secondStep was given.");
      }
      for (let previous = null; ; ) {
        let answer;
        try {
          answer = await secondStep(previous);
        } catch (err) {
          this.cancelMfa();
          throw err;
        }
        try {
          if (answer?.recoveryCode) await this.verifyRecoveryCode(answer.recoveryCode);
          else await this.verifyTotp(answer?.code ?? "");
          break;
        } catch (err) {
          if (err?.code !== "invalid_code") throw err; // anything else has spent the sign-in
          previous = err;
        }
      }
    }
    if ((await this.userinfo()).sub !== before.sub) {
      throw new LatchError("account_changed", "The new sign-in is for another account; nothing was changed.");
    }
    if (replaced) await this.endSession(replaced).catch(() => {});
  }

  // ---- TOTP --------------------------------------------------------------

  /** verifyTotp completes an MFA sign-in with an authenticator-app code. */
  verifyTotp(code) {
    return this.#verifyMfa({ code: String(code).trim() });
  }

  /** verifyRecoveryCode completes an MFA sign-in with a single-use recovery code. */
  verifyRecoveryCode(code) {
    return this.#verifyMfa({ recovery_code: String(code).trim() });
  }

  /** cancelMfa abandons a sign-in that is waiting for its second factor. */
  cancelMfa() {
    this.#session.mfaToken = null;
  }

  /** enrollTotp starts TOTP enrolment: {secret, otpauth_uri, qr_png}. Needs a recent sign-in (see reauthenticate). */
  enrollTotp() {
    return this.#authJSON("POST", "/totp/enroll", {});
  }

  /**
   * confirmTotp activates TOTP with a first code and returns the recovery
   * codes (shown once). Needs a recent sign-in (see reauthenticate); a
   * refusal for that reason does not spend the code.
   */
  async confirmTotp(code) {
    const out = await this.#authJSON("POST", "/totp/confirm", { code: String(code).trim() });
    return out.recovery_codes;
  }

  /**
   * disableTotp turns TOTP off; it needs a current code and a recent sign-in
   * that included TOTP (see reauthenticate). The code of that sign-in is
   * spent, so the retry needs the app's next code.
   */
  async disableTotp(code) {
    await this.#authJSON("DELETE", "/totp", { code: String(code).trim() });
  }

  // ---- recovery ----------------------------------------------------------

  /**
   * recover gets a person whose passkeys are lost back into their account:
   * `username` and one of its recovery `code`s (plus, when the account has
   * TOTP on, `totp`, a code from the authenticator app, or `secondCode`, a
   * second recovery code) open a short recovery session, in which the
   * browser creates a new passkey; that signs in and ends every other
   * session of the account. A wrong code, or an unknown name, rejects with
   * "invalid_code"; an account with TOTP on and no second step given
   * rejects with "totp_required" before any passkey prompt. Nothing is
   * spent until the new passkey is registered, so a cancelled prompt can
   * simply be retried with the same code. Resolves to {credentialId}.
   */
  async recover({ username, code, totp, secondCode, passkeyName } = {}) {
    const body = { username: String(username ?? "").trim(), recovery_code: String(code ?? "").trim() };
    if (totp) body.totp_code = String(totp).trim();
    if (secondCode) body.second_recovery_code = String(secondCode).trim();
    const start = await this.#postJSON("/recovery/start", body);
    return this.completeRecovery(start.recovery_token, { passkeyName });
  }

  /**
   * completeRecovery creates a new passkey in a recovery session, from
   * recover() or from an operator's recovery link (see recoveryLinkToken),
   * and signs in, ending every other session of the account. An expired or
   * used session rejects with "invalid_grant". Resolves to {credentialId}.
   */
  async completeRecovery(recoveryToken, { passkeyName } = {}) {
    const begin = await this.#postJSON("/recovery/register/begin", { recovery_token: recoveryToken });
    const credential = await this.#create(begin.publicKey);
    const body = { recovery_token: recoveryToken, ceremony: begin.ceremony, credential: credentialJSON(credential) };
    if (passkeyName) body.name = passkeyName;
    const tokens = await this.#tokenRequest("/recovery/register/finish", JSON.stringify(body), "application/json");
    this.#session.mfaToken = null;
    await this.#acceptTokens(tokens);
    return { credentialId: tokens.credential_id };
  }

  /**
   * recoveryLinkToken returns the token of an operator's recovery link
   * (`{issuer}/recover#token=...`, from `latch users recover NAME`), or
   * null when `url` (default: the page's address) holds none.
   */
  static recoveryLinkToken(url = globalThis.location?.href) {
    try {
      const token = new URLSearchParams(new URL(url).hash.slice(1)).get("token");
      return token || null;
    } catch {
      return null;
    }
  }

  /** recoveryCodesStatus returns {remaining, created_at} of the signed-in user's recovery codes (never the codes). */
  recoveryCodesStatus() {
    return this.#authJSON("GET", "/me/recovery-codes");
  }

  /**
   * createRecoveryCodes makes a new set of ten single-use recovery codes,
   * replacing the old set, and returns them: they are shown this once.
   * Needs a recent sign-in (see reauthenticate).
   */
  async createRecoveryCodes() {
    const out = await this.#authJSON("POST", "/me/recovery-codes", {});
    return out.recovery_codes;
  }

  // ---- account -----------------------------------------------------------

  /** userinfo returns {sub, username, display_name, amr, auth_time, totp_enabled}. */
  userinfo() {
    return this.#authJSON("GET", "/userinfo");
  }

  /**
   * issueCredential asks for an SD-JWT credential bound to this browser's
   * DPoP key: {format, credential}. `claims` limits the disclosures.
   */
  issueCredential(claims) {
    return this.#authJSON("POST", "/credentials/sd-jwt", claims ? { claims } : {});
  }

  /**
   * presentCredential turns a credential from issueCredential into a
   * presentation for a relying party: only the claims named in `reveal` are
   * disclosed, and a key-binding JWT for the relying party's `aud` and
   * `nonce` is signed with this browser's key. The credential must be bound
   * to that key (signOut replaces the key, so credentials issued before no
   * longer present).
   */
  async presentCredential(credential, { reveal = [], aud, nonce } = {}) {
    const { privateKey, jkt } = await this.#key();
    if ((await holderThumbprint(credential)) !== jkt) {
      throw new LatchError("key_mismatch", "The credential is bound to another key than this browser's.");
    }
    return createPresentation(privateKey, credential, { reveal, aud, nonce });
  }

  /**
   * fetch calls a protected endpoint of the service (a path such as
   * "/userinfo") with the access token and a fresh DPoP proof, renewing the
   * token when it is about to expire or the service says it is invalid, and
   * answering a DPoP nonce challenge once. `init` is as for window.fetch;
   * give a body that can be sent twice (string, Blob, FormData,
   * URLSearchParams), since a retry resends it. Resolves to the Response.
   *
   * An absolute URL on one of `apiOrigins` goes to your own API the same
   * way, with a proof for that exact method and URL; any other absolute URL
   * rejects with a TypeError and nothing is sent.
   */
  async fetch(path, init = {}) {
    if (typeof path !== "string" || !path.startsWith("/") || path.startsWith("//")) return this.#fetchAPI(path, init);
    const url = this.#url(path);
    const method = (init.method ?? "GET").toUpperCase();
    let nonceRetried = false;
    let refreshed = false;
    for (;;) {
      const token = await this.#currentAccessToken();
      const headers = new Headers(init.headers);
      // Only DPoP-bound tokens are ever accepted (#acceptTokens).
      const { privateKey, jwk } = await this.#key();
      headers.set("Authorization", `DPoP ${token}`);
      headers.set(
        "DPoP",
        await createProof(privateKey, jwk, { method, url, accessToken: token, nonce: this.#session.nonce }),
      );
      const res = await this.#send(url, { ...init, method, headers });
      if (res.status !== 401) return res;
      let code = challengeError(res.headers.get("WWW-Authenticate"));
      if (!code) code = (await errorFromResponse(res)).code;
      if (code === "use_dpop_nonce" && !nonceRetried && this.#session.nonce) {
        nonceRetried = true;
        continue;
      }
      if (code === "invalid_token" && !refreshed && (await this.#session.store.get(REFRESH_RECORD))) {
        refreshed = true;
        await this.#refresh(token);
        continue;
      }
      if (code === "invalid_token") await this.#forget({ dropKey: false });
      return res;
    }
  }

  // ---- your own APIs -----------------------------------------------------

  /**
   * getAccessToken resolves to a current access token, refreshing first
   * when it is about to expire; for code that builds its own requests. It
   * is DPoP-bound: send it as `Authorization: DPoP <token>` with a proof
   * from createProof.
   */
  getAccessToken() {
    return this.#currentAccessToken();
  }

  /**
   * createProof makes a DPoP proof for one request to `url` (a path on the
   * service or a URL on one of `apiOrigins`) with this browser's key: `htm`
   * is `method`, `htu` the URL without query or fragment, `ath` the hash of
   * the current access token, and `nonce` the last DPoP-Nonce that origin
   * sent (or `options.nonce`). A proof is for one request only.
   */
  async createProof(method, url, { nonce } = {}) {
    const target = this.#allowedURL(url);
    const token = await this.#currentAccessToken();
    const { privateKey, jwk } = await this.#key();
    const origin = new URL(target).origin;
    const known = this.#apiOrigins.has(origin) ? this.#apiNonces.get(origin) : this.#session.nonce;
    return createProof(privateKey, jwk, { method, url: target, accessToken: token, nonce: nonce ?? known });
  }

  /**
   * refresh renews the access token now with the refresh token (for
   * instance after the API said the token no longer carries what it
   * needs). Concurrent calls share one refresh.
   */
  async refresh() {
    await this.#refresh(this.#session.accessToken);
  }

  // ---- internals ---------------------------------------------------------

  #url(path) {
    // Only paths on this service: an absolute or protocol-relative URL here
    // would hand the access token to another origin.
    if (typeof path !== "string" || !path.startsWith("/") || path.startsWith("//") || path.includes("\\")) {
      throw new TypeError("Latch: expected a path on the service, such as /userinfo");
    }
    return this.#base + path;
  }

  async #send(url, init) {
    let res;
    try {
      // Cookies only when a caller asks for this origin's (the provider
      // session cookie of the authorization page); never to another origin.
      const credentials = init.credentials === "same-origin" ? "same-origin" : "omit";
      res = await fetch(url, { ...init, credentials, cache: "no-store", redirect: "error" });
    } catch (err) {
      throw new LatchError("network_error", "The service could not be reached.", 0, { cause: err });
    }
    const nonce = res.headers.get("DPoP-Nonce");
    if (nonce) this.#session.nonce = nonce;
    return res;
  }

  async #postJSON(path, body) {
    const res = await this.#send(this.#url(path), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw await errorFromResponse(res);
    return res.json();
  }

  async #authJSON(method, path, body) {
    const init = { method };
    if (body !== undefined) {
      init.headers = { "Content-Type": "application/json" };
      init.body = JSON.stringify(body);
    }
    const res = await this.fetch(path, init);
    if (!res.ok) throw await errorFromResponse(res);
    if (res.status === 204) return null;
    return res.json();
  }

  async #create(publicKeyJSON) {
    let credential;
    try {
      credential = await navigator.credentials.create({ publicKey: creationOptions(publicKeyJSON) });
    } catch (err) {
      throw passkeyError(err);
    }
    this.#passkeyUsed();
    return credential;
  }

  #passkeyUsed() {
    this.#session.store.put(PASSKEY_USED_RECORD, true).catch(() => {});
  }

  // A request to a token-issuing endpoint, with a DPoP proof so the tokens
  // come back bound to this browser's key. A use_dpop_nonce answer spends
  // nothing at the service, so the same body is sent once more with the
  // nonce it supplied.
  async #tokenRequest(path, body, contentType) {
    const url = this.#url(path);
    const { privateKey, jwk } = await this.#key();
    for (let attempt = 0; ; attempt++) {
      const proof = await createProof(privateKey, jwk, { method: "POST", url, nonce: this.#session.nonce });
      const res = await this.#send(url, { method: "POST", headers: { "Content-Type": contentType, DPoP: proof }, body });
      if (res.ok) return res.json();
      const err = await errorFromResponse(res);
      if (err.code === "use_dpop_nonce" && attempt === 0 && this.#session.nonce) continue;
      throw err;
    }
  }

  async #verifyMfa(fields) {
    const mfaToken = this.#session.mfaToken;
    if (!mfaToken) throw new LatchError("invalid_grant", "No sign-in is waiting for a second factor.");
    let tokens;
    try {
      tokens = await this.#tokenRequest("/totp/verify", JSON.stringify({ mfa_token: mfaToken, ...fields }), "application/json");
    } catch (err) {
      // A wrong code leaves the mfa_token usable; expiry and lockout spend it.
      if (err.code === "invalid_grant" || err.code === "rate_limited") this.#session.mfaToken = null;
      throw err;
    }
    this.#session.mfaToken = null;
    await this.#acceptTokens(tokens);
    const pending = this.#session.signalAfterMfa;
    this.#session.signalAfterMfa = null;
    if (pending) await this.#signalSignedIn(pending.rpId, pending.userId);
  }

  async #acceptTokens(tokens) {
    if (!tokens || typeof tokens.access_token !== "string" || !tokens.access_token) {
      throw new LatchError("invalid_response", "The service returned no access token.");
    }
    // Every token request carries a proof, so anything but a DPoP-bound token
    // means the binding was lost on the way: refuse it rather than fall back
    // to a bearer token anyone who sees it could use.
    if (String(tokens.token_type ?? "").toLowerCase() !== "dpop") {
      throw new LatchError("invalid_response", "The service returned a token that is not bound to this browser's key.");
    }
    const session = this.#session;
    const lifetime = Number.isFinite(tokens.expires_in) && tokens.expires_in > 0 ? tokens.expires_in : 60;
    session.accessToken = tokens.access_token;
    // Renew early, but never spend more than half of a short token's life on it.
    session.renewAt = Date.now() + lifetime * 1000 - Math.min(this.#leewayMs, (lifetime * 1000) / 2);
    if (typeof tokens.refresh_token === "string" && tokens.refresh_token) {
      await session.store.put(REFRESH_RECORD, tokens.refresh_token);
    }
    this.#notify(true);
  }

  async #currentAccessToken() {
    const session = this.#session;
    if (session.accessToken && Date.now() < session.renewAt) return session.accessToken;
    await this.#refresh(session.accessToken);
    return session.accessToken;
  }

  // Single-flight: every caller that finds the same stale token waits for
  // one refresh instead of spending the refresh token several times.
  #refresh(staleToken) {
    const session = this.#session;
    if (session.accessToken && session.accessToken !== staleToken) return Promise.resolve();
    if (!session.refreshing) {
      session.refreshing = this.#refreshNow().finally(() => {
        session.refreshing = null;
      });
    }
    return session.refreshing;
  }

  async #refreshNow() {
    await withLock(`latch-refresh:${this.#base}|${this.#session.store.dbName}`, async () => {
      // Read inside the lock: another tab may just have rotated it.
      const refreshToken = await this.#session.store.get(REFRESH_RECORD);
      if (!refreshToken) {
        this.#session.accessToken = null;
        throw new LatchError("not_signed_in", "There is no session to resume.");
      }
      const body = new URLSearchParams({ grant_type: "refresh_token", refresh_token: refreshToken }).toString();
      let tokens;
      try {
        tokens = await this.#tokenRequest("/token", body, "application/x-www-form-urlencoded");
      } catch (err) {
        if (err.code === "invalid_grant") await this.#forget({ dropKey: false });
        throw err;
      }
      await this.#acceptTokens(tokens);
    });
  }

  async #key() {
    const session = this.#session;
    if (!session.key) {
      session.key = this.#loadOrCreateKey().catch((err) => {
        session.key = null;
        throw err;
      });
    }
    return session.key;
  }

  #loadOrCreateKey() {
    const store = this.#session.store;
    return withLock(`latch-key:${this.#base}|${store.dbName}`, async () => {
      let pair = await store.get(KEY_RECORD);
      if (!pair?.privateKey || pair.privateKey.extractable) {
        pair = await generateKeyPair();
        await store.put(KEY_RECORD, pair);
      }
      const jwk = await publicJwk(pair.publicKey);
      return { privateKey: pair.privateKey, jwk, jkt: await thumbprint(jwk) };
    });
  }

  async #forget({ dropKey }) {
    const session = this.#session;
    const wasSignedIn = session.accessToken !== null;
    session.accessToken = null;
    session.renewAt = 0;
    session.mfaToken = null;
    session.signalTarget = null;
    if (dropKey) {
      session.key = null;
      session.nonce = null;
      await session.store.delete(REFRESH_RECORD, KEY_RECORD, SIGNAL_RECORD);
    } else {
      await session.store.delete(REFRESH_RECORD);
    }
    if (wasSignedIn || dropKey) this.#notify(false);
  }

  #notify(signedIn) {
    for (const listener of this.#session.listeners) {
      try {
        listener(signedIn);
      } catch {
        // A faulty listener must not break the session machinery.
      }
    }
  }

  // The absolute URL of a path on the service or of a URL on apiOrigins;
  // anything else would hand the access token to an origin nobody chose.
  #allowedURL(input) {
    if (typeof input === "string" && input.startsWith("/") && !input.startsWith("//")) return this.#url(input);
    let url;
    try {
      url = new URL(input instanceof URL ? input.href : String(input));
    } catch {
      throw new TypeError("Latch: expected a path on the service or an absolute URL on one of apiOrigins");
    }
    if (!this.#apiOrigins.has(url.origin)) {
      throw new TypeError(`Latch: ${url.origin} is not one of this client's apiOrigins; nothing was sent`);
    }
    return url.href;
  }

  // fetch for apiOrigins: the API keeps its own DPoP nonce, so nonces are
  // kept per origin, apart from the service's. An invalid_token there gets
  // one refresh and retry, but never ends the session: the API may reject
  // for its own reasons (another audience, say) that a new sign-in would
  // not mend.
  async #fetchAPI(input, init) {
    const url = this.#allowedURL(input);
    const origin = new URL(url).origin;
    const method = (init.method ?? "GET").toUpperCase();
    let nonceRetried = false;
    let refreshed = false;
    for (;;) {
      const token = await this.#currentAccessToken();
      const { privateKey, jwk } = await this.#key();
      const headers = new Headers(init.headers);
      headers.set("Authorization", `DPoP ${token}`);
      headers.set("DPoP", await createProof(privateKey, jwk, { method, url, accessToken: token, nonce: this.#apiNonces.get(origin) }));
      let res;
      try {
        res = await fetch(url, { credentials: "omit", redirect: "error", ...init, method, headers });
      } catch (err) {
        throw new LatchError("network_error", `${origin} could not be reached.`, 0, { cause: err });
      }
      const nonce = res.headers.get("DPoP-Nonce");
      if (nonce) this.#apiNonces.set(origin, nonce);
      if (res.status !== 401) return res;
      const code = challengeError(res.headers.get("WWW-Authenticate"));
      if (code === "use_dpop_nonce" && !nonceRetried && nonce) {
        nonceRetried = true;
        continue;
      }
      if (code === "invalid_token" && !refreshed && (await this.#session.store.get(REFRESH_RECORD))) {
        refreshed = true;
        await this.#refresh(token);
        continue;
      }
      return res;
    }
  }
}

// apiOrigin checks one apiOrigins entry: exactly an origin, https except on
// loopback hosts (a token sent in clear text is a token given away).
function apiOrigin(value) {
  let url;
  try {
    url = new URL(String(value));
  } catch {
    url = null;
  }
  if (!url || url.origin === "null" || url.origin !== String(value).replace(/\/$/, "")) {
    throw new TypeError(`Latch: apiOrigins takes origins such as https://api.example, not ${value}`);
  }
  const host = url.hostname;
  const loopback = host === "localhost" || host.endsWith(".localhost") || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) {
    throw new TypeError(`Latch: apiOrigins must use https (plain http only on localhost): ${value}`);
  }
  return url.origin;
}
