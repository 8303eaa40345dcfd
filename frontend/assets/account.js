// The account page: passkeys (list, add, rename, delete), TOTP (enrol
// with QR code, confirm, recovery codes, turn off), sessions, and deleting
// the account.

import { Latch } from "/latch.js";
import { busy, describe, el, show, status } from "/ui.js";

const latch = new Latch();
const $ = (id) => document.getElementById(id);
const views = [$("view-loading"), $("view-signed-out"), $("view-account")];
const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

// Whether TOTP is on comes from userinfo's totp_enabled. Against a service
// without that field the page infers it: a session that passed a second
// step (amr "otp" or "mfa") belongs to an account with TOTP on. Confirming
// or disabling here updates it.
let totpEnabled = false;

function formatDate(value) {
  const date = new Date(value);
  return Number.isNaN(date.getTime()) || date.getTime() <= 0 ? "" : dateFormat.format(date);
}

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

// ---- passkeys ------------------------------------------------------------

async function loadPasskeys() {
  const passkeys = await latch.listPasskeys();
  const list = $("passkey-list");
  list.replaceChildren(...(Array.isArray(passkeys) ? passkeys : []).map(passkeyItem));
}

function passkeyItem(passkey) {
  const label = passkey.name || "Unnamed passkey";
  const item = el("li", { dataset: { testid: "passkey-item", id: passkey.id } });
  const details = [];
  const created = formatDate(passkey.created_at);
  if (created) details.push(`Added ${created}`);
  const used = formatDate(passkey.last_used_at);
  details.push(used ? `last used ${used}` : "never used");
  if (passkey.backup_state) details.push("synced");

  const summary = () => {
    const rename = el("button", { type: "button", text: "Rename", dataset: { testid: "passkey-rename" } });
    rename.setAttribute("aria-label", `Rename ${label}`);
    rename.addEventListener("click", () => item.replaceChildren(...renameForm()));
    const remove = el("button", { type: "button", class: "danger", text: "Delete", dataset: { testid: "passkey-delete" } });
    remove.setAttribute("aria-label", `Delete ${label}`);
    remove.addEventListener("click", () => item.replaceChildren(...deleteConfirm()));
    return [
      el("span", { class: "name", text: label, dataset: { testid: "passkey-name" } }),
      el("span", { class: "meta", text: details.join(" · ") }),
      el("span", { class: "actions" }, rename, remove),
    ];
  };

  const renameForm = () => {
    const inputId = `rename-${passkey.id}`;
    const input = el("input", { id: inputId, value: passkey.name ?? "", maxlength: "64", required: true, dataset: { testid: "passkey-rename-input" } });
    const cancel = el("button", { type: "button", class: "secondary", text: "Cancel" });
    cancel.addEventListener("click", () => item.replaceChildren(...summary()));
    const form = el(
      "form",
      { class: "inline" },
      el("label", { for: inputId, text: `New name for ${label}` }),
      input,
      el("button", { type: "submit", text: "Save", dataset: { testid: "passkey-rename-save" } }),
      cancel,
    );
    onSubmit(form, async () => {
      await latch.renamePasskey(passkey.id, input.value.trim());
      await loadPasskeys();
      status("Passkey renamed.");
    });
    queueMicrotask(() => input.focus());
    return [form];
  };

  const deleteConfirm = () => {
    const confirm = el("button", { type: "button", class: "danger", text: "Yes, delete it", dataset: { testid: "passkey-delete-confirm" } });
    const cancel = el("button", { type: "button", class: "secondary", text: "Cancel" });
    cancel.addEventListener("click", () => item.replaceChildren(...summary()));
    confirm.addEventListener("click", async () => {
      confirm.disabled = true;
      try {
        await latch.deletePasskey(passkey.id);
        await loadPasskeys();
        status("Passkey deleted.");
      } catch (err) {
        item.replaceChildren(...summary());
        status(describe(err), "error");
      }
    });
    queueMicrotask(() => confirm.focus());
    return [el("span", { class: "name", text: `Delete ${label}?` }), el("span", { class: "actions" }, confirm, cancel)];
  };

  item.replaceChildren(...summary());
  return item;
}

onSubmit($("add-passkey-form"), async () => {
  status("Follow your browser's prompt to create a passkey…");
  await latch.addPasskey($("new-passkey-name").value.trim() || undefined);
  $("add-passkey-form").reset();
  await loadPasskeys();
  status("Passkey added.");
});

// ---- sessions ------------------------------------------------------------

async function loadSessions() {
  const sessions = await latch.listSessions();
  $("session-list").replaceChildren(...(Array.isArray(sessions) ? sessions : []).map(sessionItem));
}

