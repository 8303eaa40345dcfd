package webauthntest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/descope/virtualwebauthn"
)

// PasskeyFormat names the version of the passkey file format.
const PasskeyFormat = "latch-passkey/1"

// PasskeyFile is a software passkey written to disk so that a test suite
// without a browser can sign in with it (`latch users add NAME
// --passkey-out FILE`). Binary values are unpadded base64url. The private
// key is there twice, as a JWK (for WebCrypto and JOSE libraries) and as
// PKCS #8 DER (for everything else); both are the same P-256 key.
//
// It holds a private key: keep it with the test suite's secrets, never in
// a production account.
type PasskeyFile struct {
	Format       string `json:"format"`        // PasskeyFormat
	RPID         string `json:"rp_id"`         // the relying party the passkey is for
	Origin       string `json:"origin"`        // the origin its "browser" writes into clientDataJSON
	CredentialID string `json:"credential_id"` // base64url
	UserHandle   string `json:"user_handle"`   // base64url: the account's WebAuthn user id
	Username     string `json:"username,omitempty"`
	// PrivateKeyJWK is the ES256 key as a JWK with "d".
	PrivateKeyJWK map[string]string `json:"private_key_jwk"`
	// PrivateKeyPKCS8 is the same key as PKCS #8 DER, base64url.
	PrivateKeyPKCS8 string `json:"private_key_pkcs8"`
}

// A passkey from a file signs with a signature counter of 0 every time, as
// many platform passkeys do: a relying party accepts 0 after 0 (WebAuthn
// section 6.1.1), so one file serves any number of sign-ins, from parallel
// tests too, and is never written back.

// Export returns the credential with this ID as a passkey file.
func (a *Authenticator) Export(credentialID []byte) (*PasskeyFile, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.find(credentialID)
	if c == nil {
		return nil, errors.New("webauthntest: the credential is not held")
	}
	parsed, err := x509.ParsePKCS8PrivateKey(c.vc.Key.Data)
	if err != nil {
		return nil, fmt.Errorf("webauthntest: credential key: %w", err)
	}
	key, ok := parsed.(*ecdsa.PrivateKey)
	if !ok {
		return nil, errors.New("webauthntest: credential key is not ECDSA")
	}
	pub, err := key.PublicKey.Bytes()
	if err != nil {
		return nil, err
	}
	d, err := key.Bytes()
	if err != nil {
		return nil, err
	}
	return &PasskeyFile{
		Format: PasskeyFormat, RPID: c.rpID, Origin: a.origin,
		CredentialID: enc(c.vc.ID), UserHandle: enc(c.userHandle),
		PrivateKeyJWK: map[string]string{
			"kty": "EC", "crv": "P-256", "x": enc(pub[1:33]), "y": enc(pub[33:65]), "d": enc(d),
		},
		PrivateKeyPKCS8: enc(c.vc.Key.Data),
	}, nil
}

// FromPasskeyFile returns an authenticator for the file's RP ID and origin
// holding its one credential, so that Get answers sign-ins with it.
func FromPasskeyFile(f *PasskeyFile) (*Authenticator, error) {
	if f.Format != PasskeyFormat {
		return nil, fmt.Errorf("webauthntest: passkey file format %q, want %q", f.Format, PasskeyFormat)
	}
	id, err := b64(f.CredentialID)
	if err != nil || len(id) == 0 {
		return nil, errors.New("webauthntest: passkey file: bad credential_id")
	}
	handle, err := b64(f.UserHandle)
	if err != nil || len(handle) == 0 {
		return nil, errors.New("webauthntest: passkey file: bad user_handle")
	}
	der, err := b64(f.PrivateKeyPKCS8)
	if err != nil {
		return nil, errors.New("webauthntest: passkey file: bad private_key_pkcs8")
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	key, ok := parsed.(*ecdsa.PrivateKey)
	if err != nil || !ok || key.Curve != elliptic.P256() {
		return nil, errors.New("webauthntest: passkey file: the private key is not a P-256 key")
	}
	// The two encodings of the key must agree, or a JS and a Go test
	// would sign with different keys.
	if d, err := b64(f.PrivateKeyJWK["d"]); err != nil || !bytes.Equal(d, mustBytes(key)) {
		return nil, errors.New("webauthntest: passkey file: private_key_jwk and private_key_pkcs8 differ")
	}
	if f.RPID == "" || f.Origin == "" {
		return nil, errors.New("webauthntest: passkey file: rp_id and origin are required")
	}
	vc := virtualwebauthn.NewCredentialWithImportedKey(virtualwebauthn.KeyTypeEC2, der)
	vc.ID = id
	a := New(f.RPID, f.Origin)
	a.creds = append(a.creds, &credential{vc: vc, rpID: f.RPID, userHandle: handle, fixedCounter: true})
	return a, nil
}

func mustBytes(k *ecdsa.PrivateKey) []byte {
	d, err := k.Bytes()
	if err != nil {
		return nil
	}
	return d
}

// ReadPasskeyFile reads a passkey file written by WritePasskeyFile or
// `latch users add --passkey-out`.
func ReadPasskeyFile(path string) (*PasskeyFile, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f PasskeyFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("webauthntest: passkey file %s: %w", path, err)
	}
	return &f, nil
}

// WritePasskeyFile writes f to path with mode 0600 (it holds a private key),
// replacing the file atomically.
func WritePasskeyFile(path string, f *PasskeyFile) error {
	raw, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(raw, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
