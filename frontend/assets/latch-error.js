// Errors raised by the Latch client.

/**
 * LatchError is the one error type the client throws. `code` is the
 * service's machine-readable `error` value (see the HTTP contract), or a
 * client-side code such as `not_signed_in`, `ceremony_aborted`,
 * `passkey_exists` or `network_error`; `description` is for humans;
 * `status` is the HTTP status, 0 when the error did not come from the
 * service. `retryAfter` is set (in seconds) on `rate_limited`. On
 * `insufficient_user_authentication` (RFC 9470 step-up: the change needs a
 * more recent sign-in), `maxAge` is how recent, in seconds, and `amrValues`
 * lists the sign-in methods the new sign-in must include (["otp"] once the
 * account has TOTP on, else []); `reauthenticate()` then retrying satisfies
 * both. `reason` is a finer cause where there is one: the service's
 * (`unknown_credential`: the passkey belongs to no account here;
 * `session_ended`), or, on `ceremony_aborted`, the client's reading of the
 * prompt's end: `cancelled` (the person closed it, or it timed out) or
 * `no_passkey` (a sign-in on a browser that has never used a passkey with
 * this service: most likely it holds none for the site).
 */
export class LatchError extends Error {
  constructor(code, description = "", status = 0, { retryAfter, cause } = {}) {
    super(description ? `${code}: ${description}` : code, cause ? { cause } : undefined);
    this.name = "LatchError";
    this.code = code;
    this.description = description;
    this.status = status;
    if (retryAfter !== undefined) this.retryAfter = retryAfter;
  }
}

// Bodies of error responses, kept out of the error objects themselves so a
// caller that logs an error never logs a one-time token such as mfa_token.
const bodies = new WeakMap();

/** errorBody returns the parsed JSON body an error was built from, if any. */
export function errorBody(err) {
  return bodies.get(err);
}

/** challengeParam returns one quoted or bare parameter of a WWW-Authenticate header. */
export function challengeParam(header, name) {
  if (!header) return "";
  const match = new RegExp(`(?:^|[\\s,])${name}=(?:"([^"]*)"|([^\\s,]*))`).exec(header);
  return match ? (match[1] ?? match[2]) : "";
}

/** challengeError returns the `error` parameter of a WWW-Authenticate header. */
export function challengeError(header) {
  if (!header) return "";
  const match = /(?:^|[\s,])error="([^"]*)"/.exec(header);
  return match ? match[1] : "";
}

/** errorFromResponse builds a LatchError from a failed service response. */
export async function errorFromResponse(res) {
  let body;
  try {
    body = await res.clone().json();
  } catch {
    body = undefined; // not JSON: a proxy page or an empty body
  }
  const isObject = body !== null && typeof body === "object";
  let code = isObject && typeof body.error === "string" ? body.error : "";
  if (!code) code = challengeError(res.headers.get("WWW-Authenticate")) || `http_${res.status}`;
  const description =
    isObject && typeof body.error_description === "string" ? body.error_description : res.statusText || "";
  const retry = res.headers.get("Retry-After");
  const retryAfter = retry && /^\d{1,9}$/.test(retry) ? Number(retry) : undefined;
  const err = new LatchError(code, description, res.status, { retryAfter });
  if (code === "insufficient_user_authentication") {
    const header = res.headers.get("WWW-Authenticate");
    const maxAge = isObject && Number.isInteger(body.max_age) ? body.max_age : Number(challengeParam(header, "max_age"));
    if (Number.isInteger(maxAge) && maxAge >= 0) err.maxAge = maxAge;
    const amr = isObject && typeof body.amr_values === "string" ? body.amr_values : challengeParam(header, "amr_values");
    err.amrValues = amr.split(" ").filter(Boolean);
  }
  // The service's finer reason for some errors ("unknown_credential" on a
  // sign-in with a passkey no account holds, "session_ended" on a refresh):
  // a short machine word, safe to keep on the error itself.
  if (isObject && typeof body.reason === "string" && /^[a-z_]{1,64}$/.test(body.reason)) err.reason = body.reason;
  if (isObject) bodies.set(err, body);
  return err;
}
