package auth

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"

	"github.com/latchid/latch/webauthn/webauthntest"
)

// revokeProof is the DPoP header proving u's key to /revoke.
func (u *user) revokeProof() map[string]string {
	return map[string]string{"DPoP": u.key.proof(u.e.t, u.e.clock.Now(), "POST", "/revoke", "")}
}

// revokeAsHolder sends u's DPoP-bound access token with its proof.
func (u *user) revokeAsHolder() map[string]string {
	return map[string]string{
		"Authorization": "DPoP " + u.access,
		"DPoP":          u.key.proof(u.e.t, u.e.clock.Now(), "POST", "/revoke", u.access),
	}
}

func TestRevokingABoundTokenNeedsItsKey(t *testing.T) {
	e := newEnv(t)
	alice := e.newUser("alice", true)
	alice.signUp()
	mallory := newDPoPKey(t)
	revoke := func(token string, h map[string]string) *response {
		return e.request("POST", "/revoke", url.Values{"token": {token}}, h)
	}
	for _, tok := range []struct{ name, value string }{{"refresh token", alice.refresh}, {"access token", alice.access}} {
		t.Run(tok.name, func(t *testing.T) {
			expectError(t, revoke(tok.value, nil), 400, "invalid_dpop_proof")
			expectError(t, revoke(tok.value, map[string]string{"DPoP": mallory.proof(t, e.clock.Now(), "POST", "/revoke", "")}), 400, "invalid_dpop_proof")
			// A proof of the right key for another endpoint is no proof here.
			expectError(t, revoke(tok.value, map[string]string{"DPoP": alice.key.proof(t, e.clock.Now(), "POST", "/token", "")}), 400, "invalid_dpop_proof")
			if r := alice.call("GET", "/userinfo", nil); r.status != 200 {
				t.Fatalf("a refused revocation ended the token: %d %s", r.status, r.raw)
			}
		})
	}
	if r := alice.refreshTokens(); r.status != 200 {
		t.Fatalf("a refused revocation ended the session: %d %s", r.status, r.raw)
	}
	// Unknown tokens still answer 200 and need no proof (RFC 7009 2.2).
	if r := revoke("no-such-refresh-token", nil); r.status != 200 {
		t.Fatalf("unknown token: %d %s", r.status, r.raw)
	}
	// With the key, it works.
	refresh := alice.refresh
	if r := revoke(refresh, alice.revokeProof()); r.status != 200 {
		t.Fatalf("revoke with the key: %d %s", r.status, r.raw)
	}
	expectError(t, alice.refreshTokens(), 400, "invalid_grant")

	// Unbound tokens are revoked by whoever holds them, as before.
	bob := e.newUser("bob", false)
	bob.signUp()
	if r := revoke(bob.refresh, nil); r.status != 200 {
		t.Fatalf("unbound refresh token: %d %s", r.status, r.raw)
	}
	expectError(t, bob.refreshTokens(), 400, "invalid_grant")
}

func TestAnIntrospectionClientMayRevokeAnything(t *testing.T) {
	e := newEnv(t)
	meta := e.request("GET", "/.well-known/oauth-authorization-server", nil, nil)
	if !strings.Contains(string(meta.raw), `"revocation_endpoint_auth_methods_supported":["none","client_secret_basic"]`) {
		t.Fatalf("metadata does not offer client authentication at /revoke: %s", meta.raw)
	}
	alice := e.newUser("alice", true)
	alice.signUp()
	api, err := CreateClient(t.Context(), e.srv.db, "rs", e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	basic := func(id, sec string) map[string]string {
		return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+sec))}
	}
	r := e.request("POST", "/revoke", url.Values{"token": {alice.refresh}}, basic("rs", api+"x"))
	expectError(t, r, 401, "invalid_client")
	if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic") {
		t.Fatalf("WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
	}
	if r := alice.refreshTokens(); r.status != 200 {
		t.Fatalf("a refused revocation ended the session: %d %s", r.status, r.raw)
	}
	cred := alice.call("POST", "/credentials/sd-jwt", map[string]any{}).str("credential")
	for _, tok := range []string{cred, alice.refresh} {
		if r := e.request("POST", "/revoke", url.Values{"token": {tok}}, basic("rs", api)); r.status != 200 {
			t.Fatalf("client revocation: %d %s", r.status, r.raw)
		}
	}
	expectError(t, alice.refreshTokens(), 400, "invalid_grant")
}

func TestOnlyTheHolderRevokesAnSDJWT(t *testing.T) {
	e := newEnv(t)
	alice := e.newUser("alice", true)
	alice.signUp()
	cred := alice.call("POST", "/credentials/sd-jwt", map[string]any{}).str("credential")
	jwt := cred[:strings.IndexByte(cred, '~')]
	verify := func(nonce string) *response {
		pres := present(t, alice.key, cred, []string{"username"}, "https://rp.example", nonce, e.clock.Now())
		return e.request("POST", "/credentials/verify", map[string]any{"presentation": pres, "aud": "https://rp.example", "nonce": nonce}, nil)
	}
	revoke := func(token string, h map[string]string) *response {
		return e.request("POST", "/revoke", url.Values{"token": {token}}, h)
	}
	// A verifier that received a presentation holds the issuer JWT and the
	// disclosures, but not the holder key.
	verifier := newDPoPKey(t)
	pres := present(t, alice.key, cred, []string{"username"}, "https://rp.example", "n-1", e.clock.Now())
	expectError(t, revoke(pres, nil), 400, "invalid_dpop_proof")
	expectError(t, revoke(jwt, map[string]string{"DPoP": verifier.proof(t, e.clock.Now(), "POST", "/revoke", "")}), 400, "invalid_dpop_proof")
	// Another account's own DPoP-bound access token is not the holder's.
	bob := e.newUser("bob", true)
	bob.signUp()
	expectError(t, revoke(cred, bob.revokeAsHolder()), 400, "invalid_dpop_proof")
	if r := verify("n-2"); r.body["valid"] != true {
		t.Fatalf("a refused revocation revoked: %s", r.raw)
	}

	t.Run("the holder key's proof", func(t *testing.T) {
		if r := revoke(jwt, alice.revokeProof()); r.status != 200 {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		if r := verify("n-3"); r.body["valid"] != false {
			t.Fatalf("revoked credential verified: %s", r.raw)
		}
	})
	t.Run("the holder's access token after a new key", func(t *testing.T) {
		cred2 := alice.call("POST", "/credentials/sd-jwt", map[string]any{}).str("credential")
		alice.key = newDPoPKey(t) // a new browser key, a new sign-in
		alice.signIn("", webauthntest.Options{})
		// The new key alone does not prove the old one; the access token
		// of the account the credential discloses does.
		jwt2 := cred2[:strings.IndexByte(cred2, '~')]
		expectError(t, revoke(jwt2, alice.revokeAsHolder()), 400, "invalid_dpop_proof")
		if r := revoke(cred2, alice.revokeAsHolder()); r.status != 200 {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		if !e.srv.revoked.has(revokedSDJWT(sdDigestOf(jwt2))) {
			t.Fatal("the credential is not on the blacklist")
		}
	})
}