function sessionItem(session) {
  const item = el("li", { dataset: { testid: "session-item", id: session.id } });
  const label = session.device || "Unknown device";
  const details = [];
  const since = formatDate(session.created_at);
  if (since) details.push(`Signed in ${since}`);
  if (session.dpop_bound) details.push("key-bound");
  const parts = [
    el("span", { class: "name", text: session.current ? `${label} (this browser)` : label }),
    el("span", { class: "meta", text: details.join(" · ") }),
  ];
  if (!session.current) {
    const end = el("button", { type: "button", class: "danger", text: "Sign out", dataset: { testid: "session-end" } });
    end.setAttribute("aria-label", `Sign out ${label}`);
    end.addEventListener("click", async () => {
      end.disabled = true;
      try {
        await latch.endSession(session.id);
        await loadSessions();
        status("That session is signed out.");
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

// ---- TOTP ----------------------------------------------------------------

function renderTotp() {
  $("totp-state").textContent = totpEnabled
    ? "On: signing in also needs a code from your authenticator app."
    : "Off: add an authenticator app to protect your account with a second step.";
  $("totp-enroll").hidden = totpEnabled;
  $("totp-disable-form").hidden = !totpEnabled;
  if (totpEnabled) $("totp-enrollment").hidden = true;
}

$("totp-enroll").addEventListener("click", async () => {
  try {
    const enrollment = await latch.enrollTotp();
    // Only a PNG data URL may become an image source.
    if (typeof enrollment.qr_png === "string" && enrollment.qr_png.startsWith("data:image/png;base64,")) {
      $("totp-qr").src = enrollment.qr_png;
      $("totp-qr").hidden = false;
    } else {
      $("totp-qr").hidden = true;
    }
    // Groups of four are easier to type; apps ignore the spaces.
    $("totp-secret").textContent = String(enrollment.secret ?? "").replace(/(.{4})(?=.)/g, "$1 ");
    $("totp-enrollment").hidden = false;
    $("totp-confirm-code").value = "";
    $("totp-confirm-code").focus();
    status("Scan the QR code, then enter the code your app shows.");
  } catch (err) {
    status(describe(err), "error");
  }
});

onSubmit($("totp-confirm-form"), async () => {
  const codes = await latch.confirmTotp($("totp-confirm-code").value);
  totpEnabled = true;
  $("totp-confirm-form").reset();
  $("totp-secret").textContent = "";
  $("totp-qr").removeAttribute("src");
  $("recovery-code-list").replaceChildren(...(codes ?? []).map((code) => el("li", { text: code })));
  $("recovery-codes").hidden = false;
  renderTotp();
  status("Two-step verification is on. Save your recovery codes.");
});

$("recovery-codes-done").addEventListener("click", () => {
  $("recovery-code-list").replaceChildren();
  $("recovery-codes").hidden = true;
});

onSubmit($("totp-disable-form"), async () => {
  await latch.disableTotp($("totp-disable-code").value);
  totpEnabled = false;
  $("totp-disable-form").reset();
  renderTotp();
  status("Two-step verification is off.");
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
    try {
      await latch.deleteAccount();
    } catch (err) {
      if (err?.code !== "insufficient_user_authentication") throw err;
      // The sign-in is too old to delete with: confirm with a passkey of
      // this account (the service refuses any other for this username),
      // and check the account is still the same before deleting.
      status("Confirm with your passkey to delete your account…");
      const { mfaRequired } = await latch.signIn({ username: me.username });
      if (mfaRequired) {
        latch.cancelMfa();
        throw new Error("Sign in again with your second step on the home page, then delete your account within five minutes.");
      }
      if ((await latch.userinfo()).sub !== me.sub) throw new Error("You signed in to another account; nothing was deleted.");
      await latch.deleteAccount();
    }
    show(views, $("view-signed-out"));
    $("account-user").textContent = "";
    status("Your account has been deleted. Your passkey may still be listed on your device; you can remove it there.");
  } catch (err) {
    status(err?.code ? describe(err) : err.message, "error");
  } finally {
    confirm.disabled = false;
  }
});

// ---- session -------------------------------------------------------------

$("signout").addEventListener("click", async () => {
  await latch.signOut();
  show(views, $("view-signed-out"));
  $("account-user").textContent = "";
  status("You are signed out.");
});

// The signed-in user, as userinfo described them when the page loaded.
let me = null;

try {
  if (await latch.resume()) {
    me = await latch.userinfo();
    $("account-user").textContent = `Signed in as ${me.username}`;
    const amr = Array.isArray(me.amr) ? me.amr : [];
    totpEnabled = typeof me.totp_enabled === "boolean" ? me.totp_enabled : amr.includes("otp") || amr.includes("mfa");
    renderTotp();
    await Promise.all([loadPasskeys(), loadSessions()]);
    show(views, $("view-account"));
  } else {
    show(views, $("view-signed-out"));
  }
} catch (err) {
  show(views, $("view-signed-out"));
  status(describe(err), "error");
}
