package tokens

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchid/latch/tokens/jose"
)

const (
	testIssuer   = "https://issuer.example"
	testAudience = "https://api.example"
)

var accessT0 = time.Unix(1_790_000_000, 0)

type accessFixture struct {
	clock *testClock
	key   *jose.SigningKey
	ring  *jose.Keyring
	at    *AccessTokens
}

func newAccessFixture(tb testing.TB, cacheSize int) *accessFixture {
	tb.Helper()
	f := &accessFixture{clock: newTestClock(accessT0)}
	var err error
	if f.key, err = jose.GenerateSigningKey(jose.AlgES256, accessT0); err != nil {
		tb.Fatal(err)
	}
	f.ring = jose.NewKeyring(f.key)
	f.at = NewAccessTokens(AccessConfig{Issuer: testIssuer, Audience: testAudience, TTL: 10 * time.Minute, Keys: f.ring, Now: f.clock.Now, CacheSize: cacheSize})
	return f
}

func sampleClaims() AccessClaims {
	return AccessClaims{
		Subject: "user-1", ClientID: "web", Scope: "openid profile", SessionID: "sid-1",
		AMR: []string{"hwk", "user"}, JKT: rfc9449JKT, AuthTime: accessT0.Add(-time.Minute),
	}
}

func sameClaims(a, b *AccessClaims) bool {
	if len(a.AMR) != len(b.AMR) {
		return false
	}
	for i := range a.AMR {
		if a.AMR[i] != b.AMR[i] {
			return false
		}
	}
	return a.Issuer == b.Issuer && a.Subject == b.Subject && a.Audience == b.Audience &&
		a.IssuedAt.Equal(b.IssuedAt) && a.ExpiresAt.Equal(b.ExpiresAt) && a.AuthTime.Equal(b.AuthTime) &&
		a.ID == b.ID && a.ClientID == b.ClientID && a.Scope == b.Scope && a.SessionID == b.SessionID && a.JKT == b.JKT
}

func TestAccessIssueVerifyRoundTrip(t *testing.T) {
	for _, alg := range []string{jose.AlgES256, jose.AlgEdDSA} {
		t.Run(alg+" token verifies to the issued claims", func(t *testing.T) {
			f := newAccessFixture(t, 0)
			k, _ := jose.GenerateSigningKey(alg, accessT0)
			f.ring.Replace(k)
			token, issued, err := f.at.Issue(sampleClaims())
			if err != nil {
				t.Fatal(err)
			}
			if issued.Issuer != testIssuer || issued.Audience != testAudience || !issued.IssuedAt.Equal(accessT0) ||
				!issued.ExpiresAt.Equal(accessT0.Add(10*time.Minute)) || len(issued.ID) != 22 {
				t.Fatalf("issued claims %+v", issued)
			}
			got, err := f.at.Verify(token)
			if err != nil {
				t.Fatal(err)
			}
			if !sameClaims(got, &issued) {
				t.Fatalf("verified %+v\nissued %+v", got, issued)
			}
			// The header is exactly typ at+jwt with the key's alg and kid.
			hb, _ := b64.DecodeString(token[:strings.IndexByte(token, '.')])
			var h map[string]string
			if err := json.Unmarshal(hb, &h); err != nil || h["typ"] != "at+jwt" || h["alg"] != alg || h["kid"] != k.ID || len(h) != 3 {
				t.Fatalf("header %s", hb)
			}
		})
	}
}

func TestAccessIssueClaimsOnTheWire(t *testing.T) {
	f := newAccessFixture(t, 0)
	token, issued, err := f.at.Issue(sampleClaims())
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := b64.DecodeString(strings.Split(token, ".")[1])
	var p map[string]any
	if err := json.Unmarshal(pb, &p); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope", "auth_time", "amr", "sid", "cnf"} {
		if _, ok := p[name]; !ok {
			t.Errorf("claim %q missing from %s", name, pb)
		}
	}
	if cnf, _ := p["cnf"].(map[string]any); cnf["jkt"] != rfc9449JKT {
		t.Errorf("cnf %v", p["cnf"])
	}
	if p["aud"] != testAudience || p["jti"] != issued.ID {
		t.Errorf("aud %v jti %v", p["aud"], p["jti"])
	}

	unbound := sampleClaims()
	unbound.JKT = ""
	token, _, _ = f.at.Issue(unbound)
	pb, _ = b64.DecodeString(strings.Split(token, ".")[1])
	if strings.Contains(string(pb), "cnf") {
		t.Errorf("unbound token carries cnf: %s", pb)
	}
}

