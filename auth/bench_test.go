package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/latchid/latch/tokens"
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
// the software authenticator's assertion, finish (assertion verify, DPoP
// proof verify, one group-committed write, one token signature). It runs 32
// clients at once, as a loaded server sees them, so group commit shares the
// fsyncs; ns/op is wall time per sign-in across all of them.
func BenchmarkLoginFinish(b *testing.B) {
	benchClients(b, func(u *user) *response { return u.signIn("", webauthntest.Options{}) })
}

// benchClients runs op for about 32 concurrent clients, each a signed-up
// user with its own software authenticator and DPoP key, and reports the
// wall time per operation across all of them.
func benchClients(b *testing.B, op func(u *user) *response) {
	e := newEnv(b)
	procs := runtime.GOMAXPROCS(0)
	parallelism := (32 + procs - 1) / procs
	users := make(chan *user, parallelism*procs)
	for i := range cap(users) {
		u := e.newUser("bench"+strconv.Itoa(i), true)
		u.signUp()
		users <- u
	}
	base := rawVerifyNs(b)
	b.ReportAllocs()
	b.SetParallelism(parallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		u := <-users
		for pb.Next() {
			if r := op(u); r.status != 200 {
				b.Errorf("%d %s", r.status, r.raw)
				return
			}
		}
	})
	reportRatio(b, base)
}

// BenchmarkVerifyAccessToken is the access-token check of a protected
// request: a repeat token (served by the verified-token cache) and a token
// never seen before (full signature and claims check).
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
		uncached := tokens.NewAccessTokens(tokens.AccessConfig{
			Issuer: e.srv.cfg.Issuer, Audience: e.srv.cfg.Audience, TTL: e.srv.cfg.AccessTTL, Keys: e.srv.keys, Now: e.clock.Now, CacheSize: -1,
		})
		base := rawVerifyNs(b)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if _, err := uncached.Verify(u.access); err != nil {
				b.Fatal(err)
			}
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
	ub := newUserinfoBench(b)
	base := rawVerifyNs(b)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if i == len(ub.proofs) {
			b.StopTimer()
			ub.refill()
			i = 0
			b.StartTimer()
		}
		ub.serve(i)
		i++
	}
	reportRatio(b, base)
}

// userinfoBench is the set-up the /userinfo benchmarks share: a signed-up
// user, a batch of proofs for its access token, and the app's handler.
type userinfoBench struct {
	b      *testing.B
	e      *env
	u      *user
	proofs []string
	h      fasthttp.RequestHandler
	ctx    fasthttp.RequestCtx
}

func newUserinfoBench(b *testing.B) *userinfoBench {
	e := newEnv(b)
	u := e.newUser("bench", true)
	u.signUp()
	ub := &userinfoBench{b: b, e: e, u: u, proofs: make([]string, 1024), h: e.srv.app.Handler()}
	ub.fill()
	return ub
}

func (ub *userinfoBench) fill() {
	now := ub.e.clock.Now()
	for i := range ub.proofs {
		ub.proofs[i] = ub.u.key.proof(ub.b, now, "GET", "/userinfo", ub.u.access)
	}
}

// refill moves past the replay window, so the key's spent jtis expire,
// renews the access token that the clock has aged, and makes new proofs.
func (ub *userinfoBench) refill() {
	ub.e.clock.Advance(2 * time.Minute)
	if r := ub.u.refreshTokens(); r.status != 200 {
		ub.b.Fatalf("refresh: %d %s", r.status, r.raw)
	}
	ub.fill()
}

// serve sends GET /userinfo with proof i straight into the app's handler.
func (ub *userinfoBench) serve(i int) {
	ctx := &ub.ctx
	ctx.Request.Reset()
	ctx.Response.Reset()
	ctx.Request.Header.SetMethod("GET")
	ctx.Request.SetRequestURI("/userinfo")
	ctx.Request.Header.Set("Authorization", "DPoP "+ub.u.access)
	ctx.Request.Header.Set("DPoP", ub.proofs[i])
	ub.h(ctx)
	if ctx.Response.StatusCode() != 200 {
		ub.b.Fatalf("%d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
}

// BenchmarkRefreshGrant is a DPoP-bound refresh through the app (proof
// verify, one group-committed rotation, one access-token signature) with 32
// clients at once; ns/op is wall time per refresh across all of them.
func BenchmarkRefreshGrant(b *testing.B) {
	benchClients(b, (*user).refreshTokens)
}
