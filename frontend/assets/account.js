// The account page: passkeys (list, add, rename, delete), TOTP (enrol
// with QR code, confirm, recovery codes, turn off), recovery codes,
// sessions, and deleting the account. Every change to how the account is
// signed in to, and deleting it, may first ask the person to confirm it is
// them (step-up).

import { Latch, LatchError } from "/latch.js";
import { busy, countdown, describe, el, fieldError, locale, show, showCodes, status, t } from "/ui.js";

const latch = new Latch();
const $ = (id) => document.getElementById(id);
const views = [$("view-loading"), $("view-signed-out"), $("view-account")];
const dateFormat = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" });

// Whether TOTP is on comes from userinfo's totp_enabled. Against a service
// without that field the page infers it: a session that passed a second
// step (amr "otp" or "mfa") belongs to an account with TOTP on. Confirming
// or disabling here updates it.
let totpEnabled = false;

function formatDate(value) {
  const date = new Date(value);
  return Number.isNaN(date.getTime()) || date.getTime() <= 0 ? "" : dateFormat.format(date);
}

// report shows why an action did not happen; giving up the confirmation
// is the person's choice, not an error.
function report(err) {
  status(describe(err), err?.code === "step_up_cancelled" ? "info" : "error");
}

function onSubmit(form, action) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await busy(form, action);
    } catch (err) {
      report(err);
    }
  });
}

// ---- step-up -------------------------------------------------------------

// The service answers a credential change after a sign-in that is too old
// (or, with TOTP on, one without the app code) with
// insufficient_user_authentication. The dialog then asks the person to
// confirm with a passkey of this account, and their app code when TOTP is
// on; latch.reauthenticate checks it is still the same account.

const dialog = $("step-up");
// The confirmation under way: {resolve, reject, abort, code} where code is
// the pending request for an app code, if any.
let stepUp = null;
let recoveryMode = false;

function dialogMessage(text, kind = "info") {
  $("step-up-message").textContent = text;
  $("step-up-message").dataset.kind = kind;
}

function setRecoveryMode(on) {
  recoveryMode = on;
  const input = $("step-up-code");
  input.value = "";
  $("step-up-code-label").textContent = on ? t("Recovery code") : t("Code from your authenticator app");
  $("step-up-recovery").textContent = on ? t("Use a code from the app instead") : t("Use a recovery code instead");
  if (on) {
    input.removeAttribute("pattern");
    input.setAttribute("inputmode", "text");
    input.setAttribute("maxlength", "64");
    input.setAttribute("autocomplete", "off");
  } else {
    input.setAttribute("pattern", "[0-9]{6}");
    input.setAttribute("inputmode", "numeric");
    input.setAttribute("maxlength", "6");
    input.setAttribute("autocomplete", "one-time-code");
  }
}

function showContinue() {
  $("step-up-code-form").hidden = true;
  $("step-up-continue").hidden = false;
  $("step-up-continue").disabled = false;
  $("step-up-continue").focus();
}

// confirmIdentity resolves once the person has signed in again, and
// rejects with step_up_cancelled if they give up (nothing is changed).
function confirmIdentity(what, err) {
  const needsCode = totpEnabled || (Array.isArray(err?.amrValues) && err.amrValues.includes("otp"));
  const minutes = Math.max(1, Math.round((Number.isFinite(err?.maxAge) ? err.maxAge : 300) / 60));
  $("step-up-reason").textContent = needsCode
    ? t("{what} needs a sign-in from the last {minutes} minutes with your passkey and a code from your authenticator app.", { what, minutes })
    : t("{what} needs a sign-in from the last {minutes} minutes. Confirm with your passkey to continue.", { what, minutes });
  setRecoveryMode(false);
  dialogMessage("");
  // The page's own instruction ("follow your browser's prompt") no longer
  // holds while the dialog asks first.
  status("");
  return new Promise((resolve, reject) => {
    stepUp = { resolve, reject, abort: new AbortController(), code: null };
    dialog.showModal();
    showContinue();
  });
}

function closeStepUp() {
  stepUp = null;
  if (dialog.open) dialog.close();
}

