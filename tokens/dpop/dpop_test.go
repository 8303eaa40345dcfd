package dpop

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchid/latch/tokens/jose"
)

// RFC 9449 example proofs (sections 4.1, 5 and 7.1). All three share one
// header carrying the example EC key.
const (
	rfcProofHeader   = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19"
	rfcTokenProof    = rfcProofHeader + ".eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg"
	rfcResourceProof = rfcProofHeader + ".eyJqdGkiOiJlMWozVl9iS2ljOC1MQUVCIiwiaHRtIjoiR0VUIiwiaHR1IjoiaHR0cHM6Ly9yZXNvdXJjZS5leGFtcGxlLm9yZy9wcm90ZWN0ZWRyZXNvdXJjZSIsImlhdCI6MTU2MjI2MjYxOCwiYXRoIjoiZlVIeU8ycjJaM0RaNTNFc05yV0JiMHhXWG9hTnk1OUlpS0NBcWtzbVFFbyJ9.2oW9RP35yRqzhrtNP86L-Ey71EOptxRimPPToA1plemAgR6pxHF8y6-yqyVnmcw6Fy1dqd-jfxSYoMxhAJpLjA"
	rfcAccessToken   = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
	rfcTokenIAT      = 1562262616
	rfcRefreshIAT    = 1562265296
	rfcTokenURL      = "https://server.example.com/token"
)

// rfcRefreshProof is the refresh-grant proof of RFC 9449 section 5: the
// token-request claims with a later iat and the same jti.
var rfcRefreshProof = rfcProofHeader + "." +
	b64.EncodeToString([]byte(`{"jti":"-BwC3ESc6acc2lTc","htm":"POST","htu":"https://server.example.com/token","iat":1562265296}`)) +
	".pAqut2IRDm_De6PR93SYmGBPXpwrAk90e8cP2hjiaG5QsGSuKDYW7_X620BxqhvYC8ynrrvZLTk41mSRroapUA"

func TestDPoPVerifiesRFC9449Examples(t *testing.T) {
	tests := []struct {
		name  string
		proof string
		iat   int64
		check ProofCheck
		jti   string
	}{
		{"token request proof", rfcTokenProof, rfcTokenIAT, ProofCheck{Method: "POST", URL: rfcTokenURL}, "-BwC3ESc6acc2lTc"},
		{"refresh proof", rfcRefreshProof, rfcRefreshIAT, ProofCheck{Method: "POST", URL: rfcTokenURL}, "-BwC3ESc6acc2lTc"},
		{"resource proof with ath", rfcResourceProof, 1562262618, ProofCheck{Method: "GET", URL: "https://resource.example.org/protectedresource", AccessToken: rfcAccessToken}, "e1j3V_bKic8-LAEB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDPoP(DPoPConfig{Now: func() time.Time { return time.Unix(tt.iat, 0) }})
			tt.check.Headers = []string{tt.proof}
			p, err := d.Verify(tt.check)
			if err != nil {
				t.Fatal(err)
			}
			if p.JKT != rfc9449JKT || p.JTI != tt.jti || p.IssuedAt.Unix() != tt.iat {
				t.Fatalf("proof %+v", p)
			}
			if tp, err := jose.Thumbprint(p.JWK); err != nil || tp != rfc9449JKT {
				t.Fatalf("Proof.JWK %s thumbprint %q", p.JWK, tp)
			}
		})
	}
}

