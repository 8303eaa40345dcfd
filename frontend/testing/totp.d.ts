/// <reference types="node" />

/** Decodes RFC 4648 base32, ignoring spaces, case and padding; throws on other characters. */
export function base32Decode(text: string): Buffer;
/** The RFC 6238 code (HMAC-SHA-1) of one time step for a raw secret. */
export function totp(secret: Buffer | Uint8Array, step: number, digits?: number): string;
/** The RFC 6238 time step (30 s) of a moment, default now. */
export function timeStep(nowMs?: number): number;
/** The current six-digit code for a base32 secret as Latch shows it at enrolment. */
export function totpCode(base32Secret: string, nowMs?: number): string;
/** A code for a step after `lastStep` (each code is accepted once), waiting only when both usable steps are spent. */
export function unusedCode(secret: Buffer | Uint8Array, lastStep: number): Promise<{ code: string; step: number }>;
