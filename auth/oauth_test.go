package auth

import (
	"context"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchid/latch/store"
	"github.com/latchid/latch/webauthn/webauthntest"
)

func TestDiscoveryAndJWKS(t *testing.T) {
	e := newEnv(t)
	m := e.request("GET", "/.well-known/oauth-authorization-server", nil, nil)
	if m.status != 200 || m.str("issuer") != testIssuer || m.str("token_endpoint") != testIssuer+"/token" ||
		m.str("jwks_uri") != testIssuer+"/.well-known/jwks.json" || m.str("revocation_endpoint") == "" || m.str("introspection_endpoint") == "" {
		t.Fatalf("metadata: %s", m.raw)
	}
	if !strings.Contains(string(m.raw), `"refresh_token"`) || !strings.Contains(string(m.raw), `"ES256"`) || !strings.Contains(string(m.raw), `"EdDSA"`) {
		t.Fatalf("metadata lacks grant or DPoP algs: %s", m.raw)
	}
	j := e.request("GET", "/.well-known/jwks.json", nil, nil)
	if j.status != 200 || !strings.Contains(j.header.Get("Cache-Control"), "max-age") {
		t.Fatalf("jwks: %d %v", j.status, j.header)
	}
	for _, forbidden := range []string{`"d"`, `"p"`, `"q"`} {
		if strings.Contains(string(j.raw), forbidden) {
			t.Fatalf("JWKS leaks a private member %s: %s", forbidden, j.raw)
		}
	}
	if e.request("GET", "/healthz", nil, nil).status != 200 || e.request("GET", "/readyz", nil, nil).status != 200 {
		t.Fatal("health endpoints")
	}
	metrics := e.request("GET", "/metrics", nil, nil)
	if metrics.status != 200 || !strings.Contains(string(metrics.raw), "latch_http_request_duration_seconds") ||
		!strings.Contains(string(metrics.raw), "latch_store_commits_total") ||
		!strings.Contains(string(metrics.raw), "latch_store_pages_written_total") ||
		!strings.Contains(string(metrics.raw), "latch_pending_ceremonies_evicted_total") {
		t.Fatalf("metrics: %d", metrics.status)
	}
}

func TestRevokeAccessTokenRefreshTokenAndLogout(t *testing.T) {
	e := newEnv(t)
	alice := e.newUser("alice", true)
	alice.signUp()

	// Access token: blacklisted until it expires, also after a restart.
	// Alice's tokens are DPoP-bound, so she proves her key.
	if r := e.request("POST", "/revoke", url.Values{"token": {alice.access}, "token_type_hint": {"refresh_token"}}, alice.revokeProof()); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}
	expectError(t, alice.call("GET", "/userinfo", nil), 401, "invalid_token")
	e.restart()
	expectError(t, alice.call("GET", "/userinfo", nil), 401, "invalid_token")
	// The session itself lives on: refresh gives a working token.
	if r := alice.refreshTokens(); r.status != 200 {
		t.Fatalf("refresh after access-token revocation: %d %s", r.status, r.raw)
	}
	if r := alice.call("GET", "/userinfo", nil); r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	// Refresh token: revokes the session, so its access tokens die too.
	if r := e.request("POST", "/revoke", url.Values{"token": {alice.refresh}}, alice.revokeProof()); r.status != 200 {
		t.Fatal(r.status)
	}
	expectError(t, alice.refreshTokens(), 400, "invalid_grant")
	expectError(t, alice.call("GET", "/userinfo", nil), 401, "invalid_token")

	// Unknown and garbage tokens are 200 too (RFC 7009 section 2.2).
	for _, tok := range []string{"unknown", "a.b.c", "x~y~"} {
		if r := e.request("POST", "/revoke", url.Values{"token": {tok}}, nil); r.status != 200 {
			t.Fatalf("revoke %q: %d", tok, r.status)
		}
	}
	expectError(t, e.request("POST", "/revoke", url.Values{}, nil), 400, "invalid_request")

	// Logout ends the current session.
	alice.signIn("", webauthntest.Options{})
	if r := alice.call("POST", "/logout", nil); r.status != 204 {
		t.Fatalf("logout: %d %s", r.status, r.raw)
	}
	expectError(t, alice.call("GET", "/userinfo", nil), 401, "invalid_token")
	expectError(t, alice.refreshTokens(), 400, "invalid_grant")
}