func TestDPoPReplayLifetimeBoundary(t *testing.T) {
	// The RFC's token-request and refresh proofs share a jti and are
	// 2680 s apart: a cache that keeps jtis for an hour must reject the
	// second, one that keeps them for a minute must accept it.
	tests := []struct {
		name   string
		maxAge time.Duration
		replay bool
	}{
		{"jti still remembered after 45 minutes with a one-hour window", time.Hour, true},
		{"jti forgotten once a one-minute window has passed", time.Minute, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newTestClock(time.Unix(rfcTokenIAT, 0))
			d := NewDPoP(DPoPConfig{MaxAge: tt.maxAge, Now: clock.Now})
			if _, err := d.Verify(ProofCheck{Headers: []string{rfcTokenProof}, Method: "POST", URL: rfcTokenURL}); err != nil {
				t.Fatal(err)
			}
			clock.Set(time.Unix(rfcRefreshIAT, 0))
			_, err := d.Verify(ProofCheck{Headers: []string{rfcRefreshProof}, Method: "POST", URL: rfcTokenURL})
			if tt.replay {
				if !errors.Is(err, errProofReplay) {
					t.Fatalf("err = %v, want replay", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
		})
	}
}

var dpopT0 = time.Unix(1_790_000_000, 0)

type proofFixture struct {
	clock *testClock
	key   *ecdsa.PrivateKey
	jwk   map[string]any
	n     atomic.Int64
}

func newProofFixture(tb testing.TB) *proofFixture {
	tb.Helper()
	k := mustECKey(tb)
	return &proofFixture{clock: newTestClock(dpopT0), key: k, jwk: ecPublicJWK(tb, &k.PublicKey)}
}

// parts returns a valid header and claims for a POST to the token
// endpoint, with a fresh jti.
func (f *proofFixture) parts() (map[string]any, map[string]any) {
	h := map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": f.jwk}
	c := map[string]any{"jti": "jti-" + strconv.FormatInt(f.n.Add(1), 10), "htm": "POST", "htu": rfcTokenURL, "iat": f.clock.Now().Unix()}
	return h, c
}

func (f *proofFixture) proof(tb testing.TB, mut func(h, c map[string]any)) string {
	tb.Helper()
	h, c := f.parts()
	if mut != nil {
		mut(h, c)
	}
	return signTestJWS(tb, h, c, jose.AlgES256, f.key)
}

func copyJWK(m map[string]any, k string, v any) map[string]any {
	out := map[string]any{}
	for kk, vv := range m {
		out[kk] = vv
	}
	if v == nil {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

func TestDPoPRejects(t *testing.T) {
	f := newProofFixture(t)
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	edJWK := map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64.EncodeToString(edPub)}
	other := mustECKey(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	valid := f.proof(t, nil)
	parts := strings.Split(valid, ".")
	badSig := []byte(parts[2])
	// Another base64url character, so the proof stays well formed.
	if badSig[5] == 'A' {
		badSig[5] = 'B'
	} else {
		badSig[5] = 'A'
	}

	type tc struct {
		name    string
		headers []string
		method  string
		url     string
		token   string
		want    error
	}
	one := func(name string, proof string, want error) tc {
		return tc{name: name, headers: []string{proof}, want: want}
	}
	tests := []tc{
		{name: "no DPoP header", headers: nil, want: errProofMissing},
		{name: "empty DPoP header", headers: []string{""}, want: errProofMissing},
		{name: "duplicate DPoP header", headers: []string{valid, f.proof(t, nil)}, want: errProofMultiple},
		one("comma-joined proofs", valid+","+f.proof(t, nil), errProofMultiple),
		one("comma-joined with a space", valid+", "+f.proof(t, nil), errProofMultiple),
		one("not a compact JWS", "not-a-jwt", errProofMalformed),
		one("two segments", parts[0]+"."+parts[1], errProofMalformed),
		one("JSON-serialised JWS", `{"protected":"`+parts[0]+`","payload":"`+parts[1]+`","signature":"`+parts[2]+`"}`, errProofMultiple),
		one("oversized proof", f.proof(t, func(h, c map[string]any) { c["pad"] = strings.Repeat("p", jose.MaxCompactJWS) }), errProofMalformed),
		one("wrong typ", f.proof(t, func(h, c map[string]any) { h["typ"] = "JWT" }), errProofType),
		one("access token typ", f.proof(t, func(h, c map[string]any) { h["typ"] = "at+jwt" }), errProofType),
		one("missing typ", f.proof(t, func(h, c map[string]any) { delete(h, "typ") }), errProofType),
		one("alg none", func() string {
			h, c := f.parts()
			h["alg"] = "none"
			return signTestJWS(t, h, c, "none", f.key)
		}(), errProofAlg),
		one("HS256 with the jwk as the secret", func() string {
			h, c := f.parts()
			h["alg"] = "HS256"
			return signTestJWS(t, h, c, "HS256", mustJSON(t, f.jwk))
		}(), errProofAlg),
		one("RS256 not in the allow-list", func() string {
			h, c := f.parts()
			h["alg"] = "RS256"
			h["jwk"] = map[string]any{"kty": "RSA", "n": b64.EncodeToString(rsaKey.N.Bytes()), "e": "AQAB"}
			return signTestJWS(t, h, c, jose.AlgRS256, rsaKey)
		}(), errProofAlg),
		one("EdDSA header with an EC jwk", f.proof(t, func(h, c map[string]any) { h["alg"] = "EdDSA" }), errProofKeyAlg),
		one("ES256 header with an OKP jwk", func() string {
			h, c := f.parts()
			h["jwk"] = edJWK
			return signTestJWS(t, h, c, jose.AlgEdDSA, edPriv)
		}(), errProofKeyAlg),
		one("private jwk with d", f.proof(t, func(h, c map[string]any) {
			d, _ := f.key.Bytes()
			h["jwk"] = copyJWK(f.jwk, "d", b64.EncodeToString(d))
		}), errProofPrivateJWK),
		one("symmetric oct jwk", f.proof(t, func(h, c map[string]any) { h["jwk"] = map[string]any{"kty": "oct", "k": "c2VjcmV0"} }), errProofPrivateJWK),
		one("missing jwk", f.proof(t, func(h, c map[string]any) { delete(h, "jwk") }), errProofJWK),
		one("jwk that is not an object", f.proof(t, func(h, c map[string]any) { h["jwk"] = "key" }), errProofJWK),
		one("jwk point off the curve", f.proof(t, func(h, c map[string]any) {
			h["jwk"] = copyJWK(f.jwk, "y", f.jwk["x"])
		}), errProofJWK),
		one("critical header extension", f.proof(t, func(h, c map[string]any) { h["crit"] = []string{"exp"} }), errProofMalformed),
		one("bad signature", parts[0]+"."+parts[1]+"."+string(badSig), errProofSignature),
		one("signed by a key other than the jwk", func() string { h, c := f.parts(); return signTestJWS(t, h, c, jose.AlgES256, other) }(), errProofSignature),
		one("missing jti", f.proof(t, func(h, c map[string]any) { delete(c, "jti") }), errProofJTI),
		one("oversized jti", f.proof(t, func(h, c map[string]any) { c["jti"] = strings.Repeat("j", maxJTI+1) }), errProofJTI),
		one("htm mismatch", f.proof(t, func(h, c map[string]any) { c["htm"] = "GET" }), errProofHTM),
		one("htm in lower case", f.proof(t, func(h, c map[string]any) { c["htm"] = "post" }), errProofHTM),
		one("missing htm", f.proof(t, func(h, c map[string]any) { delete(c, "htm") }), errProofHTM),
		one("htu mismatch", f.proof(t, func(h, c map[string]any) { c["htu"] = "https://server.example.com/other" }), errProofHTU),
		one("htu on another host", f.proof(t, func(h, c map[string]any) { c["htu"] = "https://evil.example/token" }), errProofHTU),
		one("htu with another scheme", f.proof(t, func(h, c map[string]any) { c["htu"] = "http://server.example.com/token" }), errProofHTU),
		one("missing htu", f.proof(t, func(h, c map[string]any) { delete(c, "htu") }), errProofHTU),
		one("iat too old", f.proof(t, func(h, c map[string]any) { c["iat"] = dpopT0.Add(-61 * time.Second).Unix() }), errProofIAT),
		one("iat in the future", f.proof(t, func(h, c map[string]any) { c["iat"] = dpopT0.Add(6 * time.Second).Unix() }), errProofIAT),
		one("missing iat", f.proof(t, func(h, c map[string]any) { delete(c, "iat") }), errProofIAT),
		one("iat as a string", f.proof(t, func(h, c map[string]any) { c["iat"] = strconv.FormatInt(dpopT0.Unix(), 10) }), errProofIAT),
		one("negative iat", f.proof(t, func(h, c map[string]any) { c["iat"] = -1 }), errProofIAT),
		{name: "missing ath at the resource server", headers: []string{f.proof(t, nil)}, token: "access-token", want: errProofATH},
		{name: "wrong ath", headers: []string{f.proof(t, func(h, c map[string]any) { c["ath"] = ATH("other-token") })}, token: "access-token", want: errProofATH},
		{name: "request method differs", headers: []string{f.proof(t, nil)}, method: "GET", want: errProofHTM},
		{name: "server URL cannot be normalised", headers: []string{f.proof(t, nil)}, url: "not a url", want: errProofHTU},
	}
	d := NewDPoP(DPoPConfig{Now: f.clock.Now})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pc := ProofCheck{Headers: tt.headers, Method: "POST", URL: rfcTokenURL, AccessToken: tt.token}
			if tt.method != "" {
				pc.Method = tt.method
			}
			if tt.url != "" {
				pc.URL = tt.url
			}
			p, err := d.Verify(pc)
			if p != nil || !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %+v, %v; want %v", p, err, tt.want)
			}
			wantCode(t, err, jose.CodeInvalidDPoPProof)
		})
	}
}

