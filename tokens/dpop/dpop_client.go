package dpop

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"time"

	"github.com/latchid/latch/tokens/jose"
)

// The client side of DPoP, for Go programs that call Latch or an API
// protected by its tokens (test suites, command-line clients): a proof
// for one request, signed with the client's own P-256 key.

// ProofRequest is what one DPoP proof is made for.
type ProofRequest struct {
	Method      string // htm
	URL         string // htu: query and fragment are dropped
	AccessToken string // adds ath; empty for token requests
	Nonce       string // the server's DPoP-Nonce, if it sent one
	Now         time.Time
}

// NewProof returns a DPoP proof JWT (RFC 9449 section 4) for one request,
// with a fresh random jti, signed ES256 with key, whose public half goes
// into the header.
func NewProof(key *ecdsa.PrivateKey, r ProofRequest) (string, error) {
	if key == nil || key.Curve != elliptic.P256() {
		return "", errors.New("dpop: the proof key must be a P-256 key")
	}
	htu, err := NormalizeHTU(r.URL)
	if err != nil {
		return "", err
	}
	pub, err := key.PublicKey.Bytes()
	if err != nil {
		return "", err
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	now := r.Now
	if now.IsZero() {
		now = time.Now()
	}
	header, err := json.Marshal(map[string]any{
		"typ": "dpop+jwt", "alg": jose.AlgES256,
		"jwk": map[string]string{"kty": "EC", "crv": "P-256", "x": b64.EncodeToString(pub[1:33]), "y": b64.EncodeToString(pub[33:65])},
	})
	if err != nil {
		return "", err
	}
	claims := map[string]any{"jti": b64.EncodeToString(jti), "htm": r.Method, "htu": htu, "iat": now.Unix()}
	if r.AccessToken != "" {
		claims["ath"] = ATH(r.AccessToken)
	}
	if r.Nonce != "" {
		claims["nonce"] = r.Nonce
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	return jose.SignJWS(header, payload, key, jose.AlgES256)
}

// ProofKeyThumbprint returns the RFC 7638 thumbprint of a proof key's
// public half: the cnf.jkt of the tokens bound to it.
func ProofKeyThumbprint(key *ecdsa.PublicKey) (string, error) {
	pub, err := key.Bytes()
	if err != nil || key.Curve != elliptic.P256() {
		return "", errors.New("dpop: the proof key must be a P-256 key")
	}
	return jose.ThumbprintOf(jose.CanonicalEC("P-256", b64.EncodeToString(pub[1:33]), b64.EncodeToString(pub[33:65]))), nil
}