func TestIntrospection(t *testing.T) {
	e := newEnv(t)
	secret, err := CreateClient(context.Background(), e.srv.db, "api", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	basic := func(id, s string) map[string]string {
		return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+s))}
	}
	alice := e.newUser("alice", true)
	alice.signUp()
	bob := e.newUser("bob", false)
	bob.signUp()

	for name, h := range map[string]map[string]string{
		"no credentials": nil, "wrong secret": basic("api", secret+"x"), "unknown client": basic("nope", secret),
	} {
		t.Run(name, func(t *testing.T) {
			expectError(t, e.request("POST", "/introspect", url.Values{"token": {alice.access}}, h), 401, "invalid_client")
		})
	}
	r := e.request("POST", "/introspect", url.Values{"token": {alice.access}}, basic("api", secret))
	cnf, _ := r.body["cnf"].(map[string]any)
	if r.status != 200 || r.body["active"] != true || r.str("token_type") != "DPoP" || cnf["jkt"] != alice.key.thumbprint() || r.str("username") != "alice" {
		t.Fatalf("introspect bound token: %s", r.raw)
	}
	r = e.request("POST", "/introspect", url.Values{"token": {bob.access}}, basic("api", secret))
	if r.body["active"] != true || r.str("token_type") != "Bearer" || r.body["cnf"] != nil {
		t.Fatalf("introspect bearer token: %s", r.raw)
	}
	r = e.request("POST", "/introspect", url.Values{"token": {alice.refresh}}, basic("api", secret))
	if r.body["active"] != true || r.str("sub") == "" || r.str("token_type") != "DPoP" {
		t.Fatalf("introspect refresh token: %s", r.raw)
	}
	e.request("POST", "/revoke", url.Values{"token": {bob.access}}, nil)
	bobRefresh := bob.refresh
	e.request("POST", "/revoke", url.Values{"token": {bobRefresh}}, nil)
	for _, tok := range []string{bob.access, bobRefresh, "garbage", "a.b.c"} {
		r = e.request("POST", "/introspect", url.Values{"token": {tok}}, basic("api", secret))
		if r.status != 200 || string(r.raw) != `{"active":false}` {
			t.Fatalf("inactive token: %d %s", r.status, r.raw)
		}
	}
	e.clock.Advance(11 * time.Minute)
	r = e.request("POST", "/introspect", url.Values{"token": {alice.access}}, basic("api", secret))
	if string(r.raw) != `{"active":false}` {
		t.Fatalf("expired token: %s", r.raw)
	}
}

func TestKeyRotationKeepsOldTokensValid(t *testing.T) {
	e := newEnv(t)
	alice := e.newUser("alice", false)
	alice.signUp()
	oldToken := alice.access
	oldKid := jwtPart(t, oldToken, 0)["kid"]
	if _, err := e.srv.RotateKeys(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	alice.signIn("", webauthntest.Options{})
	if jwtPart(t, alice.access, 0)["kid"] == oldKid {
		t.Fatal("new tokens must be signed with the new key")
	}
	jwks := string(e.request("GET", "/.well-known/jwks.json", nil, nil).raw)
	if !strings.Contains(jwks, oldKid.(string)) {
		t.Fatal("the retired key must stay published")
	}
	alice.access = oldToken
	e.restart()
	if r := alice.call("GET", "/userinfo", nil); r.status != 200 {
		t.Fatalf("token of the retired key after restart: %d %s", r.status, r.raw)
	}
	// Once every token it signed has expired, the retired key is dropped.
	e.clock.Advance(25 * time.Hour)
	e.restart()
	if strings.Contains(string(e.request("GET", "/.well-known/jwks.json", nil, nil).raw), oldKid.(string)) {
		t.Fatal("the retired key is still published after its window")
	}
}

func TestAutomaticKeyRotation(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.KeyRotation = time.Hour })
	first := e.srv.keys.Active().ID
	e.clock.Advance(59 * time.Minute)
	e.srv.rotateIfDue(context.Background())
	if e.srv.keys.Active().ID != first {
		t.Fatal("rotated before the period")
	}
	e.clock.Advance(time.Minute)
	e.srv.rotateIfDue(context.Background())
	if e.srv.keys.Active().ID == first {
		t.Fatal("not rotated at the period")
	}
	if !strings.Contains(string(e.request("GET", "/.well-known/jwks.json", nil, nil).raw), first) {
		t.Fatal("the rotated-out key must stay published")
	}
}

