// Small DOM helpers shared by the pages. Text goes in through textContent
// only: no string from the service or the user is ever parsed as HTML.

// ---- languages -------------------------------------------------------------

// The service puts the page's language's messages in a JSON block
// (<script type="application/json" id="latch-messages">: data, not code),
// {"messages": {English: translation}, "brand": name}; without it the
// pages speak English.
const catalogue = (() => {
  try {
    const block = globalThis.document?.getElementById("latch-messages");
    const parsed = block ? JSON.parse(block.textContent) : {};
    return parsed && typeof parsed === "object" ? parsed : {};
  } catch {
    return {};
  }
})();
const translations = catalogue.messages && typeof catalogue.messages === "object" ? catalogue.messages : {};
const brand = typeof catalogue.brand === "string" && catalogue.brand ? catalogue.brand : "";

/**
 * t translates an English text of the pages into the page's language and
 * fills its {name} placeholders from vars. Every text passed here is in
 * the catalogues (frontend/locales/*.json); a test checks it.
 */
export function t(text, vars = {}) {
  let out = Object.hasOwn(translations, text) && typeof translations[text] === "string" && translations[text] ? translations[text] : text;
  if (brand) out = out.replace(/\bLatch\b/g, brand);
  return out.replace(/\{(\w+)\}/g, (match, name) => (Object.hasOwn(vars, name) ? String(vars[name]) : match));
}

/** locale is the page's language, for dates and numbers. */
export const locale = globalThis.document?.documentElement.lang || undefined;

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
  username_taken: t("That username is already taken."),
  ceremony_aborted: t("The passkey prompt was cancelled or timed out."),
  passkey_exists: t("This authenticator already holds a passkey for your account."),
  invalid_credential: t("That passkey was not accepted."),
  invalid_ceremony: t("The sign-in attempt expired. Please try again."),
  invalid_code: t("That code is not right. Check it and try again."),
  invalid_grant: t("This sign-in has expired. Please start again."),
  last_credential: t("You cannot delete your only passkey. Add another passkey first."),
  not_signed_in: t("You are signed out."),
  network_error: t("The service could not be reached. Check your connection."),
  account_disabled: t("This account has been disabled."),
  insufficient_user_authentication: t("This change needs a recent sign-in. Please try again."),
  step_up_cancelled: t("Nothing was changed."),
  account_changed: t("You signed in to another account; nothing was changed."),
  totp_required: t("Your account also uses two-step verification: enter a code from your authenticator app, or a second recovery code."),
};

/** describe turns an error into a sentence for the status region. */
export function describe(err) {
  if (err?.code === "rate_limited") {
    return err.retryAfter ? t("Too many attempts. Try again in {count} seconds.", { count: err.retryAfter }) : t("Too many attempts. Try again later.");
  }
  if (err?.code && messages[err.code]) return messages[err.code];
  if (err?.description) return err.description;
  return t("Something went wrong. Please try again.");
}

// Sign-in methods (RFC 8176 amr values) in words a person knows.
const methodNames = { pop: t("passkey"), otp: t("authenticator app code"), mfa: t("two-step verification") };

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
  const text = `${t("Recovery codes (each works once)")}\n\n${codes.join("\n")}\n`;
  const onCopy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      done?.(t("The codes are copied."));
    } catch {
      done?.(t("Copying did not work here: select the codes and copy them, or download them."), "error");
    }
  };
  const onDownload = () => {
    const url = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
    const a = el("a", { href: url, download: filename });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 0);
    done?.(t("The codes are downloaded."));
  };
  copy.addEventListener("click", onCopy);
  download.addEventListener("click", onDownload);
  return () => {
    list.replaceChildren();
    copy.removeEventListener("click", onCopy);
    download.removeEventListener("click", onDownload);
  };
}

// ---- passkey ceremonies: what went wrong, and what to do next -------------

/**
 * passkeyProblem says why a passkey sign-in ("sign-in") or sign-up
 * ("sign-up") did not happen: {message, hints}, hints naming what may
 * help ("create": make an account here, "other-device": a passkey on a
 * phone or another device, "retry"), or null when the error is not the
 * passkey's (describe covers those).
 */