function cancelStepUp() {
  const current = stepUp;
  if (!current) return;
  const cancelled = new LatchError("step_up_cancelled", t("Nothing was changed."));
  current.abort.abort();
  current.code?.reject(cancelled);
  closeStepUp();
  current.reject(cancelled);
}

// askCode is reauthenticate's secondStep: it shows the code form and
// resolves with what the person enters.
function askCode(previous) {
  return new Promise((resolve, reject) => {
    if (!stepUp) return reject(new LatchError("step_up_cancelled", t("Nothing was changed.")));
    stepUp.code = { resolve, reject };
    $("step-up-continue").hidden = true;
    $("step-up-code-form").hidden = false;
    $("step-up-code-submit").disabled = false;
    $("step-up-code").value = "";
    if (previous) dialogMessage(describe(previous), "error");
    else dialogMessage(recoveryMode ? t("Enter one of your recovery codes.") : t("Enter the code your authenticator app shows."));
    $("step-up-code").focus();
  });
}

$("step-up-continue").addEventListener("click", async () => {
  const current = stepUp;
  if (!current) return;
  $("step-up-continue").disabled = true;
  dialogMessage(t("Follow your browser’s prompt to use your passkey…"));
  try {
    await latch.reauthenticate({ secondStep: askCode, signal: current.abort.signal });
    if (stepUp !== current) return; // cancelled meanwhile
    closeStepUp();
    current.resolve();
  } catch (err) {
    if (stepUp !== current) return;
    if (err?.code === "account_changed") {
      closeStepUp();
      current.reject(err);
      return;
    }
    // The passkey prompt was dismissed, or the second step failed for good:
    // say why and let the person try again or cancel.
    dialogMessage(describe(err), "error");
    showContinue();
  }
});

$("step-up-code-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const pending = stepUp?.code;
  if (!pending) return;
  stepUp.code = null;
  $("step-up-code-submit").disabled = true;
  dialogMessage(t("Checking…"));
  const value = $("step-up-code").value.trim();
  pending.resolve(recoveryMode ? { recoveryCode: value } : { code: value });
});

$("step-up-recovery").addEventListener("click", () => {
  setRecoveryMode(!recoveryMode);
  dialogMessage(recoveryMode ? t("Enter one of your recovery codes.") : t("Enter the code your authenticator app shows."));
  $("step-up-code").focus();
});

$("step-up-cancel").addEventListener("click", cancelStepUp);
dialog.addEventListener("cancel", (event) => {
  event.preventDefault(); // Escape: cancel the confirmation the same way
  cancelStepUp();
});

// withStepUp runs a credential change, and when the service wants a more
// recent sign-in, confirms it is the person and runs it once more. `what`
// names the change for the dialog ("Adding a passkey").
async function withStepUp(what, action) {
  try {
    return await action();
  } catch (err) {
    if (err?.code !== "insufficient_user_authentication") throw err;
    await confirmIdentity(what, err);
  }
  loadSessions().catch(() => {}); // this browser's session was replaced
  return action();
}

// ---- passkeys ------------------------------------------------------------

async function loadPasskeys() {
  const passkeys = await latch.listPasskeys();
  const list = $("passkey-list");
  const all = Array.isArray(passkeys) ? passkeys : [];
  // The only passkey is not offered for deletion (the service refuses it
  // too): the account would have no way to sign in.
  list.replaceChildren(...all.map((p) => passkeyItem(p, all.length === 1)));
}

// providerIcon shows the passkey provider's icon (light or dark with the
// page's scheme), decorative: the provider's name is in the text beside it.
function providerIcon(provider) {
  if (!provider?.icon_light && !provider?.icon_dark) return el("span", { class: "provider-icon", "aria-hidden": "true" });
  const picture = el("picture", { class: "provider-icon" });
  if (provider.icon_dark) picture.append(el("source", { srcset: provider.icon_dark, media: "(prefers-color-scheme: dark)" }));
  picture.append(el("img", { src: provider.icon_light || provider.icon_dark, alt: "", width: "24", height: "24", dataset: { testid: "passkey-provider-icon" } }));
  return picture;
}

