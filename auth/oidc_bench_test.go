package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user and system CPU time so far. On a machine
// shared with other work, CPU time per operation varies far less than
// wall time does.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rawVerifyCPU is the CPU time of one raw P-256 verify in this run.
func rawVerifyCPU() time.Duration {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sum := sha256.Sum256([]byte("baseline"))
	r, s, _ := ecdsa.Sign(rand.Reader, k, sum[:])
	const n = 2000
	start := cpuTime()
	for range n {
		ecdsa.Verify(&k.PublicKey, sum[:], r, s)
	}
	return (cpuTime() - start) / n
}

// cpuMeter reports "cpu-verifies/op": the CPU time the process spent per
// operation (the test client's proof signatures included, as in every
// benchmark here) over that of one raw P-256 verify.
type cpuMeter struct {
	base, start time.Duration
}

func startCPU() *cpuMeter {
	m := &cpuMeter{base: rawVerifyCPU()}
	m.start = cpuTime()
	return m
}

func (m *cpuMeter) report(b *testing.B) {
	b.ReportMetric(float64(cpuTime()-m.start)/float64(b.N)/float64(m.base), "cpu-verifies/op")
}

// BenchmarkOIDCCodeFlow is the server side of a sign-in into an
// application, the passkey ceremony excluded (the person already has a
// provider session): a pushed authorization request with client_secret_basic,
// /authorize with its request_uri (straight to the code: a first-party
// client), and the code exchange with a DPoP proof (PKCE check, one
// group-committed write, the access token's and the ID token's
// signatures). 32 clients at once, as in BenchmarkRefreshGrant; ns/op is
// wall time per flow, and raw-verifies/op its ratio to one raw P-256
// verify in the same run.
func BenchmarkOIDCCodeFlow(b *testing.B) {
	e := newEnv(b)
	app := e.newRP(ClientOptions{ID: "web", FirstParty: true})
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("web:"+app.secret))
	procs := runtime.GOMAXPROCS(0)
	parallelism := (32 + procs - 1) / procs
	type person struct {
		u *user
		b *browser
	}
	people := make(chan person, parallelism*procs)
	for i := range cap(people) {
		u := e.newUser("bench"+strconv.Itoa(i), true)
		br := &browser{}
		e.codeFor(app, u, br, app.newFlow(nil))
		people <- person{u, br}
	}
	base := rawVerifyNs(b)
	b.ReportAllocs()
	b.SetParallelism(parallelism)
	// What the setup left (b.N authorizations, for the code exchange) is
	// collected before the meter starts, so the timed loop does not pay
	// for it.
	runtime.GC()
	cpu := startCPU()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		p := <-people
		for pb.Next() {
			f := app.newFlow(nil)
			par := e.request("POST", "/par", f.params, map[string]string{"Authorization": basic})
			if par.status != 201 {
				b.Errorf("par: %d %s", par.status, par.raw)
				return
			}
			q := url.Values{"client_id": {"web"}, "request_uri": {par.str("request_uri")}}
			r := e.request("GET", "/authorize?"+q.Encode(), nil, p.b.headers(nil))
			loc, err := url.Parse(r.header.Get("Location"))
			if r.status != 303 || err != nil || loc.Query().Get("code") == "" {
				b.Errorf("authorize: %d %s", r.status, r.raw)
				return
			}
			tok := app.exchange(loc.Query().Get("code"), f, nil, map[string]string{"DPoP": p.u.key.proof(b, e.clock.Now(), "POST", "/token", "")})
			if tok.status != 200 || tok.str("id_token") == "" {
				b.Errorf("token: %d %s", tok.status, tok.raw)
				return
			}
		}
	})
	cpu.report(b)
	reportRatio(b, base)
}

// BenchmarkOIDCTokenExchange is the code exchange alone (codes made
// before the timer starts), to set beside BenchmarkRefreshGrant: client
// authentication, PKCE, a DPoP proof, one group-committed write, and two
// signatures (access token, ID token) where the refresh grant makes one.
func BenchmarkOIDCTokenExchange(b *testing.B) {
	e := newEnv(b)
	app := e.newRP(ClientOptions{ID: "web", FirstParty: true})
	type grant struct {
		u    *user
		f    *flow
		code string
	}
	users := make([]*user, 32)
	browsers := make([]*browser, 32)
	for i := range users {
		users[i], browsers[i] = e.newUser("bench"+strconv.Itoa(i), true), &browser{}
		e.codeFor(app, users[i], browsers[i], app.newFlow(nil))
	}
	grants := make(chan grant, b.N)
	for i := range b.N {
		f := app.newFlow(nil)
		grants <- grant{users[i%32], f, e.codeFor(app, users[i%32], browsers[i%32], f)}
	}
	procs := runtime.GOMAXPROCS(0)
	base := rawVerifyNs(b)
	b.ReportAllocs()
	b.SetParallelism((32 + procs - 1) / procs)
	// What the setup left (b.N authorizations, for the code exchange) is
	// collected before the meter starts, so the timed loop does not pay
	// for it.
	runtime.GC()
	cpu := startCPU()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			g := <-grants
			tok := app.exchange(g.code, g.f, nil, map[string]string{"DPoP": g.u.key.proof(b, e.clock.Now(), "POST", "/token", "")})
			if tok.status != 200 {
				b.Errorf("token: %d %s", tok.status, tok.raw)
				return
			}
		}
	})
	cpu.report(b)
	reportRatio(b, base)
}

