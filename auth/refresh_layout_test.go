package auth

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/latchid/latch/store"
	"github.com/latchid/latch/tokens"
)

// TestASignInWritesNoRefreshTokenRecord: a session keeps its refresh
// token's state; a sign-in and its rotations write no token record, and
// the token is recognised through its session.
func TestASignInWritesNoRefreshTokenRecord(t *testing.T) {
	e := newEnv(t)
	alice := e.newUser("alice", true)
	alice.signUp()
	first := alice.refresh
	if r := alice.refreshTokens(); r.status != 200 {
		t.Fatalf("rotation: %d %s", r.status, r.raw)
	}
	sid := jwtPart(t, alice.access, 1)["sid"].(string)
	introspect := e.introspector()
	r := introspect(alice.refresh)
	if r.body["active"] != true || r.body["sid"] != sid || r.body["client_id"] != defaultClientID || r.body["scope"] != defaultScope ||
		r.body["iat"] != float64(e.clock.Now().Unix()) || r.body["token_type"] != "DPoP" {
		t.Fatalf("introspect the current token: %s", r.raw)
	}
	if r := introspect(first); r.body["active"] != false {
		t.Fatalf("introspect a rotated token: %s", r.raw)
	}
	mustViewDB(t, e, func(tx store.Tx) error {
		for _, tok := range []string{first, alice.refresh} {
			if _, err := tx.RefreshToken(tokens.OrderedOpaqueKey(tok)); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("a token record was written: %v", err)
			}
		}
		sess, err := tx.Session(sid)
		if err != nil {
			return err
		}
		if string(sess.Refresh) != string(tokens.RefreshDigest(alice.refresh)) || sess.ClientID != defaultClientID || sess.Scope != defaultScope {
			t.Errorf("the session does not hold its current token: %+v", sess)
		}
		return nil
	})
}

