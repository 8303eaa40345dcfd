// The provider's sign-in page (/authorize): sign in or sign up with a
// passkey through Latch's own ceremony (and the TOTP step when the account
// has one), then hand the session to the authorization request, which sets
// the provider session cookie and continues to consent or to the
// application.

import { Latch } from "/latch.js";
import { actionError, busy, describe, fieldError, show, status, t, usernameProblem } from "/ui.js";
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
    throw Object.assign(new Error(body.error_description ?? t("The sign-in could not continue.")), {
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
      const fresh = err.code === "insufficient_user_authentication";
      status(fresh ? t("The application asks you to sign in again with your passkey.") : describe(err), "error");
    }
  });
}

// A failed ceremony is explained next to its button, with what may help.
function onCeremony(form, action, errorEl, run) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    fieldError(errorEl, "");
    try {
      await busy(form, run);
    } catch (err) {
      status("");
      if (err?.field) return fieldError(errorEl, err.message, err.field);
      if (err?.code === "insufficient_user_authentication") {
        fieldError(errorEl, t("The application asks you to sign in again with your passkey."));
      } else {
        actionError(errorEl, err, action, { onCreate: () => $("signup-username").focus() });
      }
      form.querySelector("button[type=submit]")?.focus();
    }
  });
}

onCeremony($("signin-form"), "sign-in", $("signin-error"), async () => {
  if (await autofill.stop()) return;
  status(t("Follow your browser's prompt to use your passkey…"));
  const username = $("signin-username").value.trim();
  await afterSignIn(await latch.signIn(username ? { username } : {}));
});

// After a passkey sign-in, by the button or through autofill.
async function afterSignIn(result) {
  if (result.mfaRequired) {
    show(views, $("view-mfa"));
    status(t("Your account also needs a code from your authenticator app."));
    $("mfa-code").focus();
    return;
  }
  await proceed();
}

// Passkey autofill in the sign-in form's username field (autofill.js); a
// failure there is told as a button's would be.
const autofill = new Autofill(latch, {
  signedIn: afterSignIn,
  failed: (err) => actionError($("signin-error"), err, "sign-in", { onCreate: () => $("signup-username").focus() }),
});

onCeremony($("signup-form"), "sign-up", $("signup-error"), async () => {
  const username = $("signup-username").value.trim();
  const displayName = $("signup-display-name").value.trim();
  const problem = usernameProblem(username);
  if (problem) throw Object.assign(new Error(problem), { field: $("signup-username") });
  if (!displayName) throw Object.assign(new Error(t("Enter the name to show for your account.")), { field: $("signup-display-name") });
  if (await autofill.stop()) return;
  status(t("Follow your browser's prompt to create a passkey…"));
  try {
    await latch.signUp(username, displayName);
  } catch (err) {
    if (err?.code === "username_taken") throw Object.assign(new Error(describe(err)), { field: $("signup-username") });
    if (err?.code === "invalid_request") {
      const field = /display_name/.test(err.description ?? "") ? $("signup-display-name") : $("signup-username");
      throw Object.assign(new Error(t("That is not accepted: {reason}.", { reason: err.description || t("check the rules below the field") })), { field });
    }
    throw err;
  }
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