// BenchmarkOIDCRefreshBaseline is BenchmarkRefreshGrant (32 clients, a
// DPoP-bound refresh each) with the CPU-time ratio too, to set the code
// exchange beside in the same run.
func BenchmarkOIDCRefreshBaseline(b *testing.B) {
	e := newEnv(b)
	users := make(chan *user, 32)
	for i := range cap(users) {
		u := e.newUser("bench"+strconv.Itoa(i), true)
		u.signUp()
		users <- u
	}
	procs := runtime.GOMAXPROCS(0)
	b.ReportAllocs()
	b.SetParallelism((32 + procs - 1) / procs)
	// What the setup left (b.N authorizations, for the code exchange) is
	// collected before the meter starts, so the timed loop does not pay
	// for it.
	runtime.GC()
	cpu := startCPU()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		u := <-users
		for pb.Next() {
			if r := u.refreshTokens(); r.status != 200 {
				b.Errorf("%d %s", r.status, r.raw)
				return
			}
		}
	})
	cpu.report(b)
}

// BenchmarkOIDCExchangeVsRefresh sets the code exchange beside the refresh
// grant in one benchmark, on a machine whose load comes and goes: rounds
// of 64 code exchanges and 64 refreshes (32 clients at once, as in the two
// benchmarks above) alternate, in turn first and second, each round's
// process CPU time counted to its side. b.N is the number of exchanges,
// and as many refreshes run. It reports each side in raw P-256 verifies
// (the verify measured before and after, averaged) and
// "exchange/refresh", the ratio of their CPU times.
func BenchmarkOIDCExchangeVsRefresh(b *testing.B) {
	e := newEnv(b)
	app := e.newRP(ClientOptions{ID: "web", FirstParty: true})
	const clients, round = 32, 64
	type grant struct {
		u    *user
		f    *flow
		code string
	}
	users := make([]*user, clients)
	browsers := make([]*browser, clients)
	for i := range users {
		users[i], browsers[i] = e.newUser("bench"+strconv.Itoa(i), true), &browser{}
		e.codeFor(app, users[i], browsers[i], app.newFlow(nil)) // signs up: the user's refresh token
	}
	grants := make([]grant, b.N)
	for i := range grants {
		f := app.newFlow(nil)
		grants[i] = grant{users[i%clients], f, e.codeFor(app, users[i%clients], browsers[i%clients], f)}
	}
	// phase runs n operations on clients goroutines, op(i) for i < n,
	// with each client's operations in order on one goroutine (a refresh
	// token rotates), and returns the CPU time it took. The goroutines,
	// and the request goroutines they start, carry the profiler label
	// side=name, so that a -cpuprofile splits with -tagfocus.
	phase := func(name string, n int, op func(i int) bool) time.Duration {
		start := cpuTime()
		var wg sync.WaitGroup
		pprof.Do(context.Background(), pprof.Labels("side", name), func(context.Context) {
			for c := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := c; i < n; i += clients {
						if !op(i) {
							return
						}
					}
				}()
			}
		})
		wg.Wait()
		return cpuTime() - start
	}
	next := 0
	exchange := func(i int) bool {
		g := grants[next+i]
		tok := app.exchange(g.code, g.f, nil, map[string]string{"DPoP": g.u.key.proof(b, e.clock.Now(), "POST", "/token", "")})
		if tok.status != 200 {
			b.Errorf("token: %d %s", tok.status, tok.raw)
			return false
		}
		return true
	}
	refresh := func(i int) bool {
		if r := users[i%clients].refreshTokens(); r.status != 200 {
			b.Errorf("refresh: %d %s", r.status, r.raw)
			return false
		}
		return true
	}
	runtime.GC()
	base := rawVerifyCPU()
	b.ReportAllocs()
	b.ResetTimer()
	var exCPU, rfCPU time.Duration
	for r := 0; next < b.N && !b.Failed(); r++ {
		n := min(round, b.N-next)
		if r%2 == 0 {
			exCPU += phase("exchange", n, exchange)
			rfCPU += phase("refresh", n, refresh)
		} else {
			rfCPU += phase("refresh", n, refresh)
			exCPU += phase("exchange", n, exchange)
		}
		next += n
	}
	b.StopTimer()
	base = (base + rawVerifyCPU()) / 2
	b.ReportMetric(float64(exCPU)/float64(b.N)/float64(base), "exchange-verifies/op")
	b.ReportMetric(float64(rfCPU)/float64(b.N)/float64(base), "refresh-verifies/op")
	b.ReportMetric(float64(exCPU)/float64(rfCPU), "exchange/refresh")
}
