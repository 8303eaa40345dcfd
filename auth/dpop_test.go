package auth

import (
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchid/latch/store"
	"github.com/latchid/latch/tokens"
	"github.com/latchid/latch/webauthn/webauthntest"
)

func TestDPoPBoundTokens(t *testing.T) {
	e := newEnv(t)
	alice := e.newUser("alice", true)
	r := alice.signUp()
	if r.str("token_type") != "DPoP" {
		t.Fatalf("token_type = %q", r.str("token_type"))
	}
	cnf, _ := jwtPart(t, alice.access, 1)["cnf"].(map[string]any)
	if cnf["jkt"] != alice.key.thumbprint() {
		t.Fatalf("cnf = %v, want jkt %s", cnf, alice.key.thumbprint())
	}
	if r := alice.call("GET", "/userinfo", nil); r.status != 200 {
		t.Fatalf("userinfo with DPoP: %d %s", r.status, r.raw)
	}
	// The same token as Bearer is a downgrade.
	r = e.request("GET", "/userinfo", nil, map[string]string{"Authorization": "Bearer " + alice.access})
	expectError(t, r, 401, "invalid_token")

	now := e.clock.Now()
	at := alice.access
	other := newDPoPKey(t)
	replayed := alice.key.proof(t, now, "GET", "/userinfo", at)
	if r := e.request("GET", "/userinfo", nil, map[string]string{"Authorization": "DPoP " + at, "DPoP": replayed}); r.status != 200 {
		t.Fatalf("first use of proof: %d %s", r.status, r.raw)
	}
	cases := []struct {
		name  string
		proof string
	}{
		{"no proof", ""},
		{"replayed jti", replayed},
		{"proof from another key", other.proof(t, now, "GET", "/userinfo", at)},
		{"wrong htm", alice.key.proof(t, now, "POST", "/userinfo", at)},
		{"wrong htu", alice.key.proof(t, now, "GET", "/me/credentials", at)},
		{"htu on another host", alice.key.proof(t, now, "GET", "", at, func(h, c map[string]any) { c["htu"] = "http://evil.example/userinfo" })},
		{"missing ath", alice.key.proof(t, now, "GET", "/userinfo", "")},
		{"ath of another token", alice.key.proof(t, now, "GET", "/userinfo", at+"x")},
		{"too old", alice.key.proof(t, now.Add(-2*time.Minute), "GET", "/userinfo", at)},
		{"from the future", alice.key.proof(t, now.Add(time.Minute), "GET", "/userinfo", at)},
		{"wrong typ", alice.key.proof(t, now, "GET", "/userinfo", at, func(h, c map[string]any) { h["typ"] = "JWT" })},
		{"private key in jwk", alice.key.proof(t, now, "GET", "/userinfo", at, func(h, c map[string]any) {
			j := alice.key.jwk()
			d, _ := alice.key.priv.Bytes()
			j["d"] = b64.EncodeToString(d)
			h["jwk"] = j
		})},
		{"missing jti", alice.key.proof(t, now, "GET", "/userinfo", at, func(h, c map[string]any) { delete(c, "jti") })},
		{"bad signature", alice.key.proof(t, now, "GET", "/userinfo", at)[:200] + "AAAA"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.request("GET", "/userinfo", nil, map[string]string{"Authorization": "DPoP " + at, "DPoP": tc.proof})
			expectError(t, r, 401, "invalid_dpop_proof")
			www := strings.Join(r.header.Values("WWW-Authenticate"), ", ")
			if !strings.Contains(www, `DPoP error="invalid_dpop_proof"`) || !strings.Contains(www, `algs="`) {
				t.Fatalf("WWW-Authenticate = %q", www)
			}
		})
	}
	t.Run("query string is ignored in htu", func(t *testing.T) {
		r := e.request("GET", "/userinfo?x=1", nil, map[string]string{"Authorization": "DPoP " + at, "DPoP": alice.key.proof(t, now, "GET", "/userinfo", at)})
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.raw)
		}
	})
}

