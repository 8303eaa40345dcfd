package webauthn

import (
	"crypto/rand"
	"testing"

	"github.com/latchid/latch/webauthn/webauthntest"
)

const (
	testRPID   = "localhost"
	testOrigin = "http://localhost:8080"
)

// newTestRP returns a relying party for localhost, letting a test adjust the
// configuration first.
func newTestRP(tb testing.TB, adjust func(*Config)) *RP {
	tb.Helper()
	cfg := Config{RPID: testRPID, RPDisplayName: "Latch", Origins: []string{testOrigin}}
	if adjust != nil {
		adjust(&cfg)
	}
	rp, err := New(cfg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return rp
}

// newUser returns a user with a random 32-byte handle.
func newUser(tb testing.TB, name string) User {
	tb.Helper()
	h := make([]byte, 32)
	if _, err := rand.Read(h); err != nil {
		tb.Fatal(err)
	}
	return User{Handle: h, Name: name, DisplayName: name}
}

// register runs an honest registration of a new passkey for user on auth.
func register(tb testing.TB, rp *RP, auth *webauthntest.Authenticator, user User, exclude ...Credential) Credential {
	tb.Helper()
	options, session, err := rp.BeginRegistration(user, exclude)
	if err != nil {
		tb.Fatalf("BeginRegistration: %v", err)
	}
	resp, err := auth.Create(options, webauthntest.Options{})
	if err != nil {
		tb.Fatalf("Create: %v", err)
	}
	cred, err := rp.FinishRegistration(user, session, resp)
	if err != nil {
		tb.Fatalf("FinishRegistration: %v", err)
	}
	return *cred
}

// login runs a login with the given allow list and authenticator overrides
// and returns FinishLogin's result.
func login(tb testing.TB, rp *RP, auth *webauthntest.Authenticator, user User, creds, allow []Credential, o webauthntest.Options) (*Credential, error) {
	tb.Helper()
	options, session, err := rp.BeginLogin(allow)
	if err != nil {
		tb.Fatalf("BeginLogin: %v", err)
	}
	resp, err := auth.Get(options, o)
	if err != nil {
		tb.Fatalf("Get: %v", err)
	}
	a, err := rp.ParseAssertion(resp)
	if err != nil {
		return nil, err
	}
	return rp.FinishLogin(user, creds, session, a)
}

func ptr[T any](v T) *T { return &v }