func TestAccessIssueRejectsIncompleteClaims(t *testing.T) {
	f := newAccessFixture(t, 0)
	for name, c := range map[string]AccessClaims{
		"no subject":   {ClientID: "web"},
		"no client_id": {Subject: "u"},
	} {
		if _, _, err := f.at.Issue(c); err == nil {
			t.Errorf("%s: token issued", name)
		}
	}
	empty := NewAccessTokens(AccessConfig{Issuer: testIssuer, Keys: jose.NewKeyring(nil)})
	if _, _, err := empty.Issue(sampleClaims()); err == nil {
		t.Error("token issued without an active key")
	}
}

// validAccessParts returns the header and claims of a valid token for f,
// for tests that build tokens by hand.
func validAccessParts(f *accessFixture) (map[string]any, map[string]any) {
	h := map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": f.key.ID}
	c := map[string]any{
		"iss": testIssuer, "sub": "user-1", "aud": testAudience, "client_id": "web",
		"exp": accessT0.Add(10 * time.Minute).Unix(), "iat": accessT0.Unix(), "jti": "jti-1",
	}
	return h, c
}

func TestAccessVerifyRejects(t *testing.T) {
	f := newAccessFixture(t, 0)
	priv := f.key.Signer().(*ecdsa.PrivateKey)
	pubPoint, _ := f.key.Public().(*ecdsa.PublicKey).Bytes()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other := mustECKey(t)

	edit := func(mutH func(h map[string]any), mutC func(c map[string]any)) (map[string]any, map[string]any) {
		h, c := validAccessParts(f)
		if mutH != nil {
			mutH(h)
		}
		if mutC != nil {
			mutC(c)
		}
		return h, c
	}
	sign := func(mutH func(h map[string]any), mutC func(c map[string]any)) string {
		h, c := edit(mutH, mutC)
		return signTestJWS(t, h, c, jose.AlgES256, priv)
	}
	valid := sign(nil, nil)
	parts := strings.Split(valid, ".")
	flipped := []byte(parts[2])
	flipped[10] ^= 1
	if flipped[10] == '.' {
		flipped[10] = 'A'
	}
	otherPayload := strings.Split(sign(nil, func(c map[string]any) { c["sub"] = "admin" }), ".")[1]

	tests := []struct {
		name  string
		token string
	}{
		{"alg none with empty signature", func() string {
			h, c := edit(func(h map[string]any) { h["alg"] = "none" }, nil)
			return signTestJWS(t, h, c, "none", nil)
		}()},
		{"alg none with a signature", func() string {
			h, c := edit(func(h map[string]any) { h["alg"] = "none" }, nil)
			return signTestJWS(t, h, c, jose.AlgES256, priv)
		}()},
		{"HS256 signed with the public key bytes as the secret", func() string {
			h, c := edit(func(h map[string]any) { h["alg"] = "HS256" }, nil)
			return signTestJWS(t, h, c, "HS256", pubPoint)
		}()},
		{"HS256 signed with the public JWK as the secret", func() string {
			h, c := edit(func(h map[string]any) { h["alg"] = "HS256" }, nil)
			return signTestJWS(t, h, c, "HS256", canonicalJWK(t, f.key))
		}()},
		{"RS256 header with an RSA signature", func() string {
			h, c := edit(func(h map[string]any) { h["alg"] = "RS256" }, nil)
			return signTestJWS(t, h, c, jose.AlgRS256, rsaKey)
		}()},
		{"EdDSA header on an ES256 key", sign(func(h map[string]any) { h["alg"] = "EdDSA" }, nil)},
		{"wrong typ", sign(func(h map[string]any) { h["typ"] = "JWT" }, nil)},
		{"DPoP proof typ", sign(func(h map[string]any) { h["typ"] = "dpop+jwt" }, nil)},
		{"missing typ", sign(func(h map[string]any) { delete(h, "typ") }, nil)},
		{"unknown kid", sign(func(h map[string]any) { h["kid"] = "unknown" }, nil)},
		{"missing kid", sign(func(h map[string]any) { delete(h, "kid") }, nil)},
		{"signed by another key under our kid", func() string { h, c := edit(nil, nil); return signTestJWS(t, h, c, jose.AlgES256, other) }()},
		{"critical header extension", sign(func(h map[string]any) { h["crit"] = []string{"b64"}; h["b64"] = false }, nil)},
		{"wrong iss", sign(nil, func(c map[string]any) { c["iss"] = "https://evil.example" })},
		{"wrong aud", sign(nil, func(c map[string]any) { c["aud"] = "https://other.example" })},
		{"aud list without our audience", sign(nil, func(c map[string]any) { c["aud"] = []string{"a", "b"} })},
		{"expired", sign(nil, func(c map[string]any) { c["exp"] = accessT0.Add(-10 * time.Second).Unix() })},
		{"iat in the future", sign(nil, func(c map[string]any) { c["iat"] = accessT0.Add(time.Minute).Unix() })},
		{"nbf in the future", sign(nil, func(c map[string]any) { c["nbf"] = accessT0.Add(time.Minute).Unix() })},
		{"missing sub", sign(nil, func(c map[string]any) { delete(c, "sub") })},
		{"missing client_id", sign(nil, func(c map[string]any) { delete(c, "client_id") })},
		{"missing jti", sign(nil, func(c map[string]any) { delete(c, "jti") })},
		{"missing exp", sign(nil, func(c map[string]any) { delete(c, "exp") })},
		{"missing iat", sign(nil, func(c map[string]any) { delete(c, "iat") })},
		{"missing iss", sign(nil, func(c map[string]any) { delete(c, "iss") })},
		{"missing aud", sign(nil, func(c map[string]any) { delete(c, "aud") })},
		{"exp as a string", sign(nil, func(c map[string]any) { c["exp"] = "1790000600" })},
		{"cnf without jkt", sign(nil, func(c map[string]any) { c["cnf"] = map[string]any{} })},
		{"tampered payload", parts[0] + "." + otherPayload + "." + parts[2]},
		{"tampered signature", parts[0] + "." + parts[1] + "." + string(flipped)},
		{"signature stripped", parts[0] + "." + parts[1] + "."},
		{"JSON-serialised JWS", `{"protected":"` + parts[0] + `","payload":"` + parts[1] + `","signature":"` + parts[2] + `"}`},
		{"flattened with an extra segment", valid + "." + parts[2]},
		{"oversized", sign(nil, func(c map[string]any) { c["scope"] = strings.Repeat("s", jose.MaxCompactJWS) })},
		{"empty", ""},
		{"garbage header", "e30." + parts[1] + "." + parts[2]},
	}
	if _, err := f.at.Verify(valid); err != nil {
		t.Fatalf("valid token rejected: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := f.at.Verify(tt.token)
			if c != nil {
				t.Fatalf("claims returned: %+v", c)
			}
			wantCode(t, err, jose.CodeInvalidToken)
		})
	}
}

