package webauthn

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	gowebauthn "github.com/go-webauthn/webauthn/webauthn"
)

// TestCleanTransports checks client-supplied transports are filtered to the
// known values, deduplicated and bounded before being stored or echoed.
func TestCleanTransports(t *testing.T) {
	cases := []struct {
		name string
		in   []string
		want []string
	}{
		{"known transports keep their order", []string{"hybrid", "internal", "usb"}, []string{"hybrid", "internal", "usb"}},
		{"unknown values are dropped", []string{"usb", "carrier-pigeon", "<script>"}, []string{"usb"}},
		{"duplicates are dropped", []string{"nfc", "nfc", "ble", "nfc"}, []string{"nfc", "ble"}},
		{"nothing stays nothing", nil, nil},
	}
	for _, c := range cases {
		if got := cleanTransports(c.in); !slices.Equal(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

// TestRecordRoundTrip checks a record decodes to what was encoded and that
// the exported copies agree with it.
func TestRecordRoundTrip(t *testing.T) {
	lib := &gowebauthn.Credential{
		ID:        []byte("credential"),
		PublicKey: []byte{0xa5, 0x01, 0x02},
		Flags:     gowebauthn.CredentialFlags{UserPresent: true, UserVerified: true, BackupEligible: true},
		Authenticator: gowebauthn.Authenticator{
			AAGUID: make([]byte, 16), SignCount: 12,
		},
	}
	cred, err := encodeRecord(lib)
	if err != nil {
		t.Fatal(err)
	}
	if string(cred.ID) != "credential" || cred.SignCount != 12 || !cred.BackupEligible || cred.BackupState || len(cred.AAGUID) != 16 {
		t.Fatalf("exported copy %+v", cred)
	}
	back, err := decodeRecord(*cred)
	if err != nil {
		t.Fatal(err)
	}
	if string(back.ID) != "credential" || back.Authenticator.SignCount != 12 || !back.Flags.UserVerified {
		t.Fatalf("decoded %+v", back)
	}
}

// TestRecordsWithoutAttestationKeepNoRegistrationCopy checks that a
// credential registered with a "none" attestation is stored without the
// copy of its registration response, and one with a statement keeps it.
func TestRecordsWithoutAttestationKeepNoRegistrationCopy(t *testing.T) {
	for _, format := range []string{"none", "packed"} {
		var m recordMemo
		lib := &gowebauthn.Credential{
			ID: []byte("credential"), PublicKey: []byte{0xa5, 0x01, 0x02}, AttestationFormat: format,
			Attestation: gowebauthn.CredentialAttestation{
				ClientDataJSON: []byte(`{"type":"webauthn.create"}`), ClientDataHash: make([]byte, 32),
				AuthenticatorData: make([]byte, 37), Object: []byte{0xa3}, PublicKeyAlgorithm: -7,
			},
		}
		cred, err := m.encode(lib)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeRecord(*cred)
		if err != nil {
			t.Fatal(err)
		}
		kept := back.Attestation.ClientDataJSON != nil || back.Attestation.ClientDataHash != nil ||
			back.Attestation.AuthenticatorData != nil || back.Attestation.Object != nil
		if kept != (format != "none") {
			t.Errorf("%s: registration copy kept = %v (record %s)", format, kept, cred.Record)
		}
		if back.Attestation.PublicKeyAlgorithm != -7 || back.AttestationFormat != format || string(back.PublicKey) != "\xa5\x01\x02" {
			t.Errorf("%s: decoded %+v", format, back)
		}
	}
}

// TestDecodeRecordRefusesForeignBytes checks records that this package did
// not write for this credential are refused as corrupt.
func TestDecodeRecordRefusesForeignBytes(t *testing.T) {
	good, err := encodeRecord(&gowebauthn.Credential{ID: []byte("a"), PublicKey: []byte{1}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		cred Credential
	}{
		{"empty record", Credential{ID: []byte("a")}},
		{"not JSON", Credential{ID: []byte("a"), Record: []byte("{")}},
		{"record of another credential", Credential{ID: []byte("b"), Record: good.Record}},
		{"record without a public key", Credential{ID: []byte("a"), Record: []byte(`{"id":"YQ"}`)}},
		{"oversized record", Credential{ID: []byte("a"), Record: []byte(strings.Repeat(" ", maxRecordSize+1))}},
	}
	for _, c := range cases {
		if _, err := decodeRecord(c.cred); !errors.Is(err, errCorruptRecord) {
			t.Errorf("%s: err = %v", c.name, err)
		}
	}
}

// TestDescriptors checks allow and exclude lists accept ID-only credentials
// and refuse IDs outside the WebAuthn bounds.
func TestDescriptors(t *testing.T) {
	d, err := descriptors([]Credential{{ID: []byte{1}}, {ID: []byte{2}, Transports: []string{"usb", "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(d) != 2 || len(d[0].Transport) != 0 || len(d[1].Transport) != 1 || d[1].Transport[0] != "usb" {
		t.Fatalf("descriptors %+v", d)
	}
	for _, bad := range [][]byte{nil, make([]byte, maxCredentialID+1)} {
		if _, err := descriptors([]Credential{{ID: bad}}); err == nil {
			t.Errorf("ID of %d bytes accepted", len(bad))
		}
	}
}

// TestRecordMemoFollowsTheBytes checks the memo serves a decoded record only
// for the exact bytes it came from.
func TestRecordMemoFollowsTheBytes(t *testing.T) {
	var m recordMemo
	lib := &gowebauthn.Credential{ID: []byte("credential"), PublicKey: []byte{1, 2, 3}, Authenticator: gowebauthn.Authenticator{SignCount: 1}}
	first, err := m.encode(lib)
	if err != nil {
		t.Fatal(err)
	}
	lib.Authenticator.SignCount = 2
	second, err := encodeRecord(lib) // written without the memo seeing it
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		cred *Credential
		want uint32
	}{
		{"bytes the memo encoded", first, 1},
		{"newer bytes", second, 2},
		{"the older bytes again", first, 1},
	} {
		got, err := m.decode(*tt.cred)
		if err != nil || got.Authenticator.SignCount != tt.want {
			t.Errorf("%s: counter %d, %v; want %d", tt.name, got.Authenticator.SignCount, err, tt.want)
		}
	}
	first.Record[0] = '!' // a caller's change to its bytes
	if _, err := m.decode(*first); err == nil {
		t.Error("corrupted bytes decoded from the memo")
	}
}

// TestJSONRecordsStillDecode: records written before the MessagePack
// encoding are JSON; they decode, and encode again (flags included, which
// JSON kept as booleans only) in the smaller encoding.
func TestJSONRecordsStillDecode(t *testing.T) {
	lib := gowebauthn.Credential{
		ID: []byte("credential"), PublicKey: bytes.Repeat([]byte{0xa5}, 77), AttestationType: "none", AttestationFormat: "none",
		Flags:         gowebauthn.CredentialFlags{UserPresent: true, UserVerified: true, BackupEligible: true, BackupState: true},
		Authenticator: gowebauthn.Authenticator{AAGUID: make([]byte, 16), SignCount: 7, Attachment: "platform"},
	}
	old, err := json.Marshal(&lib) // the earlier encoding
	if err != nil {
		t.Fatal(err)
	}
	back, err := decodeRecord(Credential{ID: lib.ID, Record: old})
	if err != nil {
		t.Fatal(err)
	}
	again, err := encodeRecord(&back)
	if err != nil {
		t.Fatal(err)
	}
	if again.Record[0] != recordMsgpack || len(again.Record) >= len(old) {
		t.Fatalf("re-encoded record (%d bytes, was %d): %q", len(again.Record), len(old), again.Record)
	}
	dec, err := decodeRecord(*again)
	if err != nil {
		t.Fatal(err)
	}
	f := dec.Flags
	if !f.UserPresent || !f.UserVerified || !f.BackupEligible || !f.BackupState || dec.Authenticator.SignCount != 7 || !bytes.Equal(dec.PublicKey, lib.PublicKey) {
		t.Fatalf("decoded %+v", dec)
	}
	t.Logf("record: %d bytes as JSON, %d as MessagePack", len(old), len(again.Record))
}
