// Passkey autofill on the sign-in pages: while the sign-in form is shown,
// a conditional request (latch.signInWithAutofill) lets the browser offer
// the site's passkeys in the username field's suggestions
// (autocomplete="username webauthn"); picking one signs in. Pressing the
// sign-in button instead ends that request first, since a browser runs one
// passkey request at a time.
//
// The request starts once per page load. It is not started again after a
// sign-out or a cancelled sign-in on the same page: the person has just
// said they are done, and an offer to sign straight back in is not what
// they asked for. A reload offers it again.

// A sign-in ceremony lives five minutes at the service, while a conditional
// request may wait for as long as the page is open: an idle page renews its
// request before the ceremony behind it expires.
const renewAfterMs = 4 * 60 * 1000;

export class Autofill {
  #latch;
  #signedIn;
  #failed;
  #controller = null;
  #pending = null; // Promise<boolean>: the request's outcome, while it runs
  #timer = 0;
  #started = false;
  #stopped = false;

  /**
   * signedIn(result) runs after a sign-in through autofill, with what
   * latch.signIn resolves to ({mfaRequired, ...}); failed(err) gets any
   * error but the ones of an ended or declined request.
   */
  constructor(latch, { signedIn, failed }) {
    this.#latch = latch;
    this.#signedIn = signedIn;
    this.#failed = failed;
  }

  /** start begins the conditional request, the first time it is called on this page. */
  start() {
    if (this.#started) return;
    this.#started = true;
    this.#run();
  }

  #run() {
    const controller = new AbortController();
    this.#controller = controller;
    this.#timer = setTimeout(() => this.#renew(controller), renewAfterMs);
    const pending = this.#latch.signInWithAutofill({ signal: controller.signal }).then(
      async (result) => {
        this.#settled(controller);
        if (!result.available) return false;
        try {
          await this.#signedIn(result);
        } catch (err) {
          this.#failed(err);
        }
        return true;
      },
      (err) => {
        this.#settled(controller);
        // Ended by the page, or declined by the browser (a NotAllowedError:
        // nothing to offer, or the request timed out): nothing to tell.
        if (controller.signal.aborted || err?.code === "ceremony_aborted") return false;
        this.#failed(err);
        return false;
      },
    );
    this.#pending = pending;
    pending.finally(() => {
      if (this.#pending === pending) this.#pending = null;
    });
  }

  #settled(controller) {
    if (this.#controller !== controller) return;
    clearTimeout(this.#timer);
    this.#controller = null;
  }

  async #renew(controller) {
    if (this.#controller !== controller) return;
    this.#controller = null;
    const pending = this.#pending;
    controller.abort();
    const signedIn = await pending;
    if (!signedIn && !this.#stopped) this.#run();
  }

  /**
   * stop ends the request for good, if one is waiting, and resolves once it
   * has let go of the browser's passkey prompt: to true when the person had
   * picked a passkey already and is now signed in (so no other ceremony is
   * needed), else to false.
   */
  async stop() {
    this.#stopped = true;
    this.#started = true;
    const controller = this.#controller;
    const pending = this.#pending;
    this.#controller = null;
    clearTimeout(this.#timer);
    controller?.abort();
    return pending ? await pending : false;
  }
}
