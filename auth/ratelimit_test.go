package auth

import (
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchid/latch/store"
	"github.com/latchid/latch/webauthn/webauthntest"
)

// userID is the account id of a signed-in user, read from its access token.
func (u *user) userID(t *testing.T) string {
	t.Helper()
	sub, _ := jwtPart(t, u.access, 1)["sub"].(string)
	if sub == "" {
		t.Fatal("no sub in the access token")
	}
	return sub
}

func TestCeremonyBeginsAreRateLimitedPerAddress(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.BeginRate = 2 }) // burst 8
	begin := func() *response {
		return e.request("POST", "/webauthn/login/begin", map[string]any{}, nil)
	}
	for i := 0; i < 8; i++ {
		if r := begin(); r.status != 200 {
			t.Fatalf("request %d within the burst: %d %s", i+1, r.status, r.raw)
		}
	}
	r := begin()
	expectError(t, r, 429, "rate_limited")
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 {
		t.Fatalf("Retry-After = %q", r.header.Get("Retry-After"))
	}
	// Finishing and everything else is not limited.
	if r := e.request("GET", "/.well-known/jwks.json", nil, nil); r.status != 200 {
		t.Fatal(r.status)
	}
	e.clock.Advance(time.Second) // two more tokens
	for i := 0; i < 2; i++ {
		if r := begin(); r.status != 200 {
			t.Fatalf("after refill %d: %d", i, r.status)
		}
	}
	expectError(t, begin(), 429, "rate_limited")
}

func TestRateLimitKeysOnTheClientAddress(t *testing.T) {
	begin := func(e *env, xff string) int {
		return e.request("POST", "/webauthn/login/begin", map[string]any{}, map[string]string{"X-Forwarded-For": xff}).status
	}
	t.Run("without a trusted proxy X-Forwarded-For is ignored", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.BeginRate = 1 }) // burst 4
		for i := 0; i < 4; i++ {
			if s := begin(e, "198.51.100."+strconv.Itoa(i)); s != 200 {
				t.Fatalf("request %d: %d", i, s)
			}
		}
		if s := begin(e, "198.51.100.99"); s != 429 {
			t.Fatalf("a forged X-Forwarded-For escaped the limit: %d", s)
		}
	})
	t.Run("behind a trusted proxy the nearest untrusted hop counts", func(t *testing.T) {
		// In-process requests come from 0.0.0.0, standing in for the proxy.
		e := newEnv(t, func(c *Config) { c.BeginRate = 1; c.TrustedProxies = []string{"0.0.0.0/32", "10.0.0.0/8"} })
		for i := 0; i < 4; i++ {
			// Whatever the client wrote on the left does not matter.
			if s := begin(e, "forged-"+strconv.Itoa(i)+", 203.0.113.7, 10.1.2.3"); s != 200 {
				t.Fatalf("request %d: %d", i, s)
			}
		}
		if s := begin(e, "192.0.2.1, 203.0.113.7"); s != 429 {
			t.Fatalf("the same client (203.0.113.7) escaped the limit: %d", s)
		}
		if s := begin(e, "203.0.113.8"); s != 200 {
			t.Fatalf("another client was limited: %d", s)
		}
	})
	t.Run("a proxy's own X-Forwarded-For line counts, not the client's first", func(t *testing.T) {
		// HAProxy's option forwardfor appends a line of its own.
		e := newEnv(t, func(c *Config) { c.BeginRate = 1; c.TrustedProxies = []string{"0.0.0.0/32"} })
		limited := 0
		for i := range 8 {
			req := httptest.NewRequest("POST", "/webauthn/login/begin", strings.NewReader("{}"))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Add("X-Forwarded-For", "198.51.100."+strconv.Itoa(i)) // the client's
			req.Header.Add("X-Forwarded-For", "203.0.113.7")                 // the proxy's
			res, err := e.srv.Test(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode == 429 {
				limited++
			}
		}
		if limited != 4 {
			t.Fatalf("%d of 8 begins from one client limited, want all past the burst of 4", limited)
		}
	})
}

func TestRateLimiterForgetsIdleClients(t *testing.T) {
	c := &clock{t: time.Unix(1_790_000_000, 0)}
	l := newRateLimiter(1, 2, nil, c.Now)
	l.allow("a")
	l.allow("b")
	c.Advance(2 * time.Minute)
	l.allow("c")
	if len(l.buckets) != 1 {
		t.Fatalf("%d buckets kept, want only the active client", len(l.buckets))
	}
}

// expectLimited checks a 429 rate_limited answer with a usable Retry-After.
func expectLimited(t *testing.T, r *response) {
	t.Helper()
	expectError(t, r, 429, "rate_limited")
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 {
		t.Fatalf("Retry-After = %q", r.header.Get("Retry-After"))
	}
}

