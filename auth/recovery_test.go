package auth

import (
	"context"
	"encoding/json"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchid/latch/webauthn/webauthntest"
)

// newCodes makes the user a new set of recovery codes.
func (u *user) newCodes(t *testing.T) []string {
	t.Helper()
	r := u.call("POST", "/me/recovery-codes", nil)
	if r.status != 200 {
		t.Fatalf("POST /me/recovery-codes: %d %s", r.status, r.raw)
	}
	var codes []string
	for _, c := range r.body["recovery_codes"].([]any) {
		codes = append(codes, c.(string))
	}
	return codes
}

// codesLeft is what GET /me/recovery-codes says is left.
func (u *user) codesLeft(t *testing.T) int {
	t.Helper()
	r := u.call("GET", "/me/recovery-codes", nil)
	if r.status != 200 {
		t.Fatalf("GET /me/recovery-codes: %d %s", r.status, r.raw)
	}
	return int(r.body["remaining"].(float64))
}

func (e *env) recoveryStart(body map[string]any) *response {
	e.t.Helper()
	return e.request("POST", "/recovery/start", body, nil)
}

// startRecovery opens a recovery session and returns its token.
func (e *env) startRecovery(t *testing.T, body map[string]any) string {
	t.Helper()
	r := e.recoveryStart(body)
	if r.status != 200 || r.str("recovery_token") == "" || r.body["expires_in"] != float64(600) {
		t.Fatalf("recovery/start: %d %s", r.status, r.raw)
	}
	return r.str("recovery_token")
}

