package auth

import (
	"bytes"
	"encoding/base64"
	"image/png"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"

	"github.com/latchid/latch/webauthn/webauthntest"
)

// RFC 6238 Appendix B, SHA-1 column: T0 = 0, X = 30 s, 8 digits.
func TestTOTPCodeRFC6238Vectors(t *testing.T) {
	secret := []byte("12345678901234567890")
	cases := []struct {
		unix int64
		want string
	}{
		{59, "94287082"}, {1111111109, "07081804"}, {1111111111, "14050471"},
		{1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"},
	}
	for _, tc := range cases {
		if got := totpCode(secret, tc.unix/totpPeriod, otp.DigitsEight); got != tc.want {
			t.Errorf("T=%d: got %s, want %s", tc.unix, got, tc.want)
		}
	}
}

// totpUser is a signed-in user with TOTP enrolled and confirmed.
type totpUser struct {
	*user
	secret   []byte
	recovery []string
}

func (u *totpUser) code(at time.Time) string {
	return totpCode(u.secret, at.Unix()/totpPeriod, otp.DigitsSix)
}

func enrollTOTP(t *testing.T, e *env, name string) *totpUser {
	t.Helper()
	u := &totpUser{user: e.newUser(name, true)}
	u.signUp()
	return enrollTOTPFor(t, e, u)
}

// enrollTOTPFor turns TOTP on for u, signed up and signed in recently.
func enrollTOTPFor(t *testing.T, e *env, u *totpUser) *totpUser {
	t.Helper()
	name := u.name
	r := u.call("POST", "/totp/enroll", nil)
	if r.status != 200 {
		t.Fatalf("enroll: %d %s", r.status, r.raw)
	}
	uri, err := url.Parse(r.str("otpauth_uri"))
	if err != nil || uri.Scheme != "otpauth" || uri.Host != "totp" || !strings.Contains(uri.Path, name) ||
		uri.Query().Get("issuer") != "Latch" || uri.Query().Get("secret") != r.str("secret") {
		t.Fatalf("otpauth_uri: %s", r.str("otpauth_uri"))
	}
	pngData, ok := strings.CutPrefix(r.str("qr_png"), "data:image/png;base64,")
	raw, err := base64.StdEncoding.DecodeString(pngData)
	if !ok || err != nil {
		t.Fatalf("qr_png is not a PNG data URL")
	}
	if _, err := png.Decode(bytes.NewReader(raw)); err != nil {
		t.Fatalf("qr_png does not decode: %v", err)
	}
	u.secret, err = secretEncoding.DecodeString(r.str("secret"))
	if err != nil || len(u.secret) != 20 {
		t.Fatalf("secret must be 160 bits of base32: %v", err)
	}
	expectError(t, u.call("POST", "/totp/confirm", map[string]any{"code": "000000"}), 400, "invalid_code")
	r = u.call("POST", "/totp/confirm", map[string]any{"code": u.code(e.clock.Now())})
	if r.status != 200 {
		t.Fatalf("confirm: %d %s", r.status, r.raw)
	}
	for _, c := range r.body["recovery_codes"].([]any) {
		u.recovery = append(u.recovery, c.(string))
	}
	if len(u.recovery) != 10 {
		t.Fatalf("recovery codes: %v", u.recovery)
	}
	return u
}

// mfaToken signs in and expects the second-factor challenge.
func (u *totpUser) mfaToken(t *testing.T) string {
	t.Helper()
	r := u.signIn("", webauthntest.Options{})
	expectError(t, r, 401, "mfa_required")
	if r.str("mfa_token") == "" || r.body["access_token"] != nil {
		t.Fatalf("mfa_required body: %s", r.raw)
	}
	return r.str("mfa_token")
}

// failFiveTimes sends the five wrong codes that are allowed before a
// lockout, each refused as invalid_code.
func (u *totpUser) failFiveTimes(t *testing.T, mfaToken string) {
	t.Helper()
	for range 5 {
		expectError(t, u.verify(t, map[string]any{"mfa_token": mfaToken, "code": "000000"}), 400, "invalid_code")
	}
}

func (u *totpUser) verify(t *testing.T, body map[string]any) *response {
	t.Helper()
	r := u.e.request("POST", "/totp/verify", body, u.tokenHeaders("/totp/verify"))
	if r.status == 200 {
		u.access, u.refresh = r.str("access_token"), r.str("refresh_token")
	}
	return r
}

func TestTOTPSignIn(t *testing.T) {
	e := newEnv(t)
	u := enrollTOTP(t, e, "alice")

	e.clock.Advance(totpPeriod * time.Second)
	tok := u.mfaToken(t)
	expectError(t, u.verify(t, map[string]any{"mfa_token": tok, "code": "123"}), 400, "invalid_code")
	code := u.code(e.clock.Now())
	r := u.verify(t, map[string]any{"mfa_token": tok, "code": code})
	if r.status != 200 || r.str("token_type") != "DPoP" {
		t.Fatalf("verify (a wrong code first did not spend the token): %d %s", r.status, r.raw)
	}
	amr := jwtPart(t, u.access, 1)["amr"].([]any)
	if len(amr) != 3 || amr[0] != "pop" || amr[1] != "otp" || amr[2] != "mfa" {
		t.Fatalf("amr = %v", amr)
	}
	if info := u.call("GET", "/userinfo", nil); info.status != 200 || info.body["totp_enabled"] != true {
		t.Fatalf("userinfo: %d %s", info.status, info.raw)
	}
	// Confirming again, with a sign-in that included the code, is a conflict.
	expectError(t, u.call("POST", "/totp/confirm", map[string]any{"code": u.code(e.clock.Now())}), 409, "totp_already_enabled")
	expectError(t, u.verify(t, map[string]any{"mfa_token": tok, "code": code}), 400, "invalid_grant")

	// The same code, and the previous step's code, are replays.
	tok = u.mfaToken(t)
	expectError(t, u.verify(t, map[string]any{"mfa_token": tok, "code": code}), 400, "invalid_code")
	expectError(t, u.verify(t, map[string]any{"mfa_token": tok, "code": u.code(e.clock.Now().Add(-totpPeriod * time.Second))}), 400, "invalid_code")
	// The next step (clock skew) is fine.
	if r := u.verify(t, map[string]any{"mfa_token": tok, "code": u.code(e.clock.Now().Add(totpPeriod * time.Second))}); r.status != 200 {
		t.Fatalf("next-step code: %d %s", r.status, r.raw)
	}

	// mfa_token expiry.
	tok = u.mfaToken(t)
	e.clock.Advance(5*time.Minute + time.Second)
	expectError(t, u.verify(t, map[string]any{"mfa_token": tok, "code": u.code(e.clock.Now())}), 400, "invalid_grant")
	expectError(t, u.verify(t, map[string]any{"mfa_token": tok}), 400, "invalid_request")
}

func TestTOTPRecoveryCodesAreSingleUse(t *testing.T) {
	e := newEnv(t)
	u := enrollTOTP(t, e, "alice")
	tok := u.mfaToken(t)
	if r := u.verify(t, map[string]any{"mfa_token": tok, "recovery_code": strings.ToUpper(u.recovery[3])}); r.status != 200 {
		t.Fatalf("recovery code: %d %s", r.status, r.raw)
	}
	tok = u.mfaToken(t)
	expectError(t, u.verify(t, map[string]any{"mfa_token": tok, "recovery_code": u.recovery[3]}), 400, "invalid_code")
	if r := u.verify(t, map[string]any{"mfa_token": tok, "recovery_code": u.recovery[4]}); r.status != 200 {
		t.Fatalf("another recovery code: %d %s", r.status, r.raw)
	}
}

func TestTOTPLockoutAndBackoffSurviveRestart(t *testing.T) {
	e := newEnv(t)
	u := enrollTOTP(t, e, "alice")
	e.clock.Advance(totpPeriod * time.Second)
	tok := u.mfaToken(t)
	u.failFiveTimes(t, tok)
	r := u.verify(t, map[string]any{"mfa_token": tok, "code": u.code(e.clock.Now())})
	expectError(t, r, 429, "rate_limited")
	first, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || first < 1 {
		t.Fatalf("Retry-After = %q", r.header.Get("Retry-After"))
	}
	// The lockout spent the mfa_token and survives a restart.
	e.restart()
	tok2 := u.mfaToken(t)
	expectError(t, u.verify(t, map[string]any{"mfa_token": tok, "code": u.code(e.clock.Now())}), 400, "invalid_grant")
	expectError(t, u.verify(t, map[string]any{"mfa_token": tok2, "code": u.code(e.clock.Now())}), 429, "rate_limited")

	// After the back-off, five more wrong codes lock for twice as long.
	e.clock.Advance(time.Duration(first+1) * time.Second)
	tok = u.mfaToken(t)
	u.failFiveTimes(t, tok)
	tok = u.mfaToken(t)
	r = u.verify(t, map[string]any{"mfa_token": tok, "code": u.code(e.clock.Now())})
	expectError(t, r, 429, "rate_limited")
	second, _ := strconv.Atoi(r.header.Get("Retry-After"))
	if second < 2*first-2 {
		t.Fatalf("back-off did not double: %d then %d", first, second)
	}
	e.clock.Advance(time.Duration(second+1) * time.Second)
	tok = u.mfaToken(t)
	if r := u.verify(t, map[string]any{"mfa_token": tok, "code": u.code(e.clock.Now())}); r.status != 200 {
		t.Fatalf("after the lockout: %d %s", r.status, r.raw)
	}
}

func TestTOTPLockoutSpendsTheMFAToken(t *testing.T) {
	e := newEnv(t)
	u := enrollTOTP(t, e, "alice")
	e.clock.Advance(totpPeriod * time.Second)
	tok := u.mfaToken(t)
	u.failFiveTimes(t, tok)
	// Waiting the lockout out does not buy the same token five more guesses.
	e.clock.Advance(2 * time.Minute)
	expectError(t, u.verify(t, map[string]any{"mfa_token": tok, "code": u.code(e.clock.Now())}), 400, "invalid_grant")
	tok = u.mfaToken(t)
	if r := u.verify(t, map[string]any{"mfa_token": tok, "code": u.code(e.clock.Now())}); r.status != 200 {
		t.Fatalf("a fresh sign-in after the lockout: %d %s", r.status, r.raw)
	}
}

func TestTOTPDelete(t *testing.T) {
	e := newEnv(t)
	u := enrollTOTP(t, e, "alice")
	e.clock.Advance(totpPeriod * time.Second)
	tok := u.mfaToken(t)
	u.verify(t, map[string]any{"mfa_token": tok, "code": u.code(e.clock.Now())})
	expectError(t, u.call("DELETE", "/totp", map[string]any{"code": "000000"}), 400, "invalid_code")
	e.clock.Advance(totpPeriod * time.Second)
	if r := u.call("DELETE", "/totp", map[string]any{"code": u.code(e.clock.Now())}); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.raw)
	}
	if r := u.signIn("", webauthntest.Options{}); r.status != 200 {
		t.Fatalf("sign-in without TOTP: %d %s", r.status, r.raw)
	}
	if info := u.call("GET", "/userinfo", nil); info.body["totp_enabled"] != false {
		t.Fatalf("userinfo after delete: %s", info.raw)
	}
	// Enrolling again replaces a pending secret.
	first := u.call("POST", "/totp/enroll", nil).str("secret")
	second := u.call("POST", "/totp/enroll", nil).str("secret")
	if first == "" || first == second {
		t.Fatal("re-enrolment must issue a new secret")
	}
}

func TestTOTPSecretNotStoredInClear(t *testing.T) {
	e := newEnv(t)
	u := enrollTOTP(t, e, "alice")
	e.srv.Close()
	raw := readFile(t, e.dir+"/latch.db")
	for _, needle := range [][]byte{u.secret, []byte(secretEncoding.EncodeToString(u.secret)), []byte(u.recovery[0])} {
		if bytes.Contains(raw, needle) {
			t.Fatalf("store file contains a TOTP secret or recovery code in clear")
		}
	}
}