func TestAccessVerifyAccepts(t *testing.T) {
	f := newAccessFixture(t, 0)
	priv := f.key.Signer().(*ecdsa.PrivateKey)
	tests := []struct {
		name       string
		mutH, mutC func(map[string]any)
	}{
		{"full media type application/at+jwt", func(h map[string]any) { h["typ"] = "application/at+jwt" }, nil},
		{"typ compared case-insensitively", func(h map[string]any) { h["typ"] = "AT+JWT" }, nil},
		{"aud list containing our audience", nil, func(c map[string]any) { c["aud"] = []string{"x", testAudience} }},
		{"exp just inside the clock skew", nil, func(c map[string]any) { c["exp"] = accessT0.Add(-4 * time.Second).Unix() }},
		{"iat just inside the clock skew", nil, func(c map[string]any) { c["iat"] = accessT0.Add(4 * time.Second).Unix() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, c := validAccessParts(f)
			if tt.mutH != nil {
				tt.mutH(h)
			}
			if tt.mutC != nil {
				tt.mutC(c)
			}
			got, err := f.at.Verify(signTestJWS(t, h, c, jose.AlgES256, priv))
			if err != nil || got.Subject != "user-1" || got.Audience != testAudience {
				t.Fatalf("Verify = %+v, %v", got, err)
			}
		})
	}
}

func TestAccessKeyRotation(t *testing.T) {
	f := newAccessFixture(t, 0)
	token, _, err := f.at.Issue(sampleClaims())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.at.Verify(token); err != nil {
		t.Fatal(err)
	}
	next, _ := jose.GenerateSigningKey(jose.AlgES256, accessT0)
	publishUntil := accessT0.Add(5 * time.Minute)
	f.ring.Replace(next, jose.KeyringEntry{Key: f.key, PublishUntil: publishUntil})

	newToken, _, err := f.at.Issue(sampleClaims())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(f.ring.JWKS(f.clock.Now())), f.key.ID) {
		t.Fatal("retired key not published")
	}
	f.clock.Set(publishUntil.Add(-time.Second))
	if _, err := f.at.Verify(token); err != nil {
		t.Fatalf("retired key stopped verifying before PublishUntil: %v", err)
	}
	f.clock.Set(publishUntil)
	if strings.Contains(string(f.ring.JWKS(f.clock.Now())), f.key.ID) {
		t.Fatal("retired key still published at PublishUntil")
	}
	_, err = f.at.Verify(token)
	wantCode(t, err, jose.CodeInvalidToken)
	if _, err := f.at.Verify(newToken); err != nil {
		t.Fatalf("token of the active key rejected: %v", err)
	}
}

