/** A passkey file as `latch users add NAME --passkey-out FILE` writes it. */
export interface PasskeyFile {
  format: "latch-passkey/1";
  rp_id: string;
  origin: string;
  /** base64url */
  credential_id: string;
  /** base64url: the account's WebAuthn user id. */
  user_handle: string;
  username?: string;
  /** The ES256 private key as a JWK with "d". */
  private_key_jwk: { kty: "EC"; crv: "P-256"; x: string; y: string; d: string };
  /** The same key as PKCS #8 DER, base64url. */
  private_key_pkcs8: string;
}

/** An error answer of the service. */
export class LatchAPIError extends Error {
  constructor(status: number, code: string, description: string);
  readonly name: "LatchAPIError";
  status: number;
  code: string;
  description: string;
}

/** A signed-in session from signInWithPasskeyFile. */
export interface PasskeySession {
  accessToken: string;
  refreshToken: string;
  /** The DPoP key's RFC 7638 thumbprint: the tokens' cnf.jkt. */
  thumbprint: string;
  /** A request with `Authorization: DPoP` and a proof for its method and URL; retried once on use_dpop_nonce. */
  fetch(url: string, init?: RequestInit): Promise<Response>;
  /** A DPoP proof for one request, with ath of the current access token. */
  createProof(method: string, url: string): Promise<string>;
  refresh(): Promise<void>;
  signOut(): Promise<void>;
}

export interface SignInWithPasskeyFileOptions {
  /** The service's public base URL (its --issuer). */
  issuer: string;
  /** Path of a passkey file. */
  passkeyFile?: string;
  /** A parsed passkey file, instead of passkeyFile. */
  passkey?: PasskeyFile;
  /** Default: globalThis.fetch. */
  fetch?: typeof fetch;
}

/** Reads and checks a passkey file. */
export function readPasskeyFile(path: string): Promise<PasskeyFile>;
/** The AuthenticationResponseJSON the file's passkey gives for a sign-in's request options. */
export function assertion(file: PasskeyFile, publicKey: { challenge: string; rpId?: string }): Promise<Record<string, unknown>>;
/** Signs in over the HTTP API with a passkey file; tokens are bound to a fresh DPoP key. */
export function signInWithPasskeyFile(options: SignInWithPasskeyFileOptions): Promise<PasskeySession>;
