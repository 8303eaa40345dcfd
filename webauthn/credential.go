package webauthn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/go-webauthn/webauthn/protocol"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"
)

// Bounds from WebAuthn Level 3: a user handle is 1 to 64 bytes (§5.4.3) and a
// credential ID at most 1023 bytes (§7.1 step 17 in v3's numbering).
const (
	maxUserHandle   = 64
	maxCredentialID = 1023
	maxTransports   = 8
	maxRecordSize   = 64 << 10
)

// User is the account a ceremony is for. Handle is the WebAuthn user handle:
// random, 1 to 64 bytes, never personal data. Name and DisplayName are only
// shown by the authenticator.
type User struct {
	Handle      []byte
	Name        string
	DisplayName string
}

// Credential is what the service persists about one passkey. Record is an
// opaque encoding owned by this package and is the source of truth for
// verification: persist it and hand it back unchanged. The other fields are
// copies kept for listing, indexing and policy decisions.
type Credential struct {
	// ID is the credential ID, unique per RP across all users.
	ID []byte
	// Record is the full credential record (public key, flags, counter,
	// attestation) in this package's encoding.
	Record []byte
	// Transports are the hints the client reported ("internal", "hybrid",
	// "usb", "nfc", "ble", "smart-card"), passed back in allow lists.
	Transports []string
	// AAGUID identifies the authenticator model (16 bytes, may be zero).
	AAGUID []byte
	// SignCount is the last signature counter seen.
	SignCount uint32
	// BackupEligible reports a passkey that may be synced; it never changes.
	BackupEligible bool
	// BackupState reports a passkey that is currently synced.
	BackupState bool
}

// libUser adapts a User and its credential records to go-webauthn.
type libUser struct {
	user  User
	creds []gowebauthn.Credential
}

func (u *libUser) WebAuthnID() []byte                           { return u.user.Handle }
func (u *libUser) WebAuthnName() string                         { return u.user.Name }
func (u *libUser) WebAuthnDisplayName() string                  { return u.user.DisplayName }
func (u *libUser) WebAuthnCredentials() []gowebauthn.Credential { return u.creds }

// knownTransports is the set of AuthenticatorTransport values in Level 3.
// Anything else a client sends is dropped rather than stored and echoed.
var knownTransports = map[string]bool{
	string(protocol.USB): true, string(protocol.NFC): true, string(protocol.BLE): true,
	string(protocol.SmartCard): true, string(protocol.Hybrid): true, string(protocol.Internal): true,
}

// cleanTransports keeps known transports, once each, in the client's order.
func cleanTransports[T ~string](in []T) []string {
	var out []string
	for _, t := range in {
		s := string(t)
		if !knownTransports[s] || len(out) == maxTransports {
			continue
		}
		dup := false
		for _, o := range out {
			dup = dup || o == s
		}
		if !dup {
			out = append(out, s)
		}
	}
	return out
}

// descriptors builds allow or exclude lists. Only ID and Transports are read.
func descriptors(creds []Credential) ([]protocol.CredentialDescriptor, error) {
	out := make([]protocol.CredentialDescriptor, 0, len(creds))
	for i, c := range creds {
		if len(c.ID) == 0 || len(c.ID) > maxCredentialID {
			return nil, fmt.Errorf("webauthn: credential %d: ID must be 1 to %d bytes", i, maxCredentialID)
		}
		d := protocol.CredentialDescriptor{Type: protocol.PublicKeyCredentialType, CredentialID: c.ID}
		for _, t := range cleanTransports(c.Transports) {
			d.Transport = append(d.Transport, protocol.AuthenticatorTransport(t))
		}
		out = append(out, d)
	}
	return out, nil
}

// stripAttestation drops from a credential registered without attestation
// ("none" format, what this service asks for) the copy of its registration
// response the library keeps. That copy exists so that an attestation
// statement can be checked again later against authenticator metadata, and
// a "none" attestation has no statement to check. Without it a record is
// about a third of the size, and every sign-up and sign-in writes one.
func stripAttestation(c *gowebauthn.Credential) {
	if protocol.AttestationFormat(c.AttestationFormat) == protocol.AttestationFormatNone {
		c.Attestation = gowebauthn.CredentialAttestation{PublicKeyAlgorithm: c.Attestation.PublicKeyAlgorithm}
	}
}

// recordMsgpack is the first byte of a record in the MessagePack encoding
// the library generates for its Credential (short field names, raw bytes).
// Records written before it are JSON, which starts with '{', and still
// decode. JSON spent two thirds of a passkey's record on field names and
// base64, and every sign-in rewrites the record.
const recordMsgpack = 0x01

