// Command latch-load is a loopback load generator for Latch. It drives a
// running server with software authenticators and DPoP keys and reports
// throughput, errors, latency percentiles and, given the server's pid, the
// server's CPU time per request next to a raw P-256 verify measured in the
// same run.
package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/latchid/latch/webauthn/webauthntest"
)

var b64 = base64.RawURLEncoding

// useDPoP makes sign-ups and sign-ins send a DPoP proof (and get bound
// tokens); the userinfo and refresh scenarios always use DPoP.
var useDPoP = true

// useVirtual makes clients use the test suite's full software
// authenticator instead of the lean one.
var useVirtual bool

// splitRequests makes each scenario also report latency percentiles per
// request (a ceremony's begin apart from its finish), to show where the
// tail of a scenario's latency comes from.
var splitRequests bool

// morePIDs are further server processes (nodes) whose CPU counts as the
// server's, dbPID the database server whose processes' CPU is reported
// apart, and nodes the addresses connections are spread over.
var (
	morePIDs []int
	dbPID    int
	nodes    string
)

func main() {
	base := flag.String("url", "http://localhost:8080", "server base URL (must equal its --issuer)")
	workers := flag.Int("c", 32, "concurrent clients")
	dur := flag.Duration("d", 10*time.Second, "duration of each scenario")
	pid := flag.Int("pid", 0, "server process id, to report its CPU time per request")
	flag.Func("pids", "more server process ids (nodes), comma-separated: their CPU time is added to -pid's", func(v string) error {
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				return fmt.Errorf("%q is not a process id", f)
			}
			morePIDs = append(morePIDs, n)
		}
		return nil
	})
	flag.IntVar(&dbPID, "db-pid", 0, "the database server's main process id (PostgreSQL's postmaster), to report the database's CPU time per request")
	flag.StringVar(&nodes, "nodes", "", "comma-separated host:port of several nodes serving -url's issuer: connections go to them in turn, so any node may get any request")
	scenarios := flag.String("s", "signup,signin,userinfo,refresh", "scenarios to run")
	flag.BoolVar(&useDPoP, "dpop", true, "send DPoP proofs at sign-up and sign-in")
	flag.BoolVar(&useVirtual, "virtual", false, "use the test suite's full software authenticator (more client CPU per ceremony)")
	flag.Func("rp", "the OpenID Connect client of the exchange scenario, ID:SECRET@REDIRECT_URI (first-party); -server registers one itself", func(v string) (err error) {
		rp, err = parseRP(v)
		return err
	})
	flag.BoolVar(&splitRequests, "split", false, "also report latency percentiles of each request of a scenario")
	server := flag.String("server", "", "start this latch binary on a fresh temp data dir at -url and measure it")
	compare := flag.String("compare", "", "with -server: a second latch binary (B) to compare with the first (A); runs alternate between them, each on a fresh data dir")
	rounds := flag.Int("rounds", 3, "rounds of -compare")
	cpuProfile := flag.String("cpuprofile", "", "write this generator's CPU profile to the file")
	flag.Parse()
	if os.Getenv("GOGC") == "" {
		// The generator's live heap is small, so the default collects very
		// often; what it allocates is mostly crypto/ecdsa's per-signature
		// scratch. Fewer collections measurably lower its CPU per op.
		debug.SetGCPercent(400)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "latch-load:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}

	list := strings.Split(*scenarios, ",")
	switch {
	case *compare != "":
		if *server == "" || *rounds < 1 {
			fmt.Fprintln(os.Stderr, "latch-load: -compare needs -server and -rounds of at least 1")
			os.Exit(2)
		}
		err := compareBuilds(*base, *server, *compare, list, *workers, *dur, *rounds)
		if err != nil {
			fmt.Fprintln(os.Stderr, "latch-load:", err)
			os.Exit(1)
		}
	case *server != "":
		stop, serverPID, err := startServer(*server, *base)
		if err != nil {
			fmt.Fprintln(os.Stderr, "latch-load:", err)
			os.Exit(1)
		}
		defer stop()
		printHeader()
		measure(*base, list, *workers, *dur, serverPID, "")
	default:
		printHeader()
		measure(*base, list, *workers, *dur, *pid, "")
	}
}

func printHeader() {
	fmt.Printf("%-11s %9s %7s %9s %9s %9s %13s %10s %8s %13s\n", "scenario", "ops/s", "errors", "p50 ms", "p99 ms", "max ms", "server µs/req", "verify µs", "ratio", "client µs/op")
}

