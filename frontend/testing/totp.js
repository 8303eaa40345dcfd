// RFC 6238 TOTP codes (HMAC-SHA-1 over RFC 4226, 30 s steps, six digits),
// as an authenticator app computes them, for tests of accounts with
// two-step verification.

import { createHmac } from "node:crypto";

/** base32Decode decodes RFC 4648 base32, ignoring spaces, case and padding. */
export function base32Decode(text) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const clean = String(text).replace(/[\s=]/g, "").toUpperCase();
  let bits = 0;
  let value = 0;
  const out = [];
  for (const char of clean) {
    const index = alphabet.indexOf(char);
    if (index < 0) throw new Error(`not base32: ${char}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** totp computes the code of one time step for a raw secret. */
export function totp(secret, step, digits = 6) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", secret).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** digits).padStart(digits, "0");
}

/** timeStep is the RFC 6238 counter for a moment (default now). */
export function timeStep(nowMs = Date.now()) {
  return Math.floor(nowMs / 1000 / 30);
}

/** totpCode is the current code for a base32 secret as Latch shows it at enrolment. */
export function totpCode(base32Secret, nowMs = Date.now()) {
  return totp(base32Decode(base32Secret), timeStep(nowMs));
}

/**
 * unusedCode returns a code for a step later than `lastStep`, since the
 * service accepts each code once. It uses the current step, or the next one
 * (within the one-step skew the service allows) when the current step is
 * already spent, and waits only if even that is spent.
 */
export async function unusedCode(secret, lastStep) {
  let now = timeStep();
  while (lastStep + 1 > now + 1) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    now = timeStep();
  }
  const step = Math.max(lastStep + 1, now);
  return { code: totp(secret, step), step };
}