export function passkeyProblem(err, action) {
  if (err?.code === "ceremony_aborted") {
    if (action === "sign-up") {
      return { message: t("Creating the passkey was cancelled, so no account was made. Try again when you are ready."), hints: [] };
    }
    if (err.reason === "no_passkey") {
      return { message: t("No passkey for this site was found on this device."), hints: ["create", "other-device", "retry"] };
    }
    return { message: t("Sign-in cancelled: the passkey prompt was closed before a passkey was used. Try again when you are ready."), hints: ["other-device"] };
  }
  if (err?.code === "invalid_credential" && err.reason === "unknown_credential") {
    return {
      message: t("This passkey belongs to no account here: its account was deleted, or the passkey was removed from it. Your device may now forget it."),
      hints: ["create", "other-device"],
    };
  }
  if (err?.code === "passkey_exists" && action === "sign-up") {
    return { message: t("This device already holds a passkey for that account. Sign in with it instead."), hints: [] };
  }
  return null;
}

/**
 * actionError shows why an action failed in errorEl, an element with
 * role="alert" next to the action: the message and, for a passkey problem,
 * its hints, where "create" offers a button calling onCreate. An empty err
 * clears it.
 */
export function actionError(errorEl, err, action, { onCreate } = {}) {
  if (!err) {
    errorEl.replaceChildren();
    return;
  }
  const problem = passkeyProblem(err, action) ?? { message: describe(err), hints: [] };
  const hints = problem.hints.map((hint) => {
    if (hint === "create") {
      const create = el("button", { type: "button", class: "link", text: t("Create an account"), dataset: { testid: "hint-create" } });
      create.addEventListener("click", () => onCreate?.());
      return el("li", {}, t("New here?"), " ", create, " ", t("with a passkey on this device."));
    }
    if (hint === "other-device") {
      return el("li", {
        text: t("Is your passkey on your phone or another device? Sign in again and choose “Use a phone or tablet” (or your other device) in your browser’s prompt."),
        dataset: { testid: "hint-other-device" },
      });
    }
    return el("li", { text: t("Closed the prompt by mistake? Just sign in again.") });
  });
  errorEl.replaceChildren(el("p", { text: problem.message, dataset: { testid: "action-error-message" } }));
  if (hints.length) errorEl.append(el("ul", { class: "hints" }, ...hints));
  errorEl.scrollIntoView({ block: "nearest" });
}

// ---- usernames -----------------------------------------------------------

// The service's rules (auth/username.go): 3 to 64 characters after NFC
// normalisation and lower-casing; Unicode letters, digits (and the marks
// that belong to letters) plus . _ - @.
const usernameChars = /^[\p{L}\p{Nd}\p{M}._@-]+$/u;

/** usernameProblem returns why a username would be refused, or "" when it follows the rules. */
export function usernameProblem(raw) {
  const name = String(raw ?? "").normalize("NFC").toLowerCase().normalize("NFC");
  const length = [...name].length;
  if (length === 0) return t("Choose a username.");
  if (length < 3) return t("Your username needs at least 3 characters.");
  if (length > 64) return t("Your username can have at most 64 characters.");
  if (!usernameChars.test(name)) return t("Use only letters, digits and . _ - @ in your username: no spaces or other signs.");
  return "";
}

/**
 * countdown disables button and form's fields for `seconds` while button shows how
 * long is left ("Try again in 42 s"), then restores them and calls onEnd.
 * The button's label is not a live region: announce the wait once
 * elsewhere. Returns a function that stops it early (without onEnd).
 */
export function countdown(form, button, seconds, onEnd) {
  const label = button.textContent;
  // The button and the fields wait; other buttons (Cancel) stay usable.
  const controls = [button, ...form.querySelectorAll("input")];
  for (const control of controls) control.disabled = true;
  const until = Date.now() + seconds * 1000;
  const tick = () => {
    const left = Math.ceil((until - Date.now()) / 1000);
    if (left > 0) {
      button.textContent = t("Try again in {count} s", { count: left });
      return;
    }
    stop();
    onEnd?.();
  };
  const timer = setInterval(tick, 250);
  const stop = () => {
    clearInterval(timer);
    button.textContent = label;
    for (const control of controls) control.disabled = false;
  };
  tick();
  return stop;
}
