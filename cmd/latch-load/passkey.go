package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"

	"github.com/latchid/latch/webauthn/webauthntest"
)

// authenticator makes WebAuthn responses for the options of a begin call
// (the "publicKey" object) and appends them, as the credential JSON, to dst.
type authenticator interface {
	AppendCreate(dst, options []byte) ([]byte, error)
	AppendGet(dst, options []byte) ([]byte, error)
}

// virtualAuthenticator is the test suite's software authenticator: a full
// CTAP-style authenticator with packed self-attestation.
type virtualAuthenticator struct{ a *webauthntest.Authenticator }

func (v virtualAuthenticator) AppendCreate(dst, o []byte) ([]byte, error) {
	cred, err := v.a.Create(o, webauthntest.Options{})
	return append(dst, cred...), err
}

func (v virtualAuthenticator) AppendGet(dst, o []byte) ([]byte, error) {
	cred, err := v.a.Get(o, webauthntest.Options{})
	return append(dst, cred...), err
}

// leanAuthenticator holds one ES256 passkey and builds exactly the bytes a
// platform authenticator would (attestation "none"), with none of a general
// authenticator's bookkeeping, so the generator spends its CPU on what every
// real client must do: one signature per ceremony. The server verifies
// these responses like any other.
//
// It writes its JSON and CBOR by appending bytes rather than through
// encoding/json and a CBOR library: the same content, a fraction of the CPU.
type leanAuthenticator struct {
	origin   string
	rpIDHash [32]byte
	key      *ecdsa.PrivateKey
	credID   []byte
	// credHead is the constant start of every credential JSON once the
	// passkey exists: its attachment, extensions, id and rawId.
	credHead   []byte
	userHandle []byte
	counter    uint32
	cd         []byte // clientDataJSON of the current ceremony
	resp       []byte // the response members of the current ceremony
}

func newLeanAuthenticator(rpID, origin string) *leanAuthenticator {
	return &leanAuthenticator{origin: origin, rpIDHash: sha256.Sum256([]byte(rpID))}
}

// Flags of authenticator data (WebAuthn §6.1): user present, user verified,
// attested credential data included.
const (
	flagUP = 0x01
	flagUV = 0x04
	flagAT = 0x40
)

var errNoChallenge = errors.New("lean authenticator: options without a challenge")

// clientData builds the clientDataJSON for a ceremony of type typ into
// l.cd, with the keys in the order json.Marshal of a map wrote them.
func (l *leanAuthenticator) clientData(typ string, options []byte) ([]byte, error) {
	challenge := jsonString(jsonField(options, "challenge"))
	if len(challenge) == 0 {
		return nil, errNoChallenge
	}
	cd := append(l.cd[:0], `{"challenge":`...)
	cd = appendJSONString(cd, challenge)
	cd = append(cd, `,"origin":`...)
	cd = appendJSONString(cd, l.origin)
	cd = append(cd, `,"type":`...)
	cd = appendJSONString(cd, typ)
	l.cd = append(cd, '}')
	return l.cd, nil
}

// appendCredential appends a PublicKeyCredential JSON with the response
// members in resp (each `"name":"base64url",`, the last comma dropped).
func (l *leanAuthenticator) appendCredential(dst, resp []byte) []byte {
	dst = append(dst, l.credHead...)
	dst = append(dst, `,"response":{`...)
	dst = append(dst, resp[:len(resp)-1]...)
	return append(dst, `},"type":"public-key"}`...)
}

// appendMember appends `"name":"base64url(value)",` for appendCredential.
func appendMember(b []byte, name string, value []byte) []byte {
	b = append(b, '"')
	b = append(b, name...)
	b = append(b, `":"`...)
	b = b64.AppendEncode(b, value)
	return append(b, `",`...)
}

func (l *leanAuthenticator) AppendCreate(dst, options []byte) ([]byte, error) {
	cd, err := l.clientData("webauthn.create", options)
	if err != nil {
		return nil, err
	}
	if l.key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	if l.userHandle, err = b64.AppendDecode(l.userHandle[:0], jsonString(jsonField(jsonField(options, "user"), "id"))); err != nil {
		return nil, err
	}
	l.credID = make([]byte, 32)
	rand.Read(l.credID)
	l.credHead = append(l.credHead[:0], `{"authenticatorAttachment":"platform","clientExtensionResults":{},"id":"`...)
	l.credHead = b64.AppendEncode(l.credHead, l.credID)
	l.credHead = append(l.credHead, `","rawId":"`...)
	l.credHead = b64.AppendEncode(l.credHead, l.credID)
	l.credHead = append(l.credHead, '"')

	pub, _ := l.key.PublicKey.Bytes() // 0x04 || x || y
	authData := append(l.rpIDHash[:], flagUP|flagUV|flagAT, 0, 0, 0, 0)
	authData = append(authData, make([]byte, 16)...) // AAGUID: none
	authData = binary.BigEndian.AppendUint16(authData, uint16(len(l.credID)))
	authData = append(authData, l.credID...)
	// The COSE_Key (RFC 9053): a CBOR map {1 kty: 2 EC2, 3 alg: -7 ES256,
	// -1 crv: 1 P-256, -2 x, -3 y}, in CTAP2 canonical order.
	authData = append(authData, 0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21)
	authData = appendCBORBytes(authData, pub[1:33])
	authData = append(authData, 0x22)
	authData = appendCBORBytes(authData, pub[33:])
	// The attestation object: {"fmt": "none", "attStmt": {}, "authData": ...}.
	att := append([]byte{0xa3, 0x63}, "fmt"...)
	att = append(append(att, 0x64), "none"...)
	att = append(append(att, 0x67), "attStmt"...)
	att = append(append(att, 0xa0, 0x68), "authData"...)
	att = appendCBORBytes(att, authData)

	resp := appendMember(nil, "attestationObject", att)
	resp = appendMember(resp, "clientDataJSON", cd)
	resp = append(resp, `"transports":["internal"],`...)
	return l.appendCredential(dst, resp), nil
}

func (l *leanAuthenticator) AppendGet(dst, options []byte) ([]byte, error) {
	if l.key == nil {
		return nil, errors.New("lean authenticator: no passkey yet")
	}
	cd, err := l.clientData("webauthn.get", options)
	if err != nil {
		return nil, err
	}
	l.counter++
	// The signature is over authenticatorData (rpIdHash, flags, 4-byte
	// counter: 37 bytes) || SHA-256(clientDataJSON).
	var signed [37 + sha256.Size]byte
	authData := append(signed[:0], l.rpIDHash[:]...)
	authData = append(authData, flagUP|flagUV)
	authData = binary.BigEndian.AppendUint32(authData, l.counter)
	cdHash := sha256.Sum256(cd)
	copy(signed[len(authData):], cdHash[:])
	digest := sha256.Sum256(signed[:])
	sig, err := sign(l.key, digest[:])
	if err != nil {
		return nil, err
	}
	r := appendMember(l.resp[:0], "authenticatorData", authData)
	r = appendMember(r, "clientDataJSON", cd)
	r = appendMember(r, "signature", sig)
	l.resp = appendMember(r, "userHandle", l.userHandle)
	return l.appendCredential(dst, l.resp), nil
}
