package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"

	"github.com/fxamacker/cbor/v2"

	"github.com/latchid/latch/webauthn/webauthntest"
)

// authenticator makes WebAuthn responses for the options of a begin call
// (the "publicKey" object).
type authenticator interface {
	Create(options []byte) ([]byte, error)
	Get(options []byte) ([]byte, error)
}

// virtualAuthenticator is the test suite's software authenticator: a full
// CTAP-style authenticator with packed self-attestation.
type virtualAuthenticator struct{ a *webauthntest.Authenticator }

func (v virtualAuthenticator) Create(o []byte) ([]byte, error) {
	return v.a.Create(o, webauthntest.Options{})
}

func (v virtualAuthenticator) Get(o []byte) ([]byte, error) {
	return v.a.Get(o, webauthntest.Options{})
}

// leanAuthenticator holds one ES256 passkey and builds exactly the bytes a
// platform authenticator would (attestation "none"), with none of a general
// authenticator's bookkeeping, so the generator spends its CPU on what every
// real client must do: one signature per ceremony. The server verifies
// these responses like any other.
type leanAuthenticator struct {
	origin     string
	rpIDHash   [32]byte
	key        *ecdsa.PrivateKey
	credID     []byte
	userHandle []byte
	counter    uint32
}

func newLeanAuthenticator(rpID, origin string) *leanAuthenticator {
	return &leanAuthenticator{origin: origin, rpIDHash: sha256.Sum256([]byte(rpID))}
}

type ceremonyOptions struct {
	Challenge string `json:"challenge"`
	User      struct {
		ID string `json:"id"`
	} `json:"user"`
}

// Flags of authenticator data (WebAuthn §6.1): user present, user verified,
// attested credential data included.
const (
	flagUP = 0x01
	flagUV = 0x04
	flagAT = 0x40
)

func (l *leanAuthenticator) clientData(typ string, options []byte) ([]byte, *ceremonyOptions, error) {
	var o ceremonyOptions
	if err := json.Unmarshal(options, &o); err != nil || o.Challenge == "" {
		return nil, nil, errors.New("lean authenticator: options without a challenge")
	}
	cd, err := json.Marshal(map[string]string{"type": typ, "challenge": o.Challenge, "origin": l.origin})
	return cd, &o, err
}

func (l *leanAuthenticator) Create(options []byte) ([]byte, error) {
	cd, o, err := l.clientData("webauthn.create", options)
	if err != nil {
		return nil, err
	}
	if l.key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	if l.userHandle, err = b64.DecodeString(o.User.ID); err != nil {
		return nil, err
	}
	l.credID = make([]byte, 32)
	rand.Read(l.credID)
	pub, _ := l.key.PublicKey.Bytes() // 0x04 || x || y
	coseKey, err := cbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: pub[1:33], -3: pub[33:]})
	if err != nil {
		return nil, err
	}
	authData := append(l.rpIDHash[:], flagUP|flagUV|flagAT, 0, 0, 0, 0)
	authData = append(authData, make([]byte, 16)...) // AAGUID: none
	authData = binary.BigEndian.AppendUint16(authData, uint16(len(l.credID)))
	authData = append(append(authData, l.credID...), coseKey...)
	att, err := cbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": authData})
	if err != nil {
		return nil, err
	}
	id := b64.EncodeToString(l.credID)
	return json.Marshal(map[string]any{
		"id": id, "rawId": id, "type": "public-key", "authenticatorAttachment": "platform", "clientExtensionResults": map[string]any{},
		"response": map[string]any{
			"clientDataJSON": b64.EncodeToString(cd), "attestationObject": b64.EncodeToString(att), "transports": []string{"internal"},
		},
	})
}

func (l *leanAuthenticator) Get(options []byte) ([]byte, error) {
	if l.key == nil {
		return nil, errors.New("lean authenticator: no passkey yet")
	}
	cd, _, err := l.clientData("webauthn.get", options)
	if err != nil {
		return nil, err
	}
	l.counter++
	authData := binary.BigEndian.AppendUint32(append(l.rpIDHash[:], flagUP|flagUV), l.counter)
	cdHash := sha256.Sum256(cd)
	digest := sha256.Sum256(append(authData, cdHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, l.key, digest[:])
	if err != nil {
		return nil, err
	}
	id := b64.EncodeToString(l.credID)
	return json.Marshal(map[string]any{
		"id": id, "rawId": id, "type": "public-key", "authenticatorAttachment": "platform", "clientExtensionResults": map[string]any{},
		"response": map[string]any{
			"clientDataJSON": b64.EncodeToString(cd), "authenticatorData": b64.EncodeToString(authData),
			"signature": b64.EncodeToString(sig), "userHandle": b64.EncodeToString(l.userHandle),
		},
	})
}
