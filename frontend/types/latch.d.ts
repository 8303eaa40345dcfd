// Type declarations for the Latch browser client (assets/latch.js).
// e2e/package.spec.ts checks that every name exported or defined there is
// declared here and the other way round.

/** Options of a Latch client. */
export interface LatchOptions {
  /** The service's URL (its issuer). Default: the page's origin. */
  issuer?: string;
  /** Older name of `issuer`; `issuer` wins when both are given. */
  baseURL?: string;
  /**
   * Origins of your own APIs (`https://api.example`, no path) that `fetch`
   * may call with the access token and a DPoP proof made for them. https
   * only, except on localhost. Default: none.
   */
  apiOrigins?: Iterable<string>;
  /** IndexedDB database holding the DPoP key and refresh token. Default "latch". */
  dbName?: string;
  /** Seconds before expiry at which the access token is renewed. Default 30. */
  refreshLeeway?: number;
}

/** Options of a passkey sign-in. */
export interface SignInOptions {
  /** Restrict the sign-in to this account's passkeys (default: usernameless). */
  username?: string;
  /** Passed to navigator.credentials.get (e.g. "conditional" for autofill). */
  mediation?: CredentialMediationRequirement;
  signal?: AbortSignal;
}

/** What a passkey sign-in resolves to. */
export interface SignInResult {
  /** verifyTotp or verifyRecoveryCode comes next. */
  mfaRequired: boolean;
  /**
   * The passkey's authenticator attachment, as the browser reports it:
   * "cross-platform" is a passkey from another device (a phone, a security
   * key), a reason to offer upgradeToPasskey; null when the browser does not say.
   */
  authenticatorAttachment?: "platform" | "cross-platform" | null;
}

/** The answer of a second sign-in step callback: a TOTP code or a recovery code. */
export type SecondStepAnswer = { code: string; recoveryCode?: undefined } | { recoveryCode: string; code?: undefined };

export interface ReauthenticateOptions {
  /** Called for the second step when the account has TOTP on; `previous` is the last wrong code's error. */
  secondStep?: (previous: LatchError | null) => SecondStepAnswer | Promise<SecondStepAnswer>;
  signal?: AbortSignal;
}

/** What recover needs: the username, a recovery code and, with TOTP on, the second step. */
export interface RecoverOptions {
  username: string;
  code: string;
  /** A code from the authenticator app, when the account has TOTP on. */
  totp?: string;
  /** Or a second recovery code of the set. */
  secondCode?: string;
  /** Name for the new passkey (default: its provider's name). */
  passkeyName?: string;
}

/** GET /me/recovery-codes. */
export interface RecoveryCodesStatus {
  remaining: number;
  created_at: string | null;
}

/** A passkey of the signed-in account (GET /me/credentials). */
export interface Passkey {
  id: string;
  name: string;
  created_at: string;
  last_used_at?: string;
  backup_eligible: boolean;
  backup_state: boolean;
  transports: string[];
  aaguid: string;
}

/** A login session of the signed-in account (GET /me/sessions). */
export interface Session {
  id: string;
  created_at: string;
  auth_time: string;
  expires_at?: string;
  amr: string[];
  device: string;
  /** The device as a person reads it ("Chrome on macOS"), or "" when unknown. */
  device_name?: string;
  /** device_name's parts ("Chrome", "macOS"; browser "App" for an iOS web view), for other languages. */
  device_browser?: string;
  device_system?: string;
  dpop_bound: boolean;
  current: boolean;
  /** When the session was last seen in use: its last refresh, else its sign-in (RFC 3339). */
  last_active_at?: string;
  /** Where the sign-in came from, approximately, when a trusted proxy told; "" when unknown. */
  place?: string;
}

/** An application the signed-in account has allowed (GET /me/apps). */
export interface AuthorizedApp {
  /** The OpenID Connect client id: the application's name here. */
  client_id: string;
  /** The scopes allowed (openid, profile, offline_access, groups). */
  scopes: string[];
  /** When the person allowed it (RFC 3339). */
  granted_at?: string;
}

/** GET /userinfo. */
export interface UserInfo {
  sub: string;
  username: string;
  display_name: string;
  amr: string[];
  auth_time: number;
  totp_enabled: boolean;
  [claim: string]: unknown;
}

/** The start of TOTP enrolment (POST /totp/enroll). */
export interface TotpEnrollment {
  secret: string;
  otpauth_uri: string;
  /** A PNG of the QR code, base64. */
  qr_png: string;
}

