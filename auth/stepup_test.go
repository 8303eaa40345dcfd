package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/latchid/latch/store"
	"github.com/latchid/latch/webauthn/webauthntest"
)

// stepUpUser is a signed-in account for the step-up tests, with TOTP on
// (and signed in with it) when totp is true.
type stepUpUser struct {
	*totpUser
	sub string
}

func newStepUpUser(t *testing.T, e *env, name string, dpop, totp bool) *stepUpUser {
	t.Helper()
	u := &stepUpUser{totpUser: &totpUser{user: e.newUser(name, dpop)}}
	u.signUp()
	u.sub = u.call("GET", "/userinfo", nil).str("sub")
	if totp {
		u.turnOnTOTP(t)
		u.signInAgain(t)
	}
	return u
}

// turnOnTOTP enrols and confirms TOTP with the current token.
func (u *stepUpUser) turnOnTOTP(t *testing.T) {
	t.Helper()
	r := u.call("POST", "/totp/enroll", nil)
	if r.status != 200 {
		t.Fatalf("enroll: %d %s", r.status, r.raw)
	}
	u.secret, _ = secretEncoding.DecodeString(r.str("secret"))
	if r := u.call("POST", "/totp/confirm", map[string]any{"code": u.code(u.e.clock.Now())}); r.status != 200 {
		t.Fatalf("confirm: %d %s", r.status, r.raw)
	}
}

// signInAgain signs in with the passkey and, when the account asks for it,
// a TOTP code; then moves to the next time step so the next code is new.
func (u *stepUpUser) signInAgain(t *testing.T) {
	t.Helper()
	u.e.clock.Advance(totpPeriod * time.Second) // codes are single-use
	r := u.signIn("", webauthntest.Options{})
	if r.str("error") == CodeMFARequired {
		r = u.verify(t, map[string]any{"mfa_token": r.str("mfa_token"), "code": u.code(u.e.clock.Now())})
	}
	if r.status != 200 {
		t.Fatalf("sign-in: %d %s", r.status, r.raw)
	}
	u.e.clock.Advance(totpPeriod * time.Second)
}

// age moves the clock until the sign-in behind the token is just older than
// recentSignIn, and refreshes, so the access token itself is new: only the
// sign-in is old.
func (u *stepUpUser) age(t *testing.T) {
	t.Helper()
	authTime := time.Unix(int64(jwtPart(t, u.access, 1)["auth_time"].(float64)), 0)
	u.e.clock.Advance(recentSignIn + time.Second - u.e.clock.Now().Sub(authTime))
	if r := u.refreshTokens(); r.status != 200 {
		t.Fatalf("refresh: %d %s", r.status, r.raw)
	}
}

func (u *stepUpUser) passkeyCount(t *testing.T) int {
	t.Helper()
	var list []any
	r := u.call("GET", "/me/credentials", nil)
	if err := json.Unmarshal(r.raw, &list); r.status != 200 || err != nil {
		t.Fatalf("list passkeys: %d %s", r.status, r.raw)
	}
	return len(list)
}