// unauthenticatedPosts are the POST endpoints anyone may call, each with a
// request that it answers without a 429 while the address has tokens.
var unauthenticatedPosts = []struct {
	path string
	body any
}{
	{"/webauthn/register/finish", map[string]any{}},
	{"/webauthn/login/finish", map[string]any{}},
	{"/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}}},
	{"/totp/verify", map[string]any{}},
	{"/credentials/verify", map[string]any{}},
	{"/revoke", url.Values{"token": {"nope"}}},
}

func TestEveryUnauthenticatedPostIsLimitedPerAddress(t *testing.T) {
	// In-process requests come from 0.0.0.0, standing in for a proxy, so
	// X-Forwarded-For names the client.
	e := newEnv(t, func(c *Config) { c.BeginRate = 10; c.PostRate = 1; c.TrustedProxies = []string{"0.0.0.0/32"} }) // burst 4
	from := func(addr string) map[string]string { return map[string]string{"X-Forwarded-For": addr} }
	for _, ep := range unauthenticatedPosts {
		t.Run(ep.path, func(t *testing.T) {
			for i := range 4 {
				if r := e.request("POST", ep.path, ep.body, from("203.0.113.1")); r.status == 429 {
					t.Fatalf("request %d within the burst: %s", i+1, r.raw)
				}
			}
			expectLimited(t, e.request("POST", ep.path, ep.body, from("203.0.113.1")))
			if r := e.request("POST", ep.path, ep.body, from("203.0.113.2")); r.status == 429 {
				t.Fatalf("another address was limited: %s", r.raw)
			}
		})
	}
	// Each endpoint has its own table: the begins still have their burst.
	if r := e.request("POST", "/webauthn/login/begin", map[string]any{}, from("203.0.113.1")); r.status != 200 {
		t.Fatalf("begin after the other endpoints' limits were used up: %d %s", r.status, r.raw)
	}
	e.clock.Advance(time.Second) // one more token each
	if r := e.request("POST", "/token", unauthenticatedPosts[2].body, from("203.0.113.1")); r.status == 429 {
		t.Fatalf("after refill: %s", r.raw)
	}
	expectLimited(t, e.request("POST", "/token", unauthenticatedPosts[2].body, from("203.0.113.1")))
}

func TestIntrospectionCountsOnlyFailedClientAuthentication(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.BeginRate = 10; c.PostRate = 1 }) // burst 4
	introspect := e.introspector()
	alice := e.newUser("alice", true)
	alice.signUp()
	for i := range 20 {
		if r := introspect(alice.access); r.status != 200 || r.body["active"] != true {
			t.Fatalf("introspection %d by a valid client: %d %s", i+1, r.status, r.raw)
		}
	}
	for range 4 {
		expectError(t, e.introspect("api", "wrong", alice.access), 401, "invalid_client")
	}
	expectLimited(t, e.introspect("api", "wrong", alice.access))
	// The address has used up its failures: until it refills, even a right
	// secret waits, so guessing cannot continue from there.
	expectLimited(t, introspect(alice.access))
	e.clock.Advance(time.Second)
	if r := introspect(alice.access); r.status != 200 {
		t.Fatalf("after refill: %d %s", r.status, r.raw)
	}
}

func TestBeginRateZeroLiftsEveryPerAddressLimit(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.BeginRate = -1; c.PostRate = 1 })
	for _, ep := range append(unauthenticatedPosts, struct {
		path string
		body any
	}{"/webauthn/login/begin", map[string]any{}}) {
		for i := range 50 {
			if r := e.request("POST", ep.path, ep.body, nil); r.status == 429 {
				t.Fatalf("%s request %d limited with limits lifted: %s", ep.path, i+1, r.raw)
			}
		}
	}
}

func TestAFullLimiterTableForgetsOnlyTheLeastRecentlyUsed(t *testing.T) {
	defer func(n int) { maxRateBuckets = n }(maxRateBuckets)
	maxRateBuckets = 3
	e := newEnv(t, func(c *Config) { c.BeginRate = 10; c.PostRate = 1; c.TrustedProxies = []string{"0.0.0.0/32"} }) // burst 4
	body := unauthenticatedPosts[2].body
	token := func(addr string) int {
		return e.request("POST", "/token", body, map[string]string{"X-Forwarded-For": addr}).status
	}
	for _, addr := range []string{"198.51.100.1", "198.51.100.2", "198.51.100.3"} {
		for range 4 {
			token(addr)
		}
		if s := token(addr); s != 429 {
			t.Fatalf("%s not limited: %d", addr, s)
		}
	}
	// A fourth address needs room: only the least recently used (.1) goes.
	if s := token("198.51.100.4"); s == 429 {
		t.Fatal("a new address was limited")
	}
	for _, addr := range []string{"198.51.100.2", "198.51.100.3"} {
		if s := token(addr); s != 429 {
			t.Fatalf("%s was forgotten when the table filled: %d", addr, s)
		}
	}
	if m := string(e.request("GET", "/metrics", nil, nil).raw); !strings.Contains(m, "\nlatch_rate_limit_evictions_total 1\n") {
		t.Fatalf("eviction not counted:\n%s", m)
	}
}

