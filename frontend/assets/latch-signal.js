// The WebAuthn Signal API (WebAuthn Level 3 §5.1.10; Chrome 132+, Safari
// 26+): telling the device which of its passkeys for this site are dead,
// so that it stops offering them, and what the account is called now.
// Every call is feature-detected and best effort: a browser without the
// API, or one that refuses, changes nothing for the person.

/** signalUnknown tells the device a passkey is known to no account here. */
export async function signalUnknown(rpId, credentialId) {
  if (!rpId || !credentialId || typeof PublicKeyCredential?.signalUnknownCredential !== "function") return false;
  try {
    await PublicKeyCredential.signalUnknownCredential({ rpId, credentialId });
    return true;
  } catch {
    return false;
  }
}

/** signalAccepted tells the device every passkey the account still has. */
export async function signalAccepted(rpId, userId, credentialIds) {
  if (!rpId || !userId || typeof PublicKeyCredential?.signalAllAcceptedCredentials !== "function") return false;
  try {
    await PublicKeyCredential.signalAllAcceptedCredentials({ rpId, userId, allAcceptedCredentialIds: credentialIds });
    return true;
  } catch {
    return false;
  }
}

/** signalDetails tells the device the account's current names. */
export async function signalDetails(rpId, userId, name, displayName) {
  if (!rpId || !userId || typeof PublicKeyCredential?.signalCurrentUserDetails !== "function") return false;
  try {
    await PublicKeyCredential.signalCurrentUserDetails({ rpId, userId, name, displayName });
    return true;
  } catch {
    return false;
  }
}

/** conditionalMediationAvailable reports whether passkey autofill can run here. */
export async function conditionalMediationAvailable() {
  try {
    return typeof PublicKeyCredential?.isConditionalMediationAvailable === "function" && (await PublicKeyCredential.isConditionalMediationAvailable());
  } catch {
    return false;
  }
}
