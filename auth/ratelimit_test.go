package auth

import (
	"strconv"
	"testing"
	"time"
)

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