func TestEdDSASigningKeys(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.KeyAlg = "EdDSA" })
	alice := e.newUser("alice", false)
	alice.signUp()
	if h := jwtPart(t, alice.access, 0); h["alg"] != "EdDSA" {
		t.Fatalf("header: %v", h)
	}
	if r := alice.call("GET", "/userinfo", nil); r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
}

func TestDisabledAccount(t *testing.T) {
	e := newEnv(t)
	alice := e.newUser("alice", true)
	alice.signUp()
	e.whileStopped(func(a *Admin) error { return a.SetDisabled(context.Background(), "Alice", true) })
	expectError(t, alice.call("GET", "/userinfo", nil), 401, "invalid_token")
	expectError(t, alice.refreshTokens(), 400, "invalid_grant")
	expectError(t, alice.signIn("", webauthntest.Options{}), 403, "account_disabled")
}

func TestDisabledAccountIsRefusedEvenWithoutBlacklist(t *testing.T) {
	e := newEnv(t)
	alice := e.newUser("alice", true)
	alice.signUp()
	// Disable the account behind the server's back, without revoking
	// sessions, as an older tool or a restored backup might.
	e.whileStopped(func(a *Admin) error {
		return a.db.Update(context.Background(), func(tx store.Tx) error {
			u, err := tx.UserByUsername("alice")
			if err != nil {
				return err
			}
			u.Disabled = true
			return tx.PutUser(u)
		})
	})
	expectError(t, alice.call("GET", "/userinfo", nil), 403, "account_disabled")
	// Someone holding the token but not its key learns nothing about the account.
	thief := &user{e: e, key: newDPoPKey(t), access: alice.access}
	expectError(t, thief.call("GET", "/userinfo", nil), 401, "invalid_dpop_proof")
	// Nor does a resource server: the token introspects inactive.
	if r := e.introspector()(alice.access); r.status != 200 || r.body["active"] != false {
		t.Fatalf("introspection of a disabled account's token: %d %s", r.status, r.raw)
	}
}

func TestOfflineRotationKeepsKeysForTheServersLifetimes(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.CredentialTTL = 72 * time.Hour })
	oldKid := e.srv.keys.Active().ID
	e.srv.Close()
	// The CLI runs with default lifetimes (24 h credentials).
	a, err := OpenAdmin(Config{DataDir: e.dir, MasterKey: e.cfg.MasterKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.RotateKeys(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	a.Close()
	e.clock.Advance(48 * time.Hour)
	e.start()
	if !strings.Contains(string(e.request("GET", "/.well-known/jwks.json", nil, nil).raw), oldKid) {
		t.Fatal("a key retired by the CLI left the JWKS before this server's credentials expire")
	}
}

func TestAdminRefusesWhileServerRuns(t *testing.T) {
	e := newEnv(t)
	if _, err := OpenAdmin(e.cfg); err != ErrStoreInUse {
		t.Fatalf("OpenAdmin while serving: %v", err)
	}
}

// TestUserCacheKeepsUntilForgotten checks the profile cache behind every
// protected request: a profile is read once and then served from memory,
// and a forget makes the next request read the store again.
func TestUserCacheKeepsUntilForgotten(t *testing.T) {
	e := newEnv(t)
	alice := e.newUser("alice", true)
	alice.signUp()
	sub := jwtPart(t, alice.access, 1)["sub"].(string)
	first, err := e.srv.users.get(t.Context(), e.srv.db, sub)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := e.srv.users.get(t.Context(), e.srv.db, sub); again != first {
		t.Error("a second read did not come from the cache")
	}
	e.srv.users.forget(sub)
	if after, _ := e.srv.users.get(t.Context(), e.srv.db, sub); after == first || after.ID != sub {
		t.Error("a forgotten profile was served from the cache")
	}
}
