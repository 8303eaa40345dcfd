package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// MaxCompactJWS bounds every JWS this package parses. Our access tokens are
// well under 2 KiB and a DPoP proof with an RSA-4096 key under 2 KiB; the
// bound keeps hostile input from costing more than a fixed amount of work.
const MaxCompactJWS = 8 << 10

// b64 is base64url without padding (RFC 7515 section 2). Strict rejects
// non-zero trailing bits, so every value has exactly one accepted encoding.
var b64 = base64.RawURLEncoding.Strict()

// CompactJWS is a compact JWS split into its segments. The strings point
// into the original token; nothing is copied.
type CompactJWS struct {
	// Header, Payload and Signature are the base64url segments.
	Header, Payload, Signature string
	// SigningInput is Header + "." + Payload, the bytes the signature covers.
	SigningInput string
}

var errNotCompact = errors.New("not a compact JWS")

// SplitCompact splits a compact JWS of at most MaxCompactJWS bytes. It
// accepts only the compact serialisation: exactly three
// non-empty segments of base64url characters. Checking the alphabet here
// matters because the base64 decoder silently skips CR and LF, which would
// let one token be spelled many ways.
func SplitCompact(token string) (CompactJWS, error) {
	var j CompactJWS
	if len(token) == 0 || len(token) > MaxCompactJWS {
		return j, errNotCompact
	}
	first := strings.IndexByte(token, '.')
	if first <= 0 {
		return j, errNotCompact
	}
	rest := token[first+1:]
	second := strings.IndexByte(rest, '.')
	if second <= 0 {
		return j, errNotCompact
	}
	second += first + 1
	if second == len(token)-1 {
		return j, errNotCompact
	}
	if !IsB64URL(token[:first]) || !IsB64URL(token[first+1:second]) || !IsB64URL(token[second+1:]) {
		return j, errNotCompact
	}
	j.Header = token[:first]
	j.Payload = token[first+1 : second]
	j.Signature = token[second+1:]
	j.SigningInput = token[:second]
	return j, nil
}

// b64URLChars marks the base64url alphabet (RFC 4648 section 5). A table
// lookup per byte keeps the scan of every proof and token cheap.
var b64URLChars = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
	}
	return t
}()

// IsB64URL reports whether every byte of s is in the base64url alphabet.
func IsB64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		if !b64URLChars[s[i]] {
			return false
		}
	}
	return true
}

// SignCompact returns header.payload.signature signed by key, with the
// header already base64url-encoded (see SigningKey.CompactHeader).
func SignCompact(key *SigningKey, headerB64 string, payload []byte) (string, error) {
	buf := make([]byte, 0, len(headerB64)+1+b64.EncodedLen(len(payload))+1+b64.EncodedLen(rawSigSize))
	buf = append(buf, headerB64...)
	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, payload)
	sig, err := key.sign(buf)
	if err != nil {
		return "", err
	}
	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, sig)
	return string(buf), nil
}

// SignJWS returns the compact JWS of the given header and payload JSON,
// signed by signer with alg, which must be ES256 or EdDSA (ES256
// signatures in their low-s form).
func SignJWS(header, payload []byte, signer crypto.Signer, alg string) (string, error) {
	input := b64.EncodeToString(header) + "." + b64.EncodeToString(payload)
	var sig []byte
	switch alg {
	case AlgES256:
		digest := sha256.Sum256([]byte(input))
		der, err := signer.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil {
			return "", fmt.Errorf("sd-jwt: sign: %w", err)
		}
		if sig, err = decodeES256DER(der); err != nil {
			return "", errors.New("sd-jwt: sign: malformed ecdsa signature")
		}
		lowS(sig)
	case AlgEdDSA:
		var err error
		if sig, err = signer.Sign(rand.Reader, []byte(input), crypto.Hash(0)); err != nil {
			return "", fmt.Errorf("sd-jwt: sign: %w", err)
		}
	default:
		return "", ErrUnsupportedAlg
	}
	return input + "." + b64.EncodeToString(sig), nil
}

// ErrUnsupportedAlg is SignJWS's error for an algorithm other than ES256
// and EdDSA.
var ErrUnsupportedAlg = errors.New("jose: unsupported signing alg")

// rawSigSize is the size of an ES256 signature (r||s, RFC 7518 section
// 3.4) and of an Ed25519 signature (RFC 8037 section 3.1).
const rawSigSize = 64