// recoverWith registers a new passkey on a fresh authenticator in the
// recovery session of token; on success the returned user holds the new
// passkey and tokens.
func (e *env) recoverWith(t *testing.T, name, token string) (*user, *response) {
	t.Helper()
	nu := e.newUser(name, true)
	r := e.request("POST", "/recovery/register/begin", map[string]any{"recovery_token": token}, nil)
	if r.status != 200 {
		return nu, r
	}
	opts, _ := json.Marshal(r.body["publicKey"])
	cred, err := nu.authn.Create(opts, webauthntest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r = e.request("POST", "/recovery/register/finish", map[string]any{
		"recovery_token": token, "ceremony": r.str("ceremony"), "credential": json.RawMessage(cred), "name": "new phone",
	}, nu.tokenHeaders("/recovery/register/finish"))
	if r.status == 200 {
		nu.access, nu.refresh, nu.credID = r.str("access_token"), r.str("refresh_token"), r.str("credential_id")
	}
	return nu, r
}

func TestEveryAccountCanHoldRecoveryCodes(t *testing.T) {
	e := newEnv(t)
	u := e.newUser("alice", true)
	u.signUp()
	r := u.call("GET", "/me/recovery-codes", nil)
	if r.status != 200 || r.body["remaining"] != float64(0) || r.body["created_at"] != nil {
		t.Fatalf("a new account: %d %s", r.status, r.raw)
	}
	codes := u.newCodes(t)
	form := regexp.MustCompile(`^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$`)
	seen := map[string]bool{}
	for _, c := range codes {
		if !form.MatchString(c) || seen[c] {
			t.Fatalf("codes: %v", codes)
		}
		seen[c] = true
	}
	if len(codes) != 10 || u.codesLeft(t) != 10 {
		t.Fatalf("%d codes, %d left", len(codes), u.codesLeft(t))
	}
	// Hashed at rest: no code is in the store file.
	u.e.srv.Close()
	db := string(readFile(t, e.dir+"/latch.db"))
	for _, c := range codes {
		if strings.Contains(db, c) || strings.Contains(db, strings.ReplaceAll(c, "-", "")) {
			t.Fatalf("code %s stored in clear", c)
		}
	}
	e.start()
	events := auditLog(t, e, AuditFilter{})
	if lastOf(t, events, "recovery_codes_created").UserID == "" {
		t.Fatal("recovery_codes_created has no account")
	}

	// A new set replaces the old one, and needs a recent sign-in.
	newer := u.newCodes(t)
	expectError(t, e.recoveryStart(map[string]any{"username": "alice", "recovery_code": codes[0]}), 400, "invalid_code")
	e.startRecovery(t, map[string]any{"username": "alice", "recovery_code": newer[0]})
	e.clock.Advance(recentSignIn + time.Second)
	expectError(t, u.call("POST", "/me/recovery-codes", nil), 401, "insufficient_user_authentication")
	e.startRecovery(t, map[string]any{"username": "alice", "recovery_code": newer[0]})
	if u.codesLeft(t) != 10 {
		t.Fatal("a refused regeneration changed the codes")
	}
}

// TestRecoverAccountWithACode is the whole journey: the passkey is lost, a
// recovery code and a new authenticator get the person back in, every
// other session ends, the code is spent and the events are audited.
func TestRecoverAccountWithACode(t *testing.T) {
	e := newEnv(t)
	old := e.newUser("alice", true)
	old.signUp()
	codes := old.newCodes(t)
	other := e.newUser("alice", false)
	other.authn = old.authn
	if r := other.signIn("", webauthntest.Options{}); r.status != 200 {
		t.Fatalf("second session: %d %s", r.status, r.raw)
	}

	token := e.startRecovery(t, map[string]any{"username": "Alice", "recovery_code": strings.ToUpper(codes[2])})
	nu, r := e.recoverWith(t, "alice", token)
	if r.status != 200 || r.str("token_type") != "DPoP" || r.str("credential_id") == "" || r.str("refresh_token") == "" {
		t.Fatalf("recovery/register/finish: %d %s", r.status, r.raw)
	}
	claims := jwtPart(t, nu.access, 1)
	if claims["cnf"].(map[string]any)["jkt"] != nu.key.thumbprint() || !slices.Equal(toStrings(claims["amr"]), []string{"pop"}) {
		t.Fatalf("claims: %v", claims)
	}
	if r := nu.call("GET", "/userinfo", nil); r.status != 200 || r.str("username") != "alice" {
		t.Fatalf("userinfo: %d %s", r.status, r.raw)
	}
	// Every other session ended: access and refresh tokens alike.
	for _, u := range []*user{old, other} {
		expectError(t, u.call("GET", "/userinfo", nil), 401, "invalid_token")
		expectError(t, u.refreshTokens(), 400, "invalid_grant")
	}
	// The new passkey signs in; the old one is still listed, to delete.
	if r := nu.signIn("", webauthntest.Options{}); r.status != 200 {
		t.Fatalf("sign-in with the new passkey: %d %s", r.status, r.raw)
	}
	if r := nu.call("GET", "/me/credentials", nil); len(r.body) != 0 || !strings.Contains(string(r.raw), `"name":"new phone"`) || strings.Count(string(r.raw), `"id"`) != 2 {
		t.Fatalf("credentials: %s", r.raw)
	}
	// The code is spent; the token too.
	if nu.codesLeft(t) != 9 {
		t.Fatalf("%d codes left", nu.codesLeft(t))
	}
	expectError(t, e.recoveryStart(map[string]any{"username": "alice", "recovery_code": codes[2]}), 400, "invalid_code")
	_, r = e.recoverWith(t, "alice", token)
	expectError(t, r, 400, "invalid_grant")

	events := auditLog(t, e, AuditFilter{})
	if ev := lastOf(t, events, "recovery_started"); ev.Detail["method"] != "recovery_code" {
		t.Fatalf("recovery_started: %+v", ev)
	}
	ev := lastOf(t, events, "account_recovered")
	if ev.Username != "alice" || ev.Detail["method"] != "recovery_code" || ev.Detail["sessions_ended"] != "2" || ev.Detail["sid"] != claims["sid"] {
		t.Fatalf("account_recovered: %+v", ev)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}

// TestFailedRecoveryChangesNothing: a wrong code, an unknown name and an
// account without codes get the same answer, write nothing and leave the
// sessions alone.
func TestFailedRecoveryChangesNothing(t *testing.T) {
	e := newEnv(t)
	u := e.newUser("alice", true)
	u.signUp()
	codes := u.newCodes(t)
	bare := e.newUser("bob", false)
	bare.signUp()
	before := auditLog(t, e, AuditFilter{})
	var answers []string
	for _, body := range []map[string]any{
		{"username": "alice", "recovery_code": "aaaa-bbbb-cccc-dddd"},
		{"username": "nobody", "recovery_code": codes[0]},
		{"username": "bob", "recovery_code": codes[0]},
		{"username": "alice", "recovery_code": codes[0] + "x"},
	} {
		r := e.recoveryStart(body)
		expectError(t, r, 400, "invalid_code")
		answers = append(answers, string(r.raw))
	}
	for _, a := range answers[1:] {
		if a != answers[0] {
			t.Fatalf("answers differ: %q", answers)
		}
	}
	if after := auditLog(t, e, AuditFilter{}); len(after) != len(before) {
		t.Fatalf("a failed recovery wrote %d events", len(after)-len(before))
	}
	if u.codesLeft(t) != 10 {
		t.Fatal("a failed recovery spent a code")
	}
	if r := u.call("GET", "/userinfo", nil); r.status != 200 {
		t.Fatalf("session after failed recoveries: %d", r.status)
	}
	// Malformed requests.
	for _, body := range []string{
		`{"username":"alice"}`, `{"recovery_code":"x"}`, `{"username":"alice","recovery_code":"x","extra":1}`,
		`{"username":"alice","recovery_code":"x","totp_code":"1","second_recovery_code":"y"}`,
		`{"username":"alice","recovery_code":"` + strings.Repeat("a", 65) + `"}`,
	} {
		expectError(t, e.request("POST", "/recovery/start", body, nil), 400, "invalid_request")
	}
	// A failed registration in a recovery session spends neither the
	// session nor the code.
	token := e.startRecovery(t, map[string]any{"username": "alice", "recovery_code": codes[0]})
	r := e.request("POST", "/recovery/register/begin", map[string]any{"recovery_token": token}, nil)
	r = e.request("POST", "/recovery/register/finish", map[string]any{
		"recovery_token": token, "ceremony": r.str("ceremony"), "credential": map[string]any{"id": "AAAA", "type": "public-key"},
	}, nil)
	if r.status != 400 {
		t.Fatalf("bad credential: %d %s", r.status, r.raw)
	}
	if u.codesLeft(t) != 10 || u.call("GET", "/userinfo", nil).status != 200 {
		t.Fatal("a failed finish changed the account")
	}
	if _, r := e.recoverWith(t, "alice", token); r.status != 200 {
		t.Fatalf("the session after a failed finish: %d %s", r.status, r.raw)
	}
}

func TestRecoveryIsRateLimited(t *testing.T) {
	t.Run("per username, known or not", func(t *testing.T) {
		e := newEnv(t)
		u := e.newUser("alice", true)
		u.signUp()
		codes := u.newCodes(t)
		for _, name := range []string{"alice", "nobody"} {
			for range recoveryMaxFailures {
				expectError(t, e.recoveryStart(map[string]any{"username": name, "recovery_code": "aaaa-bbbb-cccc-dddd"}), 400, "invalid_code")
			}
			r := e.recoveryStart(map[string]any{"username": name, "recovery_code": "aaaa-bbbb-cccc-dddd"})
			expectError(t, r, 429, "rate_limited")
			if n, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || n < 1 {
				t.Fatalf("Retry-After = %q", r.header.Get("Retry-After"))
			}
		}
		// The right code still opens a session: nobody can lock the owner
		// out by failing for their name.
		e.startRecovery(t, map[string]any{"username": "alice", "recovery_code": codes[0]})
		e.clock.Advance(time.Minute)
		expectError(t, e.recoveryStart(map[string]any{"username": "alice", "recovery_code": "aaaa-bbbb-cccc-dddd"}), 400, "invalid_code")
	})
	t.Run("per address", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.BeginRate, c.PostRate = 10, 1 })
		for range 4 { // the burst: 4 s worth
			expectError(t, e.recoveryStart(map[string]any{"username": "x" + randomID(3), "recovery_code": "a"}), 400, "invalid_code")
		}
		expectError(t, e.recoveryStart(map[string]any{"username": "alice", "recovery_code": "a"}), 429, "rate_limited")
	})
}