func TestDPoPAccepts(t *testing.T) {
	f := newProofFixture(t)
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaJWK := map[string]any{"kty": "RSA", "n": b64.EncodeToString(rsaKey.N.Bytes()), "e": "AQAB"}
	tests := []struct {
		name  string
		proof string
		url   string
		token string
	}{
		{"htu with a query matches the URL without it", f.proof(t, func(h, c map[string]any) { c["htu"] = rfcTokenURL + "?a=b#frag" }), "", ""},
		{"htu differing only by normalisation matches", f.proof(t, func(h, c map[string]any) { c["htu"] = "HTTPS://Example.COM:443/a/../b" }), "https://example.com/b", ""},
		{"server URL is normalised too", f.proof(t, nil), "https://SERVER.example.com:443/./token", ""},
		{"iat at the maximum age", f.proof(t, func(h, c map[string]any) { c["iat"] = dpopT0.Add(-60 * time.Second).Unix() }), "", ""},
		{"iat at the maximum future skew", f.proof(t, func(h, c map[string]any) { c["iat"] = dpopT0.Add(5 * time.Second).Unix() }), "", ""},
		{"fractional iat", f.proof(t, func(h, c map[string]any) { c["iat"] = float64(dpopT0.Unix()) + 0.5 }), "", ""},
		{"typ compared case-insensitively", f.proof(t, func(h, c map[string]any) { h["typ"] = "DPoP+JWT" }), "", ""},
		{"correct ath at the resource server", f.proof(t, func(h, c map[string]any) { c["ath"] = ATH("access-token") }), "", "access-token"},
		{"ath ignored without an access token", f.proof(t, func(h, c map[string]any) { c["ath"] = "anything" }), "", ""},
		{"nonce ignored when nonces are off", f.proof(t, func(h, c map[string]any) { c["nonce"] = "anything" }), "", ""},
		{"EdDSA proof", func() string {
			h, c := f.parts()
			h["alg"] = "EdDSA"
			h["jwk"] = map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64.EncodeToString(edPub)}
			return signTestJWS(t, h, c, jose.AlgEdDSA, edPriv)
		}(), "", ""},
		{"PS256 proof when allowed", func() string {
			h, c := f.parts()
			h["alg"] = "PS256"
			h["jwk"] = rsaJWK
			return signTestJWS(t, h, c, jose.AlgPS256, rsaKey)
		}(), "", ""},
		{"RS256 proof when allowed", func() string {
			h, c := f.parts()
			h["alg"] = "RS256"
			h["jwk"] = rsaJWK
			return signTestJWS(t, h, c, jose.AlgRS256, rsaKey)
		}(), "", ""},
	}
	d := NewDPoP(DPoPConfig{Now: f.clock.Now, Algs: []string{"ES256", "EdDSA", "PS256", "RS256", "HS256", "none"}})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := rfcTokenURL
			if tt.url != "" {
				url = tt.url
			}
			p, err := d.Verify(ProofCheck{Headers: []string{tt.proof}, Method: "POST", URL: url, AccessToken: tt.token})
			if err != nil {
				t.Fatal(err)
			}
			if tp, err := jose.Thumbprint(p.JWK); err != nil || tp != p.JKT {
				t.Fatalf("JKT %q, thumbprint of JWK %q", p.JKT, tp)
			}
		})
	}
}

