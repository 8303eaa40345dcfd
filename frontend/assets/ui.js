// Small DOM helpers shared by the pages. Text goes in through textContent
// only: no string from the service or the user is ever parsed as HTML.

/** el creates an element with properties/attributes and text or child nodes. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name in node && typeof value !== "string") node[name] = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) node.append(child);
  return node;
}

/** show makes exactly one of the views visible. */
export function show(views, visible) {
  for (const view of views) view.hidden = view !== visible;
}

/** status writes a message to the page's live region; kind is "info" or "error". */
export function status(message, kind = "info") {
  const region = document.getElementById("status");
  region.textContent = message;
  region.dataset.kind = kind;
}

/** busy disables a form's controls while an action runs, then restores them. */
export async function busy(form, action) {
  const controls = [...form.querySelectorAll("button, input")];
  for (const control of controls) control.disabled = true;
  form.setAttribute("aria-busy", "true");
  try {
    return await action();
  } finally {
    for (const control of controls) control.disabled = false;
    form.removeAttribute("aria-busy");
  }
}

const messages = {
  username_taken: "That username is already taken.",
  ceremony_aborted: "The passkey prompt was cancelled or timed out.",
  passkey_exists: "This authenticator already holds a passkey for your account.",
  invalid_credential: "That passkey was not accepted.",
  invalid_ceremony: "The sign-in attempt expired. Please try again.",
  invalid_code: "That code is not right. Check it and try again.",
  invalid_grant: "This sign-in has expired. Please start again.",
  last_credential: "You cannot delete your only passkey. Add another passkey first.",
  not_signed_in: "You are signed out.",
  network_error: "The service could not be reached. Check your connection.",
  account_disabled: "This account has been disabled.",
  insufficient_user_authentication: "This change needs a recent sign-in. Please try again.",
  step_up_cancelled: "Nothing was changed.",
  account_changed: "You signed in to another account; nothing was changed.",
  totp_required: "Your account also uses two-step verification: enter a code from your authenticator app, or a second recovery code.",
};

/** describe turns an error into a sentence for the status region. */
export function describe(err) {
  if (err?.code === "rate_limited") {
    return err.retryAfter ? `Too many attempts. Try again in ${err.retryAfter} seconds.` : "Too many attempts. Try again later.";
  }
  if (err?.code && messages[err.code]) return messages[err.code];
  if (err?.description) return err.description;
  return "Something went wrong. Please try again.";
}

// Sign-in methods (RFC 8176 amr values) in words a person knows.
const methodNames = { pop: "passkey", otp: "authenticator app code", mfa: "two-step verification" };

/** methodsText names a token's sign-in methods (its amr) for people. */
export function methodsText(amr) {
  return Array.isArray(amr) ? amr.map((m) => methodNames[m] ?? m).join(", ") : "";
}

/**
 * fieldError shows message in errorEl (an element with role="alert" next to
 * the field, so that it is announced), marks field as invalid and described
 * by it, scrolls it into view and moves focus to the field. An empty
 * message clears it.
 */
export function fieldError(errorEl, message, field) {
  errorEl.textContent = message ?? "";
  for (const input of errorEl.closest("form, section")?.querySelectorAll("input") ?? []) {
    input.removeAttribute("aria-invalid");
  }
  if (!message) return;
  if (field) {
    field.setAttribute("aria-invalid", "true");
    const described = new Set((field.getAttribute("aria-describedby") ?? "").split(/\s+/).filter(Boolean));
    described.add(errorEl.id);
    field.setAttribute("aria-describedby", [...described].join(" "));
    field.focus();
  }
  errorEl.scrollIntoView({ block: "nearest" });
}

/**
 * showCodes fills list with recovery codes and wires copy and download
 * buttons to them; it returns a function that forgets them (call it once
 * the person has saved them).
 */
export function showCodes(list, codes, { copy, download, filename = "recovery-codes.txt", done }) {
  list.replaceChildren(...codes.map((code) => el("li", { text: code })));
  const text = `Recovery codes (each works once)\n\n${codes.join("\n")}\n`;
  const onCopy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      done?.("The codes are copied.");
    } catch {
      done?.("Copying did not work here: select the codes and copy them, or download them.", "error");
    }
  };
  const onDownload = () => {
    const url = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
    const a = el("a", { href: url, download: filename });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 0);
    done?.("The codes are downloaded.");
  };
  copy.addEventListener("click", onCopy);
  download.addEventListener("click", onDownload);
  return () => {
    list.replaceChildren();
    copy.removeEventListener("click", onCopy);
    download.removeEventListener("click", onDownload);
  };
}