func TestRecoverySessionsExpireAndWorkOnce(t *testing.T) {
	e := newEnv(t)
	u := e.newUser("alice", true)
	u.signUp()
	codes := u.newCodes(t)

	// Expiry.
	token := e.startRecovery(t, map[string]any{"username": "alice", "recovery_code": codes[0]})
	e.clock.Advance(recoveryTTL + time.Second)
	_, r := e.recoverWith(t, "alice", token)
	expectError(t, r, 400, "invalid_grant")

	// Two sessions on one code: the first to finish spends it, the other
	// is void and registers nothing.
	t1 := e.startRecovery(t, map[string]any{"username": "alice", "recovery_code": codes[0]})
	t2 := e.startRecovery(t, map[string]any{"username": "alice", "recovery_code": codes[0]})
	if _, r := e.recoverWith(t, "alice", t1); r.status != 200 {
		t.Fatalf("first: %d %s", r.status, r.raw)
	}
	nu, r := e.recoverWith(t, "alice", t2)
	expectError(t, r, 400, "invalid_grant")
	if nu.access != "" {
		t.Fatal("the void session signed in")
	}
	// A new set of codes voids a session opened with the old one.
	t3 := e.startRecovery(t, map[string]any{"username": "alice", "recovery_code": codes[1]})
	u.signIn("", webauthntest.Options{}) // ended by the recovery above
	u.newCodes(t)
	_, r = e.recoverWith(t, "alice", t3)
	expectError(t, r, 400, "invalid_grant")
	// A ceremony of one session does not finish another.
	t4 := e.startRecovery(t, map[string]any{"username": "alice", "recovery_code": u.newCodes(t)[0]})
	other := e.startRecovery(t, map[string]any{"username": "alice", "recovery_code": u.newCodes(t)[0]})
	b := e.request("POST", "/recovery/register/begin", map[string]any{"recovery_token": t4}, nil)
	opts, _ := json.Marshal(b.body["publicKey"])
	cred, _ := e.newUser("x", false).authn.Create(opts, webauthntest.Options{})
	r = e.request("POST", "/recovery/register/finish", map[string]any{
		"recovery_token": other, "ceremony": b.str("ceremony"), "credential": json.RawMessage(cred),
	}, nil)
	expectError(t, r, 400, "invalid_ceremony")
	expectError(t, e.request("POST", "/recovery/register/begin", map[string]any{"recovery_token": "nope"}, nil), 400, "invalid_grant")
	expectError(t, e.request("POST", "/recovery/register/begin", map[string]any{}, nil), 400, "invalid_request")

	// A disabled account cannot be recovered.
	codes = u.newCodes(t)
	t5 := e.startRecovery(t, map[string]any{"username": "alice", "recovery_code": codes[0]})
	code := codes[1]
	e.whileStopped(func(a *Admin) error { return a.SetDisabled(context.Background(), "alice", true) })
	_, r = e.recoverWith(t, "alice", t5)
	expectError(t, r, 403, "account_disabled")
	expectError(t, e.recoveryStart(map[string]any{"username": "alice", "recovery_code": code}), 403, "account_disabled")
}

