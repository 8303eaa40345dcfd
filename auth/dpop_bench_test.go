package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// BenchmarkPairedProtectedUserinfoDPoP is BenchmarkProtectedUserinfoDPoP
// with each request run right after one raw crypto/ecdsa P-256 verify, so
// "x-raw-verify" (request time over raw-verify time) holds on a machine
// whose load changes during the run.
func BenchmarkPairedProtectedUserinfoDPoP(b *testing.B) {
	e := newEnv(b)
	u := e.newUser("bench", true)
	u.signUp()
	const batch = 1024 // well inside one key's replay-cache bound
	proofs := make([]string, batch)
	fill := func() {
		e.clock.Advance(2 * time.Minute) // past the replay window
		if r := u.refreshTokens(); r.status != 200 {
			b.Fatalf("refresh: %d %s", r.status, r.raw)
		}
		now := e.clock.Now()
		for i := range proofs {
			proofs[i] = u.key.proof(b, now, "GET", "/userinfo", u.access)
		}
	}
	fill()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sum := sha256.Sum256([]byte("baseline"))
	sig, _ := ecdsa.SignASN1(rand.Reader, k, sum[:])
	h := e.srv.app.Handler()
	var ctx fasthttp.RequestCtx
	var raw, work time.Duration
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == batch {
			fill() // not timed below: only the request is
			i = 0
		}
		t0 := time.Now()
		ecdsa.VerifyASN1(&k.PublicKey, sum[:], sig)
		t1 := time.Now()
		ctx.Request.Reset()
		ctx.Response.Reset()
		ctx.Request.Header.SetMethod("GET")
		ctx.Request.SetRequestURI("/userinfo")
		ctx.Request.Header.Set("Authorization", "DPoP "+u.access)
		ctx.Request.Header.Set("DPoP", proofs[i])
		h(&ctx)
		work += time.Since(t1)
		raw += t1.Sub(t0)
		if ctx.Response.StatusCode() != 200 {
			b.Fatalf("%d %s", ctx.Response.StatusCode(), ctx.Response.Body())
		}
		i++
	}
	b.ReportMetric(float64(work)/float64(raw), "x-raw-verify")
	b.ReportMetric(float64(work.Nanoseconds())/float64(b.N), "op-ns")
}
