package webauthntest

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"path/filepath"
	"testing"
)

func TestPasskeyFileRoundTrip(t *testing.T) {
	a := New(rpID, origin)
	reg, err := a.Create(creation("dXNlci0x"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var r registrationJSON
	if err := json.Unmarshal(reg, &r); err != nil {
		t.Fatal(err)
	}
	id, _ := b64(r.RawID)
	f, err := a.Export(id)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "p.json")
	if err := WritePasskeyFile(path, f); err != nil {
		t.Fatal(err)
	}
	read, err := ReadPasskeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := FromPasskeyFile(read)
	if err != nil {
		t.Fatal(err)
	}
	spkiRaw, _ := b64(r.Response.PublicKey)
	spki, err := x509.ParsePKIXPublicKey(spkiRaw)
	if err != nil {
		t.Fatal(err)
	}
	pub := spki.(*ecdsa.PublicKey)
	for i := range 2 {
		asr, err := b.Get(request(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		var got authenticationJSON
		if err := json.Unmarshal(asr, &got); err != nil {
			t.Fatal(err)
		}
		if got.ID != r.ID || got.Response.UserHandle != "dXNlci0x" {
			t.Fatalf("assertion %d: id %s handle %s", i, got.ID, got.Response.UserHandle)
		}
		authData, _ := b64(got.Response.AuthenticatorData)
		clientData, _ := b64(got.Response.ClientDataJSON)
		sig, _ := b64(got.Response.Signature)
		cdHash := sha256.Sum256(clientData)
		digest := sha256.Sum256(append(authData, cdHash[:]...))
		if !ecdsa.VerifyASN1(pub, digest[:], sig) {
			t.Fatalf("assertion %d from the file does not verify with the registered key", i)
		}
		if counter := authData[33:37]; counter[0]|counter[1]|counter[2]|counter[3] != 0 {
			t.Fatalf("assertion %d: counter %x, want 0", i, counter)
		}
	}

	bad := *f
	bad.Format = "something/2"
	if _, err := FromPasskeyFile(&bad); err == nil {
		t.Error("an unknown format was accepted")
	}
	bad = *f
	bad.PrivateKeyPKCS8 = "AAAA"
	if _, err := FromPasskeyFile(&bad); err == nil {
		t.Error("a broken key was accepted")
	}
}
