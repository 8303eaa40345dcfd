package tokens

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"testing"
	"time"

	"github.com/latchid/latch/tokens/jose"
)

// A client's key and a valid assertion, the seeds of FuzzClientAssertion.
func assertionSeed(f *testing.F) (jwks []byte, assertion string) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		f.Fatal(err)
	}
	sk, err := jose.ParseSigningKey("c1", jose.AlgES256, time.Unix(0, 0), pkcs8)
	if err != nil {
		f.Fatal(err)
	}
	var m struct{ Kty, Crv, X, Y string }
	json.Unmarshal(canonicalJWK(f, sk), &m)
	jwks, _ = json.Marshal(map[string]any{"keys": []any{map[string]string{"kty": m.Kty, "crv": m.Crv, "x": m.X, "y": m.Y, "kid": "c1"}}})
	h, _ := json.Marshal(map[string]string{"alg": "ES256", "kid": "c1"})
	p, _ := json.Marshal(map[string]any{"iss": "app", "sub": "app", "aud": "https://as.example/token", "jti": "j1", "exp": 1000060})
	assertion, err = jose.SignCompact(sk, b64.EncodeToString(h), p)
	if err != nil {
		f.Fatal(err)
	}
	return jwks, assertion
}

func FuzzClientAssertion(f *testing.F) {
	jwks, assertion := assertionSeed(f)
	f.Add(assertion, string(jwks))
	f.Add("e30.e30.AA", `{"keys":[]}`)
	f.Add(assertion, `{"keys":[{"kty":"oct","k":"AA"}]}`)
	now := time.Unix(1000000, 0)
	f.Fuzz(func(t *testing.T, a, set string) {
		got, err := VerifyClientAssertion(a, []byte(set), "app", []string{"https://as.example/token"}, now)
		if (got == nil) == (err == nil) {
			t.Fatalf("result %v with error %v", got, err)
		}
		if got != nil && (got.JTI == "" || len(got.JTI) > 256 || !got.ExpiresAt.After(now)) {
			t.Fatalf("accepted %+v", got)
		}
		_ = CheckClientJWKS([]byte(set))
		AssertionIssuer(a)
	})
}

func FuzzIDTokenHint(f *testing.F) {
	key, err := jose.GenerateSigningKey(jose.AlgES256, time.Unix(0, 0))
	if err != nil {
		f.Fatal(err)
	}
	ring := jose.NewKeyring(key)
	tok, err := SignIDToken(key, IDClaims{Issuer: "https://as.example", Subject: "u", Audience: "app", IssuedAt: time.Unix(1, 0), Expires: time.Unix(2, 0), SessionID: "s"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok)
	f.Add(tok[:len(tok)-2] + "AA")
	f.Add("e30.e30.AA")
	f.Fuzz(func(t *testing.T, token string) {
		h, err := VerifyIDTokenHint(ring, token, "https://as.example", time.Unix(100, 0))
		if (h == nil) == (err == nil) {
			t.Fatalf("result %v with error %v", h, err)
		}
		if h != nil && (h.Subject == "" || h.ClientID == "") {
			t.Fatalf("accepted %+v", h)
		}
	})
}

func TestIDTokenHintAcceptsOnlyOurIDTokens(t *testing.T) {
	key, _ := jose.GenerateSigningKey(jose.AlgES256, time.Unix(0, 0))
	other, _ := jose.GenerateSigningKey(jose.AlgES256, time.Unix(0, 0))
	ring := jose.NewKeyring(key)
	c := IDClaims{Issuer: "https://as.example", Subject: "u", Audience: "app", IssuedAt: time.Unix(1, 0), Expires: time.Unix(2, 0), SessionID: "s"}
	tok, _ := SignIDToken(key, c)
	if h, err := VerifyIDTokenHint(ring, tok, "https://as.example", time.Unix(1000, 0)); err != nil || h.Subject != "u" || h.ClientID != "app" || h.SessionID != "s" {
		t.Fatalf("an expired ID token of ours as a hint: %+v %v", h, err)
	}
	forged, _ := SignIDToken(other, c)
	if _, err := VerifyIDTokenHint(ring, forged, "https://as.example", time.Unix(1000, 0)); err == nil {
		t.Fatal("an ID token of another key was accepted")
	}
	if _, err := VerifyIDTokenHint(ring, tok, "https://other.example", time.Unix(1000, 0)); err == nil {
		t.Fatal("an ID token of another issuer was accepted")
	}
	at, _, _ := NewAccessTokens(AccessConfig{Issuer: "https://as.example", Audience: "x", TTL: time.Minute, Keys: ring, Now: func() time.Time { return time.Unix(1, 0) }}).Issue(AccessClaims{Subject: "u", ClientID: "app"})
	if _, err := VerifyIDTokenHint(ring, at, "https://as.example", time.Unix(1000, 0)); err == nil {
		t.Fatal("an access token was accepted as an ID token")
	}
	// at_hash: OpenID Connect Core section 3.1.3.6, the left half of SHA-256.
	if got := AtHash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"); got != "77QmUPtjPfzWtF2AnpK9RQ" {
		t.Fatalf("AtHash = %s", got)
	}
}
