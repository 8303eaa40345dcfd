package webauthn

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/latchid/latch/webauthn/webauthntest"
)

// TestBeginRegistrationOptions checks the creation options against the
// contract in API.md: the fields a browser's parseCreationOptionsFromJSON
// needs, base64url without padding, and our policy choices.
func TestBeginRegistrationOptions(t *testing.T) {
	rp := newTestRP(t, nil)
	alice := newUser(t, "alice")
	existing := Credential{ID: []byte("existing-credential"), Transports: []string{"usb", "bogus", "usb"}}
	options, session, err := rp.BeginRegistration(alice, []Credential{existing})
	if err != nil {
		t.Fatal(err)
	}
	if len(session) == 0 {
		t.Fatal("empty session")
	}
	var got struct {
		RP        struct{ ID, Name string }
		User      struct{ ID, Name, DisplayName string }
		Challenge string
		Params    []struct {
			Type string
			Alg  int
		} `json:"pubKeyCredParams"`
		Timeout int
		Exclude []struct {
			Type, ID   string
			Transports []string
		} `json:"excludeCredentials"`
		Selection struct {
			ResidentKey        string
			RequireResidentKey *bool
			UserVerification   string
		} `json:"authenticatorSelection"`
		Attestation string
	}
	if err := json.Unmarshal(options, &got); err != nil {
		t.Fatalf("options are not JSON: %v\n%s", err, options)
	}
	challenge, err := base64.RawURLEncoding.DecodeString(got.Challenge)
	checks := []struct {
		name string
		ok   bool
	}{
		{"rp id and name are the configured ones", got.RP.ID == testRPID && got.RP.Name == "Latch"},
		{"user id is the handle in unpadded base64url", got.User.ID == base64.RawURLEncoding.EncodeToString(alice.Handle)},
		{"user name and display name are passed", got.User.Name == "alice" && got.User.DisplayName == "alice"},
		{"challenge is 32 random bytes in unpadded base64url", err == nil && len(challenge) == 32},
		{"algorithms are ES256, EdDSA, RS256", len(got.Params) == 3 && got.Params[0].Alg == -7 && got.Params[1].Alg == -8 && got.Params[2].Alg == -257 && got.Params[0].Type == "public-key"},
		{"timeout is the default five minutes", got.Timeout == 300000},
		{"exclude list carries the credential and its known transports once", len(got.Exclude) == 1 && got.Exclude[0].Type == "public-key" && got.Exclude[0].ID == base64.RawURLEncoding.EncodeToString(existing.ID) && len(got.Exclude[0].Transports) == 1 && got.Exclude[0].Transports[0] == "usb"},
		{"resident key is required", got.Selection.ResidentKey == "required" && got.Selection.RequireResidentKey != nil && *got.Selection.RequireResidentKey},
		{"user verification is required", got.Selection.UserVerification == "required"},
		{"attestation is none", got.Attestation == "none"},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: options %s", c.name, options)
		}
	}
}

