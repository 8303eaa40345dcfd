package sdjwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"strings"

	"github.com/latchid/latch/tokens/jose"
)

// Compact JWS for SD-JWT is done with the standard library: only two
// algorithms are allowed, and signing our own bytes directly guarantees the
// signed payload is exactly the bytes we produced.

// sdKeyMatchesAlg reports whether pub is a key of the kind alg needs.
// Anything outside the allow-list, "none" included, matches nothing.
func sdKeyMatchesAlg(pub crypto.PublicKey, alg string) bool {
	switch alg {
	case jose.AlgES256:
		k, ok := pub.(*ecdsa.PublicKey)
		return ok && k.Curve == elliptic.P256()
	case jose.AlgEdDSA:
		k, ok := pub.(ed25519.PublicKey)
		return ok && len(k) == ed25519.PublicKeySize
	}
	return false
}

// sdSign returns the compact JWS of the given header and payload JSON.
func sdSign(header, payload []byte, signer crypto.Signer, alg string) (string, error) {
	if alg != jose.AlgES256 && alg != jose.AlgEdDSA {
		return "", sdFail("unsupported signing alg")
	}
	return jose.SignJWS(header, payload, signer, alg)
}

// sdJWS is a compact JWS whose header and payload were strictly decoded but
// whose signature has not been checked yet.
type sdJWS struct {
	header  map[string]any
	payload map[string]any
	alg     string
	input   string // "<header>.<payload>", the signed bytes
	sig     []byte
}

// sdParseJWS decodes a compact JWS. what names the token in error messages.
// Only the allow-listed algorithms pass, and a crit header is refused because
// no extension is understood here (RFC 7515 §4.1.11).
func sdParseJWS(token, what, wantTyp string) (*sdJWS, error) {
	return parseTypedJWS(token, what, wantTyp, sdMaxJWT, sdFail)
}

// parseTypedJWS is sdParseJWS for tokens of at most max bytes, failing with
// the errors fail builds.
func parseTypedJWS(token, what, wantTyp string, max int, fail func(string) error) (*sdJWS, error) {
	if len(token) > max || !sdLooksCompact(token) {
		return nil, fail("malformed " + what)
	}
	h, rest, _ := strings.Cut(token, ".")
	p, s, _ := strings.Cut(rest, ".")
	hb, err1 := b64.DecodeString(h)
	pb, err2 := b64.DecodeString(p)
	sig, err3 := b64.DecodeString(s)
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, fail("malformed " + what)
	}
	header, err := sdDecodeObject(hb)
	if err != nil {
		return nil, fail("malformed " + what + " header")
	}
	if typ, _ := header["typ"].(string); typ != wantTyp {
		return nil, fail(what + " typ must be " + wantTyp)
	}
	alg, _ := header["alg"].(string)
	if alg != jose.AlgES256 && alg != jose.AlgEdDSA {
		return nil, fail(what + " alg not allowed")
	}
	if _, ok := header["crit"]; ok {
		return nil, fail(what + " crit header not supported")
	}
	payload, err := sdDecodeObject(pb)
	if err != nil {
		return nil, fail("malformed " + what + " payload")
	}
	return &sdJWS{header: header, payload: payload, alg: alg, input: h + "." + p, sig: sig}, nil
}

// sdVerifySig checks the signature with pub, which must be a key of the kind
// the header's alg names: the key decides the algorithm, never the token.
func (j *sdJWS) sdVerifySig(pub crypto.PublicKey) bool {
	if !sdKeyMatchesAlg(pub, j.alg) {
		return false
	}
	return jose.VerifySignature(j.alg, pub, j.input, j.sig)
}
