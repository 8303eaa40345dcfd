package webauthn

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/latchid/latch/webauthn/webauthntest"
)

// BenchmarkFinishLogin measures what the server does for one login response:
// parse it, decode the session and the credential record, verify, and encode
// the updated record.
func BenchmarkFinishLogin(b *testing.B) {
	rp := newTestRP(b, nil)
	auth := webauthntest.New(testRPID, testOrigin)
	alice := newUser(b, "alice")
	cred := register(b, rp, auth, alice)
	creds := []Credential{cred}
	options, session, err := rp.BeginLogin(creds)
	if err != nil {
		b.Fatal(err)
	}
	resp, err := auth.Get(options, webauthntest.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		// The stored record is never updated here, so the same response
		// keeps a valid counter on every iteration.
		a, err := rp.ParseAssertion(resp)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := rp.FinishLogin(alice, creds, session, a); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkECDSAVerifyP256 is the raw cost of the one signature check a login
// needs, as a baseline for BenchmarkFinishLogin.
func BenchmarkECDSAVerifyP256(b *testing.B) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256([]byte("authenticator data and client data hash"))
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig) {
			b.Fatal("signature did not verify")
		}
	}
}
