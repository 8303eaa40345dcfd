package auth

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/latchid/latch/webauthn/webauthntest"
)

func TestAccessTTLBounds(t *testing.T) {
	cases := []struct {
		ttl time.Duration
		ok  bool
	}{
		{time.Second, true},
		{30 * time.Second, true},
		{24 * time.Hour, true},
		{999 * time.Millisecond, false},
		{-time.Minute, false},
		{24*time.Hour + time.Second, false},
	}
	for _, tc := range cases {
		err := Config{AccessTTL: tc.ttl}.Defaults().Validate()
		if (err == nil) != tc.ok {
			t.Errorf("--access-ttl %v: %v", tc.ttl, err)
		}
		if err != nil && !strings.Contains(err.Error(), "between 1s and 24h") {
			t.Errorf("--access-ttl %v: unclear error %v", tc.ttl, err)
		}
	}
}

func TestShortAccessTTLWarns(t *testing.T) {
	for _, tc := range []struct {
		ttl  time.Duration
		warn bool
	}{{2 * time.Second, true}, {59 * time.Second, true}, {time.Minute, false}} {
		var log bytes.Buffer
		newEnv(t, func(c *Config) {
			c.AccessTTL = tc.ttl
			c.Logger = slog.New(slog.NewTextHandler(&log, nil))
		})
		if got := strings.Contains(log.String(), "level=WARN") && strings.Contains(log.String(), "access_ttl="+tc.ttl.String()); got != tc.warn {
			t.Errorf("--access-ttl %v: warned %v, want %v:\n%s", tc.ttl, got, tc.warn, log.String())
		}
	}
}

// TestOneSecondAccessTokens is what a test suite does with seconds-long
// tokens: the token says it lives one second, is refused once that (and
// the clock-skew allowance) has passed, and a refresh gets a fresh one.
func TestOneSecondAccessTokens(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AccessTTL = time.Second })
	alice := e.newUser("alice", true)
	alice.signUp()
	r := alice.signIn("", webauthntest.Options{})
	if r.status != 200 || r.body["expires_in"] != float64(1) {
		t.Fatalf("sign-in: %d %s", r.status, r.raw)
	}
	claims := jwtPart(t, alice.access, 1)
	if claims["exp"].(float64)-claims["iat"].(float64) != 1 {
		t.Fatalf("exp - iat = %v", claims["exp"].(float64)-claims["iat"].(float64))
	}
	if r := alice.call("GET", "/userinfo", nil); r.status != 200 {
		t.Fatalf("userinfo at once: %d %s", r.status, r.raw)
	}
	e.clock.Advance(10 * time.Second)
	expectError(t, alice.call("GET", "/userinfo", nil), 401, "invalid_token")
	if r := alice.refreshTokens(); r.status != 200 || r.body["expires_in"] != float64(1) {
		t.Fatalf("refresh: %d %s", r.status, r.raw)
	}
	if r := alice.call("GET", "/userinfo", nil); r.status != 200 {
		t.Fatalf("userinfo after refresh: %d %s", r.status, r.raw)
	}
}
