package auth

import (
	"net/url"
	"testing"

	"github.com/latchid/latch/webauthn/webauthntest"

	"github.com/latchid/latch/tokens/dpop"
)

// TestDPoPProofOfAFailedRequestIsNotSpent: a token-issuing request that
// fails records nothing, so the same proof still works for the request that
// succeeds, and is spent by it.
func TestDPoPProofOfAFailedRequestIsNotSpent(t *testing.T) {
	e := newEnv(t)
	alice := e.newUser("alice", true)
	alice.signUp()
	now := e.clock.Now()

	t.Run("token endpoint", func(t *testing.T) {
		proof := alice.key.proof(t, now, "POST", "/token", "")
		bad := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"not-a-refresh-token"}}
		expectError(t, e.request("POST", "/token", bad, map[string]string{"DPoP": proof}), 400, "invalid_grant")
		good := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {alice.refresh}}
		r := e.request("POST", "/token", good, map[string]string{"DPoP": proof})
		if r.status != 200 {
			t.Fatalf("the proof of a failed grant was spent: %d %s", r.status, r.raw)
		}
		alice.access, alice.refresh = r.str("access_token"), r.str("refresh_token")
		next := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {alice.refresh}}
		expectError(t, e.request("POST", "/token", next, map[string]string{"DPoP": proof}), 400, "invalid_dpop_proof")
	})
	t.Run("sign-in", func(t *testing.T) {
		proof := alice.key.proof(t, now, "POST", "/webauthn/login/finish", "")
		body := alice.loginFinishBody("", webauthntest.Options{})
		wrong := map[string]any{"ceremony": "no-such-ceremony", "credential": body["credential"]}
		r := e.request("POST", "/webauthn/login/finish", wrong, map[string]string{"DPoP": proof})
		if r.status < 400 || r.status >= 500 {
			t.Fatalf("failed ceremony: %d %s", r.status, r.raw)
		}
		if r := e.request("POST", "/webauthn/login/finish", body, map[string]string{"DPoP": proof}); r.status != 200 {
			t.Fatalf("the proof of a failed sign-in was spent: %d %s", r.status, r.raw)
		}
		again := alice.loginFinishBody("", webauthntest.Options{})
		expectError(t, e.request("POST", "/webauthn/login/finish", again, map[string]string{"DPoP": proof}), 400, "invalid_dpop_proof")
	})
}

// smallReplayCache gives the server a replay cache of 1,024 entries (64 per
// shard, a key's bound 64 in all: 4 per shard), so a flood that would fill
// the default one is quick to send.
func smallReplayCache(e *env) {
	e.srv.dpop = dpop.NewDPoP(dpop.DPoPConfig{MaxAge: e.srv.cfg.DPoPMaxAge, Now: e.srv.now, ReplayCacheSize: 1024, ReplayPerKey: 64})
}

// TestDPoPFloodOfFailingRequestsCannotStarveOthers is the attack of the
// hardening issue: an anonymous client with a self-made key sends many
// valid proofs with bad grants. Before, each was recorded and the cache
// filled, refusing everyone's proofs.
func TestDPoPFloodOfFailingRequestsCannotStarveOthers(t *testing.T) {
	e := newEnv(t)
	alice := e.newUser("alice", true)
	alice.signUp()
	smallReplayCache(e)
	mallory := newDPoPKey(t)
	bad := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"guess"}}
	for range 256 {
		expectError(t, e.request("POST", "/token", bad, map[string]string{"DPoP": mallory.proof(t, e.clock.Now(), "POST", "/token", "")}), 400, "invalid_grant")
	}
	if r := alice.refreshTokens(); r.status != 200 {
		t.Fatalf("refresh after the flood: %d %s", r.status, r.raw)
	}
	if r := alice.call("GET", "/userinfo", nil); r.status != 200 {
		t.Fatalf("userinfo after the flood: %d %s", r.status, r.raw)
	}
}

// TestDPoPFloodBySignedInKeyCannotStarveOthers: a signed-in client whose
// requests succeed is held to its own key's bound once the cache is under
// pressure: it never takes more than half of it.
func TestDPoPFloodBySignedInKeyCannotStarveOthers(t *testing.T) {
	e := newEnv(t)
	alice, mallory := e.newUser("alice", true), e.newUser("mallory", true)
	alice.signUp()
	mallory.signUp()
	smallReplayCache(e)
	ok := 0
	for range 1024 {
		r := mallory.call("GET", "/userinfo", nil)
		switch {
		case r.status == 200:
			ok++
		case r.status != 401 || r.str("error") != "invalid_dpop_proof":
			t.Fatalf("flood: %d %s", r.status, r.raw)
		}
	}
	if ok > 512 || ok < 64 {
		t.Fatalf("%d of the flood's 1,024 requests admitted, want between its bound (64) and half the cache (512)", ok)
	}
	for i := range 4 {
		if r := alice.call("GET", "/userinfo", nil); r.status != 200 {
			t.Fatalf("alice's request %d after the flood: %d %s", i, r.status, r.raw)
		}
	}
}

// TestRefusedRevocationSpendsNoProof: a /revoke refused because its proof is
// not of the token's key records nothing, so a flood of such requests, each
// with a new self-made key, cannot fill the replay cache; one that revokes
// spends its proof.
func TestRefusedRevocationSpendsNoProof(t *testing.T) {
	e := newEnv(t)
	alice, mallory := e.newUser("alice", true), e.newUser("mallory", true)
	alice.signUp()
	mallory.signUp()
	smallReplayCache(e)
	for range 1100 {
		p := newDPoPKey(t).proof(t, e.clock.Now(), "POST", "/revoke", "")
		expectError(t, e.request("POST", "/revoke", url.Values{"token": {mallory.access}}, map[string]string{"DPoP": p}), 400, "invalid_dpop_proof")
	}
	if r := alice.call("GET", "/userinfo", nil); r.status != 200 {
		t.Fatalf("userinfo after a flood of refused revocations: %d %s", r.status, r.raw)
	}
	p := mallory.key.proof(t, e.clock.Now(), "POST", "/revoke", "")
	if r := e.request("POST", "/revoke", url.Values{"token": {mallory.refresh}}, map[string]string{"DPoP": p}); r.status != 200 {
		t.Fatalf("revoking with the bound key: %d %s", r.status, r.raw)
	}
	expectError(t, e.request("POST", "/revoke", url.Values{"token": {mallory.access}}, map[string]string{"DPoP": p}), 400, "invalid_dpop_proof")
}