// measure runs each scenario against the server at base, prints its row
// (named with label, if any) and returns the results by scenario.
func measure(base string, scenarios []string, workers int, dur time.Duration, pid int, label string) map[string]result {
	out := map[string]result{}
	for _, s := range scenarios {
		if !useDPoP && (s == "userinfo" || s == "refresh") {
			continue // these measure DPoP-bound tokens
		}
		// The machine's speed drifts, so the raw-verify baseline is
		// measured around every scenario and the ratio uses the mean.
		before := rawVerifyCost()
		r := run(base, s, workers, dur, pid)
		r.verify = (before + rawVerifyCost()) / 2
		out[s] = r
		name := s
		if label != "" {
			name += " " + label
		}
		cpu, ratio := "-", "-"
		if r.cpuPerReq > 0 {
			cpu = fmt.Sprintf("%.1f", us(r.cpuPerReq))
			ratio = fmt.Sprintf("%.2f×", float64(r.cpuPerReq)/float64(r.verify))
		}
		fmt.Printf("%-11s %9.0f %7d %9.2f %9.2f %9.2f %13s %10.1f %8s %13.1f\n", name, r.rate, r.errors, ms(r.p50), ms(r.p99), ms(r.max), cpu, us(r.verify), ratio, us(r.clientPerOp))
		if r.dbPerOp > 0 {
			fmt.Printf("          database CPU per %s: %.1f µs (%.2f× a verify)\n", s, us(r.dbPerOp), float64(r.dbPerOp)/float64(r.verify))
		}
		for _, q := range r.requests {
			fmt.Printf("  %-4s %-26s %9d requests  p50 %.2f  p90 %.2f  p99 %.2f  max %.2f ms\n",
				q.method, q.path, q.n, ms(q.p50), ms(q.p90), ms(q.p99), ms(q.max))
		}
		if r.firstErr != "" {
			fmt.Printf("          first error: %s\n", r.firstErr)
		}
	}
	return out
}

// compareBuilds measures two server binaries, A and B, in alternating
// runs, each on a fresh data directory, and prints B's figures relative
// to A's round by round. The host's speed drifts by more than the changes
// worth measuring, so only runs made minutes apart are compared; the order
// within a round alternates too, so a steady drift does not favour either.
func compareBuilds(base, a, b string, scenarios []string, workers int, dur time.Duration, rounds int) error {
	printHeader()
	results := map[string][]map[string]result{"A": nil, "B": nil}
	for round := range rounds {
		order := []string{"A", "B"}
		if round%2 == 1 {
			order = []string{"B", "A"}
		}
		for _, label := range order {
			bin := a
			if label == "B" {
				bin = b
			}
			stop, pid, err := startServer(bin, base)
			if err != nil {
				return fmt.Errorf("%s: %w", bin, err)
			}
			results[label] = append(results[label], measure(base, scenarios, workers, dur, pid, label))
			stop()
		}
	}
	fmt.Printf("\nB against A, median over %d rounds of the ratio within each round (A = %s, B = %s)\n", rounds, a, b)
	fmt.Printf("%-11s %9s %9s %9s %15s %9s\n", "scenario", "A ops/s", "B ops/s", "rate B/A", "server CPU B/A", "p99 B/A")
	for _, c := range comparePaired(scenarios, results["A"], results["B"]) {
		fmt.Printf("%-11s %9.0f %9.0f %8.2f× %15s %8.2f×\n", c.scenario, c.rateA, c.rateB, c.rate, c.cpuText(), c.p99)
	}
	return nil
}

// comparison is one scenario's summary of paired runs of two builds.
type comparison struct {
	scenario     string
	rateA, rateB float64 // medians
	rate, p99    float64 // medians of B/A within a round
	cpu          float64 // median of B/A server CPU per request; 0 if unknown
}

func (c comparison) cpuText() string {
	if c.cpu == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f×", c.cpu)
}

