package webauthn

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/latchid/latch/webauthn/webauthntest"
)

// TestDecodeSession checks that only session bytes this package wrote, for
// the right ceremony and in time, are accepted.
func TestDecodeSession(t *testing.T) {
	rp := newTestRP(t, nil)
	_, session, err := rp.BeginLogin(nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	good := string(session)
	cases := []struct {
		name  string
		kind  string
		input string
		now   time.Time
		want  error
	}{
		{"fresh session of the right kind is accepted", kindLogin, good, now, nil},
		{"session of the other kind is refused", kindRegistration, good, now, ErrInvalidSession},
		{"session past its expiry is ErrExpired", kindLogin, good, now.Add(DefaultTimeout + time.Second), ErrExpired},
		{"empty bytes are refused", kindLogin, "", now, ErrInvalidSession},
		{"trailing data is refused", kindLogin, good + "{}", now, ErrInvalidSession},
		{"unknown member is refused", kindLogin, strings.Replace(good, `{"kind"`, `{"extra":1,"kind"`, 1), now, ErrInvalidSession},
		{"missing expiry is refused", kindLogin, `{"kind":"login","data":{"challenge":"AAAAAAAAAAAAAAAAAAAAAA","expires":"0001-01-01T00:00:00Z"}}`, now, ErrInvalidSession},
		{"missing challenge is refused", kindLogin, `{"kind":"login","data":{"challenge":"","expires":"2999-01-01T00:00:00Z"}}`, now, ErrInvalidSession},
		{"oversized bytes are refused", kindLogin, strings.Repeat(" ", maxSessionSize+1), now, ErrInvalidSession},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := decodeSession(c.kind, []byte(c.input), c.now)
			if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}

// TestUVCheckedAgainstConfig shows that a session edited to relax user
// verification does not relax it: the RP checks the UV flag against its own
// configuration too.
func TestUVCheckedAgainstConfig(t *testing.T) {
	rp := newTestRP(t, nil)
	alice := newUser(t, "alice")
	relax := func(session []byte) []byte {
		return []byte(strings.Replace(string(session), `"userVerification":"required"`, `"userVerification":"discouraged"`, 1))
	}
	t.Run("registration", func(t *testing.T) {
		options, session, err := rp.BeginRegistration(alice, nil)
		if err != nil {
			t.Fatal(err)
		}
		relaxed := relax(session)
		if string(relaxed) == string(session) {
			t.Fatal("session does not record user verification")
		}
		resp, err := webauthntest.New(testRPID, testOrigin).Create(options, webauthntest.Options{NoUserVerified: true})
		if err != nil {
			t.Fatal(err)
		}
		cred, err := rp.FinishRegistration(alice, relaxed, resp)
		assertReason(t, cred, err, "user verification required")
	})
	t.Run("login", func(t *testing.T) {
		auth := webauthntest.New(testRPID, testOrigin)
		cred := register(t, rp, auth, alice)
		options, session, err := rp.BeginLogin(nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := auth.Get(options, webauthntest.Options{NoUserVerified: true})
		if err != nil {
			t.Fatal(err)
		}
		a, err := rp.ParseAssertion(resp)
		if err != nil {
			t.Fatal(err)
		}
		got, err := rp.FinishLogin(alice, []Credential{cred}, relax(session), a)
		assertReason(t, got, err, "user verification required")
	})
}