/** An SD-JWT credential (POST /credentials/sd-jwt). */
export interface IssuedCredential {
  format: string;
  credential: string;
  [field: string]: unknown;
}

export interface PresentationOptions {
  /** Names of the claims to disclose; the others stay hidden. */
  reveal?: string[];
  /** The relying party (verifier) the presentation is for. */
  aud: string;
  /** The relying party's nonce. */
  nonce: string;
}

/**
 * Codes of LatchError: the service's `error` values (see docs/API.md) and
 * the client's own. Other strings may appear (`http_<status>` for an answer
 * without an error body).
 */
export type LatchErrorCode =
  | "not_signed_in"
  | "ceremony_aborted"
  | "passkey_exists"
  | "passkey_error"
  | "network_error"
  | "invalid_response"
  | "key_mismatch"
  | "account_changed"
  | "mfa_required"
  | "invalid_grant"
  | "invalid_code"
  | "invalid_token"
  | "invalid_request"
  | "invalid_dpop_proof"
  | "use_dpop_nonce"
  | "insufficient_user_authentication"
  | "rate_limited"
  | "account_disabled"
  | "last_credential"
  | "totp_already_enabled"
  | "not_found"
  | "server_error"
  | "temporarily_unavailable"
  | (string & {});

/** LatchError is the one error type the client throws for failures of the service, the network or a ceremony. */
export class LatchError extends Error {
  constructor(code: string, description?: string, status?: number, options?: { retryAfter?: number; cause?: unknown });
  readonly name: "LatchError";
  /** The service's machine-readable `error`, or a client-side code. */
  code: LatchErrorCode;
  /** For humans. */
  description: string;
  /** The HTTP status, 0 when the error did not come from the service. */
  status: number;
  /** Seconds to wait, on `rate_limited`. */
  retryAfter?: number;
  /** On `insufficient_user_authentication`: how recent the sign-in must be, in seconds. */
  maxAge?: number;
  /** On `insufficient_user_authentication`: sign-in methods the new sign-in must include (e.g. ["otp"]). */
  amrValues?: string[];
  /**
   * A finer cause, where there is one: the service's (`unknown_credential`:
   * the passkey belongs to no account here; `session_ended`), or on
   * `ceremony_aborted` the client's reading: `cancelled` (prompt closed or
   * timed out) or `no_passkey` (a sign-in on a browser that never used a
   * passkey with this service, so most likely it holds none for the site).
   */
  reason?: "unknown_credential" | "session_ended" | "cancelled" | "no_passkey" | (string & {});
}

/** Latch is a client for one Latch service. */
export class Latch {
  constructor(options?: LatchOptions);
  /** The token of an operator's recovery link (`{issuer}/recover#token=...`), or null when `url` (default: the page's address) holds none. */
  static recoveryLinkToken(url?: string): string | null;

  /** Calls listener(signedIn) whenever the session starts or ends; returns an unsubscribe function. */
  onChange(listener: (signedIn: boolean) => void): () => void;
  /** Whether there is a session to use or resume (no network). */
  isSignedIn(): Promise<boolean>;
  /** True between a sign-in that needs a second factor and verifyTotp/verifyRecoveryCode. */
  readonly mfaPending: boolean;
  /** Makes sure there is a usable access token; false when there is no session. */
  resume(): Promise<boolean>;
  /** True when the last resume() found the session ended by the service (signed out elsewhere), not merely absent or expired. */
  readonly endedElsewhere: boolean;
  /** The RFC 7638 thumbprint of this browser's DPoP key (the tokens' cnf.jkt). */
  keyThumbprint(): Promise<string>;
  /** Revokes the login session (best effort) and forgets tokens and key; true when the service confirmed. */
  signOut(): Promise<boolean>;

