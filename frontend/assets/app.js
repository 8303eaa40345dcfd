// The sign-in page: sign up (and save recovery codes), sign in (with a
// second factor when the account has one), recover an account whose
// passkeys are lost (with a recovery code, or an operator's link at
// /recover#token=...), show who is signed in, sign out.

import { Latch } from "/latch.js";
import { actionError, busy, describe, fieldError, methodsText, show, showCodes, status, t, usernameProblem } from "/ui.js";
import { Autofill } from "/autofill.js";
import { PasskeyUpgrade, wanted as upgradeWanted } from "/passkey-upgrade.js";

const latch = new Latch();
const $ = (id) => document.getElementById(id);
const views = [
  $("view-loading"),
  $("view-signed-out"),
  $("view-mfa"),
  $("view-signed-in"),
  $("view-recover"),
  $("view-recover-link"),
];

async function showSignedIn(message) {
  const me = await latch.userinfo();
  $("whoami-username").textContent = me.username ?? "";
  $("whoami-display-name").textContent = me.display_name ?? "";
  $("whoami-amr").textContent = methodsText(me.amr);
  show(views, $("view-signed-in"));
  if (message) status(message);
}

// What a browser whose session the service ended is told on its next load.
const signedOutElsewhere = t("You were signed out of this browser: from another device, the account page, or by an administrator. Sign in again to continue.");

function showSignedOut(message, kind) {
  // Nothing of the account stays in the page once signed out.
  for (const id of ["whoami-username", "whoami-display-name", "whoami-amr"]) $(id).textContent = "";
  show(views, $("view-signed-out"));
  if (message) status(message, kind);
}

function showMfa() {
  show(views, $("view-mfa"));
  status(t("Your account also needs a code from your authenticator app."));
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

// ---- sign-up and sign-in -------------------------------------------------

// The sign-up form checks the username against the service's rules first
// and shows every problem next to the field or the button it concerns.
$("signup-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = $("signup-error");
  fieldError(error, "");
  const username = $("signup-username").value.trim();
  const displayName = $("signup-display-name").value.trim();
  const problem = usernameProblem(username);
  if (problem) return fieldError(error, problem, $("signup-username"));
  if (!displayName) return fieldError(error, t("Enter the name to show for your account."), $("signup-display-name"));
  if (await autofill.stop()) return;
  try {
    await busy($("signup-form"), async () => {
      status(t("Follow your browser's prompt to create a passkey…"));
      await latch.signUp(username, displayName);
    });
  } catch (err) {
    status("");
    if (err?.code === "username_taken") return fieldError(error, describe(err), $("signup-username"));
    if (err?.code === "invalid_request") {
      const field = /display_name/.test(err.description ?? "") ? $("signup-display-name") : $("signup-username");
      return fieldError(error, t("That is not accepted: {reason}.", { reason: err.description || t("check the rules below the field") }), field);
    }
    actionError(error, err, "sign-up");
    $("signup-submit").focus();
    return;
  }
  $("signup-form").reset();
  try {
    await showSignedIn(t("Account created. You are signed in."));
    await offerRecoveryCodes();
  } catch (err) {
    status(describe(err), "error");
  }
});

// ---- recovery codes, offered once at sign-up -----------------------------

async function offerRecoveryCodes() {
  let codes;
  try {
    codes = await latch.createRecoveryCodes();
  } catch {
    status(t("Account created. Make recovery codes on your account page, in case you lose your passkey."));
    return;
  }
  const forget = showCodes($("new-code-list"), codes, {
    copy: $("new-codes-copy"),
    download: $("new-codes-download"),
    filename: "latch-recovery-codes.txt",
    done: (message, kind) => status(message, kind),
  });
  $("new-codes").hidden = false;
  $("new-codes-title").focus();
  status(t("Account created. Save your recovery codes."));
  $("new-codes-done").addEventListener(
    "click",
    () => {
      forget();
      $("new-codes").hidden = true;
      status(t("You are signed in."));
      $("whoami-title").focus();
    },
    { once: true },
  );
}

$("signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = $("signin-error");
  actionError(error, null);
  if (await autofill.stop()) return;
  let result;
  try {
    result = await busy($("signin-form"), () => {
      status(t("Follow your browser's prompt to use your passkey…"));
      const username = $("signin-username").value.trim();
      return latch.signIn(username ? { username } : {});
    });
  } catch (err) {
    status("");
    actionError(error, err, "sign-in", { onCreate: () => $("signup-username").focus() });
    $("signin-submit").focus();
    return;
  }
  await afterSignIn(result);
});

// After a passkey sign-in, by the button or through autofill.
async function afterSignIn(result) {
  upgradeAfterMfa = result.mfaRequired && upgradeWanted(result);
  if (result.mfaRequired) return showMfa();
  try {
    await showSignedIn(t("You are signed in."));
    $("whoami-title").focus();
  } catch (err) {
    status(describe(err), "error");
    return;
  }
  if (upgradeWanted(result)) upgrade.offer();
}

// A passkey for this device after a sign-in that shows it has none
// (passkey-upgrade.js); after the second step when there is one.
const upgrade = new PasskeyUpgrade(latch);
let upgradeAfterMfa = false;

