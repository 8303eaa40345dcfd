package auth

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/latchid/latch/store"
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
	// The phone's next refresh says why, so its page can tell the person.
	r = phone.refreshTokens()
	expectError(t, r, 400, "invalid_grant")
	if r.body["reason"] != "session_ended" {
		t.Fatalf("refresh of an ended session: %s", r.raw)
	}
	expectError(t, laptop.call("DELETE", "/me/sessions/"+oldest["id"].(string), nil), 404, "not_found")
	if r := laptop.call("GET", "/me/sessions", nil); strings.Count(string(r.raw), `"id"`) != 1 {
		t.Fatalf("after ending one: %s", r.raw)
	}
	if r := laptop.call("GET", "/userinfo", nil); r.status != 200 {
		t.Fatalf("the laptop stays signed in: %d %s", r.status, r.raw)
	}
}

// TestDeleteAccount deletes an account through DELETE /me: its tokens,
// refresh token and passkey stop working at once, its username is free
// again, and other accounts are untouched. A sign-in older than five
// minutes gets RFC 9470's step-up challenge instead, and deletes nothing.
func TestDeleteAccount(t *testing.T) {
	e := newEnv(t)
	alice := e.newUser("alice", true)
	alice.signUp()
	bob := e.newUser("bob", false)
	bob.signUp()

	e.clock.Advance(recentSignIn + time.Second)
	alice.refreshTokens() // a fresh token, but the same old sign-in
	r := alice.call("DELETE", "/me", nil)
	expectError(t, r, 401, "insufficient_user_authentication")
	if www := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(www, "DPoP ") || !strings.Contains(www, "max_age=300") {
		t.Fatalf("WWW-Authenticate = %q", www)
	}
	if r := alice.call("GET", "/userinfo", nil); r.status != 200 {
		t.Fatalf("a refused deletion changed the account: %d %s", r.status, r.raw)
	}

	if r := alice.signIn("", webauthntest.Options{}); r.status != 200 {
		t.Fatalf("sign-in: %d %s", r.status, r.raw)
	}
	expectError(t, alice.call("DELETE", "/me", map[string]any{"confirm": true}), 400, "invalid_request")
	if r := alice.call("DELETE", "/me", nil); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.raw)
	}
	expectError(t, alice.call("GET", "/userinfo", nil), 401, "invalid_token")
	introspect := e.introspector()
	for _, tok := range []string{alice.access, alice.refresh} {
		if r := introspect(tok); r.status != 200 || r.body["active"] != false {
			t.Fatalf("introspection of a deleted account's token: %d %s", r.status, r.raw)
		}
	}
	expectError(t, alice.refreshTokens(), 400, "invalid_grant")
	expectError(t, alice.signIn("", webauthntest.Options{}), 400, "invalid_credential")
	if r := bob.call("GET", "/userinfo", nil); r.status != 200 {
		t.Fatalf("bob after alice's deletion: %d %s", r.status, r.raw)
	}
	again := e.newUser("alice", false)
	if r := again.signUp(); r.status != 200 {
		t.Fatalf("the username was not freed: %d %s", r.status, r.raw)
	}
	users, err := listUsers(context.Background(), e.srv.db)
	if err != nil || len(users) != 2 {
		t.Fatalf("accounts after deletion: %+v %v", users, err)
	}

	// An operator's deletion on the stopped server: the blacklist it
	// writes refuses bob's token after the restart.
	e.whileStopped(func(a *Admin) error { return a.DeleteUser(context.Background(), "BOB") })
	expectError(t, bob.call("GET", "/userinfo", nil), 401, "invalid_token")
	expectError(t, bob.signIn("", webauthntest.Options{}), 400, "invalid_credential")
}