func TestRecoveryWithTOTPNeedsTheSecondStep(t *testing.T) {
	e := newEnv(t)
	u := enrollTOTP(t, e, "alice")
	codes := u.recovery
	start := func(body map[string]any) *response {
		body["username"] = "alice"
		return e.recoveryStart(body)
	}
	// Only someone with a right first code learns that a second is needed.
	expectError(t, start(map[string]any{"recovery_code": codes[0]}), 400, "totp_required")
	expectError(t, start(map[string]any{"recovery_code": "aaaa-bbbb-cccc-dddd", "totp_code": "123456"}), 400, "invalid_code")
	// A wrong second step counts against the factor's back-off and spends
	// nothing.
	e.clock.Advance(totpPeriod * time.Second)
	for range totpMaxFailures {
		expectError(t, start(map[string]any{"recovery_code": codes[0], "totp_code": "000000"}), 400, "invalid_code")
	}
	expectError(t, start(map[string]any{"recovery_code": codes[0], "totp_code": u.code(e.clock.Now())}), 429, "rate_limited")
	if n := count(auditLog(t, e, AuditFilter{}), auditSignInFailed); n != totpMaxFailures+1 {
		t.Fatalf("%d signin_failed events", n)
	}
	e.clock.Advance(totpBaseLockout + time.Second)
	// The same code twice is not two codes.
	expectError(t, start(map[string]any{"recovery_code": codes[0], "second_recovery_code": codes[0]}), 400, "invalid_code")

	token := e.startRecovery(t, map[string]any{"username": "alice", "recovery_code": codes[0], "totp_code": u.code(e.clock.Now())})
	nu, r := e.recoverWith(t, "alice", token)
	if r.status != 200 {
		t.Fatalf("finish: %d %s", r.status, r.raw)
	}
	if amr := toStrings(jwtPart(t, nu.access, 1)["amr"]); !slices.Equal(amr, []string{"pop", "otp", "mfa"}) {
		t.Fatalf("amr %v", amr)
	}
	// The sign-in included the second step, so a step-up change works.
	if got := nu.newCodes(t); len(got) != 10 {
		t.Fatal("no new codes")
	}
	codes = nu.newCodes(t)

	// Two recovery codes instead of a TOTP code: both are spent.
	token = e.startRecovery(t, map[string]any{"username": "alice", "recovery_code": codes[0], "second_recovery_code": codes[1]})
	nu, r = e.recoverWith(t, "alice", token)
	if r.status != 200 {
		t.Fatalf("finish: %d %s", r.status, r.raw)
	}
	if nu.codesLeft(t) != 8 {
		t.Fatalf("%d codes left", nu.codesLeft(t))
	}
}