// totpState is "none", "pending" or "on", read from the store.
func (u *stepUpUser) totpState(t *testing.T) string {
	t.Helper()
	state := "none"
	err := u.e.srv.db.View(context.Background(), func(tx store.Tx) error {
		rec, err := tx.TOTP(u.sub)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return nil
		case err != nil:
			return err
		case rec.Confirmed:
			state = "on"
		default:
			state = "pending"
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return state
}

// addPasskeyBegin starts adding a passkey with the user's token and returns
// the ceremony and its options, or the refusal.
func (u *stepUpUser) addPasskeyBegin() (*response, string, []byte) {
	r := u.call("POST", "/webauthn/register/begin", map[string]any{})
	opts, _ := json.Marshal(r.body["publicKey"])
	return r, r.str("ceremony"), opts
}

// addSecondPasskey registers another passkey from a second authenticator
// and returns its credential id.
func (u *stepUpUser) addSecondPasskey(t *testing.T) string {
	t.Helper()
	r, cer, opts := u.addPasskeyBegin()
	if r.status != 200 {
		t.Fatalf("register/begin: %d %s", r.status, r.raw)
	}
	cred, err := webauthntest.New("localhost", testOrigin).Create(opts, webauthntest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r = u.call("POST", "/webauthn/register/finish", map[string]any{"ceremony": cer, "credential": json.RawMessage(cred)})
	if r.status != 200 {
		t.Fatalf("register/finish: %d %s", r.status, r.raw)
	}
	return r.str("credential_id")
}

// expectStepUp checks the RFC 9470 answer to the letter: status, error
// body with max_age (and amr_values when the second step is missing), and
// the WWW-Authenticate challenge of the request's scheme.
func expectStepUp(t *testing.T, r *response, dpop, needOTP bool) {
	t.Helper()
	expectError(t, r, 401, CodeInsufficientAuth)
	if r.body["max_age"] != float64(300) {
		t.Fatalf("body max_age: %s", r.raw)
	}
	params := fmt.Sprintf(`error="insufficient_user_authentication", error_description="%s", max_age=300`, r.str("error_description"))
	if needOTP {
		params += `, amr_values="otp"`
		if r.str("amr_values") != "otp" || !strings.Contains(r.str("error_description"), "two-step verification") {
			t.Fatalf("a refusal for the missing second step must say so: %s", r.raw)
		}
	} else if _, ok := r.body["amr_values"]; ok {
		t.Fatalf("amr_values without TOTP: %s", r.raw)
	}
	want := "Bearer " + params
	if dpop {
		want = "DPoP " + params + `, algs="ES256 EdDSA"`
	}
	if got := r.header.Values("WWW-Authenticate"); len(got) != 1 || got[0] != want {
		t.Fatalf("WWW-Authenticate = %q, want %q", got, want)
	}
}

// stepUpCase is one credential change. prepare runs on a fresh sign-in and
// returns the request (built anew on each call, with the user's current
// token) and the check that a refused request changed nothing; the
// request is then sent once with an old sign-in and once after signing
// in again.
type stepUpCase struct {
	name    string
	totp    bool // the account has TOTP on
	want    int  // the status of the accepted request
	prepare func(t *testing.T, u *stepUpUser) (send func() *response, unchanged func(t *testing.T))
}

var stepUpCases = []stepUpCase{
	{name: "add a passkey: begin", want: 200, prepare: func(t *testing.T, u *stepUpUser) (func() *response, func(*testing.T)) {
		send := func() *response { r, _, _ := u.addPasskeyBegin(); return r }
		return send, func(t *testing.T) {}
	}},
	{name: "add a passkey: finish", want: 200, prepare: func(t *testing.T, u *stepUpUser) (func() *response, func(*testing.T)) {
		// Begun while the sign-in is four minutes old (still recent),
		// finished after it has turned five.
		u.e.clock.Advance(4 * time.Minute)
		r, cer, opts := u.addPasskeyBegin()
		if r.status != 200 {
			t.Fatalf("register/begin: %d %s", r.status, r.raw)
		}
		cred, err := webauthntest.New("localhost", testOrigin).Create(opts, webauthntest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		send := func() *response {
			return u.call("POST", "/webauthn/register/finish", map[string]any{"ceremony": cer, "credential": json.RawMessage(cred)})
		}
		return send, func(t *testing.T) {
			if n := u.passkeyCount(t); n != 1 {
				t.Fatalf("a refused finish added a passkey: %d", n)
			}
		}
	}},
	{name: "delete a passkey", want: 204, prepare: func(t *testing.T, u *stepUpUser) (func() *response, func(*testing.T)) {
		id := u.addSecondPasskey(t)
		return func() *response { return u.call("DELETE", "/me/credentials/"+id, nil) }, func(t *testing.T) {
			if n := u.passkeyCount(t); n != 2 {
				t.Fatalf("a refused delete removed a passkey: %d left", n)
			}
		}
	}},
	{name: "enrol TOTP", want: 200, prepare: func(t *testing.T, u *stepUpUser) (func() *response, func(*testing.T)) {
		return func() *response { return u.call("POST", "/totp/enroll", nil) }, func(t *testing.T) {
			if s := u.totpState(t); s != "none" {
				t.Fatalf("a refused enrolment stored a secret: %s", s)
			}
		}
	}},
	{name: "confirm TOTP", want: 200, prepare: func(t *testing.T, u *stepUpUser) (func() *response, func(*testing.T)) {
		r := u.call("POST", "/totp/enroll", nil)
		if r.status != 200 {
			t.Fatalf("enroll: %d %s", r.status, r.raw)
		}
		u.secret, _ = secretEncoding.DecodeString(r.str("secret"))
		send := func() *response {
			return u.call("POST", "/totp/confirm", map[string]any{"code": u.code(u.e.clock.Now())})
		}
		return send, func(t *testing.T) {
			if s := u.totpState(t); s != "pending" {
				t.Fatalf("a refused confirmation turned TOTP on: %s", s)
			}
		}
	}},
	{name: "remove TOTP", totp: true, want: 204, prepare: func(t *testing.T, u *stepUpUser) (func() *response, func(*testing.T)) {
		send := func() *response { return u.call("DELETE", "/totp", map[string]any{"code": u.code(u.e.clock.Now())}) }
		return send, func(t *testing.T) {
			if s := u.totpState(t); s != "on" {
				t.Fatalf("a refused removal turned TOTP off: %s", s)
			}
		}
	}},
	{name: "delete the account", want: 204, prepare: func(t *testing.T, u *stepUpUser) (func() *response, func(*testing.T)) {
		return func() *response { return u.call("DELETE", "/me", nil) }, func(t *testing.T) {
			if r := u.call("GET", "/userinfo", nil); r.status != 200 {
				t.Fatalf("a refused deletion changed the account: %d %s", r.status, r.raw)
			}
		}
	}},
}

// TestCredentialChangesNeedARecentSignIn sends every credential change with
// a sign-in just over five minutes old (and a freshly refreshed token),
// with Bearer and with DPoP tokens: each is refused with RFC 9470's
// challenge and changes nothing; after signing in again the same request
// succeeds.
func TestCredentialChangesNeedARecentSignIn(t *testing.T) {
	for _, tc := range stepUpCases {
		for _, dpop := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/dpop=%v", tc.name, dpop), func(t *testing.T) {
				e := newEnv(t)
				u := newStepUpUser(t, e, "alice", dpop, tc.totp)
				send, unchanged := tc.prepare(t, u)
				u.age(t)
				expectStepUp(t, send(), dpop, false)
				unchanged(t)
				u.signInAgain(t)
				if r := send(); r.status != tc.want {
					t.Fatalf("after signing in again: %d %s", r.status, r.raw)
				}
			})
		}
	}
}

// TestCredentialChangesWithTOTPOnNeedTheSecondStep: once TOTP is on, a
// recent sign-in with the passkey alone (here the one from before TOTP was
// turned on) is not enough for any credential change; a sign-in that
// included the TOTP step is.
func TestCredentialChangesWithTOTPOnNeedTheSecondStep(t *testing.T) {
	for _, dpop := range []bool{false, true} {
		t.Run(fmt.Sprintf("dpop=%v", dpop), func(t *testing.T) {
			e := newEnv(t)
			u := newStepUpUser(t, e, "alice", dpop, false)
			second := u.addSecondPasskey(t)
			u.turnOnTOTP(t)
			e.clock.Advance(totpPeriod * time.Second)

			begin, _, _ := u.addPasskeyBegin()
			expectStepUp(t, begin, dpop, true)
			expectStepUp(t, u.call("DELETE", "/me/credentials/"+second, nil), dpop, true)
			expectStepUp(t, u.call("POST", "/totp/enroll", nil), dpop, true)
			expectStepUp(t, u.call("POST", "/totp/confirm", map[string]any{"code": u.code(e.clock.Now())}), dpop, true)
			expectStepUp(t, u.call("DELETE", "/totp", map[string]any{"code": u.code(e.clock.Now())}), dpop, true)
			expectStepUp(t, u.call("DELETE", "/me", nil), dpop, true)
			if n := u.passkeyCount(t); n != 2 || u.totpState(t) != "on" {
				t.Fatalf("refusals changed the account: %d passkeys, TOTP %s", n, u.totpState(t))
			}

			u.signInAgain(t)
			if amr := jwtPart(t, u.access, 1)["amr"].([]any); len(amr) < 2 || amr[1] != "otp" {
				t.Fatalf("amr after the second step: %v", amr)
			}
			if r, _, _ := u.addPasskeyBegin(); r.status != 200 {
				t.Fatalf("register/begin with the second step: %d %s", r.status, r.raw)
			}
			if r := u.call("DELETE", "/me/credentials/"+second, nil); r.status != 204 {
				t.Fatalf("delete a passkey with the second step: %d %s", r.status, r.raw)
			}
			if r := u.call("DELETE", "/totp", map[string]any{"code": u.code(e.clock.Now())}); r.status != 204 {
				t.Fatalf("remove TOTP with the second step: %d %s", r.status, r.raw)
			}
		})
	}
}