func TestEndOtherSessions(t *testing.T) {
	e := newEnv(t)
	first := e.newUser("carol", true)
	first.signUp()
	others := []*user{first}
	for _, ua := range []string{
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
		"curl/8.5.0",
	} {
		u := e.newUser("carol", true)
		u.authn, u.ua = first.authn, ua
		if r := u.signIn("", webauthntest.Options{}); r.status != 200 {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		others = append(others, u)
	}
	here := others[len(others)-1]
	others = others[:len(others)-1]
	bob := e.newUser("bob", false)
	bob.signUp()

	r := here.call("GET", "/me/sessions", nil)
	if !strings.Contains(string(r.raw), `"device_name":"Safari on iPhone"`) || !strings.Contains(string(r.raw), `"device":"curl/8.5.0","device_name":""`) {
		t.Fatalf("device names: %s", r.raw)
	}

	r = here.call("DELETE", "/me/sessions", nil)
	if r.status != 200 || r.body["ended"] != float64(2) {
		t.Fatalf("end others: %d %s", r.status, r.raw)
	}
	for _, u := range others {
		expectError(t, u.call("GET", "/userinfo", nil), 401, "invalid_token")
		expectError(t, u.refreshTokens(), 400, "invalid_grant")
	}
	if r := here.call("GET", "/userinfo", nil); r.status != 200 {
		t.Fatalf("the caller was signed out too: %d %s", r.status, r.raw)
	}
	if r := bob.call("GET", "/userinfo", nil); r.status != 200 {
		t.Fatalf("another account was signed out: %d %s", r.status, r.raw)
	}
	// Nothing left to end: 0, and no audit event for it.
	if r := here.call("DELETE", "/me/sessions", nil); r.status != 200 || r.body["ended"] != float64(0) {
		t.Fatalf("again: %d %s", r.status, r.raw)
	}
	var events []string
	_ = e.srv.db.View(context.Background(), func(tx store.Tx) error {
		return tx.ScanAudit(func(ev *store.AuditEvent) error {
			if ev.Type == "other_sessions_ended" {
				events = append(events, ev.Detail["count"])
			}
			return nil
		})
	})
	if strings.Join(events, ",") != "2" {
		t.Fatalf("audit: %v", events)
	}
}

// TestSessionsShowLastActivityAndPlace: a session's last activity is its
// sign-in until a refresh moves it on; its place is what the trusted proxy
// told in the configured headers at sign-in, and nothing when the request
// did not come through a trusted proxy (a client can write any header).
func TestSessionsShowLastActivityAndPlace(t *testing.T) {
	place := map[string]string{"CF-IPCity": " Zürich\x07 ", "CF-IPCountry": "CH"}
	list := func(u *user) []any {
		r := u.call("GET", "/me/sessions", nil)
		var items []any
		if r.status != 200 || json.Unmarshal(r.raw, &items) != nil || len(items) == 0 {
			t.Fatalf("sessions: %d %s", r.status, r.raw)
		}
		return items
	}
	field := func(item any, name string) any { return item.(map[string]any)[name] }
	current := func(u *user) any {
		for _, item := range list(u) {
			if field(item, "current") == true {
				return item
			}
		}
		t.Fatal("no current session listed")
		return nil
	}
	t.Run("through a trusted proxy", func(t *testing.T) {
		e := newEnv(t, func(c *Config) {
			c.TrustedProxies = []string{"0.0.0.0/32"} // in-process requests come from 0.0.0.0
			c.PlaceHeaders = []string{"CF-IPCity", "CF-IPCountry", "CF-IPContinent"}
		})
		u := e.newUser("alice", true)
		u.signUp()
		r := e.request("POST", "/webauthn/login/finish", u.loginFinishBody("", webauthntest.Options{}),
			merge(u.tokenHeaders("/webauthn/login/finish"), place))
		if r.status != 200 {
			t.Fatalf("sign-in: %d %s", r.status, r.raw)
		}
		u.access, u.refresh = r.str("access_token"), r.str("refresh_token")
		signedIn := e.clock.Now().UTC().Format(time.RFC3339Nano)
		first := current(u)
		if field(first, "place") != "Zürich, CH" || field(first, "last_active_at") != signedIn {
			t.Fatalf("session %v: want place %q and last activity %s", first, "Zürich, CH", signedIn)
		}
		e.clock.Advance(3 * time.Minute)
		if r := u.refreshTokens(); r.status != 200 {
			t.Fatalf("refresh: %d %s", r.status, r.raw)
		}
		if got, want := field(current(u), "last_active_at"), e.clock.Now().UTC().Format(time.RFC3339Nano); got != want {
			t.Errorf("last activity after a refresh %v, want %s", got, want)
		}
	})
	t.Run("without a trusted proxy", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.PlaceHeaders = []string{"CF-IPCity", "CF-IPCountry"} })
		u := e.newUser("alice", true)
		u.signUp()
		r := e.request("POST", "/webauthn/login/finish", u.loginFinishBody("", webauthntest.Options{}),
			merge(u.tokenHeaders("/webauthn/login/finish"), place))
		if r.status != 200 {
			t.Fatalf("sign-in: %d %s", r.status, r.raw)
		}
		u.access = r.str("access_token")
		for _, item := range list(u) {
			if p := field(item, "place"); p != "" {
				t.Errorf("a place written by the client was kept: %v", p)
			}
		}
	})
}

func merge(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}
