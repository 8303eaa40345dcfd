// Package webauthn runs the passkey ceremonies (WebAuthn Level 3 registration
// and authentication) for Latch on top of go-webauthn.
//
// Everything that crosses this package's boundary is plain bytes or JSON: the
// options handed to the browser are PublicKeyCredentialCreationOptionsJSON and
// PublicKeyCredentialRequestOptionsJSON, responses are what
// credential.toJSON() produces, and the ceremony session and credential
// record are opaque byte slices that the caller stores and hands back
// unchanged. No go-webauthn type appears in the exported API, so the library
// can be upgraded or replaced without touching the HTTP layer.
//
// The package does not store anything. The caller must keep session bytes
// server-side, load and delete them atomically at finish (single use), keep
// credential IDs unique across all users, and write back the credential
// returned by FinishLogin in the same transaction that creates the login.
//
// Every verification failure wraps ErrInvalidCredential, and its message is
// safe to show a client; an expired ceremony is ErrExpired and a session that
// does not belong to the ceremony is ErrInvalidSession.
package webauthn
