package jose

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
)

const (
	rfc7638N   = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
	rfc7638JKT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
	rfc9449JWK = `{"kty":"EC","x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs","y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA","crv":"P-256"}`
	rfc9449JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
)

func TestThumbprint(t *testing.T) {
	okp := `{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`
	tests := []struct {
		name, jwk, want string
	}{
		{"RFC 7638 RSA example key gives its published thumbprint",
			`{"kty":"RSA","n":"` + rfc7638N + `","e":"AQAB","alg":"RS256","kid":"2011-04-29"}`, rfc7638JKT},
		{"RFC 9449 EC example key gives its published jkt", rfc9449JWK, rfc9449JKT},
		{"private members do not change the thumbprint",
			`{"kty":"EC","crv":"P-256","d":"ignored","x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs","y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"}`, rfc9449JKT},
		// RFC 8037 appendix A.3 gives this key's thumbprint.
		{"RFC 8037 Ed25519 example key gives its published thumbprint", okp, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Thumbprint([]byte(tt.jwk))
			if err != nil || got != tt.want {
				t.Fatalf("Thumbprint = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestThumbprintRejects(t *testing.T) {
	tests := []struct{ name, jwk string }{
		{"not JSON", `{"kty":`},
		{"symmetric key has no public thumbprint here", `{"kty":"oct","k":"AAAA"}`},
		{"unknown curve", `{"kty":"EC","crv":"P-257","x":"AA","y":"AA"}`},
		{"short coordinate", `{"kty":"EC","crv":"P-256","x":"AAAA","y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"}`},
		{"padding in a member", `{"kty":"RSA","n":"AQAB=","e":"AQAB"}`},
		{"quote smuggled into a member", `{"kty":"RSA","n":"AQ\"AB","e":"AQAB"}`},
		{"missing e", `{"kty":"RSA","n":"AQAB"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := Thumbprint([]byte(tt.jwk)); err == nil {
				t.Fatalf("Thumbprint = %q, want error", got)
			}
		})
	}
}

func TestPublicKeyFromJWK(t *testing.T) {
	ec := mustECKey(t)
	ecJWK := ecPublicJWK(t, &ec.PublicKey)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	edJWK := map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64.EncodeToString(edPub)}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaJWK := map[string]any{"kty": "RSA", "n": b64.EncodeToString(rsaKey.N.Bytes()), "e": "AQAB"}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	with := func(base map[string]any, k string, v any) map[string]any {
		m := map[string]any{}
		for kk, vv := range base {
			m[kk] = vv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	// A valid x with a y that is not on the curve.
	offCurve := with(ecJWK, "y", b64.EncodeToString(new(big.Int).Add(ec.Y, big.NewInt(1)).FillBytes(make([]byte, 32))))

	tests := []struct {
		name string
		jwk  any
		alg  string
		want error
	}{
		{"EC P-256 key for ES256 is accepted", ecJWK, AlgES256, nil},
		{"Ed25519 key for EdDSA is accepted", edJWK, AlgEdDSA, nil},
		{"RSA 2048 key for PS256 is accepted", rsaJWK, AlgPS256, nil},
		{"EC key under EdDSA is a mismatch", ecJWK, AlgEdDSA, ErrJWKMismatch},
		{"OKP key under ES256 is a mismatch", edJWK, AlgES256, ErrJWKMismatch},
		{"RSA key under ES256 is a mismatch", rsaJWK, AlgES256, ErrJWKMismatch},
		{"P-384 curve under ES256 is a mismatch", with(ecJWK, "crv", "P-384"), AlgES256, ErrJWKMismatch},
		{"jwk alg disagreeing with header alg is a mismatch", with(ecJWK, "alg", "ES384"), AlgES256, ErrJWKMismatch},
		{"private d is rejected", with(ecJWK, "d", "AAAA"), AlgES256, ErrJWKPrivate},
		{"null d still counts as a private member", with(ecJWK, "d", json.RawMessage("null")), AlgES256, ErrJWKPrivate},
		{"oct key is rejected", map[string]any{"kty": "oct", "k": "c2VjcmV0"}, AlgES256, ErrJWKPrivate},
		{"RSA private p is rejected", with(rsaJWK, "p", "AQAB"), AlgRS256, ErrJWKPrivate},
		{"point off the curve is rejected", offCurve, AlgES256, ErrJWKMalformed},
		{"missing y is rejected", with(ecJWK, "y", nil), AlgES256, ErrJWKMalformed},
		{"RSA modulus below 2048 bits is rejected", with(rsaJWK, "n", b64.EncodeToString(small.N.Bytes())), AlgRS256, ErrJWKMalformed},
		{"RSA exponent with leading zero is rejected", with(rsaJWK, "e", "AAEAAQ"), AlgRS256, ErrJWKMalformed},
		{"RSA even exponent is rejected", with(rsaJWK, "e", "AQAC"), AlgRS256, ErrJWKMalformed},
		{"unsupported alg is a mismatch", ecJWK, "ES384", ErrJWKMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub, canonical, err := PublicKeyFromJWK(mustJSON(t, tt.jwk), tt.alg)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if tt.want != nil {
				return
			}
			if pub == nil || !strings.HasPrefix(string(canonical), "{") {
				t.Fatalf("pub = %v, canonical = %s", pub, canonical)
			}
			// The canonical form hashes to the same thumbprint Thumbprint
			// computes from the original JSON.
			want, err := Thumbprint(mustJSON(t, tt.jwk))
			if err != nil || ThumbprintOf(canonical) != want {
				t.Fatalf("thumbprint mismatch: %s vs %s (%v)", ThumbprintOf(canonical), want, err)
			}
		})
	}
	if pub, _, err := PublicKeyFromJWK(mustJSON(t, ecJWK), AlgES256); err != nil || !pub.(*ecdsa.PublicKey).Equal(&ec.PublicKey) {
		t.Fatalf("EC key did not round-trip: %v", err)
	}
}
