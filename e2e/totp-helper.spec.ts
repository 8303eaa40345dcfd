// The specs compute TOTP codes themselves; this checks that generator
// against the published RFC 6238 vectors so a TOTP failure elsewhere points
// at the service, not at the test.

import { expect, test } from "@playwright/test";
import { base32Decode, timeStep, totp } from "./support";

const rfcSecret = Buffer.from("12345678901234567890", "ascii");

const vectors = [
  { time: 59, code: "94287082" },
  { time: 1111111109, code: "07081804" },
  { time: 1111111111, code: "14050471" },
  { time: 1234567890, code: "89005924" },
  { time: 2000000000, code: "69279037" },
  { time: 20000000000, code: "65353130" },
];

for (const { time, code } of vectors) {
  test(`totp matches the RFC 6238 SHA-1 vector at T=${time}`, () => {
    expect(totp(rfcSecret, timeStep(time * 1000), 8)).toBe(code);
  });
}

test("six-digit codes are the last six digits of the eight-digit value", () => {
  expect(totp(rfcSecret, timeStep(59_000))).toBe("287082");
});

test("base32 decoding ignores spacing and case", () => {
  expect(base32Decode("gezd gnbv gy3t qojq GEZDGNBVGY3TQOJQ").toString("ascii")).toBe("12345678901234567890");
});

test("base32 decoding rejects characters outside the alphabet", () => {
  expect(() => base32Decode("GEZD1")).toThrow(/not base32/);
});
