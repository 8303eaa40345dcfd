import type { CDPSession, Page, TestType, PlaywrightTestArgs, PlaywrightTestOptions, PlaywrightWorkerArgs, PlaywrightWorkerOptions } from "@playwright/test";

export { base32Decode, timeStep, totp, totpCode, unusedCode } from "./totp.js";

/** A virtual passkey authenticator attached to one page. */
export interface Authenticator {
  cdp: CDPSession;
  authenticatorId: string;
}

/** A passkey as the Chrome DevTools Protocol describes it (WebAuthn.Credential), private key included. */
export interface VirtualCredential {
  credentialId: string;
  isResidentCredential: boolean;
  rpId?: string;
  /** base64 PKCS #8. */
  privateKey: string;
  userHandle?: string;
  signCount: number;
  [field: string]: unknown;
}

/** Attaches a user-verifying platform authenticator with resident keys to the page. */
export function addAuthenticator(page: Page, cdp?: CDPSession): Promise<Authenticator>;
/** The passkeys the authenticator holds, to restore in a new context with importCredentials. */
export function exportCredentials(authenticator: Authenticator): Promise<VirtualCredential[]>;
/** Adds passkeys from exportCredentials to another authenticator. */
export function importCredentials(authenticator: Authenticator, credentials: VirtualCredential[]): Promise<void>;

/**
 * Runs `load` (a navigation to a Latch sign-in page) so that the passkey
 * autofill the page offers waits instead of being answered at once by the
 * virtual authenticator, which otherwise signs a signed-out page straight
 * back in; presence simulation is back on for the ceremonies after it.
 */
export function withoutAutofill<T>(page: Page, load: () => Promise<T>, authenticator?: Authenticator): Promise<T>;

/** Playwright's test with an `authenticator` fixture attached to `page`. */
export const test: TestType<PlaywrightTestArgs & PlaywrightTestOptions & { authenticator: Authenticator }, PlaywrightWorkerArgs & PlaywrightWorkerOptions>;

export interface SignUpOptions {
  username: string;
  /** Default: the username. */
  displayName?: string;
  /** Latch's home page; default "/" under the test's baseURL. */
  latchURL?: string;
}

export interface SignInOptions {
  /** Restrict to this account's passkeys; default usernameless. */
  username?: string;
  latchURL?: string;
  /** The account's TOTP secret (base32), to answer the second step. */
  totpSecret?: string;
  /** A TOTP code to answer the second step with. */
  code?: string;
}

/** Creates an account on Latch's home page with a new passkey and waits until signed in. */
export function signUp(page: Page, options: SignUpOptions): Promise<void>;
/** Signs in on Latch's home page with a passkey (and TOTP when asked) and waits until signed in. */
export function signIn(page: Page, options?: SignInOptions): Promise<void>;
export interface ProviderSignInOptions {
  /** Restrict to this account's passkeys; default usernameless. */
  username?: string;
  /** Create this account (with a new passkey) instead of signing in. */
  create?: string;
  /** The account's TOTP secret (base32), to answer the second step. */
  totpSecret?: string;
  /** A TOTP code to answer the second step with. */
  code?: string;
  /** What to answer a consent page with; default "allow". */
  consent?: "allow" | "deny";
}

/**
 * Completes an OpenID Connect sign-in on Latch's provider page (the page is
 * at /authorize already), allows or denies the consent page if one comes,
 * and resolves once the browser has left Latch for the redirect URI.
 */
export function signInAtProvider(page: Page, options?: ProviderSignInOptions): Promise<void>;
/** Presses "Sign out" on Latch's home page and waits for the signed-out view. */
export function signOut(page: Page): Promise<void>;
