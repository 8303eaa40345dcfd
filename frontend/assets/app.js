// The sign-in page: sign up, sign in (with a second factor when the account
// has one), show who is signed in, sign out.

import { Latch } from "/latch.js";
import { busy, describe, methodsText, show, status } from "/ui.js";

const latch = new Latch();
const $ = (id) => document.getElementById(id);
const views = [$("view-loading"), $("view-signed-out"), $("view-mfa"), $("view-signed-in")];

async function showSignedIn(message) {
  const me = await latch.userinfo();
  $("whoami-username").textContent = me.username ?? "";
  $("whoami-display-name").textContent = me.display_name ?? "";
  $("whoami-amr").textContent = methodsText(me.amr);
  show(views, $("view-signed-in"));
  if (message) status(message);
}

function showSignedOut(message, kind) {
  show(views, $("view-signed-out"));
  if (message) status(message, kind);
}

function showMfa() {
  show(views, $("view-mfa"));
  status("Your account also needs a code from your authenticator app.");
  $("mfa-code").value = "";
  $("mfa-code").focus();
}

// Each form runs one action; errors land in the live region.
function onSubmit(form, action) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await busy(form, action);
    } catch (err) {
      status(describe(err), "error");
    }
  });
}

onSubmit($("signup-form"), async () => {
  status("Follow your browser's prompt to create a passkey…");
  await latch.signUp($("signup-username").value.trim(), $("signup-display-name").value.trim());
  $("signup-form").reset();
  await showSignedIn("Account created. You are signed in.");
});

onSubmit($("signin-form"), async () => {
  status("Follow your browser's prompt to use your passkey…");
  const username = $("signin-username").value.trim();
  const result = await latch.signIn(username ? { username } : {});
  if (result.mfaRequired) showMfa();
  else await showSignedIn("You are signed in.");
});

async function afterMfa(verify) {
  try {
    await verify();
  } catch (err) {
    if (!latch.mfaPending) showSignedOut();
    throw err;
  }
  $("mfa-form").reset();
  $("recovery-form").reset();
  await showSignedIn("You are signed in.");
}

onSubmit($("mfa-form"), () => afterMfa(() => latch.verifyTotp($("mfa-code").value)));
onSubmit($("recovery-form"), () => afterMfa(() => latch.verifyRecoveryCode($("recovery-code").value)));

$("mfa-cancel").addEventListener("click", () => {
  latch.cancelMfa();
  showSignedOut("Sign-in cancelled.");
});

$("signout").addEventListener("click", async () => {
  await latch.signOut();
  showSignedOut("You are signed out.");
});

try {
  if (await latch.resume()) await showSignedIn();
  else showSignedOut();
} catch (err) {
  showSignedOut(describe(err), "error");
}
