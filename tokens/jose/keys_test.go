package jose

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"encoding/json"
	"testing"
	"time"
)

func TestAlgorithmNamesMatchRegistry(t *testing.T) {
	for got, want := range map[string]string{AlgES256: "ES256", AlgEdDSA: "EdDSA", AlgEd25519: "Ed25519", AlgRS256: "RS256", AlgPS256: "PS256"} {
		if got != want {
			t.Errorf("algorithm name %q, want %q", got, want)
		}
	}
}

func TestGenerateSigningKey(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name, alg, wantAlg string
	}{
		{"empty alg defaults to ES256", "", AlgES256},
		{"ES256 key", AlgES256, AlgES256},
		{"EdDSA key", AlgEdDSA, AlgEdDSA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := GenerateSigningKey(tt.alg, now)
			if err != nil {
				t.Fatal(err)
			}
			if k.Alg != tt.wantAlg || !k.CreatedAt.Equal(now) {
				t.Fatalf("key alg %q created %v", k.Alg, k.CreatedAt)
			}
			// The kid is the RFC 7638 thumbprint of the published JWK.
			pub, err := publicJWK(k)
			if err != nil {
				t.Fatal(err)
			}
			if tp, err := Thumbprint(pub); err != nil || tp != k.ID {
				t.Fatalf("kid %q, thumbprint of JWK %q (%v)", k.ID, tp, err)
			}
			// A signature made by the key verifies with its public half.
			sig, err := k.sign([]byte("a.b"))
			if err != nil || !VerifySignature(k.Alg, k.Public(), "a.b", sig) {
				t.Fatalf("sign/verify failed: %v", err)
			}
			switch k.Public().(type) {
			case *ecdsa.PublicKey, ed25519.PublicKey:
			default:
				t.Fatalf("Public() type %T", k.Public())
			}
			if k.Signer() == nil {
				t.Fatal("Signer() is nil")
			}
		})
	}
	if _, err := GenerateSigningKey("HS256", now); err == nil {
		t.Fatal("HS256 key was generated")
	}
}

func TestSigningKeyPKCS8RoundTrip(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for _, alg := range []string{AlgES256, AlgEdDSA} {
		t.Run(alg+" key survives MarshalPrivate and ParseSigningKey", func(t *testing.T) {
			k, err := GenerateSigningKey(alg, now)
			if err != nil {
				t.Fatal(err)
			}
			der, err := k.MarshalPrivate()
			if err != nil {
				t.Fatal(err)
			}
			back, err := ParseSigningKey(k.ID, alg, now, der)
			if err != nil {
				t.Fatal(err)
			}
			if back.ID != k.ID || back.Alg != alg || !back.CreatedAt.Equal(now) {
				t.Fatalf("parsed key %+v", back)
			}
			sig, err := back.sign([]byte("x.y"))
			if err != nil || !VerifySignature(alg, k.Public(), "x.y", sig) {
				t.Fatal("parsed key does not sign for the original public key")
			}
			// An empty id is derived again from the key itself.
			if derived, err := ParseSigningKey("", alg, now, der); err != nil || derived.ID != k.ID {
				t.Fatalf("derived kid %v, %v", derived, err)
			}
		})
	}
	es, _ := GenerateSigningKey(AlgES256, now)
	der, _ := es.MarshalPrivate()
	if _, err := ParseSigningKey("k", AlgEdDSA, now, der); err == nil {
		t.Fatal("EC key accepted as EdDSA")
	}
	if _, err := ParseSigningKey("k", AlgES256, now, []byte("not a key")); err == nil {
		t.Fatal("garbage accepted as a key")
	}
}

func TestPublicJWKHasNoPrivateMembers(t *testing.T) {
	k, _ := GenerateSigningKey(AlgES256, time.Now())
	j, err := publicJWK(k)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(j, &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"kty": true, "crv": true, "x": true, "y": true, "kid": true, "alg": true, "use": true}
	for name := range m {
		if !want[name] {
			t.Errorf("unexpected member %q", name)
		}
	}
	if m["kid"] != k.ID || m["alg"] != "ES256" || m["use"] != "sig" {
		t.Fatalf("JWK %s", j)
	}
}

func TestCompactHeaderOfEachType(t *testing.T) {
	k, err := GenerateSigningKey(AlgES256, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	// Access tokens and ID tokens in turn, as a code exchange signs them,
	// and a third type that displaces the older of the two.
	for _, typ := range []string{"at+jwt", "JWT", "at+jwt", "JWT", "dpop+jwt", "JWT", "at+jwt", "at+jwt"} {
		raw, err := b64.DecodeString(k.CompactHeader(typ))
		if err != nil {
			t.Fatal(err)
		}
		var h struct{ Alg, Kid, Typ string }
		if err := json.Unmarshal(raw, &h); err != nil || h.Alg != AlgES256 || h.Kid != k.ID || h.Typ != typ {
			t.Fatalf("header for %q: %s", typ, raw)
		}
	}
}
