package webauthntest

import "encoding/base64"

// b64 decodes unpadded base64url, the encoding of every binary JSON member.
func b64(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

// enc encodes unpadded base64url.
func enc(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// registrationResponseJSON mirrors WebAuthn L3 RegistrationResponseJSON.
type registrationResponseJSON struct {
	ID                      string                  `json:"id"`
	RawID                   string                  `json:"rawId"`
	Response                attestationResponseJSON `json:"response"`
	AuthenticatorAttachment string                  `json:"authenticatorAttachment"`
	ClientExtensionResults  struct{}                `json:"clientExtensionResults"`
	Type                    string                  `json:"type"`
}

// attestationResponseJSON mirrors AuthenticatorAttestationResponseJSON.
type attestationResponseJSON struct {
	ClientDataJSON     string   `json:"clientDataJSON"`
	AuthenticatorData  string   `json:"authenticatorData"`
	Transports         []string `json:"transports"`
	PublicKey          string   `json:"publicKey,omitempty"`
	PublicKeyAlgorithm int      `json:"publicKeyAlgorithm"`
	AttestationObject  string   `json:"attestationObject"`
}

// authenticationResponseJSON mirrors AuthenticationResponseJSON.
type authenticationResponseJSON struct {
	ID                      string                `json:"id"`
	RawID                   string                `json:"rawId"`
	Response                assertionResponseJSON `json:"response"`
	AuthenticatorAttachment string                `json:"authenticatorAttachment"`
	ClientExtensionResults  struct{}              `json:"clientExtensionResults"`
	Type                    string                `json:"type"`
}

// assertionResponseJSON mirrors AuthenticatorAssertionResponseJSON.
type assertionResponseJSON struct {
	ClientDataJSON    string `json:"clientDataJSON"`
	AuthenticatorData string `json:"authenticatorData"`
	Signature         string `json:"signature"`
	UserHandle        string `json:"userHandle,omitempty"`
}