function passkeyItem(passkey, only) {
  const label = passkey.name || t("Unnamed passkey");
  const item = el("li", { dataset: { testid: "passkey-item", id: passkey.id } });
  const details = [];
  const created = formatDate(passkey.created_at);
  if (created) details.push(t("Added {date}", { date: created }));
  const used = formatDate(passkey.last_used_at);
  details.push(used ? t("last used {date}", { date: used }) : t("never used"));
  if (passkey.backup_state) details.push(t("synced"));
  const provider = passkey.provider;
  if (provider?.name && provider.name !== passkey.name) details.unshift(provider.name);

  const summary = () => {
    const rename = el("button", { type: "button", class: "secondary", text: t("Rename"), dataset: { testid: "passkey-rename" } });
    rename.setAttribute("aria-label", t("Rename {name}", { name: label }));
    rename.addEventListener("click", () => item.replaceChildren(...renameForm()));
    const actions = el("span", { class: "actions" }, rename);
    if (!only) {
      const remove = el("button", { type: "button", class: "danger", text: t("Delete"), dataset: { testid: "passkey-delete" } });
      remove.setAttribute("aria-label", t("Delete {name}", { name: label }));
      remove.addEventListener("click", () => item.replaceChildren(...deleteConfirm()));
      actions.append(remove);
    }
    return [
      providerIcon(provider),
      el("span", { class: "name", text: label, dataset: { testid: "passkey-name" } }),
      el("span", { class: "meta", text: details.join(" · ") }),
      only && el("span", { class: "meta", text: t("Your only passkey: add another before you can delete it."), dataset: { testid: "passkey-only" } }),
      actions,
    ].filter(Boolean);
  };

  const renameForm = () => {
    const inputId = `rename-${passkey.id}`;
    const input = el("input", { id: inputId, value: passkey.name ?? "", maxlength: "64", required: true, dataset: { testid: "passkey-rename-input" } });
    const cancel = el("button", { type: "button", class: "secondary", text: t("Cancel") });
    cancel.addEventListener("click", () => item.replaceChildren(...summary()));
    const form = el(
      "form",
      { class: "inline" },
      el("label", { for: inputId, text: t("New name for {name}", { name: label }) }),
      input,
      el("button", { type: "submit", text: t("Save"), dataset: { testid: "passkey-rename-save" } }),
      cancel,
    );
    onSubmit(form, async () => {
      await latch.renamePasskey(passkey.id, input.value.trim());
      await loadPasskeys();
      status(t("Passkey renamed."));
    });
    queueMicrotask(() => input.focus());
    return [form];
  };

  const deleteConfirm = () => {
    const confirm = el("button", { type: "button", class: "danger", text: t("Yes, delete it"), dataset: { testid: "passkey-delete-confirm" } });
    const cancel = el("button", { type: "button", class: "secondary", text: t("Cancel") });
    cancel.addEventListener("click", () => item.replaceChildren(...summary()));
    confirm.addEventListener("click", async () => {
      confirm.disabled = true;
      try {
        await withStepUp(t("Deleting a passkey"), () => latch.deletePasskey(passkey.id));
        await loadPasskeys();
        status(t("Passkey deleted."));
      } catch (err) {
        item.replaceChildren(...summary());
        report(err);
      }
    });
    queueMicrotask(() => confirm.focus());
    return [el("span", { class: "name", text: t("Delete {name}?", { name: label }) }), el("span", { class: "actions" }, confirm, cancel)];
  };

  item.replaceChildren(...summary());
  return item;
}

onSubmit($("add-passkey-form"), async () => {
  status(t("Follow your browser's prompt to create a passkey…"));
  const name = $("new-passkey-name").value.trim() || undefined;
  await withStepUp(t("Adding a passkey"), () => latch.addPasskey(name));
  $("add-passkey-form").reset();
  await loadPasskeys();
  status(t("Passkey added."));
});

// ---- sessions ------------------------------------------------------------

async function loadSessions() {
  const sessions = await latch.listSessions();
  const all = Array.isArray(sessions) ? sessions : [];
  $("session-list").replaceChildren(...all.map(sessionItem));
  $("end-other-sessions").hidden = !all.some((s) => !s.current);
}