func TestFailedSignInsAreLimitedPerAccountAcrossRestarts(t *testing.T) {
	// Per-address limits lifted: the per-account limit stays on regardless.
	e := newEnv(t)
	alice := e.newUser("alice", true)
	alice.signUp()
	mallory := e.newUser("mallory", false)
	mallory.signUp()
	// A broken signature by alice's passkey is a failure charged to her
	// account.
	fail := func(int) *response {
		return e.request("POST", "/webauthn/login/finish", alice.loginFinishBody("", webauthntest.Options{TamperClientData: true}), nil)
	}
	for i := range signInMaxFailures - 1 {
		expectError(t, fail(i), 400, "invalid_credential")
	}
	r := fail(signInMaxFailures)
	expectLimited(t, r)
	if s, _ := strconv.Atoi(r.header.Get("Retry-After")); s > int(signInBaseLockout.Seconds())+1 {
		t.Fatalf("Retry-After %d for a first lockout of %s", s, signInBaseLockout)
	}
	// Mallory's own account is not charged with alice's failures.
	if r := mallory.signIn("", webauthntest.Options{}); r.status != 200 {
		t.Fatalf("mallory: %d %s", r.status, r.raw)
	}

	e.restart()
	expectLimited(t, fail(0))
	expectLimited(t, fail(1))
	// A passkey signature cannot be guessed: alice herself still gets in,
	// and that clears the state.
	if r := alice.signIn("", webauthntest.Options{}); r.status != 200 {
		t.Fatalf("alice during the lockout: %d %s", r.status, r.raw)
	}
	expectError(t, fail(1), 400, "invalid_credential")
	err := e.srv.db.View(t.Context(), func(tx store.Tx) error {
		f, err := tx.SignInFailures(alice.userID(t))
		if err == nil && (f.Failures != 1 || f.Lockouts != 0 || !f.LockedUntil.IsZero()) {
			t.Errorf("state after a success and one failure: %+v", f)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	// The back-off ends by itself, and doubles with the next lockout.
	for i := range signInMaxFailures - 2 {
		expectError(t, fail(i), 400, "invalid_credential")
	}
	expectLimited(t, fail(0))
	e.clock.Advance(signInBaseLockout + time.Second)
	expectError(t, fail(0), 400, "invalid_credential")
	for i := range signInMaxFailures - 2 {
		expectError(t, fail(i), 400, "invalid_credential")
	}
	r = fail(0)
	expectLimited(t, r)
	if s, _ := strconv.Atoi(r.header.Get("Retry-After")); s <= int(signInBaseLockout.Seconds())+1 {
		t.Fatalf("second lockout's Retry-After %d did not grow", s)
	}
}

// BenchmarkRateLimiterAllow measures one admission for a known address and
// for a stream of new addresses in a full table (each evicting the least
// recently used bucket).
func BenchmarkRateLimiterAllow(b *testing.B) {
	c := &clock{t: time.Unix(1_790_000_000, 0)}
	b.Run("known address", func(b *testing.B) {
		l := newRateLimiter(1e6, 4e6, nil, c.Now)
		for b.Loop() {
			l.allow("203.0.113.7")
		}
	})
	b.Run("new addresses, full table", func(b *testing.B) {
		l := newRateLimiter(10, 40, nil, c.Now)
		keys := make([]string, 2*maxRateBuckets)
		for i := range keys {
			keys[i] = "10." + strconv.Itoa(i>>16&255) + "." + strconv.Itoa(i>>8&255) + "." + strconv.Itoa(i&255)
		}
		for _, k := range keys[:maxRateBuckets] {
			l.allow(k)
		}
		i := 0
		for b.Loop() {
			l.allow(keys[i%len(keys)])
			i++
		}
	})
}

// TestAPasskeyOfAnotherAccountIsNotChargedToTheName: anyone can answer a
// sign-in by username with a passkey of their own; counted against the
// name, its lockout would tell which names exist (login/begin answers
// known and unknown names alike).
func TestAPasskeyOfAnotherAccountIsNotChargedToTheName(t *testing.T) {
	e := newEnv(t)
	e.newUser("victim", false).signUp()
	mallory := e.newUser("mallory", false)
	mallory.signUp()
	for _, name := range []string{"victim", "nobody-here"} {
		for i := range signInMaxFailures + 2 {
			r := e.request("POST", "/webauthn/login/finish", mallory.loginFinishBody(name, webauthntest.Options{}), nil)
			if r.status != 400 || r.str("error") != "invalid_credential" {
				t.Fatalf("%s, attempt %d: %d %s (known and unknown names must answer alike)", name, i+1, r.status, r.raw)
			}
		}
	}
}