  /** Creates an account with a new passkey and signs in. */
  signUp(username: string, displayName?: string, options?: { passkeyName?: string }): Promise<{ credentialId: string }>;
  /**
   * Offers the site's passkeys in the username field's autofill (conditional
   * mediation) and signs in when one is picked; `available: false` at once
   * where the browser cannot. Abort with `signal` before another ceremony.
   */
  signInWithAutofill(options?: { signal?: AbortSignal }): Promise<SignInResult & { available: boolean }>;
  /** Signs in with a passkey; `mfaRequired` means verifyTotp or verifyRecoveryCode comes next. */
  signIn(options?: SignInOptions): Promise<SignInResult>;
  /**
   * Lets the browser create a passkey for the signed-in account without a
   * prompt of its own (conditional create), where getClientCapabilities()
   * reports conditionalCreate: after a recovery, or a sign-in with another
   * device's passkey. Never rejects or prompts; `credentialId` is null when
   * the browser made none (NotAllowedError is its usual answer) or the
   * service refused it; `available: false` where the browser cannot.
   */
  upgradeToPasskey(options?: { signal?: AbortSignal }): Promise<{ available: boolean; credentialId: string | null }>;
  /** Registers another passkey for the signed-in user (needs a recent sign-in). */
  addPasskey(name?: string): Promise<{ credentialId: string }>;
  listPasskeys(): Promise<Passkey[]>;
  renamePasskey(id: string, name: string): Promise<Passkey>;
  /** Removes a passkey; the last one is refused (needs a recent sign-in). */
  deletePasskey(id: string): Promise<void>;
  listSessions(): Promise<Session[]>;
  /** Signs one other session out. */
  endSession(id: string): Promise<void>;
  /** Signs out every session but this browser's; resolves to how many it ended. */
  endOtherSessions(): Promise<number>;
  /** The applications the user has allowed to sign them in. */
  listApps(): Promise<AuthorizedApp[]>;
  /** Takes an application's access back: its consent and its sessions (the next sign-in asks again). */
  revokeApp(clientId: string): Promise<void>;

  /**
   * Recovers an account with no passkey left: a username and a recovery code
   * (and, with TOTP on, `totp` or a `secondCode`) open a recovery session in
   * which the browser creates a new passkey, signs in and ends every other
   * session of the account.
   */
  recover(options: RecoverOptions): Promise<{ credentialId: string }>;
  /** Creates the new passkey of a recovery session (from recover or an operator's link) and signs in. */
  completeRecovery(recoveryToken: string, options?: { passkeyName?: string }): Promise<{ credentialId: string }>;
  /** How many of the signed-in account's recovery codes are unused (never the codes). */
  recoveryCodesStatus(): Promise<RecoveryCodesStatus>;
  /** A new set of ten recovery codes, replacing the old set; shown this once (needs a recent sign-in). */
  createRecoveryCodes(): Promise<string[]>;
  /** Deletes the account and forgets this browser's tokens and key (needs a recent sign-in). */
  deleteAccount(): Promise<void>;
  /** Signs the same account in again after "insufficient_user_authentication"; retry the change afterwards. */
  reauthenticate(options?: ReauthenticateOptions): Promise<void>;

  /** Completes an MFA sign-in with an authenticator-app code. */
  verifyTotp(code: string | number): Promise<void>;
  /** Completes an MFA sign-in with a single-use recovery code. */
  verifyRecoveryCode(code: string): Promise<void>;
  /** Abandons a sign-in that waits for its second factor. */
  cancelMfa(): void;
  enrollTotp(): Promise<TotpEnrollment>;
  /** Activates TOTP with a first code; resolves to the recovery codes (shown once). */
  confirmTotp(code: string | number): Promise<string[]>;
  disableTotp(code: string | number): Promise<void>;

  userinfo(): Promise<UserInfo>;
  /** An SD-JWT credential bound to this browser's DPoP key; `claims` limits the disclosures. */
  issueCredential(claims?: string[]): Promise<IssuedCredential>;
  /** A presentation of `credential` disclosing only `reveal`, with a key-binding JWT for `aud` and `nonce`. */
  presentCredential(credential: string, options: PresentationOptions): Promise<string>;

  /**
   * A DPoP-authenticated fetch: a path on the service ("/userinfo"), or an
   * absolute URL on one of `apiOrigins` (anything else rejects with a
   * TypeError before sending). Retries once on use_dpop_nonce and refreshes
   * once on invalid_token; give a body that can be sent twice.
   */
  fetch(url: string | URL, init?: RequestInit): Promise<Response>;
  /** A current DPoP-bound access token, for requests you build yourself (`Authorization: DPoP <token>`). */
  getAccessToken(): Promise<string>;
  /** A DPoP proof for one request to `url` (service path or apiOrigins URL), with `ath` of the current token. */
  createProof(method: string, url: string | URL, options?: { nonce?: string }): Promise<string>;
  /** Renews the access token now. */
  refresh(): Promise<void>;
}
