// A passkey of its own for this device (conditional create): after an
// account recovery, or a sign-in with a passkey from another device (a
// phone, a security key), the page asks the browser to create a passkey for
// the account without a prompt of its own, so that this device signs in by
// itself next time. The browser decides, usually saying no (a
// NotAllowedError, or no answer at all), and where it cannot
// (getClientCapabilities reports no conditionalCreate) nothing is asked.
// Nothing of it is shown, and nothing waits for it.

/** wanted says whether a sign-in's result shows this device has no passkey of the account. */
export function wanted(result) {
  return result?.authenticatorAttachment === "cross-platform";
}

export class PasskeyUpgrade {
  #latch;
  #controller = null;

  constructor(latch) {
    this.#latch = latch;
  }

  /** offer starts the request in the background (replacing one that waits). */
  offer() {
    this.stop();
    const controller = new AbortController();
    this.#controller = controller;
    this.#latch.upgradeToPasskey({ signal: controller.signal }).finally(() => {
      if (this.#controller === controller) this.#controller = null;
    });
  }

  /** stop ends a request that still waits: before a sign-out, or before another ceremony. */
  stop() {
    this.#controller?.abort();
    this.#controller = null;
  }
}