// TestTOTPUsesTheAccountsRecoveryCodes: one set per account. Turning TOTP
// on replaces it; /totp/verify spends from it; turning TOTP off keeps it.
func TestTOTPUsesTheAccountsRecoveryCodes(t *testing.T) {
	e := newEnv(t)
	u := &totpUser{user: e.newUser("alice", true)}
	u.signUp()
	early := u.newCodes(t)
	u = enrollTOTPFor(t, e, u)
	expectError(t, e.recoveryStart(map[string]any{"username": "alice", "recovery_code": early[0]}), 400, "invalid_code")
	if u.codesLeft(t) != 10 {
		t.Fatal("confirm did not make the account's set")
	}
	tok := u.mfaToken(t)
	if r := u.verify(t, map[string]any{"mfa_token": tok, "recovery_code": u.recovery[0]}); r.status != 200 {
		t.Fatalf("verify: %d %s", r.status, r.raw)
	}
	if u.codesLeft(t) != 9 {
		t.Fatal("/totp/verify did not spend from the account's set")
	}
	e.clock.Advance(totpPeriod * time.Second)
	if r := u.call("DELETE", "/totp", map[string]any{"code": u.code(e.clock.Now())}); r.status != 204 {
		t.Fatalf("delete TOTP: %d %s", r.status, r.raw)
	}
	if u.codesLeft(t) != 9 {
		t.Fatal("turning TOTP off dropped the recovery codes")
	}
	e.startRecovery(t, map[string]any{"username": "alice", "recovery_code": u.recovery[1]})
}

