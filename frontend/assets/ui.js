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
