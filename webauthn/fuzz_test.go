package webauthn

import (
	"errors"
	"testing"

	"github.com/latchid/latch/webauthn/webauthntest"
)

// FuzzParseResponses feeds arbitrary bytes to both response parsers and to
// the verification behind them. Nothing may panic, and every rejection must
// be a client error (ErrInvalidCredential), never an internal one.
func FuzzParseResponses(f *testing.F) {
	rp := newTestRP(f, nil)
	auth := webauthntest.New(testRPID, testOrigin)
	alice := newUser(f, "alice")

	regOptions, regSession, err := rp.BeginRegistration(alice, nil)
	if err != nil {
		f.Fatal(err)
	}
	regResp, err := auth.Create(regOptions, webauthntest.Options{})
	if err != nil {
		f.Fatal(err)
	}
	cred, err := rp.FinishRegistration(alice, regSession, regResp)
	if err != nil {
		f.Fatal(err)
	}
	creds := []Credential{*cred}
	loginOptions, loginSession, err := rp.BeginLogin(nil)
	if err != nil {
		f.Fatal(err)
	}
	loginResp, err := auth.Get(loginOptions, webauthntest.Options{})
	if err != nil {
		f.Fatal(err)
	}
	tampered, err := auth.Get(loginOptions, webauthntest.Options{TamperClientData: true})
	if err != nil {
		f.Fatal(err)
	}

	for _, seed := range [][]byte{
		regResp, loginResp, tampered, nil, []byte("{}"), []byte("null"), []byte(`{"id":"","rawId":null}`),
		[]byte(`{"id":"AQ","rawId":"AQ","type":"public-key","response":{"clientDataJSON":"e30","attestationObject":"oA"}}`),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := rp.FinishRegistration(alice, regSession, data); err != nil && !errors.Is(err, ErrInvalidCredential) {
			t.Fatalf("FinishRegistration: non-client error %v", err)
		}
		a, err := rp.ParseAssertion(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidCredential) {
				t.Fatalf("ParseAssertion: non-client error %v", err)
			}
			return
		}
		if _, err := rp.FinishLogin(alice, creds, loginSession, a); err != nil && !errors.Is(err, ErrInvalidCredential) {
			t.Fatalf("FinishLogin: non-client error %v", err)
		}
	})
}