func TestAccessWithdrawnKeyIsNotServedFromCache(t *testing.T) {
	f := newAccessFixture(t, 0)
	token, _, _ := f.at.Issue(sampleClaims())
	if _, err := f.at.Verify(token); err != nil {
		t.Fatal(err)
	}
	next, _ := jose.GenerateSigningKey(jose.AlgES256, accessT0)
	f.ring.Replace(next) // the old key is withdrawn at once, e.g. after a compromise
	_, err := f.at.Verify(token)
	wantCode(t, err, jose.CodeInvalidToken)
}

func TestAccessCache(t *testing.T) {
	t.Run("hit returns the same claims and a private copy", func(t *testing.T) {
		f := newAccessFixture(t, 0)
		token, issued, _ := f.at.Issue(sampleClaims())
		first, err := f.at.Verify(token)
		if err != nil {
			t.Fatal(err)
		}
		if f.at.cache.len() != 1 {
			t.Fatalf("cache holds %d entries, want 1", f.at.cache.len())
		}
		first.AMR[0] = "tampered"
		first.Subject = "tampered"
		second, err := f.at.Verify(token)
		if err != nil || !sameClaims(second, &issued) {
			t.Fatalf("cached claims %+v, %v; want %+v", second, err, issued)
		}
	})
	t.Run("expired entry is not returned", func(t *testing.T) {
		f := newAccessFixture(t, 0)
		token, issued, _ := f.at.Issue(sampleClaims())
		if _, err := f.at.Verify(token); err != nil {
			t.Fatal(err)
		}
		state := f.ring.Snapshot()
		sum := sha256Sum(token)
		if _, ok := f.at.cache.get(&sum, state, issued.ExpiresAt.Add(-time.Nanosecond)); !ok {
			t.Fatal("entry missing before exp")
		}
		if _, ok := f.at.cache.get(&sum, state, issued.ExpiresAt); ok {
			t.Fatal("entry returned at exp")
		}
		f.clock.Set(issued.ExpiresAt.Add(accessSkew))
		_, err := f.at.Verify(token)
		wantCode(t, err, jose.CodeInvalidToken)
	})
	t.Run("size stays bounded and evicted tokens still verify", func(t *testing.T) {
		f := newAccessFixture(t, 8)
		var tokens []string
		for i := 0; i < 100; i++ {
			token, _, _ := f.at.Issue(sampleClaims())
			tokens = append(tokens, token)
			if _, err := f.at.Verify(token); err != nil {
				t.Fatal(err)
			}
			if n := f.at.cache.len(); n > 8 {
				t.Fatalf("cache holds %d entries, bound is 8", n)
			}
		}
		for _, token := range tokens {
			if _, err := f.at.Verify(token); err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Run("rejections are not cached", func(t *testing.T) {
		f := newAccessFixture(t, 0)
		token, _, _ := f.at.Issue(sampleClaims())
		_, _ = f.at.Verify(token[:len(token)-2] + "AA")
		if f.at.cache.len() != 0 {
			t.Fatal("a rejected token was cached")
		}
	})
	t.Run("negative size disables the cache", func(t *testing.T) {
		f := newAccessFixture(t, -1)
		token, _, _ := f.at.Issue(sampleClaims())
		if _, err := f.at.Verify(token); err != nil || f.at.cache != nil {
			t.Fatalf("err %v, cache %v", err, f.at.cache)
		}
	})
}

func TestAccessVerifyConcurrent(t *testing.T) {
	f := newAccessFixture(t, 16)
	var tokens []string
	for i := 0; i < 8; i++ {
		token, _, _ := f.at.Issue(sampleClaims())
		tokens = append(tokens, token)
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if _, err := f.at.Verify(tokens[i%len(tokens)]); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestAccessDefaults(t *testing.T) {
	a := NewAccessTokens(AccessConfig{Issuer: testIssuer})
	if a.TTL() != 10*time.Minute || a.cfg.Audience != testIssuer || a.cache == nil {
		t.Fatalf("defaults: ttl %v aud %q", a.TTL(), a.cfg.Audience)
	}
	_, err := a.Verify("a.b.c")
	wantCode(t, err, jose.CodeInvalidToken)
}
