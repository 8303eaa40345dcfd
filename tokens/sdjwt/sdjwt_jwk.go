package sdjwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/json"

	"github.com/latchid/latch/tokens/jose"
)

// sdHolderKey is a holder public key taken from a JWK: the key, the JWS alg
// it signs with, and its canonical JWK (required members only, RFC 7638
// order) for embedding in cnf.
type sdHolderKey struct {
	pub       crypto.PublicKey
	alg       string
	canonical json.RawMessage
}

// sdHolderOf returns the holder key of an issuer-signed payload, its
// cnf.jwk.
func sdHolderOf(payload map[string]any) (*sdHolderKey, error) {
	cnf, _ := payload["cnf"].(map[string]any)
	jwk, _ := cnf["jwk"].(map[string]any)
	if jwk == nil {
		return nil, sdFail("cnf.jwk missing")
	}
	return sdParseHolderJWK(jwk)
}

// sdParseHolderJWK accepts exactly the holder keys Latch supports, public EC
// P-256 and OKP Ed25519, and refuses anything carrying private material.
// Members other than the required ones are ignored and dropped from the
// canonical form.
func sdParseHolderJWK(jwk map[string]any) (*sdHolderKey, error) {
	if _, private := jwk["d"]; private {
		return nil, sdFail("holder jwk must be a public key")
	}
	kty, _ := jwk["kty"].(string)
	crv, _ := jwk["crv"].(string)
	x, okx := sdJWKCoordinate(jwk["x"])
	switch {
	case kty == "EC" && crv == "P-256":
		y, oky := sdJWKCoordinate(jwk["y"])
		if !okx || !oky {
			return nil, sdFail("holder jwk coordinates malformed")
		}
		point := append(append([]byte{4}, x...), y...)
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
		if err != nil {
			return nil, sdFail("holder jwk is not a valid P-256 point")
		}
		// Strict base64url: the members as given are the canonical text.
		return &sdHolderKey{pub: pub, alg: jose.AlgES256, canonical: jose.CanonicalEC(crv, jwk["x"].(string), jwk["y"].(string))}, nil
	case kty == "OKP" && crv == "Ed25519":
		if !okx {
			return nil, sdFail("holder jwk coordinates malformed")
		}
		pub, ok := jose.Ed25519PublicKey(x)
		if !ok {
			return nil, sdFail("holder jwk is not a usable Ed25519 key")
		}
		return &sdHolderKey{pub: pub, alg: jose.AlgEdDSA, canonical: jose.CanonicalOKP(crv, jwk["x"].(string))}, nil
	}
	return nil, sdFail("holder jwk must be EC P-256 or OKP Ed25519")
}

// sdJWKCoordinate decodes a 32-byte base64url JWK member (P-256 coordinates
// and Ed25519 keys are both exactly 32 bytes).
func sdJWKCoordinate(v any) ([]byte, bool) {
	s, ok := v.(string)
	if !ok || len(s) != 43 {
		return nil, false
	}
	b, err := b64.DecodeString(s)
	return b, err == nil && len(b) == 32
}