$("end-other-sessions").addEventListener("click", async () => {
  const button = $("end-other-sessions");
  button.disabled = true;
  try {
    const ended = await latch.endOtherSessions();
    await loadSessions();
    status(ended === 1 ? t("1 other session is signed out.") : t("{count} other sessions are signed out.", { count: ended }));
    $("sessions-title").focus();
  } catch (err) {
    status(describe(err), "error");
  } finally {
    button.disabled = false;
  }
});

// deviceLabel is a session's device in the page's language: "Chrome on
// macOS" put together from its parts when the service recognised them.
function deviceLabel(session) {
  const { device_browser: browser, device_system: system } = session;
  if (browser === "App" && system) return t("App on {system}", { system });
  if (browser && system) return t("{browser} on {system}", { browser, system });
  return session.device_name || session.device || t("Unknown device");
}

function sessionItem(session) {
  const item = el("li", { dataset: { testid: "session-item", id: session.id } });
  // The readable name when the service recognised the browser; the raw
  // User-Agent (shown in full on hover) otherwise.
  const label = deviceLabel(session);
  const details = [];
  const since = formatDate(session.created_at);
  if (since) details.push(t("Signed in {date}", { date: since }));
  if (session.place) details.push(t("near {place}", { place: session.place }));
  // Last activity, once it is later than the sign-in (by a refresh).
  const active = formatDate(session.last_active_at);
  if (active && new Date(session.last_active_at) - new Date(session.auth_time) >= 60_000) {
    details.push(t("Last active {date}", { date: active }));
  }
  if (session.dpop_bound) details.push(t("key-bound"));
  const parts = [
    el("span", { class: "name", text: session.current ? t("{name} (this browser)", { name: label }) : label, title: session.device || undefined }),
    el("span", { class: "meta", text: details.join(" · ") }),
  ];
  if (!session.current) {
    const end = el("button", { type: "button", class: "danger", text: t("Sign out"), dataset: { testid: "session-end" } });
    end.setAttribute("aria-label", t("Sign out {name}", { name: label }));
    end.addEventListener("click", async () => {
      end.disabled = true;
      try {
        await latch.endSession(session.id);
        await loadSessions();
        status(t("That session is signed out."));
      } catch (err) {
        end.disabled = false;
        status(describe(err), "error");
      }
    });
    parts.push(el("span", { class: "actions" }, end));
  }
  item.replaceChildren(...parts);
  return item;
}

// ---- apps with access ----------------------------------------------------

// What each scope lets an application have, as the consent page says it.
const scopeWords = {
  openid: t("know who you are"),
  profile: t("see your username and display name"),
  offline_access: t("stay signed in while you are away"),
  groups: t("see the groups you are in"),
};

function scopesText(scopes) {
  const words = (Array.isArray(scopes) ? scopes : []).map((s) => scopeWords[s] ?? t("use “{scope}”", { scope: s }));
  if (words.length === 0) return "";
  if (words.length === 1) return t("It can {what}.", { what: words[0] });
  return t("It can {list} and {last}.", { list: words.slice(0, -1).join(", "), last: words[words.length - 1] });
}

async function loadApps() {
  const [apps, sessions] = await Promise.all([latch.listApps(), latch.listSessions().catch(() => [])]);
  const all = Array.isArray(apps) ? [...apps] : [];
  // An application that asks no consent (a first-party one) still holds
  // a sign-in: its sessions are listed as "app: <client id>". Its access
  // is taken back the same way. Oldest session first, for its date.
  for (const session of (Array.isArray(sessions) ? sessions : []).toReversed()) {
    const device = typeof session.device === "string" ? session.device : "";
    const id = device.startsWith("app: ") ? device.slice(5) : "";
    if (id && !all.some((app) => app.client_id === id)) all.push({ client_id: id, granted_at: session.created_at, signedInOnly: true });
  }
  $("app-list").replaceChildren(...all.map(appItem));
  $("app-list").hidden = all.length === 0;
  $("apps-empty").hidden = all.length > 0;
}

