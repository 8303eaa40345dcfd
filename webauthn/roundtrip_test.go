package webauthn

import (
	"bytes"
	"testing"

	"github.com/latchid/latch/webauthn/webauthntest"
)

// TestCeremonyRoundTrip registers a passkey, then signs in with it both
// usernameless and username-first, checking what each step hands back.
func TestCeremonyRoundTrip(t *testing.T) {
	rp := newTestRP(t, nil)
	auth := webauthntest.New(testRPID, testOrigin)
	alice := newUser(t, "alice")

	cred := register(t, rp, auth, alice)
	if ids := auth.CredentialIDs(); len(ids) != 1 || !bytes.Equal(ids[0], cred.ID) {
		t.Fatalf("registered ID %x, authenticator holds %x", cred.ID, ids)
	}
	if len(cred.Record) == 0 || len(cred.AAGUID) != 16 || cred.SignCount != 0 {
		t.Fatalf("unexpected credential: %+v", cred)
	}
	if got := cred.Transports; len(got) != 2 || got[0] != "hybrid" || got[1] != "internal" {
		t.Fatalf("transports = %v", got)
	}

	// Discoverable login: empty allow list, the user is found from the handle.
	options, session, err := rp.BeginLogin(nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := auth.Get(options, webauthntest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := rp.ParseAssertion(resp)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.UserHandle, alice.Handle) || !bytes.Equal(a.CredentialID, cred.ID) {
		t.Fatalf("assertion claims handle %x cred %x", a.UserHandle, a.CredentialID)
	}
	updated, err := rp.FinishLogin(alice, []Credential{cred}, session, a)
	if err != nil {
		t.Fatalf("discoverable FinishLogin: %v", err)
	}
	if updated.SignCount != 1 {
		t.Fatalf("SignCount = %d, want 1", updated.SignCount)
	}

	// Username-first login with the updated record.
	updated2, err := login(t, rp, auth, alice, []Credential{*updated}, []Credential{*updated}, webauthntest.Options{})
	if err != nil {
		t.Fatalf("username-first FinishLogin: %v", err)
	}
	if updated2.SignCount != 2 {
		t.Fatalf("SignCount = %d, want 2", updated2.SignCount)
	}
}
