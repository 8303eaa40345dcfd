package tokens

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// Compact JWS for SD-JWT is done with the standard library: only two
// algorithms are allowed, and signing our own bytes directly guarantees the
// signed payload is exactly the bytes we produced.

const (
	sdAlgES256 = "ES256"
	sdAlgEdDSA = "EdDSA"
)

// sdKeyMatchesAlg reports whether pub is a key of the kind alg needs.
// Anything outside the allow-list, "none" included, matches nothing.
func sdKeyMatchesAlg(pub crypto.PublicKey, alg string) bool {
	switch alg {
	case sdAlgES256:
		k, ok := pub.(*ecdsa.PublicKey)
		return ok && k.Curve == elliptic.P256()
	case sdAlgEdDSA:
		k, ok := pub.(ed25519.PublicKey)
		return ok && len(k) == ed25519.PublicKeySize
	}
	return false
}

// sdSign returns the compact JWS of the given header and payload JSON.
func sdSign(header, payload []byte, signer crypto.Signer, alg string) (string, error) {
	input := sdB64.EncodeToString(header) + "." + sdB64.EncodeToString(payload)
	var sig []byte
	switch alg {
	case sdAlgES256:
		digest := sha256.Sum256([]byte(input))
		der, err := signer.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil {
			return "", fmt.Errorf("sd-jwt: sign: %w", err)
		}
		if sig, err = sdRawECDSA(der); err != nil {
			return "", err
		}
	case sdAlgEdDSA:
		var err error
		if sig, err = signer.Sign(rand.Reader, []byte(input), crypto.Hash(0)); err != nil {
			return "", fmt.Errorf("sd-jwt: sign: %w", err)
		}
	default:
		return "", sdFail("unsupported signing alg")
	}
	return input + "." + sdB64.EncodeToString(sig), nil
}

// sdRawECDSA converts crypto.Signer's ASN.1 ECDSA signature to the fixed
// 64-byte r||s form JWS uses (RFC 7518 §3.4).
func sdRawECDSA(der []byte) ([]byte, error) {
	var rs struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &rs)
	if err != nil || len(rest) != 0 || rs.R.Sign() <= 0 || rs.S.Sign() <= 0 ||
		rs.R.BitLen() > 256 || rs.S.BitLen() > 256 {
		return nil, errors.New("sd-jwt: sign: malformed ecdsa signature")
	}
	out := make([]byte, 64)
	rs.R.FillBytes(out[:32])
	rs.S.FillBytes(out[32:])
	return out, nil
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
	if len(token) > sdMaxJWT || !sdLooksCompact(token) {
		return nil, sdFail("malformed " + what)
	}
	h, rest, _ := strings.Cut(token, ".")
	p, s, _ := strings.Cut(rest, ".")
	hb, err1 := sdB64.DecodeString(h)
	pb, err2 := sdB64.DecodeString(p)
	sig, err3 := sdB64.DecodeString(s)
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, sdFail("malformed " + what)
	}
	header, err := sdDecodeObject(hb)
	if err != nil {
		return nil, sdFail("malformed " + what + " header")
	}
	if typ, _ := header["typ"].(string); typ != wantTyp {
		return nil, sdFail(what + " typ must be " + wantTyp)
	}
	alg, _ := header["alg"].(string)
	if alg != sdAlgES256 && alg != sdAlgEdDSA {
		return nil, sdFail(what + " alg not allowed")
	}
	if _, ok := header["crit"]; ok {
		return nil, sdFail(what + " crit header not supported")
	}
	payload, err := sdDecodeObject(pb)
	if err != nil {
		return nil, sdFail("malformed " + what + " payload")
	}
	return &sdJWS{header: header, payload: payload, alg: alg, input: h + "." + p, sig: sig}, nil
}

// sdVerifySig checks the signature with pub, which must be a key of the kind
// the header's alg names: the key decides the algorithm, never the token.
func (j *sdJWS) sdVerifySig(pub crypto.PublicKey) bool {
	if !sdKeyMatchesAlg(pub, j.alg) {
		return false
	}
	switch j.alg {
	case sdAlgES256:
		if len(j.sig) != 64 {
			return false
		}
		digest := sha256.Sum256([]byte(j.input))
		r := new(big.Int).SetBytes(j.sig[:32])
		s := new(big.Int).SetBytes(j.sig[32:])
		return ecdsa.Verify(pub.(*ecdsa.PublicKey), digest[:], r, s)
	case sdAlgEdDSA:
		return len(j.sig) == ed25519.SignatureSize &&
			ed25519.Verify(pub.(ed25519.PublicKey), []byte(j.input), j.sig)
	}
	return false
}