function appItem(app) {
  const name = String(app.client_id ?? "");
  const item = el("li", { dataset: { testid: "app-item", id: name } });
  const granted = formatDate(app.granted_at);

  const summary = () => {
    const remove = el("button", { type: "button", class: "danger", text: t("Remove access"), dataset: { testid: "app-remove" } });
    remove.setAttribute("aria-label", t("Remove access for {name}", { name }));
    remove.addEventListener("click", () => item.replaceChildren(...removeConfirm()));
    return [
      el("span", { class: "name", text: name, dataset: { testid: "app-name" } }),
      el("span", {
        class: "meta",
        text: app.signedInOnly ? t("It is signed in to your account.") : scopesText(app.scopes),
        dataset: { testid: "app-scopes" },
      }),
      granted && el("span", { class: "meta", text: app.signedInOnly ? t("Signed in {date}", { date: granted }) : t("Allowed {date}", { date: granted }) }),
      el("span", { class: "actions" }, remove),
    ].filter(Boolean);
  };

  const removeConfirm = () => {
    const confirm = el("button", { type: "button", class: "danger", text: t("Yes, remove access"), dataset: { testid: "app-remove-confirm" } });
    const cancel = el("button", { type: "button", class: "secondary", text: t("Cancel") });
    cancel.addEventListener("click", () => {
      item.replaceChildren(...summary());
      item.querySelector("button")?.focus();
    });
    confirm.addEventListener("click", async () => {
      confirm.disabled = true;
      try {
        await withStepUp(t("Removing an app’s access"), () => latch.revokeApp(name));
      } catch (err) {
        if (err?.code !== "not_found") {
          item.replaceChildren(...summary());
          report(err);
          return;
        }
        // Gone already (removed from another device): the list catches up.
      }
      await Promise.all([loadApps(), loadSessions()]).catch(() => {});
      status(t("{name} no longer has access. It signs you in again only if you allow it again.", { name }));
      $("apps-title").focus();
    });
    queueMicrotask(() => confirm.focus());
    return [
      el("span", { class: "name", text: t("Remove access for {name}?", { name }) }),
      el("span", { class: "meta", text: t("The app is signed out at once and has to ask you again.") }),
      el("span", { class: "actions" }, confirm, cancel),
    ];
  };

  item.replaceChildren(...summary());
  return item;
}

// ---- TOTP ----------------------------------------------------------------

function renderTotp() {
  $("totp-state").textContent = totpEnabled
    ? t("On: signing in also needs a code from your authenticator app.")
    : t("Off: add an authenticator app to protect your account with a second step.");
  $("totp-enroll").hidden = totpEnabled || !$("totp-enrollment").hidden;
  $("totp-disable-form").hidden = !totpEnabled;
  if (totpEnabled) $("totp-enrollment").hidden = true;
}

function clearEnrollment() {
  $("totp-confirm-form").reset();
  fieldError($("totp-confirm-error"), "");
  $("totp-secret").textContent = "";
  $("totp-qr").removeAttribute("src");
  $("totp-link").setAttribute("href", "#");
  $("totp-enrollment").hidden = true;
}

$("totp-enroll").addEventListener("click", async () => {
  try {
    const enrollment = await withStepUp(t("Setting up an authenticator app"), () => latch.enrollTotp());
    // Only a PNG data URL may become an image source.
    if (typeof enrollment.qr_png === "string" && enrollment.qr_png.startsWith("data:image/png;base64,")) {
      $("totp-qr").src = enrollment.qr_png;
      $("totp-qr").hidden = false;
    } else {
      $("totp-qr").hidden = true;
    }
    // An authenticator app on this very device opens otpauth:// links; only
    // that scheme becomes a link.
    const uri = typeof enrollment.otpauth_uri === "string" && enrollment.otpauth_uri.startsWith("otpauth://totp/") ? enrollment.otpauth_uri : "";
    $("totp-link").setAttribute("href", uri || "#");
    $("totp-link-row").hidden = !uri;
    // Groups of four are easier to type; apps ignore the spaces.
    $("totp-secret").textContent = String(enrollment.secret ?? "").replace(/(.{4})(?=.)/g, "$1 ");
    fieldError($("totp-confirm-error"), "");
    $("totp-enrollment").hidden = false;
    $("totp-enroll").hidden = true;
    $("totp-confirm-code").value = "";
    $("totp-confirm-code").focus();
    status(t("Scan the QR code, then enter the code your app shows."));
  } catch (err) {
    report(err);
  }
});

