package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/latchid/latch/store"
	"github.com/latchid/latch/tokens"
)

// A code names the session its exchange starts, and that session is its
// spent marker: the exchange writes nothing else, and a second use, even
// after the code's own record has expired, revokes it.
func TestOIDCCodeNamesItsSession(t *testing.T) {
	e := newEnv(t)
	app := e.newRP(ClientOptions{ID: "web", FirstParty: true})
	other := e.newRP(ClientOptions{ID: "other", FirstParty: true})
	alice := e.newUser("alice", true)
	b := &browser{}

	f := app.newFlow(nil)
	code := e.codeFor(app, alice, b, f)
	sid, named := tokens.CodeSession(code, e.srv.refreshKey)
	if !named {
		t.Fatalf("the code %q names no session", code)
	}
	if _, ok := tokens.RefreshSession(code, e.srv.refreshKey); ok {
		t.Fatal("a code passes for a refresh token")
	}
	// Presented as a refresh token, it is refused and revokes nothing.
	basic := map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("web:"+app.secret))}
	expectError(t, e.request("POST", "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {code}}, basic), 400, "invalid_grant")

	e.clock.Advance(30 * time.Second)
	first := app.exchange(code, f, nil, nil)
	if first.status != 200 {
		t.Fatalf("exchange: %d %s", first.status, first.raw)
	}
	if got := jwtPart(t, first.str("access_token"), 1)["sid"]; got != sid {
		t.Fatalf("the tokens live in session %v, the code named %s", got, sid)
	}
	var sess *store.Session
	e.srv.db.View(context.Background(), func(tx store.Tx) error {
		var err error
		sess, err = tx.Session(sid)
		return err
	})
	issued, _ := tokens.RefreshIssuedAt(sid)
	if sess == nil || sess.CreatedAt.UnixMilli() != issued.UnixMilli() || !sess.ExpiresAt.Equal(sess.CreatedAt.Add(e.srv.cfg.RefreshTTL)) {
		t.Fatalf("session %+v: it starts when the code was issued", sess)
	}
	// A refresh token of the session, presented as a code, is no code.
	expectError(t, app.exchange(first.str("refresh_token"), f, nil, nil), 400, "invalid_grant")
	holder := &user{e: e, access: first.str("access_token")}
	if r := holder.call("GET", "/userinfo", nil); r.status != 200 {
		t.Fatalf("the code's tokens were revoked by a code presented as a refresh token: %d", r.status)
	}
	// Another client cannot spend it again, nor revoke what it got.
	expectError(t, other.exchange(code, f, url.Values{"redirect_uri": {app.redirect}}, nil), 400, "invalid_grant")
	if r := holder.call("GET", "/userinfo", nil); r.status != 200 {
		t.Fatalf("another client's replay revoked the tokens: %d", r.status)
	}

	// Past the code's lifetime its record is gone, and its second use still
	// revokes what the first one got.
	e.clock.Advance(time.Minute)
	before := len(auditOf(t, e, "authorization_code_reuse"))
	expectError(t, app.exchange(code, f, nil, nil), 400, "invalid_grant")
	expectError(t, holder.call("GET", "/userinfo", nil), 401, "invalid_token")
	expectError(t, e.request("POST", "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.str("refresh_token")}}, basic), 400, "invalid_grant")
	if n := len(auditOf(t, e, "authorization_code_reuse")); n != before+1 {
		t.Fatalf("%d reuse events, want %d", n, before+1)
	}
	// A third use is refused; there is nothing left to revoke or audit.
	expectError(t, app.exchange(code, f, nil, nil), 400, "invalid_grant")
	if n := len(auditOf(t, e, "authorization_code_reuse")); n != before+1 {
		t.Fatalf("a third use audited again: %d events", n)
	}

	// Within its lifetime, a second use is refused and revokes too.
	f = app.newFlow(nil)
	code = e.codeFor(app, alice, b, f)
	first = app.exchange(code, f, nil, nil)
	holder = &user{e: e, access: first.str("access_token")}
	expectError(t, app.exchange(code, f, nil, nil), 400, "invalid_grant")
	expectError(t, holder.call("GET", "/userinfo", nil), 401, "invalid_token")
	expectError(t, app.exchange(code, f, nil, nil), 400, "invalid_grant")

	// A code that names a session with a forged MAC is no code.
	f = app.newFlow(nil)
	code = e.codeFor(app, alice, b, f)
	forged := code[:len(code)-2] + "AA"
	if forged == code {
		forged = code[:len(code)-2] + "BB"
	}
	expectError(t, app.exchange(forged, f, nil, nil), 400, "invalid_grant")
	if r := app.exchange(code, f, nil, nil); r.status != 200 {
		t.Fatalf("the real code after a forged one: %d %s", r.status, r.raw)
	}
}

// A code left unexchanged until it expires is refused; its sid is put on
// the blacklist while a token issued from it could be live, so a session
// swept early cannot leave one usable.
func TestOIDCExpiredCodeIsRefused(t *testing.T) {
	e := newEnv(t)
	app := e.newRP(ClientOptions{ID: "web", FirstParty: true})
	alice := e.newUser("alice", true)
	b := &browser{}
	f := app.newFlow(nil)
	code := e.codeFor(app, alice, b, f)
	sid, _ := tokens.CodeSession(code, e.srv.refreshKey)
	e.clock.Advance(61 * time.Second)
	expectError(t, app.exchange(code, f, nil, nil), 400, "invalid_grant")
	if !e.srv.revoked.has(revokedSession(sid)) {
		t.Fatal("the sid of an expired code is not on the blacklist")
	}
	if n := len(auditOf(t, e, "authorization_code_reuse")); n != 0 {
		t.Fatalf("an expired, unused code was audited as reused: %d", n)
	}
}

// Codes issued before codes named their session (kindCode) are still
// exchanged once, with a spent marker, and their reuse still revokes.
func TestOIDCCodeOfTheOlderKind(t *testing.T) {
	e := newEnv(t)
	app := e.newRP(ClientOptions{ID: "web", FirstParty: true})
	alice := e.newUser("alice", true)
	b := &browser{}
	f := app.newFlow(nil)
	// A code as the authorization endpoint issued it before.
	named := e.codeFor(app, alice, b, f)
	now := e.clock.Now()
	code, hash := tokens.NewOrderedOpaque(now)
	err := e.srv.db.Update(context.Background(), func(tx store.Tx) error {
		cer, err := tx.Ceremony(tokens.OrderedOpaqueKey(named), now)
		if err != nil {
			return err
		}
		var g codeGrant
		if err := decodeGrant(cer.Session, &g); err != nil {
			return err
		}
		g.GrantSID, g.Issued = "", time.Time{}
		body, _ := json.Marshal(g)
		return tx.PutCeremony(&store.Ceremony{ID: hash, Kind: kindCode, UserID: g.UserID, Session: body, ExpiresAt: now.Add(codeTTL)})
	})
	if err != nil {
		t.Fatal(err)
	}
	first := app.exchange(code, f, nil, nil)
	if first.status != 200 || first.str("id_token") == "" {
		t.Fatalf("exchange of an older code: %d %s", first.status, first.raw)
	}
	holder := &user{e: e, access: first.str("access_token")}
	if r := holder.call("GET", "/userinfo", nil); r.status != 200 {
		t.Fatal(r.status)
	}
	expectError(t, app.exchange(code, f, nil, nil), 400, "invalid_grant")
	expectError(t, holder.call("GET", "/userinfo", nil), 401, "invalid_token")
	if n := len(auditOf(t, e, "authorization_code_reuse")); n != 1 {
		t.Fatalf("%d reuse events", n)
	}
}

// auditOf lists the audit events of one type.
func auditOf(t *testing.T, e *env, typ string) []store.AuditEvent {
	t.Helper()
	var out []store.AuditEvent
	err := e.srv.db.View(context.Background(), func(tx store.Tx) error {
		events, err := tx.AuditEvents(1000)
		for _, ev := range events {
			if ev.Type == typ {
				out = append(out, ev)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