func TestDPoPAtTokenEndpoints(t *testing.T) {
	e := newEnv(t)
	alice := e.newUser("alice", true)
	alice.signUp()
	now := e.clock.Now()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {alice.refresh}}
	bad := alice.key.proof(t, now, "POST", "/webauthn/login/finish", "")
	expectError(t, e.request("POST", "/token", form, map[string]string{"DPoP": bad}), 400, "invalid_dpop_proof")
	// A proof from another key is invalid_grant and does not rotate.
	other := newDPoPKey(t)
	expectError(t, e.request("POST", "/token", form, map[string]string{"DPoP": other.proof(t, now, "POST", "/token", "")}), 400, "invalid_grant")
	expectError(t, e.request("POST", "/token", form, nil), 400, "invalid_grant")
	if r := alice.refreshTokens(); r.status != 200 || r.str("token_type") != "DPoP" {
		t.Fatalf("refresh with the bound key: %d %s", r.status, r.raw)
	}
	// Two DPoP headers are refused.
	req := map[string]string{"DPoP": alice.key.proof(t, now, "POST", "/token", "") + "," + alice.key.proof(t, now, "POST", "/token", "")}
	expectError(t, e.request("POST", "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {alice.refresh}}, req), 400, "invalid_dpop_proof")
}

func TestRequireDPoP(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RequireDPoP = true })
	u := e.newUser("alice", false)
	cer, opts := u.begin("/webauthn/register/begin", map[string]any{"username": "alice"}, nil)
	cred, _ := u.authn.Create(opts, webauthntest.Options{})
	expectError(t, e.request("POST", "/webauthn/register/finish", map[string]any{"ceremony": cer, "credential": rawJSON(cred)}, nil), 400, "invalid_dpop_proof")
	u.key = newDPoPKey(t)
	if r := e.request("POST", "/webauthn/register/finish", map[string]any{"ceremony": cer, "credential": rawJSON(cred)}, u.tokenHeaders("/webauthn/register/finish")); r.status != 200 || r.str("token_type") != "DPoP" {
		t.Fatalf("with a proof, the same ceremony still works: %d %s", r.status, r.raw)
	}
}

func TestDPoPNonces(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.DPoPNonce = true })
	u := e.newUser("alice", true)
	cer, opts := u.begin("/webauthn/register/begin", map[string]any{"username": "alice"}, nil)
	cred, _ := u.authn.Create(opts, webauthntest.Options{})
	body := map[string]any{"ceremony": cer, "credential": rawJSON(cred)}
	r := e.request("POST", "/webauthn/register/finish", body, u.tokenHeaders("/webauthn/register/finish"))
	expectError(t, r, 400, "use_dpop_nonce")
	nonce := r.header.Get("DPoP-Nonce")
	if nonce == "" {
		t.Fatal("use_dpop_nonce without a DPoP-Nonce header")
	}
	withNonce := func(n string) func(h, c map[string]any) { return func(h, c map[string]any) { c["nonce"] = n } }
	proof := u.key.proof(t, e.clock.Now(), "POST", "/webauthn/register/finish", "", withNonce(nonce))
	r = e.request("POST", "/webauthn/register/finish", body, map[string]string{"DPoP": proof})
	if r.status != 200 {
		t.Fatalf("retry with the nonce (same ceremony): %d %s", r.status, r.raw)
	}
	u.access = r.str("access_token")
	// Protected endpoint: 401 use_dpop_nonce with a challenge, then success.
	h := map[string]string{"Authorization": "DPoP " + u.access, "DPoP": u.key.proof(t, e.clock.Now(), "GET", "/userinfo", u.access, withNonce("stale"))}
	r = e.request("GET", "/userinfo", nil, h)
	expectError(t, r, 401, "use_dpop_nonce")
	if !strings.Contains(strings.Join(r.header.Values("WWW-Authenticate"), ","), `error="use_dpop_nonce"`) || r.header.Get("DPoP-Nonce") == "" {
		t.Fatalf("challenge: %v", r.header)
	}
	h["DPoP"] = u.key.proof(t, e.clock.Now(), "GET", "/userinfo", u.access, withNonce(r.header.Get("DPoP-Nonce")))
	if r := e.request("GET", "/userinfo", nil, h); r.status != 200 {
		t.Fatalf("userinfo with nonce: %d %s", r.status, r.raw)
	}
}

func TestRefreshRotationAndReuse(t *testing.T) {
	e := newEnv(t)
	alice := e.newUser("alice", true)
	alice.signUp()
	first, firstAccess := alice.refresh, alice.access
	if r := alice.refreshTokens(); r.status != 200 || alice.refresh == first {
		t.Fatalf("rotation: %d %s", r.status, r.raw)
	}
	if r := alice.call("GET", "/userinfo", nil); r.status != 200 {
		t.Fatalf("new access token: %d %s", r.status, r.raw)
	}
	// Reusing the rotated token revokes the whole login session.
	current := alice.refresh
	alice.refresh = first
	expectError(t, alice.refreshTokens(), 400, "invalid_grant")
	alice.refresh = current
	expectError(t, alice.refreshTokens(), 400, "invalid_grant")
	expectError(t, alice.call("GET", "/userinfo", nil), 401, "invalid_token")
	alice.access = firstAccess
	expectError(t, alice.call("GET", "/userinfo", nil), 401, "invalid_token")
	// A new sign-in starts a new, working session.
	if r := alice.signIn("", webauthntest.Options{}); r.status != 200 {
		t.Fatal(r.status)
	}
	if r := alice.call("GET", "/userinfo", nil); r.status != 200 {
		t.Fatalf("fresh session: %d %s", r.status, r.raw)
	}
	// The revocation survives a restart.
	e.restart()
	alice.access = firstAccess
	expectError(t, alice.call("GET", "/userinfo", nil), 401, "invalid_token")
}