// Passkey autofill in the sign-in form's username field (autofill.js); a
// failure there is told as the button's would be.
const autofill = new Autofill(latch, {
  signedIn: afterSignIn,
  failed: (err) => actionError($("signin-error"), err, "sign-in", { onCreate: () => $("signup-username").focus() }),
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
  await showSignedIn(t("You are signed in."));
  if (upgradeAfterMfa) upgrade.offer();
  upgradeAfterMfa = false;
}

onSubmit($("mfa-form"), () => afterMfa(() => latch.verifyTotp($("mfa-code").value)));
onSubmit($("recovery-form"), () => afterMfa(() => latch.verifyRecoveryCode($("recovery-code").value)));

$("mfa-cancel").addEventListener("click", () => {
  latch.cancelMfa();
  showSignedOut(t("Sign-in cancelled."));
});

// ---- recovery ------------------------------------------------------------

// The second step a recovery of an account with TOTP on needs: a code from
// the app, or a second recovery code.
let secondIsCode = false;

function setSecond(code) {
  secondIsCode = code;
  $("recover-totp-label").textContent = code ? t("Second recovery code") : t("Code from your authenticator app");
  $("recover-totp").setAttribute("autocomplete", code ? "off" : "one-time-code");
  $("recover-totp").inputMode = code ? "text" : "numeric";
  $("recover-second-switch").textContent = code ? t("Use a code from your authenticator app instead") : t("Use a second recovery code instead");
  $("recover-totp").value = "";
}

$("recover-second-switch").addEventListener("click", () => {
  setSecond(!secondIsCode);
  $("recover-totp").focus();
});

function showRecover() {
  show(views, $("view-recover"));
  status("");
  $("recover-title").focus();
}

async function recovered() {
  // The address bar keeps no trace of the recovery.
  history.replaceState(null, "", "/");
  await showSignedIn(t("Your new passkey is ready and you are signed in. Every other device was signed out."));
  $("whoami-title").focus();
  upgrade.offer();
}

$("recover-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = $("recover-error");
  fieldError(error, "");
  const username = $("recover-username").value.trim();
  const code = $("recover-code").value.trim();
  if (!username) return fieldError(error, t("Enter your username."), $("recover-username"));
  if (!code) return fieldError(error, t("Enter one of your recovery codes."), $("recover-code"));
  const second = $("recover-totp").value.trim();
  if (!$("recover-second").hidden && !second) {
    return fieldError(error, secondIsCode ? t("Enter a second recovery code.") : t("Enter the code your authenticator app shows."), $("recover-totp"));
  }
  try {
    await busy($("recover-form"), async () => {
      status(t("Follow your browser's prompt to create a new passkey…"));
      const extra = second ? (secondIsCode ? { secondCode: second } : { totp: second }) : {};
      await latch.recover({ username, code, ...extra });
    });
  } catch (err) {
    status("");
    if (err?.code === "totp_required") {
      $("recover-second").hidden = false;
      setSecond(false);
      return fieldError(error, describe(err), $("recover-totp"));
    }
    // A wrong second step is answered like a wrong first code only when
    // the first was right, so point at the field that was just added.
    const field = err?.code === "invalid_code" && second ? $("recover-totp") : $("recover-code");
    const message =
      err?.code === "invalid_code"
        ? second
          ? t("That code is not right. Check it and try again.")
          : t("That username and recovery code do not match. Check them and try again.")
        : describe(err);
    return fieldError(error, message, err?.code === "ceremony_aborted" ? $("recover-submit") : field);
  }
  $("recover-form").reset();
  $("recover-second").hidden = true;
  await recovered();
});

let linkToken = null;

function showRecoverLink(token) {
  linkToken = token;
  // The token stays in memory only, not in the address bar or history.
  history.replaceState(null, "", "/recover");
  show(views, $("view-recover-link"));
  $("recover-link-title").focus();
}

$("recover-link-submit").addEventListener("click", async () => {
  const button = $("recover-link-submit");
  const error = $("recover-link-error");
  fieldError(error, "");
  button.disabled = true;
  try {
    status(t("Follow your browser's prompt to create a new passkey…"));
    await latch.completeRecovery(linkToken);
  } catch (err) {
    status("");
    const message =
      err?.code === "invalid_grant"
        ? t("This recovery link has expired or was already used. Ask for a new one.")
        : describe(err);
    fieldError(error, message);
    button.disabled = false;
    button.focus();
    return;
  }
  button.disabled = false;
  linkToken = null;
  await recovered();
});

$("signout").addEventListener("click", async () => {
  upgrade.stop();
  await latch.signOut();
  showSignedOut(t("You are signed out."));
});

try {
  const recoverToken = location.pathname === "/recover" ? Latch.recoveryLinkToken() : null;
  if (recoverToken) showRecoverLink(recoverToken);
  else if (location.pathname === "/recover") showRecover();
  else if (await latch.resume()) await showSignedIn();
  else {
    showSignedOut(latch.endedElsewhere ? signedOutElsewhere : undefined);
    autofill.start();
  }
} catch (err) {
  showSignedOut(describe(err), "error");
}