// encodeRecord serialises a library credential and derives the exported
// copy. The caller has stripped it (stripAttestation).
func encodeRecord(c *gowebauthn.Credential) (*Credential, error) {
	// The MessagePack form keeps the flags as their raw octet, which a
	// credential decoded from a JSON record does not have: rebuild it from
	// the booleans, the record's source of truth until now.
	enc := *c
	enc.Flags = gowebauthn.NewCredentialFlags(flagBits(c.Flags))
	record, err := enc.MarshalMsg([]byte{recordMsgpack})
	if err != nil {
		return nil, fmt.Errorf("webauthn: encode credential record: %w", err)
	}
	return &Credential{
		ID:             append([]byte(nil), c.ID...),
		Record:         record,
		Transports:     cleanTransports(c.Transport),
		AAGUID:         append([]byte(nil), c.Authenticator.AAGUID...),
		SignCount:      c.Authenticator.SignCount,
		BackupEligible: c.Flags.BackupEligible,
		BackupState:    c.Flags.BackupState,
	}, nil
}

// flagBits is the authenticator-data octet of f: its raw octet with the
// four flags a credential keeps set as its booleans say.
func flagBits(f gowebauthn.CredentialFlags) protocol.AuthenticatorFlags {
	bits := f.ProtocolValue()
	for _, b := range []struct {
		set  bool
		flag protocol.AuthenticatorFlags
	}{
		{f.UserPresent, protocol.FlagUserPresent}, {f.UserVerified, protocol.FlagUserVerified},
		{f.BackupEligible, protocol.FlagBackupEligible}, {f.BackupState, protocol.FlagBackupState},
	} {
		if b.set {
			bits |= b.flag
		} else {
			bits &^= b.flag
		}
	}
	return bits
}

// errCorruptRecord reports stored bytes that are not a record this package
// wrote; it is a server-side fault, not the client's.
var errCorruptRecord = errors.New("webauthn: credential record is corrupt")

// decodeRecord parses a stored record and checks it belongs to c.ID.
func decodeRecord(c Credential) (gowebauthn.Credential, error) {
	var rec gowebauthn.Credential
	if len(c.Record) == 0 || len(c.Record) > maxRecordSize {
		return rec, errCorruptRecord
	}
	switch c.Record[0] {
	case recordMsgpack:
		rest, err := rec.UnmarshalMsg(c.Record[1:])
		if err != nil || len(rest) != 0 {
			return rec, fmt.Errorf("%w: malformed record", errCorruptRecord)
		}
	case '{':
		if err := json.Unmarshal(c.Record, &rec); err != nil {
			return rec, fmt.Errorf("%w: %v", errCorruptRecord, err)
		}
	default:
		return rec, fmt.Errorf("%w: unknown record encoding", errCorruptRecord)
	}
	if !bytes.Equal(rec.ID, c.ID) || len(rec.PublicKey) == 0 {
		return rec, fmt.Errorf("%w: record does not match credential ID", errCorruptRecord)
	}
	return rec, nil
}

// recordMemo remembers decoded credential records by credential ID, next to
// the exact bytes they came from: a sign-in decodes the record the previous
// sign-in of that passkey wrote only if the bytes differ. Bounded; it starts
// over when full. (The store keeps a memo of the same shape for its own
// records; the two packages do not import each other.)
type recordMemo struct {
	mu sync.Mutex
	m  map[string]recordMemoEntry
}

type recordMemoEntry struct {
	raw []byte
	rec gowebauthn.Credential
}

const recordMemoSize = 1 << 14

// decode is decodeRecord through the memo. The library only reads the
// slices of a credential, so entries can share them.
func (m *recordMemo) decode(c Credential) (gowebauthn.Credential, error) {
	m.mu.Lock()
	e, ok := m.m[string(c.ID)]
	m.mu.Unlock()
	if ok && bytes.Equal(e.raw, c.Record) {
		return e.rec, nil
	}
	rec, err := decodeRecord(c)
	if err == nil {
		m.remember(bytes.Clone(c.Record), rec)
	}
	return rec, err
}

// remember keeps rec as the decoded form of raw, which must not change.
func (m *recordMemo) remember(raw []byte, rec gowebauthn.Credential) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil || len(m.m) >= recordMemoSize {
		m.m = make(map[string]recordMemoEntry)
	}
	m.m[string(rec.ID)] = recordMemoEntry{raw: raw, rec: rec}
}

// encode strips c's attestation and encodes it, remembering the result
// for the next decode.
func (m *recordMemo) encode(c *gowebauthn.Credential) (*Credential, error) {
	stripAttestation(c)
	out, err := encodeRecord(c)
	if err == nil {
		m.remember(bytes.Clone(out.Record), *c)
	}
	return out, err
}
