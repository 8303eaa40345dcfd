// Conversion between the service's WebAuthn JSON (Level 3 serialisation,
// binary values as unpadded base64url) and the browser's credential API.
// Browsers with PublicKeyCredential.parse*FromJSON and toJSON() use those;
// the fallbacks below cover browsers that ship WebAuthn without them.

import { base64url, base64urlDecode } from "./latch-dpop.js";

function withBinaryIds(list) {
  return Array.isArray(list) ? list.map((c) => ({ ...c, id: base64urlDecode(c.id) })) : list;
}

/** creationOptions turns PublicKeyCredentialCreationOptionsJSON into options for create(). */
export function creationOptions(json) {
  if (typeof PublicKeyCredential?.parseCreationOptionsFromJSON === "function") {
    return PublicKeyCredential.parseCreationOptionsFromJSON(json);
  }
  return {
    ...json,
    challenge: base64urlDecode(json.challenge),
    user: { ...json.user, id: base64urlDecode(json.user.id) },
    excludeCredentials: withBinaryIds(json.excludeCredentials),
  };
}

/** requestOptions turns PublicKeyCredentialRequestOptionsJSON into options for get(). */
export function requestOptions(json) {
  if (typeof PublicKeyCredential?.parseRequestOptionsFromJSON === "function") {
    return PublicKeyCredential.parseRequestOptionsFromJSON(json);
  }
  return {
    ...json,
    challenge: base64urlDecode(json.challenge),
    allowCredentials: withBinaryIds(json.allowCredentials),
  };
}

/** credentialJSON serialises a registration or authentication response. */
export function credentialJSON(credential) {
  if (typeof credential.toJSON === "function") return credential.toJSON();
  const r = credential.response;
  const response = { clientDataJSON: base64url(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = base64url(r.attestationObject);
    response.transports = typeof r.getTransports === "function" ? r.getTransports() : [];
  } else {
    response.authenticatorData = base64url(r.authenticatorData);
    response.signature = base64url(r.signature);
    if (r.userHandle) response.userHandle = base64url(r.userHandle);
  }
  const json = {
    id: credential.id,
    rawId: base64url(credential.rawId),
    type: credential.type,
    response,
    clientExtensionResults: credential.getClientExtensionResults(),
  };
  if (credential.authenticatorAttachment) json.authenticatorAttachment = credential.authenticatorAttachment;
  return json;
}

/** attachment returns a credential's authenticatorAttachment, or null when the browser does not say. */
export function attachment(credential) {
  const value = credential?.authenticatorAttachment;
  return value === "platform" || value === "cross-platform" ? value : null;
}

/**
 * conditionalCreateAvailable reports whether the browser can create a
 * passkey without a prompt of its own (conditional create, WebAuthn Level 3
 * getClientCapabilities).
 */
export async function conditionalCreateAvailable() {
  try {
    if (typeof PublicKeyCredential?.getClientCapabilities !== "function") return false;
    const capabilities = await PublicKeyCredential.getClientCapabilities();
    return capabilities?.conditionalCreate === true;
  } catch {
    return false;
  }
}