// recoveryLinkToken takes the token out of an operator's link.
func recoveryLinkToken(t *testing.T, link *RecoveryLink, now time.Time) string {
	t.Helper()
	u, err := url.Parse(link.URL)
	if err != nil || u.Scheme+"://"+u.Host != testIssuer || u.Path != "/recover" || u.RawQuery != "" {
		t.Fatalf("link %q: %v", link.URL, err)
	}
	frag, err := url.ParseQuery(u.Fragment)
	if err != nil || frag.Get("token") == "" {
		t.Fatalf("link fragment %q", u.Fragment)
	}
	if d := link.ExpiresAt.Sub(now); d < recoveryLinkTTL-time.Minute || d > recoveryLinkTTL+time.Minute {
		t.Fatalf("link expires in %v", d)
	}
	return frag.Get("token")
}

func TestOperatorRecoveryLink(t *testing.T) {
	t.Run("offline", func(t *testing.T) {
		e := newEnv(t)
		u := e.newUser("alice", true)
		u.signUp()
		var link, late *RecoveryLink
		e.whileStopped(func(a *Admin) error {
			var err error
			if link, err = a.IssueRecoveryLink(context.Background(), "Alice"); err != nil {
				return err
			}
			late, err = a.IssueRecoveryLink(context.Background(), "alice")
			return err
		})
		token := recoveryLinkToken(t, link, time.Now())
		nu, r := e.recoverWith(t, "alice", token)
		if r.status != 200 || !slices.Equal(toStrings(jwtPart(t, nu.access, 1)["amr"]), []string{"pop"}) {
			t.Fatalf("finish: %d %s", r.status, r.raw)
		}
		expectError(t, u.call("GET", "/userinfo", nil), 401, "invalid_token")
		_, r = e.recoverWith(t, "alice", token)
		expectError(t, r, 400, "invalid_grant")
		events := auditLog(t, e, AuditFilter{User: "alice"})
		if count(events, "recovery_link_issued") != 2 || lastOf(t, events, "account_recovered").Detail["method"] != "operator_link" {
			t.Fatalf("events: %+v", events)
		}
		// Valid for 15 minutes.
		e.clock.Advance(time.Until(late.ExpiresAt) + time.Second)
		_, r = e.recoverWith(t, "alice", recoveryLinkToken(t, late, late.ExpiresAt.Add(-recoveryLinkTTL)))
		expectError(t, r, 400, "invalid_grant")
		e.whileStopped(func(a *Admin) error {
			if _, err := a.IssueRecoveryLink(context.Background(), "nobody"); err == nil {
				t.Error("a link for an unknown user")
			}
			return nil
		})
	})
	t.Run("through the socket", func(t *testing.T) {
		e := newEnv(t, socketTest(t))
		u := e.newUser("alice", true)
		u.signUp()
		a := e.serving()
		link, err := a.IssueRecoveryLink(context.Background(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.IssueRecoveryLink(context.Background(), "nobody"); err == nil || !strings.Contains(err.Error(), "no user named") {
			t.Fatalf("unknown user: %v", err)
		}
		nu, r := e.recoverWith(t, "alice", recoveryLinkToken(t, link, e.clock.Now()))
		if r.status != 200 {
			t.Fatalf("finish: %d %s", r.status, r.raw)
		}
		// The old session ended at once, without a restart.
		expectError(t, u.call("GET", "/userinfo", nil), 401, "invalid_token")
		if nu.call("GET", "/userinfo", nil).status != 200 {
			t.Fatal("the recovered session does not work")
		}
	})
}
