package auth

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/latchid/latch/webauthn/webauthntest"
)

func TestSessionsListAndEnd(t *testing.T) {
	e := newEnv(t)
	phone := e.newUser("alice", true)
	phone.signUp()
	// The same account signs in on a laptop, with another key and browser.
	laptop := e.newUser("alice", false)
	laptop.authn = phone.authn
	laptop.ua = "Mozilla/5.0 (X11; Linux) \x01Laptop"
	e.clock.Advance(time.Minute)
	if r := laptop.signIn("", webauthntest.Options{}); r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}

	r := laptop.call("GET", "/me/sessions", nil)
	var items []map[string]any
	if err := json.Unmarshal(r.raw, &items); err != nil || r.status != 200 || len(items) != 2 {
		t.Fatalf("sessions: %d %s", r.status, r.raw)
	}
	newest, oldest := items[0], items[1]
	if newest["current"] != true || newest["device"] != "Mozilla/5.0 (X11; Linux) Laptop" || newest["dpop_bound"] != false {
		t.Fatalf("the laptop session: %v", newest)
	}
	if oldest["current"] != false || oldest["dpop_bound"] != true {
		t.Fatalf("the phone session: %v", oldest)
	}

	// Another user can neither see nor end them.
	bob := e.newUser("bob", false)
	bob.signUp()
	expectError(t, bob.call("DELETE", "/me/sessions/"+oldest["id"].(string), nil), 404, "not_found")
	if r := bob.call("GET", "/me/sessions", nil); strings.Count(string(r.raw), `"id"`) != 1 {
		t.Fatalf("bob sees: %s", r.raw)
	}

	// The laptop signs the phone out.
	if r := laptop.call("DELETE", "/me/sessions/"+oldest["id"].(string), nil); r.status != 204 {
		t.Fatalf("end session: %d %s", r.status, r.raw)
	}
	expectError(t, phone.call("GET", "/userinfo", nil), 401, "invalid_token")
	expectError(t, phone.refreshTokens(), 400, "invalid_grant")
	expectError(t, laptop.call("DELETE", "/me/sessions/"+oldest["id"].(string), nil), 404, "not_found")
	if r := laptop.call("GET", "/me/sessions", nil); strings.Count(string(r.raw), `"id"`) != 1 {
		t.Fatalf("after ending one: %s", r.raw)
	}
	if r := laptop.call("GET", "/userinfo", nil); r.status != 200 {
		t.Fatalf("the laptop stays signed in: %d %s", r.status, r.raw)
	}
}