$("totp-cancel").addEventListener("click", () => {
  stopLockout?.();
  clearEnrollment();
  renderTotp();
  status(t("Two-step verification was not set up."));
  $("totp-enroll").focus();
});

// While the service refuses codes after too many wrong ones, the confirm
// button counts down and the form waits; stopLockout ends that early.
let stopLockout = null;

$("totp-confirm-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = $("totp-confirm-error");
  const input = $("totp-confirm-code");
  fieldError(error, "");
  status("");
  const code = input.value.trim();
  if (!/^[0-9]{6}$/.test(code)) return fieldError(error, t("Enter the 6-digit code your app shows."), input);
  let codes;
  try {
    codes = await busy($("totp-confirm-form"), () => withStepUp(t("Turning on two-step verification"), () => latch.confirmTotp(code)));
  } catch (err) {
    if (err?.code === "step_up_cancelled") return report(err);
    if (err?.code === "rate_limited" && err.retryAfter > 0) {
      status("");
      fieldError(error, t("Too many wrong codes. You can try again in {wait}; the button counts down.", { wait: waitText(err.retryAfter) }));
      input.value = "";
      error.focus();
      stopLockout = countdown($("totp-confirm-form"), $("totp-confirm"), err.retryAfter, () => {
        stopLockout = null;
        fieldError(error, t("You can try again now: enter the code your app shows."), input);
      });
      return;
    }
    status("");
    fieldError(error, err?.code === "invalid_code" ? t("That code is not right. Check your app and enter the code it shows now.") : describe(err), input);
    input.select();
    return;
  }
  totpEnabled = true;
  clearEnrollment();
  showTotpCodes(codes ?? []);
  renderTotp();
  loadRecoveryCodes().catch(() => {});
  status(t("Two-step verification is on. Save your recovery codes."));
});

function waitText(seconds) {
  if (seconds < 60) return seconds === 1 ? t("1 second") : t("{count} seconds", { count: seconds });
  const minutes = Math.ceil(seconds / 60);
  return minutes === 1 ? t("about a minute") : t("about {count} minutes", { count: minutes });
}

let forgetTotpCodes = null;

function showTotpCodes(codes) {
  forgetTotpCodes?.();
  forgetTotpCodes = showCodes($("recovery-code-list"), codes, {
    copy: $("recovery-codes-copy"),
    download: $("recovery-codes-download"),
    filename: "latch-recovery-codes.txt",
    done: (message, kind) => status(message, kind),
  });
  $("recovery-codes").hidden = false;
  $("recovery-codes-title").focus();
}

$("recovery-codes-done").addEventListener("click", () => {
  forgetTotpCodes?.();
  forgetTotpCodes = null;
  $("recovery-codes").hidden = true;
  $("totp-state").focus();
});

onSubmit($("totp-disable-form"), async () => {
  try {
    await latch.disableTotp($("totp-disable-code").value);
  } catch (err) {
    if (err?.code !== "insufficient_user_authentication") throw err;
    await confirmIdentity(t("Turning off two-step verification"), err);
    loadSessions().catch(() => {});
    // Confirming spent the code the app showed, so turning TOTP off needs
    // the next one; retrying with the old code would only be refused.
    $("totp-disable-form").reset();
    status(t("You are confirmed. When your app shows a new code, enter it to turn off two-step verification."));
    setTimeout(() => $("totp-disable-code").focus(), 0); // once busy() has enabled the field again
    return;
  }
  totpEnabled = false;
  $("totp-disable-form").reset();
  renderTotp();
  status(t("Two-step verification is off."));
});

// ---- recovery codes ------------------------------------------------------

