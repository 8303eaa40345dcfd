package auth

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/latchid/latch/webauthn/webauthntest"
)

// auditLog returns the whole audit log, oldest first.
func auditLog(t *testing.T, e *env, f AuditFilter) []AuditEntry {
	t.Helper()
	var out []AuditEntry
	err := auditEntries(context.Background(), e.srv.db, f, func(a *AuditEntry) error {
		out = append(out, *a)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// lastOf returns the last event of type typ.
func lastOf(t *testing.T, events []AuditEntry, typ string) AuditEntry {
	t.Helper()
	for i := len(events) - 1; i >= 0; i-- {
		if events[i].Type == typ {
			return events[i]
		}
	}
	t.Fatalf("no %s event in %+v", typ, events)
	return AuditEntry{}
}

func count(events []AuditEntry, typ string) int {
	n := 0
	for _, e := range events {
		if e.Type == typ {
			n++
		}
	}
	return n
}

func TestSignInsAreAudited(t *testing.T) {
	e := newEnv(t)
	alice := e.newUser("alice", true)
	alice.signUp()
	sub := jwtPart(t, alice.access, 1)["sub"].(string)

	if r := alice.signIn("", webauthntest.Options{}); r.status != 200 {
		t.Fatalf("sign-in: %d %s", r.status, r.raw)
	}
	ev := lastOf(t, auditLog(t, e, AuditFilter{}), "signin")
	if ev.UserID != sub || ev.Username != "alice" || ev.Detail["amr"] != "pop" || ev.Detail["sid"] != jwtPart(t, alice.access, 1)["sid"] {
		t.Fatalf("signin event: %+v", ev)
	}

	// A passkey that does not verify, for a known account: recorded.
	expectError(t, alice.signIn("", webauthntest.Options{TamperClientData: true}), 400, "invalid_credential")
	ev = lastOf(t, auditLog(t, e, AuditFilter{}), "signin_failed")
	if ev.UserID != sub || ev.Detail["factor"] != "passkey" || ev.Detail["reason"] != "passkey not verified" {
		t.Fatalf("signin_failed event: %+v", ev)
	}

	// A disabled account's sign-in: recorded as refused.
	if err := e.srv.SetDisabled(t.Context(), "alice", true); err != nil {
		t.Fatal(err)
	}
	expectError(t, alice.signIn("", webauthntest.Options{}), 403, "account_disabled")
	if ev := lastOf(t, auditLog(t, e, AuditFilter{}), "signin_failed"); ev.Detail["reason"] != "account disabled" {
		t.Fatalf("disabled sign-in: %+v", ev)
	}

	// A credential of no account: counted, not written one by one.
	before := len(auditLog(t, e, AuditFilter{}))
	stranger := e.newUser("stranger", true)
	stranger.signUp()
	before++ // its signup
	if err := e.srv.DeleteUser(t.Context(), jwtPart(t, stranger.access, 1)["sub"].(string)); err != nil {
		t.Fatal(err)
	}
	before++ // its deletion
	for range 3 {
		expectError(t, stranger.signIn("", webauthntest.Options{}), 400, "invalid_credential")
	}
	if got := len(auditLog(t, e, AuditFilter{})); got != before {
		t.Fatalf("unknown credentials wrote %d events", got-before)
	}
	if err := e.srv.flushFailures(t.Context()); err != nil {
		t.Fatal(err)
	}
	events := auditLog(t, e, AuditFilter{})
	ev = lastOf(t, events, "signin_failures")
	if ev.Detail["unknown_credential"] != "3" || ev.Detail["over_budget"] != "0" || ev.UserID != "" {
		t.Fatalf("signin_failures: %+v", ev)
	}
	if err := e.srv.flushFailures(t.Context()); err != nil || len(auditLog(t, e, AuditFilter{})) != len(events) {
		t.Fatalf("a flush with nothing counted wrote an event: %v", err)
	}
	if r, err := verifyAudit(t.Context(), e.srv.db); err != nil || r.Problem != "" || r.Events != len(events) {
		t.Fatalf("verify: %+v %v", r, err)
	}
}

func TestTOTPSignInsAreAudited(t *testing.T) {
	e := newEnv(t)
	u := enrollTOTP(t, e, "alice")
	e.clock.Advance(totpPeriod * time.Second)
	tok := u.mfaToken(t)
	if n := count(auditLog(t, e, AuditFilter{}), "signin"); n != 0 {
		t.Fatalf("a sign-in waiting for its second factor was recorded as done (%d)", n)
	}
	expectError(t, u.verify(t, map[string]any{"mfa_token": tok, "code": "000000"}), 400, "invalid_code")
	expectError(t, u.verify(t, map[string]any{"mfa_token": tok, "recovery_code": "aaaa-bbbb-cccc-dddd"}), 400, "invalid_code")
	r := u.verify(t, map[string]any{"mfa_token": tok, "code": u.code(e.clock.Now())})
	if r.status != 200 {
		t.Fatalf("verify: %d %s", r.status, r.raw)
	}
	events := auditLog(t, e, AuditFilter{User: "alice"})
	var failed []string
	for _, ev := range events {
		if ev.Type == "signin_failed" {
			failed = append(failed, ev.Detail["factor"]+": "+ev.Detail["reason"])
		}
	}
	if strings.Join(failed, ", ") != "totp: wrong code, recovery_code: wrong recovery code" {
		t.Fatalf("failed second factors: %v", failed)
	}
	if ev := lastOf(t, events, "signin"); ev.Detail["amr"] != "pop otp mfa" {
		t.Fatalf("signin: %+v", ev)
	}
	// Never a secret: no token, code or TOTP seed in any event.
	secrets := append([]string{tok, u.access, u.refresh, string(u.secret), secretEncoding.EncodeToString(u.secret)}, u.recovery...)
	for _, ev := range auditLog(t, e, AuditFilter{}) {
		for k, v := range ev.Detail {
			for _, s := range secrets {
				if strings.Contains(v, s) || strings.Contains(k, s) {
					t.Fatalf("event %d carries a secret in %s", ev.Seq, k)
				}
			}
		}
	}
	// Five wrong codes lock the factor; the lockout is recorded too.
	e.clock.Advance(totpPeriod * time.Second)
	u.failFiveTimes(t, u.mfaToken(t))
	events = auditLog(t, e, AuditFilter{User: "alice"})
	if ev := lastOf(t, events, "signin_failed"); ev.Detail["reason"] != "wrong code; the factor is now locked after repeated failures" {
		t.Fatalf("lockout: %+v", ev)
	}
	// A sign-in during the lockout is refused, and recorded as such.
	tok = u.mfaToken(t)
	expectError(t, u.verify(t, map[string]any{"mfa_token": tok, "code": u.code(e.clock.Now())}), 429, "rate_limited")
	if ev := lastOf(t, auditLog(t, e, AuditFilter{}), "signin_failed"); ev.Detail["reason"] != "refused: the factor is locked after repeated failures" {
		t.Fatalf("during the lockout: %+v", ev)
	}
}

// TestFailedSignInsAreBudgeted checks the bound on what failed passkey
// finishes for known accounts write: past the budget they are counted,
// and the budget refills with time.
func TestFailedSignInsAreBudgeted(t *testing.T) {
	e := newEnv(t)
	alice := e.newUser("alice", true)
	alice.signUp()
	fail := func() {
		expectError(t, alice.signIn("", webauthntest.Options{TamperClientData: true}), 400, "invalid_credential")
	}
	written := func() int { return count(auditLog(t, e, AuditFilter{}), "signin_failed") }

	e.srv.failures.used, e.srv.failures.last = failureBurst-1, e.clock.Now()
	fail()
	fail()
	if got := written(); got != 1 {
		t.Fatalf("%d failures written with one left in the budget", got)
	}
	e.clock.Advance(2 * failureRefill)
	fail()
	fail()
	fail()
	if got := written(); got != 3 {
		t.Fatalf("%d failures written after the budget refilled by two, want 3", got)
	}
	if err := e.srv.flushFailures(t.Context()); err != nil {
		t.Fatal(err)
	}
	if ev := lastOf(t, auditLog(t, e, AuditFilter{}), "signin_failures"); ev.Detail["over_budget"] != "2" || ev.Detail["unknown_credential"] != "0" {
		t.Fatalf("signin_failures: %+v", ev)
	}
}

// TestAuditListAndVerify reads the log through the running server's
// socket and, stopped, from the store itself, with the same filters.
func TestAuditListAndVerify(t *testing.T) {
	e := newEnv(t, socketTest(t))
	alice := e.newUser("alice", true)
	alice.signUp()
	bob := e.newUser("bob", true)
	bob.signUp()
	e.clock.Advance(time.Hour)
	mid := e.clock.Now()
	alice.signIn("", webauthntest.Options{})
	bob.signIn("", webauthntest.Options{})
	aliceID := jwtPart(t, alice.access, 1)["sub"].(string)
	a := e.serving()

	type lister interface {
		Audit(context.Context, AuditFilter, func(*AuditEntry) error) error
		VerifyAudit(context.Context) (AuditReport, error)
	}
	check := func(how string, l lister) {
		list := func(f AuditFilter) []string {
			var out []string
			if err := l.Audit(t.Context(), f, func(e *AuditEntry) error {
				out = append(out, e.Type+":"+e.Username)
				return nil
			}); err != nil {
				t.Fatalf("%s: %v", how, err)
			}
			return out
		}
		cases := []struct {
			f    AuditFilter
			want string
		}{
			{AuditFilter{}, "signup:alice signup:bob signin:alice signin:bob"},
			{AuditFilter{User: "ALICE"}, "signup:alice signin:alice"},
			{AuditFilter{User: aliceID}, "signup:alice signin:alice"},
			{AuditFilter{Since: mid}, "signin:alice signin:bob"},
			{AuditFilter{User: "bob", Since: mid}, "signin:bob"},
			{AuditFilter{User: "nobody"}, ""},
		}
		for _, tc := range cases {
			if got := strings.Join(list(tc.f), " "); got != tc.want {
				t.Errorf("%s: %+v: %q, want %q", how, tc.f, got, tc.want)
			}
		}
		r, err := l.VerifyAudit(t.Context())
		if err != nil || r.Problem != "" || r.Events != 4 || r.Head != 4 || len(r.HeadMAC) != 64 {
			t.Errorf("%s: verify: %+v %v", how, r, err)
		}
	}
	check("through the socket", a)
	e.whileStopped(func(adm *Admin) error {
		check("offline", adm)
		return nil
	})
}

// TestAuditListCutShortIsAnError checks the client side of the socket's
// listing: events are handed on as they come, and a listing that stops
// before its end mark is an error, never a shorter log.
func TestAuditListCutShortIsAnError(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		events     int
		ok         bool
	}{
		{"whole", `{"event":{"Seq":1,"Type":"signin"}}` + "\n" + `{"end":true}` + "\n", 1, true},
		{"cut short", `{"event":{"Seq":1,"Type":"signin"}}` + "\n" + `{"event":{"Seq":2,"Ty`, 1, false},
		{"no end mark", `{"event":{"Seq":1,"Type":"signin"}}` + "\n", 1, false},
		{"a line that is neither", `{}` + "\n", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/x-ndjson")
				io.WriteString(w, tc.body)
			}))
			defer ts.Close()
			a := &AdminClient{http: &http.Client{Transport: &http.Transport{
				DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
					var d net.Dialer
					return d.DialContext(ctx, "tcp", ts.Listener.Addr().String())
				},
			}}}
			defer a.Close()
			n := 0
			err := a.Audit(t.Context(), AuditFilter{}, func(*AuditEntry) error { n++; return nil })
			if (err == nil) != tc.ok || n != tc.events {
				t.Fatalf("err = %v after %d events", err, n)
			}
		})
	}
}