// comparePaired summarises runs of builds A and B, paired by round: the
// medians of each build's rate, and the medians of B/A within a round.
// Rounds in which either run failed to complete a scenario are skipped.
func comparePaired(scenarios []string, a, b []map[string]result) []comparison {
	var out []comparison
	for _, s := range scenarios {
		c := comparison{scenario: s}
		var rateA, rateB, rate, p99, cpu []float64
		for i := range min(len(a), len(b)) {
			ra, okA := a[i][s]
			rb, okB := b[i][s]
			if !okA || !okB || ra.rate == 0 || rb.rate == 0 {
				continue
			}
			rateA, rateB = append(rateA, ra.rate), append(rateB, rb.rate)
			rate = append(rate, rb.rate/ra.rate)
			p99 = append(p99, float64(rb.p99)/float64(ra.p99))
			if ra.cpuPerReq > 0 && rb.cpuPerReq > 0 {
				cpu = append(cpu, float64(rb.cpuPerReq)/float64(ra.cpuPerReq))
			}
		}
		if len(rate) == 0 {
			continue
		}
		c.rateA, c.rateB, c.rate, c.p99, c.cpu = median(rateA), median(rateB), median(rate), median(p99), median(cpu)
		out = append(out, c)
	}
	return out
}

// median returns the median of xs (the mean of the middle two for an even
// count), or 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	xs = slices.Sorted(slices.Values(xs))
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// sign signs a SHA-256 digest with ECDSA, returning the ASN.1 DER form.
// The nonce is derived deterministically (RFC 6979): the signature is as
// valid as a randomized one and the server's work is the same, but it costs
// the generator about a fifth less CPU than crypto/ecdsa's hedged signing,
// which seeds an HMAC-SHA-512 DRBG for every signature.
func sign(k *ecdsa.PrivateKey, digest []byte) ([]byte, error) {
	return k.Sign(nil, digest, crypto.SHA256)
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// rawVerifyCost measures one crypto/ecdsa P-256 verify on this machine now.
func rawVerifyCost() time.Duration {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sum := sha256.Sum256([]byte("baseline"))
	r, s, _ := ecdsa.Sign(rand.Reader, k, sum[:])
	const n = 2000
	start := time.Now()
	for i := 0; i < n; i++ {
		ecdsa.Verify(&k.PublicKey, sum[:], r, s)
	}
	return time.Since(start) / n
}

type result struct {
	rate   float64
	errors int64
	latency
	cpuPerReq   time.Duration
	verify      time.Duration // a raw P-256 verify, measured around the run
	clientPerOp time.Duration // this generator's own CPU per operation
	dbPerOp     time.Duration // the database's CPU per operation (-db-pid)
	firstErr    string
	requests    []requestLatency // with -split
}

// latency holds percentiles of a set of durations.
type latency struct{ p50, p90, p99, max time.Duration }

// percentiles sorts ds, which must not be empty, and returns its
// percentiles.
func percentiles(ds []time.Duration) latency {
	slices.Sort(ds)
	n := len(ds)
	return latency{p50: ds[n/2], p90: ds[n*9/10], p99: ds[n*99/100], max: ds[n-1]}
}

// requestLatency is the latency of one kind of request in a scenario.
type requestLatency struct {
	method, path string
	n            int
	latency
}

// endpoint is one server route: its method, path and absolute URL, which
// is also a DPoP proof's htu. They are built once, not per request.
type endpoint struct{ method, path, url string }

// endpoints are the routes the scenarios use.
type endpoints struct {
	registerBegin, registerFinish, loginBegin, loginFinish, userinfo, token endpoint
}

// newEndpoints returns the routes of the server at base.
func newEndpoints(base string) *endpoints {
	ep := func(method, path string) endpoint { return endpoint{method, path, base + path} }
	return &endpoints{
		registerBegin:  ep("POST", "/webauthn/register/begin"),
		registerFinish: ep("POST", "/webauthn/register/finish"),
		loginBegin:     ep("POST", "/webauthn/login/begin"),
		loginFinish:    ep("POST", "/webauthn/login/finish"),
		userinfo:       ep("GET", "/userinfo"),
		token:          ep("POST", "/token"),
	}
}

// client is one simulated user: a software authenticator, a DPoP key and
// the tokens it holds. Each client is used by one goroutine only, so it
// keeps its request, response and buffers from one operation to the next
// instead of allocating them anew.
type client struct {
	ep      *endpoints
	http    *fasthttp.HostClient
	authn   authenticator
	key     *ecdsa.PrivateKey
	access  []byte
	refresh []byte

	// dpopHead is base64url(JWS header) + "." of every DPoP proof: the
	// header holds only constants and the client's public key.
	dpopHead []byte

	req fasthttp.Request
	res fasthttp.Response
	// timings collects each exchange's duration by route while a
	// scenario is measured with -split; nil otherwise.
	timings map[*endpoint][]time.Duration
	body    []byte  // request body being built
	claims  []byte  // DPoP proof claims being built
	dpop    []byte  // the DPoP proof being built
	authz   []byte  // Authorization header value
	cookie  string  // the provider session cookie (exchange)
	grants  []grant // codes ready to exchange (exchange)
}

func newClient(base string, ep *endpoints, hc *fasthttp.HostClient) *client {
	u, _ := url.Parse(base)
	origin := u.Scheme + "://" + u.Host
	var authn authenticator = newLeanAuthenticator(u.Hostname(), origin)
	if useVirtual {
		authn = virtualAuthenticator{webauthntest.New(u.Hostname(), origin)}
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := k.PublicKey.Bytes() // 0x04 || x || y
	jwk := map[string]string{"kty": "EC", "crv": "P-256", "x": b64.EncodeToString(pub[1:33]), "y": b64.EncodeToString(pub[33:])}
	h, _ := json.Marshal(map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk})
	return &client{ep: ep, http: hc, authn: authn, key: k, dpopHead: append(b64.AppendEncode(nil, h), '.')}
}

// proof makes a DPoP proof (RFC 9449) for a request to ep, with an ath
// claim when token is not empty. It is in c.dpop, valid until the next
// call. The claims are written in the order json.Marshal of a map wrote
// them.
func (c *client) proof(ep *endpoint, token []byte) ([]byte, error) {
	p := append(c.claims[:0], '{')
	if len(token) > 0 {
		sum := sha256.Sum256(token)
		p = append(p, `"ath":"`...)
		p = b64.AppendEncode(p, sum[:])
		p = append(p, `",`...)
	}
	p = append(p, `"htm":`...)
	p = appendJSONString(p, ep.method)
	p = append(p, `,"htu":`...)
	p = appendJSONString(p, ep.url)
	p = append(p, `,"iat":`...)
	p = strconv.AppendInt(p, time.Now().Unix(), 10)
	var jti [12]byte
	rand.Read(jti[:])
	p = append(p, `,"jti":"`...)
	p = b64.AppendEncode(p, jti[:])
	c.claims = append(p, `"}`...)

	input := b64.AppendEncode(append(c.dpop[:0], c.dpopHead...), c.claims)
	sum := sha256.Sum256(input)
	der, err := sign(c.key, sum[:])
	if err != nil {
		return nil, err
	}
	var buf [64]byte
	sig, err := appendRawSignature(buf[:0], der)
	if err != nil {
		return nil, err
	}
	c.dpop = b64.AppendEncode(append(input, '.'), sig)
	return c.dpop, nil
}

// do sends one request and returns the body of a 200 response, valid until
// the client's next request. The generator uses fasthttp's client, which
// costs far less CPU per request than net/http's: on a 2-core machine every
// microsecond the generator spends is taken from the server it measures.
func (c *client) do(ep *endpoint, ctype string, body, authz, dpop []byte) ([]byte, error) {
	req, res := &c.req, &c.res
	req.Reset() // the client resets res itself
	req.Header.SetMethod(ep.method)
	req.SetRequestURI(ep.url)
	if ctype != "" {
		req.Header.SetContentType(ctype)
	}
	if authz != nil {
		req.Header.SetBytesV("Authorization", authz)
	}
	if dpop != nil {
		req.Header.SetBytesV("DPoP", dpop)
	}
	req.SetBody(body)
	var start time.Time
	if c.timings != nil {
		start = time.Now()
	}
	if err := c.http.DoTimeout(req, res, 30*time.Second); err != nil {
		return nil, err
	}
	if res.StatusCode() != 200 {
		return nil, fmt.Errorf("%s %s: %d %s", ep.method, ep.path, res.StatusCode(), res.Body())
	}
	if c.timings != nil { // like a scenario's latency, only of successes
		c.timings[ep] = append(c.timings[ep], time.Since(start))
	}
	return res.Body(), nil
}

// keepTokens stores the tokens of a token response, as empty when absent.
func (c *client) keepTokens(res []byte) {
	c.access = append(c.access[:0], jsonString(jsonField(res, "access_token"))...)
	c.refresh = append(c.refresh[:0], jsonString(jsonField(res, "refresh_token"))...)
}

// ceremony runs a WebAuthn ceremony: begin with the JSON body, then finish
// with the authenticator's response to the options.
func (c *client) ceremony(begin, finish *endpoint, body []byte, create bool) error {
	r, err := c.do(begin, "application/json", body, nil, nil)
	if err != nil {
		return err
	}
	// The finish body, {"ceremony":...,"credential":...}, is built while
	// r is still valid: the next request reuses the response. c.body may
	// hold the begin body, which is no longer needed.
	fin := append(c.body[:0], `{"ceremony":`...)
	fin = appendJSONString(fin, jsonString(jsonField(r, "ceremony")))
	fin = append(fin, `,"credential":`...)
	opts := jsonField(r, "publicKey")
	if create {
		fin, err = c.authn.AppendCreate(fin, opts)
	} else {
		fin, err = c.authn.AppendGet(fin, opts)
	}
	if err != nil {
		return err
	}
	c.body = append(fin, '}')
	var proof []byte
	if useDPoP {
		if proof, err = c.proof(finish, nil); err != nil {
			return err
		}
	}
	t, err := c.do(finish, "application/json", c.body, nil, proof)
	if err != nil {
		return err
	}
	c.keepTokens(t)
	return nil
}

var userSeq atomic.Int64

func (c *client) signUp() error {
	b := append(c.body[:0], `{"username":"load-`...)
	b = strconv.AppendInt(b, time.Now().UnixNano()%1e9, 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, userSeq.Add(1), 10)
	c.body = append(b, `"}`...)
	return c.ceremony(&c.ep.registerBegin, &c.ep.registerFinish, c.body, true)
}

var emptyObject = []byte("{}")

func (c *client) signIn() error {
	return c.ceremony(&c.ep.loginBegin, &c.ep.loginFinish, emptyObject, false)
}

func (c *client) userinfo() error {
	proof, err := c.proof(&c.ep.userinfo, c.access)
	if err != nil {
		return err
	}
	c.authz = append(append(c.authz[:0], "DPoP "...), c.access...)
	_, err = c.do(&c.ep.userinfo, "", nil, c.authz, proof)
	return err
}

func (c *client) refreshGrant() error {
	proof, err := c.proof(&c.ep.token, nil)
	if err != nil {
		return err
	}
	// url.Values.Encode's form: keys sorted, the token escaped.
	form := append(c.body[:0], "grant_type=refresh_token&refresh_token="...)
	c.body = appendQueryEscaped(form, c.refresh)
	t, err := c.do(&c.ep.token, "application/x-www-form-urlencoded", c.body, nil, proof)
	if err != nil {
		return err
	}
	c.keepTokens(t)
	return nil
}

// hostClient is the connections of workers clients to the server at base,
// or to -nodes.
func hostClient(base string, workers int) *fasthttp.HostClient {
	u, _ := url.Parse(base)
	addr := u.Host
	if nodes != "" {
		addr = nodes // HostClient dials a comma-separated list in turn
	}
	return &fasthttp.HostClient{Addr: addr, MaxConns: workers * 2, ReadBufferSize: 16 << 10}
}

func run(base, scenario string, workers int, dur time.Duration, pid int) result {
	hc := hostClient(base, workers)
	var step func(*client) error
	switch scenario {
	case "signup":
		step = (*client).signUp
	case "signin":
		step = (*client).signIn
	case "userinfo":
		step = (*client).userinfo
	case "refresh":
		step = (*client).refreshGrant
	case "exchange":
		if rp == nil {
			return result{errors: 1, firstErr: "exchange needs -rp, or -server to register a client"}
		}
		step = (*client).exchange
	default:
		return result{errors: 1, firstErr: "unknown scenario " + scenario}
	}
	ep := newEndpoints(base)
	clients := make([]*client, workers)
	for i := range clients {
		clients[i] = newClient(base, ep, hc)
		if scenario != "signup" {
			if err := clients[i].signUp(); err != nil {
				return result{errors: 1, firstErr: "setup: " + err.Error()}
			}
		}
	}
	if scenario == "exchange" {
		if err := makeGrants(base, clients, codesPerClient(workers, dur)); err != nil {
			return result{errors: 1, firstErr: "setup: " + err.Error()}
		}
	}
	var (
		mu        sync.Mutex
		latencies []time.Duration
		errs      atomic.Int64
		firstErr  atomic.Value
		wg        sync.WaitGroup
	)
	if splitRequests {
		for _, c := range clients {
			c.timings = map[*endpoint][]time.Duration{} // not the set-up's sign-ups
		}
	}
	cpu0, self0, db0 := serverCPU(pid), cpuTime(os.Getpid()), treeCPU(dbPID)
	start := time.Now()
	deadline := start.Add(dur)
	for _, c := range clients {
		wg.Add(1)
		go func(c *client) {
			defer wg.Done()
			var local []time.Duration
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if err := step(c); err != nil {
					if err == errOutOfCodes {
						break
					}
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			latencies = append(latencies, local...)
			mu.Unlock()
		}(c)
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu1, self1, db1 := serverCPU(pid), cpuTime(os.Getpid()), treeCPU(dbPID)
	r := result{errors: errs.Load(), requests: requestLatencies(clients)}
	if fe, ok := firstErr.Load().(string); ok {
		r.firstErr = fe
	}
	n := len(latencies)
	if n == 0 {
		return r
	}
	r.rate = float64(n) / elapsed.Seconds()
	r.latency = percentiles(latencies)
	r.clientPerOp = (self1 - self0) / time.Duration(n)
	if pid > 0 && cpu1 > cpu0 {
		// A ceremony is two HTTP requests; per-request CPU divides by those.
		perOp := 1
		if scenario == "signup" || scenario == "signin" {
			perOp = 2
		}
		r.cpuPerReq = (cpu1 - cpu0) / time.Duration(n*perOp)
	}
	if dbPID > 0 {
		r.dbPerOp = (db1 - db0) / time.Duration(n)
	}
	return r
}

// requestLatencies merges the clients' per-request timings, in the order
// of the routes' paths.
func requestLatencies(clients []*client) []requestLatency {
	byRoute := map[*endpoint][]time.Duration{}
	for _, c := range clients {
		for ep, ds := range c.timings {
			byRoute[ep] = append(byRoute[ep], ds...)
		}
	}
	var out []requestLatency
	for ep, ds := range byRoute {
		out = append(out, requestLatency{method: ep.method, path: ep.path, n: len(ds), latency: percentiles(ds)})
	}
	slices.SortFunc(out, func(a, b requestLatency) int { return strings.Compare(a.path, b.path) })
	return out
}

// startServer runs `latch serve` on a fresh data directory and waits until
// it answers /readyz.
func startServer(bin, base string) (stop func(), pid int, err error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, 0, err
	}
	dir, err := os.MkdirTemp("", "latch-load-")
	if err != nil {
		return nil, 0, err
	}
	// The exchange scenario's client, registered while the store is
	// offline; -rp, if given, is for a server started elsewhere.
	out, err := exec.Command(bin, "clients", "add", "load", "--redirect-uri", rpRedirect, "--first-party", "--data", dir).Output()
	if err != nil {
		os.RemoveAll(dir)
		return nil, 0, fmt.Errorf("registering the exchange scenario's client: %w", err)
	}
	rp = newRPClient("load", strings.TrimSpace(string(out)), rpRedirect)
	// Every client comes from one loopback address, so the per-address
	// limit on ceremony begins is off for the measurement.
	cmd := exec.Command(bin, "serve", "--data", dir, "--addr", u.Host, "--issuer", base, "--begin-rate", "0")
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, 0, err
	}
	stop = func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		os.RemoveAll(dir)
	}
	for i := 0; i < 100; i++ {
		if res, err := http.Get(base + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return stop, cmd.Process.Pid, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	return nil, 0, errors.New("the server did not become ready")
}

// serverCPU is the CPU time of the server process pid and of -pids'.
func serverCPU(pid int) time.Duration {
	total := cpuTime(pid)
	for _, p := range morePIDs {
		total += cpuTime(p)
	}
	return total
}

// treeCPU is the CPU time of process pid and of its children, live ones
// read one by one and exited ones through pid's own count of them: a
// database server's backends are its children.
func treeCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	total := cpuTime(pid) + childrenCPU(pid)
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil || child == pid {
			continue
		}
		if parentOf(child) == pid {
			total += cpuTime(child)
		}
	}
	return total
}

// statFields returns the fields of /proc/PID/stat after the command name.
func statFields(pid int) []string {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 > len(s) {
		return nil
	}
	return strings.Fields(s[i+2:])
}

func parentOf(pid int) int {
	f := statFields(pid)
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// childrenCPU is cutime+cstime: the CPU of pid's children that exited.
func childrenCPU(pid int) time.Duration {
	f := statFields(pid)
	if len(f) < 15 {
		return 0
	}
	ut, err1 := strconv.ParseInt(f[13], 10, 64)
	st, err2 := strconv.ParseInt(f[14], 10, 64)
	if errors.Join(err1, err2) != nil {
		return 0
	}
	return time.Duration(ut+st) * time.Second / 100
}

// cpuTime reads a process's user+system CPU time from /proc (Linux).
func cpuTime(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the parenthesised command name; utime and stime are 14 and 15.
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+2:])
	if len(f) < 13 {
		return 0
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0
	}
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / clkTck
}