func TestDPoPAlgs(t *testing.T) {
	if got := NewDPoP(DPoPConfig{}).Algs(); strings.Join(got, " ") != "ES256 EdDSA" {
		t.Fatalf("default algs %v", got)
	}
	d := NewDPoP(DPoPConfig{Algs: []string{"HS256", "none", "PS256", "PS256", "ES256"}})
	got := d.Algs()
	if strings.Join(got, " ") != "PS256 ES256" {
		t.Fatalf("algs %v: symmetric, none and duplicates must be dropped", got)
	}
	got[0] = "none"
	if d.Algs()[0] != "PS256" {
		t.Fatal("Algs exposes internal state")
	}
}

func TestDPoPReplay(t *testing.T) {
	f := newProofFixture(t)
	d := NewDPoP(DPoPConfig{Now: f.clock.Now})
	check := func(proof, url string) ProofCheck {
		return ProofCheck{Headers: []string{proof}, Method: "POST", URL: url}
	}
	proof := f.proof(t, nil)

	t.Run("replayed jti is rejected", func(t *testing.T) {
		if _, err := d.Verify(check(proof, rfcTokenURL)); err != nil {
			t.Fatal(err)
		}
		_, err := d.Verify(check(proof, rfcTokenURL))
		if !errors.Is(err, errProofReplay) {
			t.Fatalf("err = %v, want replay", err)
		}
	})
	t.Run("same jti at another URL is allowed", func(t *testing.T) {
		jti := "shared-jti"
		a := f.proof(t, func(h, c map[string]any) { c["jti"] = jti })
		b := f.proof(t, func(h, c map[string]any) { c["jti"] = jti; c["htu"] = "https://server.example.com/other" })
		if _, err := d.Verify(check(a, rfcTokenURL)); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Verify(check(b, "https://server.example.com/other")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("replay through an equivalent URL spelling is rejected", func(t *testing.T) {
		p := f.proof(t, nil)
		if _, err := d.Verify(check(p, rfcTokenURL)); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Verify(check(p, "HTTPS://server.example.com:443/token")); !errors.Is(err, errProofReplay) {
			t.Fatalf("err = %v, want replay", err)
		}
	})
	t.Run("CheckOnly does not spend the proof but sees a spent one", func(t *testing.T) {
		p := f.proof(t, nil)
		for i := 0; i < 2; i++ {
			if _, err := d.CheckOnly(check(p, rfcTokenURL)); err != nil {
				t.Fatalf("CheckOnly #%d: %v", i, err)
			}
		}
		if _, err := d.Verify(check(p, rfcTokenURL)); err != nil {
			t.Fatal(err)
		}
		if _, err := d.CheckOnly(check(p, rfcTokenURL)); !errors.Is(err, errProofReplay) {
			t.Fatalf("CheckOnly after Verify: %v", err)
		}
	})
	t.Run("Commit records once and loses the race the second time", func(t *testing.T) {
		p := f.proof(t, nil)
		a, err := d.CheckOnly(check(p, rfcTokenURL))
		if err != nil {
			t.Fatal(err)
		}
		b, err := d.CheckOnly(check(p, rfcTokenURL))
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Commit(a, rfcTokenURL); err != nil {
			t.Fatal(err)
		}
		err = d.Commit(b, rfcTokenURL)
		wantCode(t, err, jose.CodeInvalidDPoPProof)
		if !errors.Is(err, errProofReplay) {
			t.Fatalf("second Commit: %v", err)
		}
	})
	t.Run("concurrent Verify of one proof succeeds exactly once", func(t *testing.T) {
		p := f.proof(t, nil)
		var wins atomic.Int32
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := d.Verify(check(p, rfcTokenURL)); err == nil {
					wins.Add(1)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d verifications succeeded, want 1", wins.Load())
		}
	})
	t.Run("Commit of a proof that was never checked is rejected", func(t *testing.T) {
		wantCode(t, d.Commit(&Proof{JTI: "x"}, rfcTokenURL), jose.CodeInvalidDPoPProof)
		wantCode(t, d.Commit(nil, rfcTokenURL), jose.CodeInvalidDPoPProof)
	})
	t.Run("jti is forgotten after the acceptance window", func(t *testing.T) {
		g := newProofFixture(t)
		dd := NewDPoP(DPoPConfig{Now: g.clock.Now, MaxAge: 10 * time.Second})
		jti := "reused-later"
		first := g.proof(t, func(h, c map[string]any) { c["jti"] = jti })
		if _, err := dd.Verify(check(first, rfcTokenURL)); err != nil {
			t.Fatal(err)
		}
		g.clock.Advance(9 * time.Second)
		again := g.proof(t, func(h, c map[string]any) { c["jti"] = jti })
		if _, err := dd.Verify(check(again, rfcTokenURL)); !errors.Is(err, errProofReplay) {
			t.Fatalf("reuse inside the window: %v", err)
		}
		g.clock.Advance(30 * time.Second)
		later := g.proof(t, func(h, c map[string]any) { c["jti"] = jti })
		if _, err := dd.Verify(check(later, rfcTokenURL)); err != nil {
			t.Fatalf("reuse after the window: %v", err)
		}
	})
}

func TestDPoPReplayCacheFailsClosed(t *testing.T) {
	f := newProofFixture(t)
	d := NewDPoP(DPoPConfig{Now: f.clock.Now, ReplayCacheSize: replayShards})
	var busy bool
	// One live entry per shard and per key: new keys fill the shards.
	for i := 0; i < 200 && !busy; i++ {
		k := mustECKey(t)
		f.key, f.jwk = k, ecPublicJWK(t, &k.PublicKey)
		_, err := d.Verify(ProofCheck{Headers: []string{f.proof(t, nil)}, Method: "POST", URL: rfcTokenURL})
		switch {
		case errors.Is(err, errProofBusy):
			busy = true
		case err != nil:
			t.Fatal(err)
		}
	}
	if !busy {
		t.Fatal("replay cache accepted more live entries than its bound")
	}
	// Once the recorded proofs are too old to replay, there is room again.
	f.clock.Advance(2 * time.Minute)
	if _, err := d.Verify(ProofCheck{Headers: []string{f.proof(t, nil)}, Method: "POST", URL: rfcTokenURL}); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
}

func TestDPoPNonce(t *testing.T) {
	f := newProofFixture(t)
	d := NewDPoP(DPoPConfig{Now: f.clock.Now, Nonces: true})
	verify := func(nonce any) error {
		p := f.proof(t, func(h, c map[string]any) {
			if nonce != nil {
				c["nonce"] = nonce
			}
		})
		_, err := d.Verify(ProofCheck{Headers: []string{p}, Method: "POST", URL: rfcTokenURL})
		return err
	}
	current := d.Nonce()
	if current == "" || current != d.Nonce() {
		t.Fatalf("nonce %q is not stable within a window", current)
	}
	otherServer := NewDPoP(DPoPConfig{Now: f.clock.Now, Nonces: true}).Nonce()

	t.Run("valid nonce is accepted", func(t *testing.T) {
		if err := verify(current); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("missing nonce asks for one", func(t *testing.T) {
		wantCode(t, verify(nil), jose.CodeUseDPoPNonce)
	})
	t.Run("empty nonce asks for one", func(t *testing.T) {
		wantCode(t, verify(""), jose.CodeUseDPoPNonce)
	})
	t.Run("nonce of another server asks for ours", func(t *testing.T) {
		wantCode(t, verify(otherServer), jose.CodeUseDPoPNonce)
	})
	t.Run("made-up nonce asks for ours", func(t *testing.T) {
		wantCode(t, verify("eyJ7S_zG.eyJH0-Z.HX4w-7v"), jose.CodeUseDPoPNonce)
	})
	t.Run("previous window's nonce is still accepted", func(t *testing.T) {
		f.clock.Advance(nonceWindow)
		if d.Nonce() == current {
			t.Fatal("nonce did not rotate")
		}
		if err := verify(current); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("stale nonce asks for a fresh one", func(t *testing.T) {
		f.clock.Advance(2 * nonceWindow)
		wantCode(t, verify(current), jose.CodeUseDPoPNonce)
		if err := verify(d.Nonce()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("nonce failure does not spend the proof", func(t *testing.T) {
		const jti = "retried-with-nonce"
		p := f.proof(t, func(h, c map[string]any) { c["jti"] = jti })
		_, err := d.Verify(ProofCheck{Headers: []string{p}, Method: "POST", URL: rfcTokenURL})
		wantCode(t, err, jose.CodeUseDPoPNonce)
		withNonce := f.proof(t, func(h, c map[string]any) { c["jti"] = jti; c["nonce"] = d.Nonce() })
		if _, err := d.Verify(ProofCheck{Headers: []string{withNonce}, Method: "POST", URL: rfcTokenURL}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestDPoPDefaults(t *testing.T) {
	d := NewDPoP(DPoPConfig{})
	if d.cfg.MaxAge != 60*time.Second || d.cfg.FutureSkew != 5*time.Second || d.cfg.ReplayCacheSize != 1<<20 || d.cfg.Now == nil {
		t.Fatalf("defaults %+v", d.cfg)
	}
}

// A cached header spares only the header checks: signature and claims of
// every later proof with the same header are still checked.
func TestDPoPHeaderCacheStillChecksEachProof(t *testing.T) {
	f := newProofFixture(t)
	d := NewDPoP(DPoPConfig{Now: f.clock.Now})
	check := func(p string) error {
		_, err := d.Verify(ProofCheck{Headers: []string{p}, Method: "POST", URL: rfcTokenURL})
		return err
	}
	if err := check(f.proof(t, nil)); err != nil {
		t.Fatalf("first proof: %v", err)
	}
	good := f.proof(t, nil)
	cases := map[string]string{
		"tampered signature": good[:len(good)-4] + "AAAA",
		"wrong htm":          f.proof(t, func(h, c map[string]any) { c["htm"] = "GET" }),
		"stale iat":          f.proof(t, func(h, c map[string]any) { c["iat"] = f.clock.Now().Add(-time.Hour).Unix() }),
		"signed by another key under the same header": signTestJWS(t,
			map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": f.jwk},
			map[string]any{"jti": "other", "htm": "POST", "htu": rfcTokenURL, "iat": f.clock.Now().Unix()}, jose.AlgES256, mustECKey(t)),
	}
	for name, p := range cases {
		if err := check(p); err == nil {
			t.Errorf("%s: accepted with a cached header", name)
		}
	}
	if err := check(good); err != nil {
		t.Fatalf("honest proof after the failures: %v", err)
	}
}

// Only headers of proofs whose signature verified are remembered, so
// forged proofs cannot fill the cache.
func TestDPoPHeaderCacheKeepsOnlyVerifiedHeaders(t *testing.T) {
	f := newProofFixture(t)
	d := NewDPoP(DPoPConfig{Now: f.clock.Now})
	for i := 0; i < 50; i++ {
		p := f.proof(t, func(h, c map[string]any) { h["x"] = i })
		forged := p[:strings.LastIndexByte(p, '.')+1] + strings.Repeat("A", 86)
		if _, err := d.Verify(ProofCheck{Headers: []string{forged}, Method: "POST", URL: rfcTokenURL}); err == nil {
			t.Fatal("forged proof accepted")
		}
	}
	if n := len(d.keys.m); n != 0 {
		t.Fatalf("%d headers of forged proofs cached", n)
	}
	if _, err := d.Verify(ProofCheck{Headers: []string{f.proof(t, nil)}, Method: "POST", URL: rfcTokenURL}); err != nil {
		t.Fatal(err)
	}
	if n := len(d.keys.m); n != 1 {
		t.Fatalf("%d headers cached after one valid proof, want 1", n)
	}
}

// The cache of normalised request URLs is bounded and does not change
// what is accepted: a differently spelled htu still normalises to match.
func TestDPoPExpectedHTUCache(t *testing.T) {
	f := newProofFixture(t)
	d := NewDPoP(DPoPConfig{Now: f.clock.Now})
	for i := 0; i < maxCachedHTU+10; i++ {
		if _, err := d.expectedHTU(rfcTokenURL + "/" + strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(d.htus.m); n > maxCachedHTU || n == 0 {
		t.Fatalf("%d URLs cached, want at most %d", n, maxCachedHTU)
	}
	respelled := f.proof(t, func(h, c map[string]any) { c["htu"] = strings.ToUpper(rfcTokenURL[:8]) + rfcTokenURL[8:] })
	if _, err := d.Verify(ProofCheck{Headers: []string{respelled}, Method: "POST", URL: rfcTokenURL}); err != nil {
		t.Fatalf("respelled htu: %v", err)
	}
}

// TestDPoPSharedReplayRecord: nodes serving one issuer share a replay
// record (DPoPConfig.Spend) and a nonce key, so a proof used on one is
// refused on the other, whichever way it is spent, and a nonce one hands
// out is good at the other.
func TestDPoPSharedReplayRecord(t *testing.T) {
	f := newProofFixture(t)
	var mu sync.Mutex
	spent := map[string]time.Time{}
	var untils []time.Time
	spend := func(key string, until time.Time) (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		untils = append(untils, until)
		if _, ok := spent[key]; ok {
			return false, nil
		}
		spent[key] = until
		return true, nil
	}
	nonceKey := []byte("the nodes' shared key")
	a := NewDPoP(DPoPConfig{Now: f.clock.Now, Spend: spend, NonceKey: nonceKey, Nonces: true})
	b := NewDPoP(DPoPConfig{Now: f.clock.Now, Spend: spend, NonceKey: nonceKey, Nonces: true})
	if a.Nonce() != b.Nonce() {
		t.Fatal("nodes with one nonce key hand out different nonces")
	}
	if NewDPoP(DPoPConfig{Now: f.clock.Now, Nonces: true}).Nonce() == a.Nonce() {
		t.Fatal("a node without the key hands out the shared nonce")
	}
	check := func(p string) ProofCheck {
		return ProofCheck{Headers: []string{p}, Method: "POST", URL: rfcTokenURL}
	}
	withNonce := func(h, c map[string]any) { c["nonce"] = a.Nonce() }

	p := f.proof(t, withNonce)
	if _, err := a.Verify(check(p)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Verify(check(p)); !errors.Is(err, errProofReplay) {
		t.Fatalf("Verify on the other node: err = %v, want replay", err)
	}
	if want := f.clock.Now().Truncate(time.Second).Add(a.cfg.MaxAge + a.cfg.FutureSkew); !untils[0].Equal(want) {
		t.Fatalf("spent until %v, want iat + max age + skew = %v", untils[0], want)
	}

	// Checked on both, recorded on one: the other's Record refuses it.
	p = f.proof(t, withNonce)
	pa, err := a.CheckOnly(check(p))
	if err != nil {
		t.Fatal(err)
	}
	pb, err := b.CheckOnly(check(p))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Record(pb); err != nil {
		t.Fatal(err)
	}
	if err := a.Record(pa); !errors.Is(err, errProofReplay) {
		t.Fatalf("Record after the other node's: err = %v, want replay", err)
	}

	// A store that cannot answer refuses the proof with its own error.
	down := errors.New("store down")
	c := NewDPoP(DPoPConfig{Now: f.clock.Now, Spend: func(string, time.Time) (bool, error) { return false, down }})
	if _, err := c.Verify(check(f.proof(t, nil))); !errors.Is(err, down) {
		t.Fatalf("err = %v, want the store's", err)
	}
}
