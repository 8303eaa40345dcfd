package tokens

import (
	"crypto"
	"crypto/ecdsa"
	"strings"
	"testing"
	"time"

	"github.com/latchid/latch/tokens/jose"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// oracleRing is a keyring with an active ES256 key and a retired EdDSA key
// that is still published, as after a rotation.
func oracleRing(tb testing.TB) (es, ed *jose.SigningKey, ring *jose.Keyring) {
	tb.Helper()
	es, err := jose.GenerateSigningKey(jose.AlgES256, accessT0)
	if err != nil {
		tb.Fatal(err)
	}
	ed, err = jose.GenerateSigningKey(jose.AlgEdDSA, accessT0)
	if err != nil {
		tb.Fatal(err)
	}
	return es, ed, jose.NewKeyring(es, jose.KeyringEntry{Key: ed, PublishUntil: accessT0.Add(time.Hour)})
}

func oracleSet(tb testing.TB, ring *jose.Keyring) jwk.Set {
	tb.Helper()
	set, err := jwk.Parse(ring.JWKS(accessT0))
	if err != nil {
		tb.Fatalf("jwx cannot parse the JWKS: %v\n%s", err, ring.JWKS(accessT0))
	}
	return set
}

// jwxAccessVerify is what a resource server using jwx would do with one of
// Latch's access tokens: verify against the JWKS by kid and validate iss,
// aud and the times.
func jwxAccessVerify(token string, set jwk.Set, now time.Time) (jwt.Token, error) {
	return jwt.Parse([]byte(token), jwt.WithKeySet(set, jws.WithRequireKid(true)),
		jwt.WithIssuer(testIssuer), jwt.WithAudience(testAudience),
		jwt.WithClock(jwt.ClockFunc(func() time.Time { return now })), jwt.WithAcceptableSkew(accessSkew))
}

func TestJWXVerifiesWhatLatchEmits(t *testing.T) {
	es, ed, ring := oracleRing(t)
	set := oracleSet(t, ring)

	t.Run("JWKS", func(t *testing.T) {
		if set.Len() != 2 {
			t.Fatalf("jwx sees %d keys, want 2", set.Len())
		}
		for _, k := range []*jose.SigningKey{es, ed} {
			key, ok := set.LookupKeyID(k.ID)
			if !ok {
				t.Fatalf("kid %s missing for jwx", k.ID)
			}
			alg, _ := key.Algorithm()
			if alg.String() != k.Alg {
				t.Fatalf("kid %s: jwx alg %v, want %s", k.ID, alg, k.Alg)
			}
			if _, private := key.(interface{ D() ([]byte, bool) }); private {
				t.Fatalf("kid %s is a private key for jwx", k.ID)
			}
			// Latch's generated kid is the RFC 7638 thumbprint.
			tp, err := key.Thumbprint(crypto.SHA256)
			if err != nil || b64.EncodeToString(tp) != k.ID {
				t.Fatalf("kid %s: jwx thumbprint %s (%v)", k.ID, b64.EncodeToString(tp), err)
			}
		}
	})
	for _, signer := range []*jose.SigningKey{es, ed} {
		t.Run("access tokens "+signer.Alg, func(t *testing.T) {
			r := jose.NewKeyring(signer, jose.KeyringEntry{Key: es}, jose.KeyringEntry{Key: ed})
			at := NewAccessTokens(AccessConfig{Issuer: testIssuer, Audience: testAudience, TTL: 10 * time.Minute, Keys: r,
				Now: func() time.Time { return accessT0 }})
			for i := range 32 {
				c := sampleClaims()
				c.Subject = "user-" + string(rune('a'+i%26))
				tok, issued, err := at.Issue(c)
				if err != nil {
					t.Fatal(err)
				}
				got, err := jwxAccessVerify(tok, set, accessT0)
				if err != nil {
					t.Fatalf("jwx refuses access token %d: %v\n%s", i, err, tok)
				}
				sub, _ := got.Subject()
				jti, _ := got.JwtID()
				if sub != issued.Subject || jti != issued.ID {
					t.Fatalf("jwx reads sub %q jti %q, Latch issued %q %q", sub, jti, issued.Subject, issued.ID)
				}
				var cnf map[string]any
				if err := got.Get("cnf", &cnf); err != nil || cnf["jkt"] != issued.JKT {
					t.Fatalf("jwx reads cnf %v (%v)", cnf, err)
				}
				msg, err := jws.Parse([]byte(tok))
				if err != nil {
					t.Fatal(err)
				}
				if typ, _ := msg.Signatures()[0].ProtectedHeaders().Type(); typ != typAccessToken {
					t.Fatalf("typ %q", typ)
				}
			}
		})
	}
}

func TestJWXAndLatchRefuseHostileAccessTokens(t *testing.T) {
	f := newAccessFixture(t, 0)
	set := oracleSet(t, f.ring)
	priv := f.key.Signer().(*ecdsa.PrivateKey)
	other := mustECKey(t)
	sign := func(mutH, mutC func(map[string]any)) string {
		h, c := validAccessParts(f)
		if mutH != nil {
			mutH(h)
		}
		if mutC != nil {
			mutC(c)
		}
		return signTestJWS(t, h, c, jose.AlgES256, priv)
	}
	raw := func(header, payload string) string {
		return signTestJWS(t, []byte(header), []byte(payload), jose.AlgES256, priv)
	}
	h := `{"alg":"ES256","typ":"at+jwt","kid":"` + f.key.ID + `"}`
	claims := `"iss":"` + testIssuer + `","aud":"` + testAudience + `","client_id":"web","exp":1790000600,"iat":1790000000,"jti":"j"`
	valid := sign(nil, nil)
	parts := strings.Split(valid, ".")
	sig, _ := b64.DecodeString(parts[2])
	sig[5] ^= 1
	tampered := parts[0] + "." + parts[1] + "." + b64.EncodeToString(sig)

	tests := []struct {
		name      string
		token     string
		latchOnly bool
	}{
		{"alg none", func() string {
			hh, c := validAccessParts(f)
			hh["alg"] = "none"
			return signTestJWS(t, hh, c, "none", nil)
		}(), false},
		{"HS256 keyed with the public JWK", func() string {
			hh, c := validAccessParts(f)
			hh["alg"] = "HS256"
			return signTestJWS(t, hh, c, "HS256", canonicalJWK(t, f.key))
		}(), false},
		{"tampered signature", tampered, false},
		{"signed by another key under our kid", func() string {
			hh, c := validAccessParts(f)
			return signTestJWS(t, hh, c, jose.AlgES256, other)
		}(), false},
		{"unknown kid", sign(func(h map[string]any) { h["kid"] = "nope" }, nil), false},
		{"expired", sign(nil, func(c map[string]any) { c["exp"] = accessT0.Add(-time.Hour).Unix() }), false},
		{"not yet valid", sign(nil, func(c map[string]any) { c["nbf"] = accessT0.Add(time.Hour).Unix() }), false},
		{"other issuer", sign(nil, func(c map[string]any) { c["iss"] = "https://evil.example" }), false},
		{"other audience", sign(nil, func(c map[string]any) { c["aud"] = "https://other.example" }), false},
		{"payload swapped under a valid signature", parts[0] + "." + b64.EncodeToString([]byte(`{"sub":"admin"}`)) + "." + parts[2], false},
		// RFC 9068 and Latch's own rules, unknown to a generic JWT library.
		{"typ JWT instead of at+jwt", sign(func(h map[string]any) { h["typ"] = "JWT" }, nil), true},
		{"DPoP proof typ", sign(func(h map[string]any) { h["typ"] = "dpop+jwt" }, nil), true},
		{"missing client_id", sign(nil, func(c map[string]any) { delete(c, "client_id") }), true},
		{"missing sub", sign(nil, func(c map[string]any) { delete(c, "sub") }), true},
		// Strict JOSE JSON: jwx decodes like encoding/json.
		{"duplicate sub", raw(h, `{`+claims+`,"sub":"admin","sub":"user-1"}`), true},
		{"duplicate typ in the header", raw(`{"alg":"ES256","typ":"JWT","typ":"at+jwt","kid":"`+f.key.ID+`"}`, `{`+claims+`,"sub":"u"}`), true},
		{"invalid UTF-8 in a claim", raw(h, `{`+claims+",\"sub\":\"u\xff\"}"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := f.at.Verify(tt.token); err == nil {
				t.Fatal("Latch accepted it")
			}
			_, jerr := jwxAccessVerify(tt.token, set, accessT0)
			switch {
			case !tt.latchOnly && jerr == nil:
				t.Fatal("jwx accepted it")
			case tt.latchOnly && jerr != nil:
				t.Fatalf("jwx now refuses it too (%v): move the case out of the Latch-only rows", jerr)
			}
		})
	}
	t.Run("the valid token passes both", func(t *testing.T) {
		if _, err := f.at.Verify(valid); err != nil {
			t.Fatal(err)
		}
		if _, err := jwxAccessVerify(valid, set, accessT0); err != nil {
			t.Fatal(err)
		}
	})
}