// TestRefreshTokensKeptAsRecordsStillWork: a session started before
// sessions kept their token's state has its token as a record of its own,
// as that version wrote it. The token still refreshes; its rotation moves
// the family into the session; the old token, presented again, is reuse
// and ends the session. A session whose id predates time-ordered ids,
// which a token cannot name, keeps rotating through records, with reuse
// detection.
func TestRefreshTokensKeptAsRecordsStillWork(t *testing.T) {
	e := newEnv(t)
	alice := e.newUser("alice", true)
	alice.signUp()
	sid := jwtPart(t, alice.access, 1)["sid"].(string)
	// The layout before: a session without token state, a token record.
	var legacy string
	mustUpdateDB(t, e, func(tx store.Tx) error {
		sess, err := tx.Session(sid)
		if err != nil {
			return err
		}
		sess.Refresh, sess.ClientID, sess.Scope = nil, "", ""
		if err := tx.PutSession(sess); err != nil {
			return err
		}
		var hash string
		legacy, hash = tokens.NewSessionRefresh(e.clock.Now(), sid, e.srv.refreshKey)
		return tx.PutRefreshToken(&store.RefreshToken{
			Hash: hash, SessionID: sid, UserID: sess.UserID, ClientID: defaultClientID, Scope: defaultScope,
			JKT: sess.JKT, IssuedAt: sess.CreatedAt, ExpiresAt: sess.ExpiresAt,
		})
	})
	introspect := e.introspector()
	if r := introspect(legacy); r.body["active"] != true || r.body["sid"] != sid {
		t.Fatalf("introspect the token record: %s", r.raw)
	}
	alice.refresh = legacy
	if r := alice.refreshTokens(); r.status != 200 {
		t.Fatalf("refresh with a token record: %d %s", r.status, r.raw)
	}
	if r := alice.refreshTokens(); r.status != 200 {
		t.Fatalf("refresh after the move into the session: %d %s", r.status, r.raw)
	}
	mustViewDB(t, e, func(tx store.Tx) error {
		rt, err := tx.RefreshToken(tokens.OrderedOpaqueKey(legacy))
		if err != nil || rt.RotatedAt.IsZero() {
			t.Errorf("the old token record is not kept rotated: %+v %v", rt, err)
		}
		sess, err := tx.Session(sid)
		if err == nil && string(sess.Refresh) != string(tokens.RefreshDigest(alice.refresh)) {
			t.Errorf("the session does not hold the current token")
		}
		return err
	})
	current := alice.refresh
	alice.refresh = legacy
	expectError(t, alice.refreshTokens(), 400, "invalid_grant")
	alice.refresh = current
	expectError(t, alice.refreshTokens(), 400, "invalid_grant")
	if got := count(auditLog(t, e, AuditFilter{}), "refresh_token_reuse"); got != 1 {
		t.Fatalf("%d refresh_token_reuse events, want 1", got)
	}

	// A session id from before time-ordered ids.
	bob := e.newUser("bob", true)
	bob.signUp()
	old := "an-id-from-before-ordered-ids"
	mustUpdateDB(t, e, func(tx store.Tx) error {
		sess, err := tx.Session(jwtPart(t, bob.access, 1)["sid"].(string))
		if err != nil {
			return err
		}
		sess.ID, sess.Refresh, sess.ClientID, sess.Scope = old, nil, "", ""
		if err := tx.PutSession(sess); err != nil {
			return err
		}
		var hash string
		bob.refresh, hash = tokens.NewOrderedOpaque(e.clock.Now())
		return tx.PutRefreshToken(&store.RefreshToken{
			Hash: hash, SessionID: old, UserID: sess.UserID, ClientID: defaultClientID, Scope: defaultScope,
			JKT: sess.JKT, IssuedAt: sess.CreatedAt, ExpiresAt: sess.ExpiresAt,
		})
	})
	first := bob.refresh
	for range 2 {
		if r := bob.refreshTokens(); r.status != 200 {
			t.Fatalf("refresh of a session with an unordered id: %d %s", r.status, r.raw)
		}
	}
	previous := bob.refresh
	if r := bob.refreshTokens(); r.status != 200 {
		t.Fatalf("refresh of a session with an unordered id: %d %s", r.status, r.raw)
	}
	current = bob.refresh
	bob.refresh = previous
	expectError(t, bob.refreshTokens(), 400, "invalid_grant")
	bob.refresh = current
	expectError(t, bob.refreshTokens(), 400, "invalid_grant")
	bob.refresh = first
	expectError(t, bob.refreshTokens(), 400, "invalid_grant")
}

func mustViewDB(t *testing.T, e *env, fn func(tx store.Tx) error) {
	t.Helper()
	if err := e.srv.db.View(t.Context(), fn); err != nil {
		t.Fatal(err)
	}
}

func mustUpdateDB(t *testing.T, e *env, fn func(tx store.Tx) error) {
	t.Helper()
	if err := e.srv.db.Update(t.Context(), fn); err != nil {
		t.Fatal(err)
	}
}

// TestRevokingARotatedRefreshTokenEndsItsSession: /revoke with a token of
// a session that was rotated since ends the session, as its current token
// does; a token naming a session without the server's MAC ends nothing.
func TestRevokingARotatedRefreshTokenEndsItsSession(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.newUser("alice", false), e.newUser("bob", false)
	alice.signUp()
	bob.signUp()
	old := alice.refresh
	for range 2 {
		if r := alice.refreshTokens(); r.status != 200 {
			t.Fatalf("rotation: %d %s", r.status, r.raw)
		}
	}
	aliceSID := jwtPart(t, alice.access, 1)["sid"].(string)
	bobSID := jwtPart(t, bob.access, 1)["sid"].(string)
	forged := strings.Replace(old, aliceSID, bobSID, 1)
	for _, tok := range []string{forged, old} {
		if r := e.request("POST", "/revoke", url.Values{"token": {tok}}, nil); r.status != 200 {
			t.Fatalf("revoke: %d %s", r.status, r.raw)
		}
	}
	expectError(t, alice.refreshTokens(), 400, "invalid_grant")
	expectError(t, alice.call("GET", "/userinfo", nil), 401, "invalid_token")
	if r := bob.refreshTokens(); r.status != 200 {
		t.Fatalf("a forged session name ended bob's session: %d %s", r.status, r.raw)
	}
}
