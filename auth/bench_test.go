package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
	"time"

	"github.com/latchid/latch/webauthn/webauthntest"
)

// rawVerifyNs measures one crypto/ecdsa P-256 verify on this machine, in
// this run, so every benchmark can report its cost as a ratio to it.
func rawVerifyNs(b *testing.B) float64 {
	b.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sum := sha256.Sum256([]byte("baseline"))
	r, s, _ := ecdsa.Sign(rand.Reader, k, sum[:])
	const n = 500
	start := time.Now()
	for i := 0; i < n; i++ {
		ecdsa.Verify(&k.PublicKey, sum[:], r, s)
	}
	return float64(time.Since(start).Nanoseconds()) / n
}

// reportRatio adds "raw-verifies/op": the benchmark's time per operation
// divided by one raw P-256 verify measured just before.
func reportRatio(b *testing.B, baseline float64) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/baseline, "raw-verifies/op")
}

func BenchmarkRawECDSAVerifyP256(b *testing.B) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sum := sha256.Sum256([]byte("baseline"))
	r, s, _ := ecdsa.Sign(rand.Reader, k, sum[:])
	b.ReportAllocs()
	for b.Loop() {
		ecdsa.Verify(&k.PublicKey, sum[:], r, s)
	}
}

// BenchmarkLoginFinish is a whole passkey sign-in through the app: begin,
// the software authenticator's assertion, finish (assertion verify, one
// group-committed write, one token signature).
func BenchmarkLoginFinish(b *testing.B) {
	e := newEnv(b)
	u := e.newUser("bench", true)
	u.signUp()
	base := rawVerifyNs(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if r := u.signIn("", webauthntest.Options{}); r.status != 200 {
			b.Fatalf("%d %s", r.status, r.raw)
		}
	}
	reportRatio(b, base)
}

// BenchmarkVerifyAccessToken is the access-token check of a protected
// request: a repeat token (the verified-token cache) and a fresh one.
func BenchmarkVerifyAccessToken(b *testing.B) {
	e := newEnv(b)
	u := e.newUser("bench", false)
	u.signUp()
	b.Run("repeat", func(b *testing.B) {
		base := rawVerifyNs(b)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if _, err := e.srv.access.Verify(u.access); err != nil {
				b.Fatal(err)
			}
		}
		reportRatio(b, base)
	})
	b.Run("fresh", func(b *testing.B) {
		toks := make([]string, 2000)
		for i := range toks {
			u.refreshTokens()
			toks[i] = u.access
		}
		base := rawVerifyNs(b)
		b.ReportAllocs()
		b.ResetTimer()
		i := 0
		for b.Loop() {
			// Cycle through more tokens than a short run verifies twice;
			// beyond that, the cache hits are what a real client sees.
			if _, err := e.srv.access.Verify(toks[i%len(toks)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
		reportRatio(b, base)
	})
}

// BenchmarkProtectedUserinfoDPoP is a whole DPoP-protected GET /userinfo
// through the app: access token (cached after the first request), a fresh
// proof verify, the in-memory blacklist lookup and the JSON answer. Proofs
// are made before the timer starts: they are the client's cost. Requests go
// straight into the app's request handler, so the figure is the service's
// own work without a test harness or socket around it.
func BenchmarkProtectedUserinfoDPoP(b *testing.B) {
	e := newEnv(b)
	u := e.newUser("bench", true)
	u.signUp()
	const batch = 4096
	proofs := make([]string, batch)
	fill := func() {
		now := e.clock.Now()
		for i := range proofs {
			proofs[i] = u.key.proof(b, now, "GET", "/userinfo", u.access)
		}
	}
	fill()
	base := rawVerifyNs(b)
	h := e.srv.app.Handler()
	var ctx fasthttp.RequestCtx
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if i == batch {
			b.StopTimer()
			fill()
			i = 0
			b.StartTimer()
		}
		ctx.Request.Reset()
		ctx.Response.Reset()
		ctx.Request.Header.SetMethod("GET")
		ctx.Request.SetRequestURI("/userinfo")
		ctx.Request.Header.Set("Authorization", "DPoP "+u.access)
		ctx.Request.Header.Set("DPoP", proofs[i])
		h(&ctx)
		if ctx.Response.StatusCode() != 200 {
			b.Fatalf("%d %s", ctx.Response.StatusCode(), ctx.Response.Body())
		}
		i++
	}
	reportRatio(b, base)
}

// BenchmarkRefreshGrant is a DPoP-bound refresh through the app: proof
// verify, one group-committed rotation, one access-token signature.
func BenchmarkRefreshGrant(b *testing.B) {
	e := newEnv(b)
	u := e.newUser("bench", true)
	u.signUp()
	base := rawVerifyNs(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		proof := u.key.proof(b, e.clock.Now(), "POST", "/token", "")
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {u.refresh}}.Encode()
		b.StartTimer()
		req := httptest.NewRequest("POST", "/token", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("DPoP", proof)
		res, err := e.srv.Test(req)
		if err != nil || res.StatusCode != 200 {
			b.Fatalf("%v %v", err, res.StatusCode)
		}
		var body map[string]any
		json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		u.refresh = body["refresh_token"].(string)
	}
	reportRatio(b, base)
}