async function loadRecoveryCodes() {
  const state = await latch.recoveryCodesStatus();
  $("codes-state").textContent =
    state.remaining > 0
      ? state.remaining === 1
        ? t("1 unused code left, made {date}.", { date: formatDate(state.created_at) })
        : t("{count} unused codes left, made {date}.", { count: state.remaining, date: formatDate(state.created_at) })
      : t("You have no unused recovery codes. Make some, so that you can get back in if you lose your passkey.");
}

let forgetCodes = null;

function showNewCodes(codes) {
  forgetCodes?.();
  forgetCodes = showCodes($("codes-list"), codes ?? [], {
    copy: $("codes-copy"),
    download: $("codes-download"),
    filename: "latch-recovery-codes.txt",
    done: (message, kind) => status(message, kind),
  });
  $("codes-panel").hidden = false;
  $("codes-new").hidden = true;
  $("codes-panel-title").focus();
}

$("codes-new").addEventListener("click", async () => {
  const button = $("codes-new");
  button.disabled = true;
  try {
    const codes = await withStepUp(t("Making new recovery codes"), () => latch.createRecoveryCodes());
    showNewCodes(codes);
    status(t("New recovery codes are ready. Save them; the old ones no longer work."));
    await loadRecoveryCodes();
  } catch (err) {
    report(err);
  } finally {
    button.disabled = false;
  }
});

$("codes-done").addEventListener("click", () => {
  forgetCodes?.();
  forgetCodes = null;
  $("codes-panel").hidden = true;
  $("codes-new").hidden = false;
  $("codes-new").focus();
});

// ---- account deletion ----------------------------------------------------

$("delete-account").addEventListener("click", () => {
  $("delete-confirm").hidden = false;
  $("delete-account").hidden = true;
  $("delete-account-confirm").focus();
});

$("delete-account-cancel").addEventListener("click", () => {
  $("delete-confirm").hidden = true;
  $("delete-account").hidden = false;
});

$("delete-account-confirm").addEventListener("click", async () => {
  const confirm = $("delete-account-confirm");
  confirm.disabled = true;
  try {
    await withStepUp(t("Deleting your account"), () => latch.deleteAccount());
    showSignedOut(t("Your account has been deleted. Your passkey may still be listed on your device; you can remove it there."));
  } catch (err) {
    report(err);
  } finally {
    confirm.disabled = false;
  }
});

// ---- session -------------------------------------------------------------

$("signout").addEventListener("click", async () => {
  $("signout").disabled = true;
  await latch.signOut();
  showSignedOut(t("You are signed out."));
});

function showSignedOut(message, kind) {
  show(views, $("view-signed-out"));
  $("account-user").textContent = "";
  $("signout").hidden = true;
  $("signout").disabled = false;
  if (message) status(message, kind);
  $("signed-out-title").focus();
}

// The signed-in user, as userinfo described them when the page loaded.
let me = null;

try {
  if (await latch.resume()) {
    me = await latch.userinfo();
    $("account-user").textContent = t("Signed in as {name}", { name: me.username });
    const amr = Array.isArray(me.amr) ? me.amr : [];
    totpEnabled = typeof me.totp_enabled === "boolean" ? me.totp_enabled : amr.includes("otp") || amr.includes("mfa");
    renderTotp();
    // The codes' count is not worth losing the page over.
    const codes = loadRecoveryCodes().catch(() => {
      $("codes-state").textContent = t("Your recovery codes could not be counted just now.");
    });
    // Nor is the apps list: the rest of the page works without it.
    const apps = loadApps().catch(() => {
      $("apps-empty").textContent = t("The apps with access could not be listed just now.");
      $("apps-empty").hidden = false;
    });
    await Promise.all([loadPasskeys(), loadSessions(), codes, apps]);
    show(views, $("view-account"));
    $("signout").hidden = false;
  } else {
    show(views, $("view-signed-out"));
    if (latch.endedElsewhere) {
      status(t("You were signed out of this browser: from another device, the account page, or by an administrator. Sign in again to continue."));
    }
  }
} catch (err) {
  show(views, $("view-signed-out"));
  status(describe(err), "error");
}