// VerifySignature checks sig over signingInput with pub for the given JWS
// alg. The alg comes from our own key record or from an allow-list that has
// already been matched against the key type, never from a header alone.
func VerifySignature(alg string, pub crypto.PublicKey, signingInput string, sig []byte) bool {
	switch alg {
	case AlgES256:
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok || len(sig) != rawSigSize {
			return false
		}
		digest := SHA256String(signingInput)
		var buf [2 + 2*(3+32)]byte
		der := encodeES256DER(buf[:0], sig)
		if der == nil {
			return false
		}
		return ecdsa.VerifyASN1(k, digest[:], der)
	case AlgEdDSA, AlgEd25519:
		k, ok := pub.(ed25519.PublicKey)
		if !ok || len(k) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
			return false
		}
		return ed25519.Verify(k, []byte(signingInput), sig)
	case AlgRS256, AlgPS256:
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return false
		}
		digest := SHA256String(signingInput)
		if alg == AlgRS256 {
			return rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], sig) == nil
		}
		// RFC 7518 section 3.5: the salt is as long as the hash.
		return rsa.VerifyPSS(k, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
	}
	return false
}

// encodeES256DER converts a raw r||s signature into the ASN.1 form that
// crypto/ecdsa verifies, using dst as the backing array so the hot path does
// not allocate. It returns nil when r or s is zero, which no valid signature
// has.
func encodeES256DER(dst, sig []byte) []byte {
	dst = append(dst[:0], 0x30, 0)
	var ok bool
	if dst, ok = appendDERUint(dst, sig[:32]); !ok {
		return nil
	}
	if dst, ok = appendDERUint(dst, sig[32:]); !ok {
		return nil
	}
	dst[1] = byte(len(dst) - 2)
	return dst
}

// appendDERUint appends an unsigned big-endian integer as a minimal DER
// INTEGER, adding the zero byte that keeps a high first bit positive.
func appendDERUint(dst, b []byte) ([]byte, bool) {
	for len(b) > 0 && b[0] == 0 {
		b = b[1:]
	}
	if len(b) == 0 {
		return dst, false
	}
	if b[0]&0x80 != 0 {
		dst = append(dst, 0x02, byte(len(b)+1), 0)
	} else {
		dst = append(dst, 0x02, byte(len(b)))
	}
	return append(dst, b...), true
}

// p256Order is the order n of P-256; p256HalfOrder is (n-1)/2, the largest
// s Latch emits.
var (
	p256Order     = elliptic.P256().Params().N
	p256HalfOrder = new(big.Int).Rsh(p256Order, 1)
)

// lowS rewrites a raw r||s ES256 signature in place so that s <= n/2.
// (r, s) and (r, n-s) verify alike; Latch emits only the low form so each of
// its tokens has one spelling. Verification accepts both, because WebCrypto,
// Go and the platform keystores do not normalise and refusing high s would
// refuse about half of all honest client proofs; nothing in Latch is keyed
// on signature bytes (DPoP replay is keyed on the jti, revocation on jti, sid
// or a digest of the signed part).
func lowS(sig []byte) {
	s := new(big.Int).SetBytes(sig[32:])
	if s.Cmp(p256HalfOrder) > 0 {
		s.Sub(p256Order, s).FillBytes(sig[32:])
	}
}

// decodeES256DER converts the ASN.1 signature produced by crypto/ecdsa into
// the fixed 64-byte r||s form JWS uses.
func decodeES256DER(der []byte) ([]byte, error) {
	errSig := errors.New("tokens: malformed ECDSA signature")
	if len(der) < 8 || der[0] != 0x30 || int(der[1]) != len(der)-2 {
		return nil, errSig
	}
	rest := der[2:]
	out := make([]byte, rawSigSize)
	for i := 0; i < 2; i++ {
		if len(rest) < 2 || rest[0] != 0x02 {
			return nil, errSig
		}
		n := int(rest[1])
		if n == 0 || len(rest) < 2+n {
			return nil, errSig
		}
		v := rest[2 : 2+n]
		for len(v) > 0 && v[0] == 0 {
			v = v[1:]
		}
		if len(v) > 32 {
			return nil, errSig
		}
		copy(out[i*32+32-len(v):(i+1)*32], v)
		rest = rest[2+n:]
	}
	if len(rest) != 0 {
		return nil, errSig
	}
	return out, nil
}
