package sdjwt

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"filippo.io/edwards25519"
	"github.com/latchid/latch/tokens/jose"
)

// FuzzStrictJOSE checks the strict JOSE reader against encoding/json and the
// SD-JWT decoder: whatever it accepts, every parser reads the same way.
func FuzzStrictJOSE(f *testing.F) {
	f.Add([]byte(`{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":"a","y":"b"}}`))
	f.Add([]byte(`{"typ":"a","typ":"b"}`))
	f.Add([]byte(`{"TYP":"a","\u0074yp":"b","a":[{"b":1,"b":2}]}`))
	f.Add([]byte("{\"\u017fub\":\"\xff\",\"s\":\"\\ud800\\udc00\"}"))
	f.Add([]byte(`{"a":{"b":{"c":[1,2,{"d":null}]}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if !jose.StrictJSON(data) {
			return
		}
		if !utf8.Valid(data) || !json.Valid(data) {
			t.Fatalf("accepted invalid JSON or UTF-8: %q", data)
		}
		// No duplicates at any depth: the exact-name strict decoder agrees.
		obj, err := sdDecodeObject(data)
		if err != nil {
			t.Fatalf("accepted what the strict SD-JWT decoder refuses (%v): %q", err, data)
		}
		var loose map[string]json.RawMessage
		if err := json.Unmarshal(data, &loose); err != nil || len(loose) != len(obj) {
			t.Fatalf("encoding/json reads %d members, the strict decoder %d: %q", len(loose), len(obj), data)
		}
		// No member encoding/json would fold onto a name Latch reads.
		for name := range obj {
			for known := range joseMemberNames {
				if name != known && strings.EqualFold(name, known) {
					t.Fatalf("accepted %q, which encoding/json reads as %q", name, known)
				}
			}
		}
		// A struct decode sees exactly the members' values.
		var h struct {
			Typ string `json:"typ"`
		}
		if err := json.Unmarshal(data, &h); err == nil {
			if typ, ok := obj["typ"].(string); ok && typ != h.Typ {
				t.Fatalf("typ %q read as %q", typ, h.Typ)
			}
		}
	})
}

// FuzzJWKKey feeds arbitrary JWKs, and arbitrary 32-octet Ed25519 keys, to
// every path from a JWK to a key. An accepted Ed25519 key is canonical and
// not of small order, the DPoP and SD-JWT paths agree, and the canonical
// form has the thumbprint jose.Thumbprint computes for the input.
func FuzzJWKKey(f *testing.F) {
	for _, h := range append(append([]string{}, smallOrderEd25519...), nonCanonicalEd25519...) {
		f.Add([]byte{}, mustHex(f, h))
	}
	_, priv, _ := ed25519.GenerateKey(nil)
	f.Add([]byte(`{"kty":"OKP","crv":"Ed25519","x":"`+b64.EncodeToString(priv.Public().(ed25519.PublicKey))+`"}`), []byte(priv.Public().(ed25519.PublicKey)))
	f.Add([]byte(`{"kty":"EC","crv":"P-256","x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs","y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"}`), []byte{})
	f.Fuzz(func(t *testing.T, raw, x []byte) {
		for _, alg := range []string{jose.AlgES256, jose.AlgEdDSA, jose.AlgRS256} {
			pub, canonical, err := jose.PublicKeyFromJWK(raw, alg)
			if err != nil {
				continue
			}
			if pub == nil {
				t.Fatal("no key and no error")
			}
			if tp, err := jose.Thumbprint(raw); err != nil || tp != jose.ThumbprintOf(canonical) {
				t.Fatalf("thumbprint %q (%v) of an accepted %s key differs from its canonical form's", tp, err, alg)
			}
		}
		if len(x) != ed25519.PublicKeySize {
			return
		}
		_, okKey := jose.Ed25519PublicKey(x)
		jwkJSON := []byte(`{"kty":"OKP","crv":"Ed25519","x":"` + b64.EncodeToString(x) + `"}`)
		_, _, errDPoP := jose.PublicKeyFromJWK(jwkJSON, jose.AlgEdDSA)
		_, errSD := sdParseHolderJWK(map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64.EncodeToString(x)})
		if okKey != (errDPoP == nil) || okKey != (errSD == nil) {
			t.Fatalf("key %x: check %v, DPoP %v, SD-JWT %v", x, okKey, errDPoP, errSD)
		}
		if !okKey {
			return
		}
		p, err := new(edwards25519.Point).SetBytes(x)
		if err != nil || !bytes.Equal(p.Bytes(), x) {
			t.Fatalf("accepted a non-canonical or invalid key %x", x)
		}
		if new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1 {
			t.Fatalf("accepted a small-order key %x", x)
		}
	})
}

// joseMemberNames are the member names Latch reads from JOSE objects: the
// JWK members, the DPoP proof header and claims, and the access-token
// header, claims and cnf.
var joseMemberNames = func() map[string]bool {
	names := map[string]bool{}
	for _, n := range []string{
		"alg", "amr", "ath", "aud", "auth_time", "client_id", "cnf", "crit",
		"crv", "d", "dp", "dq", "e", "exp", "groups", "htm", "htu", "iat",
		"iss", "jkt", "jti", "jwk", "k", "kid", "kty", "n", "nbf", "nonce",
		"oth", "p", "q", "qi", "scope", "sid", "sub", "typ", "x", "y",
	} {
		names[n] = true
	}
	return names
}()
