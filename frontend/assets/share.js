// The share page: get an SD-JWT credential from Latch, choose which claims
// a verifier may see, make a presentation for its audience and nonce, hand
// it over (copy or QR), and see what the verifier will be told. A verifier
// can link here with ?aud=…&nonce=… to fill in the first step.

import { Latch } from "/latch.js";
import { errorFromResponse } from "/latch-error.js";
import { credentialParts } from "/latch-sdjwt.js";
import { describe, el, locale, methodsText, show, status, t } from "/ui.js";

const latch = new Latch();
const $ = (id) => document.getElementById(id);
const views = [$("view-loading"), $("view-signed-out"), $("view-share")];

// Claim names in words; anything else is shown as the service named it.
const claimNames = {
  sub: t("Account id"),
  username: t("Username"),
  display_name: t("Display name"),
  amr: t("How you signed in"),
  created_at: t("Account created"),
  groups: t("Groups"),
};

let credential = null; // kept in memory only: it is bound to this browser's key anyway
let presentation = "";

function claimText(name, value) {
  if (name === "created_at" && typeof value === "number") return new Date(value * 1000).toLocaleDateString(locale);
  if (name === "amr") return methodsText(value);
  if (Array.isArray(value)) return value.length ? value.join(", ") : t("none");
  return String(value);
}

function resetPresentation() {
  presentation = "";
  $("presentation-view").hidden = true;
  $("presentation-qr").hidden = true;
  $("verifier-answer").hidden = true;
}

function renderClaims() {
  const { disclosures } = credentialParts(credential);
  // Disclosures come in random order (so their order tells nothing); show
  // them in a fixed one.
  const order = Object.keys(claimNames);
  const rank = (name) => (order.includes(name) ? order.indexOf(name) : order.length);
  const rows = disclosures
    .filter((d) => d.name !== undefined)
    .sort((a, b) => rank(a.name) - rank(b.name) || String(a.name).localeCompare(String(b.name)))
    .map((d, i) => {
      const id = `claim-${i}`;
      const box = el("input", { type: "checkbox", id, value: d.name, dataset: { testid: "claim", claim: d.name } });
      box.addEventListener("change", resetPresentation);
      const label = el("label", { for: id }, el("span", { text: claimNames[d.name] ?? d.name }), el("span", { class: "hint", text: ` ${claimText(d.name, d.value)}` }));
      return el("div", { class: "check" }, box, label);
    });
  $("claim-list").replaceChildren(...rows);
  $("claims").hidden = false;
  $("create-presentation").disabled = false;
  $("get-credential").textContent = t("Get a new credential");
}

function verifier() {
  const aud = $("verifier-aud").value.trim();
  const nonce = $("verifier-nonce").value.trim();
  if (!aud || !nonce) {
    const missing = !aud ? $("verifier-aud") : $("verifier-nonce");
    status(!aud ? t("Enter the address of the service you share with.") : t("Enter the one-time code the service gave you."), "error");
    missing.focus();
    return null;
  }
  return { aud, nonce };
}

$("make-nonce").addEventListener("click", () => {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  $("verifier-nonce").value = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  if (!$("verifier-aud").value) $("verifier-aud").value = location.origin;
  resetPresentation();
  status(t("A one-time code was made. A real service gives you its own."));
});
for (const id of ["verifier-aud", "verifier-nonce"]) $(id).addEventListener("input", resetPresentation);

$("get-credential").addEventListener("click", async () => {
  const button = $("get-credential");
  button.disabled = true;
  try {
    credential = (await latch.issueCredential()).credential;
    resetPresentation();
    renderClaims();
    status(t("Latch issued a credential for this browser. Choose what to show."));
    $("claims-title").focus();
  } catch (err) {
    status(describe(err), "error");
  } finally {
    button.disabled = false;
  }
});

$("create-presentation").addEventListener("click", async () => {
  const v = verifier();
  if (!v) return;
  const reveal = [...document.querySelectorAll("#claim-list input:checked")].map((box) => box.value);
  try {
    presentation = await latch.presentCredential(credential, { reveal, ...v });
    $("presentation").value = presentation;
    $("presentation-view").hidden = false;
    $("presentation-qr").hidden = true;
    $("verifier-answer").hidden = true;
    status(reveal.length ? t("The presentation shows {count} of your details.", { count: reveal.length }) : t("The presentation shows none of your details, only that Latch vouches for you."));
    $("present-title").focus();
  } catch (err) {
    status(describe(err), "error");
  }
});

$("copy-presentation").addEventListener("click", async () => {
  try {
    await navigator.clipboard.writeText(presentation);
    status(t("Copied. Paste it where the service asks for it."));
  } catch {
    $("presentation").select();
    status(t("Select the text and copy it (the browser did not allow copying)."), "error");
  }
});

$("show-qr").addEventListener("click", async () => {
  try {
    const res = await latch.fetch("/qr", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ text: presentation }) });
    if (!res.ok) throw await errorFromResponse(res);
    $("presentation-qr").src = (await res.json()).png;
    $("presentation-qr").hidden = false;
    status(t("Let the service scan the code."));
  } catch (err) {
    status(describe(err), "error");
  }
});

$("check-presentation").addEventListener("click", async () => {
  const v = verifier();
  if (!v) return;
  try {
    const res = await fetch("/credentials/verify", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ presentation, ...v }),
    });
    const body = await res.json();
    const title = $("answer-title");
    const list = $("answer-claims");
    if (body.valid === true) {
      title.textContent = t("The service will accept it and see:");
      const shown = Object.entries(body.claims ?? {}).filter(([name]) => name in claimNames);
      list.replaceChildren(
        ...(shown.length
          ? shown.flatMap(([name, value]) => [el("dt", { text: claimNames[name] }), el("dd", { text: claimText(name, value) })])
          : [el("dt", { text: t("Your details") }), el("dd", { text: t("none") })]),
      );
    } else {
      title.textContent = t("The service will refuse it: {reason}.", { reason: body.error_description ?? t("the presentation is not valid") });
      list.replaceChildren();
    }
    $("verifier-answer").hidden = false;
    title.focus();
  } catch (err) {
    status(describe(err), "error");
  }
});

async function start() {
  const params = new URLSearchParams(location.search);
  if (params.get("aud")) $("verifier-aud").value = params.get("aud").slice(0, 512);
  if (params.get("nonce")) $("verifier-nonce").value = params.get("nonce").slice(0, 256);
  try {
    if (!(await latch.resume())) {
      show(views, $("view-signed-out"));
      return;
    }
    show(views, $("view-share"));
  } catch (err) {
    show(views, $("view-signed-out"));
    status(describe(err), "error");
  }
}

start();
