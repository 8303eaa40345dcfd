// The provider's sign-in page (/authorize): sign in or sign up with a
// passkey through Latch's own ceremony (and the TOTP step when the account
// has one), then hand the session to the authorization request, which sets
// the provider session cookie and continues to consent or to the
// application.

import { Latch } from "/latch.js";
import { busy, describe, show, status } from "/ui.js";
import { Autofill } from "/autofill.js";

const latch = new Latch();
const $ = (id) => document.getElementById(id);
const main = document.querySelector("main");
const request = main.dataset.request;
const views = [$("view-signed-out"), $("view-mfa")];

async function proceed() {
  const res = await latch.fetch("/authorize/session", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ request }),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    throw Object.assign(new Error(body.error_description ?? "The sign-in could not continue."), {
      code: body.error,
      description: body.error_description,
    });
  }
  location.assign(body.location);
}

function onSubmit(form, action) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await busy(form, action);
    } catch (err) {
      failed(err);
    }
  });
}

function failed(err) {
  const fresh = err.code === "insufficient_user_authentication";
  status(fresh ? "The application asks you to sign in again with your passkey." : describe(err), "error");
}

onSubmit($("signin-form"), async () => {
  if (await autofill.stop()) return;
  status("Follow your browser's prompt to use your passkey…");
  const username = $("signin-username").value.trim();
  await afterSignIn(await latch.signIn(username ? { username } : {}));
});

// After a passkey sign-in, by the button or through autofill.
async function afterSignIn(result) {
  if (result.mfaRequired) {
    show(views, $("view-mfa"));
    status("Your account also needs a code from your authenticator app.");
    $("mfa-code").focus();
    return;
  }
  await proceed();
}

// Passkey autofill in the sign-in form's username field (autofill.js).
const autofill = new Autofill(latch, { signedIn: afterSignIn, failed });

onSubmit($("signup-form"), async () => {
  if (await autofill.stop()) return;
  status("Follow your browser's prompt to create a passkey…");
  await latch.signUp($("signup-username").value.trim(), $("signup-display-name").value.trim());
  await proceed();
});

onSubmit($("mfa-form"), async () => {
  await latch.verifyTotp($("mfa-code").value);
  await proceed();
});
onSubmit($("recovery-form"), async () => {
  await latch.verifyRecoveryCode($("recovery-code").value);
  await proceed();
});

// Signed in to Latch already in this browser, and no fresh sign-in asked:
// go on without a ceremony.
if (main.dataset.create) $("signup-username").focus();
let resumed = false;
if (!main.dataset.fresh) {
  try {
    resumed = await latch.resume();
    if (resumed) await proceed();
  } catch {
    // Not signed in, or the session no longer does: the forms remain.
    resumed = false;
  }
}
// The forms remain: offer the passkeys in the username field.
if (!resumed) autofill.start();