// TestBeginRegistrationRejectsBadInput covers caller mistakes that must not
// produce options.
func TestBeginRegistrationRejectsBadInput(t *testing.T) {
	rp := newTestRP(t, nil)
	cases := []struct {
		name    string
		user    User
		exclude []Credential
	}{
		{"empty user handle", User{Name: "a"}, nil},
		{"user handle over 64 bytes", User{Handle: make([]byte, 65), Name: "a"}, nil},
		{"missing user name", User{Handle: []byte{1}}, nil},
		{"exclude entry without an ID", User{Handle: []byte{1}, Name: "a"}, []Credential{{}}},
		{"exclude entry with an oversized ID", User{Handle: []byte{1}, Name: "a"}, []Credential{{ID: make([]byte, 1024)}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, _, err := rp.BeginRegistration(c.user, c.exclude); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// TestExcludedAuthenticatorRefusesSecondPasskey shows the exclude list
// reaches the authenticator, which then refuses to register again.
func TestExcludedAuthenticatorRefusesSecondPasskey(t *testing.T) {
	rp := newTestRP(t, nil)
	auth := webauthntest.New(testRPID, testOrigin)
	alice := newUser(t, "alice")
	cred := register(t, rp, auth, alice)
	options, _, err := rp.BeginRegistration(alice, []Credential{cred})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Create(options, webauthntest.Options{}); err == nil {
		t.Fatal("authenticator created a second credential despite excludeCredentials")
	}
}

// TestFinishRegistrationFailures runs one dishonest or broken response per
// case and checks the reason reported.
func TestFinishRegistrationFailures(t *testing.T) {
	rp := newTestRP(t, nil)
	alice := newUser(t, "alice")
	bob := newUser(t, "bob")

	cases := []struct {
		name   string
		o      webauthntest.Options
		finish func(options, session []byte, resp []byte) (*Credential, error)
		reason string
	}{
		{name: "tampered clientDataJSON breaks the attestation signature", o: webauthntest.Options{TamperClientData: true}, reason: "signature did not verify"},
		{name: "wrong origin is rejected", o: webauthntest.Options{Origin: "https://evil.example"}, reason: "origin not allowed"},
		{name: "another RP ID hash is rejected", o: webauthntest.Options{RPID: "example.com"}, reason: "RP ID hash does not match"},
		{name: "missing UV flag is rejected when UV is required", o: webauthntest.Options{NoUserVerified: true}, reason: "user verification required"},
		{name: "missing UP flag is rejected", o: webauthntest.Options{NoUserPresent: true}, reason: "user presence required"},
		{name: "backup state without backup eligibility is rejected", o: webauthntest.Options{BackupState: true}, reason: "inconsistent backup flags"},
		{
			name: "response to another session has the wrong challenge",
			finish: func(_, _ []byte, resp []byte) (*Credential, error) {
				_, other, err := rp.BeginRegistration(alice, nil)
				if err != nil {
					t.Fatal(err)
				}
				return rp.FinishRegistration(alice, other, resp)
			},
			reason: "challenge does not match the ceremony",
		},
		{
			name: "session of another user is rejected",
			finish: func(_, session []byte, resp []byte) (*Credential, error) {
				return rp.FinishRegistration(bob, session, resp)
			},
			reason: "user handle does not match",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			auth := webauthntest.New(testRPID, testOrigin)
			options, session, err := rp.BeginRegistration(alice, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := auth.Create(options, c.o)
			if err != nil {
				t.Fatal(err)
			}
			var cred *Credential
			if c.finish != nil {
				cred, err = c.finish(options, session, resp)
			} else {
				cred, err = rp.FinishRegistration(alice, session, resp)
			}
			assertReason(t, cred, err, c.reason)
		})
	}
}

// assertReason checks err is a verification error with the given reason.
func assertReason(t *testing.T, cred *Credential, err error, reason string) {
	t.Helper()
	if cred != nil || err == nil {
		t.Fatalf("accepted (cred %v, err %v)", cred, err)
	}
	if !errors.Is(err, ErrInvalidCredential) {
		t.Fatalf("error %v does not wrap ErrInvalidCredential", err)
	}
	var ve *VerificationError
	if !errors.As(err, &ve) || ve.Reason != reason {
		t.Fatalf("error %q, want reason %q", err, reason)
	}
}

// TestFinishRegistrationUVPolicy shows the UV flag is only demanded when the
// configuration asks for it.
func TestFinishRegistrationUVPolicy(t *testing.T) {
	for _, c := range []struct {
		name   string
		uv     string
		accept bool
	}{
		{"no UV is refused under required", UserVerificationRequired, false},
		{"no UV is accepted under preferred", UserVerificationPreferred, true},
		{"no UV is accepted under discouraged", UserVerificationDiscouraged, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			rp := newTestRP(t, func(cfg *Config) { cfg.UserVerification = c.uv })
			alice := newUser(t, "alice")
			options, session, err := rp.BeginRegistration(alice, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := webauthntest.New(testRPID, testOrigin).Create(options, webauthntest.Options{NoUserVerified: true})
			if err != nil {
				t.Fatal(err)
			}
			_, err = rp.FinishRegistration(alice, session, resp)
			if (err == nil) != c.accept {
				t.Fatalf("err = %v, accept = %v", err, c.accept)
			}
		})
	}
}

// TestFinishRegistrationSessionChecks covers sessions that are expired or
// not registration sessions.
func TestFinishRegistrationSessionChecks(t *testing.T) {
	rp := newTestRP(t, func(cfg *Config) { cfg.Timeout = 20 * time.Millisecond })
	alice := newUser(t, "alice")
	auth := webauthntest.New(testRPID, testOrigin)

	t.Run("expired session is ErrExpired", func(t *testing.T) {
		options, session, err := rp.BeginRegistration(alice, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := auth.Create(options, webauthntest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Millisecond)
		if _, err := rp.FinishRegistration(alice, session, resp); !errors.Is(err, ErrExpired) {
			t.Fatalf("err = %v, want ErrExpired", err)
		}
	})
	t.Run("login session cannot finish a registration", func(t *testing.T) {
		_, session, err := rp.BeginLogin(nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rp.FinishRegistration(alice, session, []byte(`{}`)); !errors.Is(err, ErrInvalidSession) {
			t.Fatalf("err = %v, want ErrInvalidSession", err)
		}
	})
}

// TestFinishRegistrationRecord checks the returned credential mirrors what the
// authenticator reported.
func TestFinishRegistrationRecord(t *testing.T) {
	rp := newTestRP(t, nil)
	alice := newUser(t, "alice")
	options, session, err := rp.BeginRegistration(alice, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := webauthntest.New(testRPID, testOrigin).Create(options, webauthntest.Options{
		BackupEligible: true, BackupState: true, Counter: ptr(uint32(7)),
	})
	if err != nil {
		t.Fatal(err)
	}
	cred, err := rp.FinishRegistration(alice, session, resp)
	if err != nil {
		t.Fatal(err)
	}
	if !cred.BackupEligible || !cred.BackupState || cred.SignCount != 7 {
		t.Fatalf("credential %+v does not carry BE, BS and counter 7", cred)
	}
	rec, err := decodeRecord(*cred)
	if err != nil {
		t.Fatalf("record does not decode: %v", err)
	}
	if rec.Authenticator.SignCount != 7 || !rec.Flags.BackupEligible || !rec.Flags.UserVerified {
		t.Fatalf("record %+v", rec)
	}
}

// TestConditionalRegistrationAcceptsAPasskeyMadeWithoutPresence: a
// passkey the browser created without a prompt (conditional create) may
// come without the UP flag; its ceremony accepts that, still requires UV
// where it is configured, and a ceremony begun as an ordinary one does
// not accept it.
func TestConditionalRegistrationAcceptsAPasskeyMadeWithoutPresence(t *testing.T) {
	rp := newTestRP(t, nil)
	alice := newUser(t, "alice")
	finish := func(begin func(User, []Credential) (json.RawMessage, []byte, error), o webauthntest.Options) (*Credential, error) {
		options, session, err := begin(alice, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := webauthntest.New(testRPID, testOrigin).Create(options, o)
		if err != nil {
			t.Fatal(err)
		}
		return rp.FinishRegistration(alice, session, resp)
	}
	if cred, err := finish(rp.BeginConditionalRegistration, webauthntest.Options{NoUserPresent: true}); err != nil || cred == nil {
		t.Fatalf("a conditional ceremony refused a passkey without UP: %v", err)
	}
	cred, err := finish(rp.BeginConditionalRegistration, webauthntest.Options{NoUserPresent: true, NoUserVerified: true})
	assertReason(t, cred, err, "user verification required")
	cred, err = finish(rp.BeginRegistration, webauthntest.Options{NoUserPresent: true})
	assertReason(t, cred, err, "user presence required")
}
