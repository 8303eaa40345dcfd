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

func TestRateLimiterForgetsIdleClients(t *testing.T) {
	c := &clock{t: time.Unix(1_790_000_000, 0)}
	l := newRateLimiter(1, 2, c.Now)
	l.allow("a")
	l.allow("b")
	c.Advance(2 * time.Minute)
	l.allow("c")
	if len(l.buckets) != 1 {
		t.Fatalf("%d buckets kept, want only the active client", len(l.buckets))
	}
}