// TestReuseOfAnOldRotatedTokenRevokesTheSession: the store keeps a family's
// current token and the one rotated last only, yet a token rotated three
// rotations ago, presented again, is still recognised as reuse (the token
// names its session under the server's MAC) and ends the session, as the
// contract says of any rotated token. A token naming another session
// without that MAC ends nothing.
func TestReuseOfAnOldRotatedTokenRevokesTheSession(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.newUser("alice", true), e.newUser("bob", true)
	alice.signUp()
	bob.signUp()
	oldest := alice.refresh
	for range 3 {
		if r := alice.refreshTokens(); r.status != 200 {
			t.Fatalf("rotation: %d %s", r.status, r.raw)
		}
	}
	err := e.srv.db.View(t.Context(), func(tx store.Tx) error {
		_, err := tx.RefreshToken(tokens.OrderedOpaqueKey(oldest))
		return err
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the oldest token is still stored (%v): this test needs one that is not", err)
	}

	// Bob's session named in a token of Alice's: not issued, so no reuse.
	aliceSID := jwtPart(t, alice.access, 1)["sid"].(string)
	bobSID := jwtPart(t, bob.access, 1)["sid"].(string)
	if !strings.Contains(oldest, aliceSID) {
		t.Fatalf("the refresh token %q does not name its session %q", oldest, aliceSID)
	}
	forged := strings.Replace(oldest, aliceSID, bobSID, 1)
	current := bob.refresh
	bob.refresh = forged
	expectError(t, bob.refreshTokens(), 400, "invalid_grant")
	bob.refresh = current
	if r := bob.refreshTokens(); r.status != 200 {
		t.Fatalf("a forged session name ended bob's session: %d %s", r.status, r.raw)
	}

	current = alice.refresh
	alice.refresh = oldest
	expectError(t, alice.refreshTokens(), 400, "invalid_grant")
	alice.refresh = current
	expectError(t, alice.refreshTokens(), 400, "invalid_grant")
	expectError(t, alice.call("GET", "/userinfo", nil), 401, "invalid_token")
	if got := count(auditLog(t, e, AuditFilter{}), "refresh_token_reuse"); got != 1 {
		t.Fatalf("%d refresh_token_reuse events, want 1", got)
	}
}

func TestRefreshGrantErrors(t *testing.T) {
	e := newEnv(t)
	alice := e.newUser("alice", false)
	alice.signUp()
	cases := []struct {
		name   string
		form   url.Values
		ctype  string
		status int
		code   string
	}{
		{"missing grant_type", url.Values{"refresh_token": {alice.refresh}}, "", 400, "invalid_request"},
		{"unsupported grant", url.Values{"grant_type": {"password"}}, "", 400, "unsupported_grant_type"},
		{"missing refresh_token", url.Values{"grant_type": {"refresh_token"}}, "", 400, "invalid_request"},
		{"unknown refresh_token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}}, "", 400, "invalid_grant"},
		{"repeated parameter", url.Values{"grant_type": {"refresh_token", "refresh_token"}, "refresh_token": {alice.refresh}}, "", 400, "invalid_request"},
		{"other client", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {alice.refresh}, "client_id": {"someone-else"}}, "", 400, "invalid_grant"},
		{"JSON body", nil, "application/json", 415, "invalid_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body any = tc.form
			if tc.form == nil {
				body = `{"grant_type":"refresh_token"}`
			}
			expectError(t, e.request("POST", "/token", body, nil), tc.status, tc.code)
		})
	}
	e.clock.Advance(721 * time.Hour)
	expectError(t, alice.refreshTokens(), 400, "invalid_grant")
}

func TestConcurrentRefreshExactlyOneWins(t *testing.T) {
	e := newEnv(t)
	alice := e.newUser("alice", true)
	alice.signUp()
	const n = 8
	statuses := make([]int, n)
	proofs := make([]string, n)
	for i := range proofs {
		proofs[i] = alice.key.proof(t, e.clock.Now(), "POST", "/token", "")
	}
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {alice.refresh}}
			statuses[i] = e.request("POST", "/token", form, map[string]string{"DPoP": proofs[i]}).status
		}(i)
	}
	wg.Wait()
	wins := 0
	for _, s := range statuses {
		if s == 200 {
			wins++
		} else if s != 400 {
			t.Fatalf("unexpected status %d", s)
		}
	}
	if wins != 1 {
		t.Fatalf("%d concurrent refreshes succeeded, want exactly 1 (%v)", wins, statuses)
	}
}

func rawJSON(b []byte) any { return jsonRaw(b) }
