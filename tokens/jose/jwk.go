package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"math/big"
)

// jwkMembers is the subset of RFC 7517/7518/8037 members this package
// reads. Private and symmetric members are captured as raw JSON because
// their mere presence disqualifies a key that is meant to be public.
type jwkMembers struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	N   string `json:"n"`
	E   string `json:"e"`
	Alg string `json:"alg"`

	D   json.RawMessage `json:"d"`
	P   json.RawMessage `json:"p"`
	Q   json.RawMessage `json:"q"`
	DP  json.RawMessage `json:"dp"`
	DQ  json.RawMessage `json:"dq"`
	QI  json.RawMessage `json:"qi"`
	Oth json.RawMessage `json:"oth"`
	K   json.RawMessage `json:"k"`
}

func (m *jwkMembers) hasPrivate() bool {
	return m.D != nil || m.P != nil || m.Q != nil || m.DP != nil || m.DQ != nil ||
		m.QI != nil || m.Oth != nil || m.K != nil
}

var (
	// ErrJWKMalformed rejects a JWK that is not well-formed JSON with valid
	// members for its key type.
	ErrJWKMalformed   = errors.New("tokens: malformed JWK")
	errJWKUnsupported = errors.New("tokens: unsupported JWK key type")
)

// Thumbprint returns the RFC 7638 SHA-256 thumbprint of a JWK, base64url
// encoded: the value of "jkt" (RFC 9449) and of our generated "kid"s. It
// accepts EC, OKP and RSA keys; private members are ignored because the
// thumbprint covers only the required public members.
func Thumbprint(jwkJSON []byte) (string, error) {
	if len(jwkJSON) > MaxCompactJWS {
		return "", ErrJWKMalformed
	}
	var m jwkMembers
	if !StrictJSON(jwkJSON) || json.Unmarshal(jwkJSON, &m) != nil {
		return "", ErrJWKMalformed
	}
	var canonical []byte
	switch m.Kty {
	case "EC":
		size, ok := ecCoordinateSize[m.Crv]
		if !ok || !isB64Len(m.X, size) || !isB64Len(m.Y, size) {
			return "", ErrJWKMalformed
		}
		canonical = CanonicalEC(m.Crv, m.X, m.Y)
	case "OKP":
		size, ok := okpKeySize[m.Crv]
		if !ok || !isB64Len(m.X, size) {
			return "", ErrJWKMalformed
		}
		canonical = CanonicalOKP(m.Crv, m.X)
	case "RSA":
		if !isB64(m.N) || !isB64(m.E) {
			return "", ErrJWKMalformed
		}
		canonical = canonicalRSA(m.E, m.N)
	default:
		return "", errJWKUnsupported
	}
	return ThumbprintOf(canonical), nil
}

// ecCoordinateSize and okpKeySize list the curves Thumbprint knows, with
// the exact octet length of a coordinate or key (RFC 7518 section 6.2.1.2,
// RFC 8037 section 2). Only names from these tables reach the canonical
// JSON, so it never needs escaping.
var (
	ecCoordinateSize = map[string]int{"P-256": 32, "P-384": 48, "P-521": 66}
	okpKeySize       = map[string]int{"Ed25519": 32, "Ed448": 57, "X25519": 32, "X448": 56}
)

// isB64Len reports whether s is strict base64url for exactly n octets.
func isB64Len(s string, n int) bool {
	return len(s) == b64.EncodedLen(n) && isB64(s)
}

// isB64 reports whether s is a non-empty strict base64url value, the only
// form whose characters can go into canonical JSON unescaped.
func isB64(s string) bool {
	if s == "" || !IsB64URL(s) {
		return false
	}
	_, err := b64.DecodeString(s)
	return err == nil
}

// ThumbprintOf returns the base64url SHA-256 of canonical RFC 7638 JSON, as
// PublicKeyFromJWK and CanonicalPublicJWK return it.
func ThumbprintOf(canonical []byte) string {
	sum := sha256.Sum256(canonical)
	return b64.EncodeToString(sum[:])
}

// The canonical builders write RFC 7638 section 3.2 JSON by hand: required
// members only, sorted, no whitespace. Callers pass validated base64url and
// known curve names, so no escaping is needed.

// CanonicalEC returns the RFC 7638 JSON of an EC key with curve crv and
// base64url coordinates x and y.

func CanonicalEC(crv, x, y string) []byte {
	b := make([]byte, 0, 40+len(crv)+len(x)+len(y))
	b = append(b, `{"crv":"`...)
	b = append(b, crv...)
	b = append(b, `","kty":"EC","x":"`...)
	b = append(b, x...)
	b = append(b, `","y":"`...)
	b = append(b, y...)
	return append(b, `"}`...)
}

// CanonicalOKP returns the RFC 7638 JSON of an OKP key with curve crv and
// base64url public key x.
func CanonicalOKP(crv, x string) []byte {
	b := make([]byte, 0, 32+len(crv)+len(x))
	b = append(b, `{"crv":"`...)
	b = append(b, crv...)
	b = append(b, `","kty":"OKP","x":"`...)
	b = append(b, x...)
	return append(b, `"}`...)
}

func canonicalRSA(e, n string) []byte {
	b := make([]byte, 0, 32+len(e)+len(n))
	b = append(b, `{"e":"`...)
	b = append(b, e...)
	b = append(b, `","kty":"RSA","n":"`...)
	b = append(b, n...)
	return append(b, `"}`...)
}

// RSA proof keys are bounded below for strength and above so a hostile key
// cannot make verification arbitrarily slow.
const (
	minRSABits = 2048
	maxRSABits = 8192
)

// PublicKeyFromJWK builds the public key for a DPoP proof whose header alg
// is alg, requiring the key type and curve that alg implies (RFC 8725
// section 3.1: the header never chooses a key type on its own). It returns
// the key and its canonical RFC 7638 JSON. Any private or symmetric member
// rejects the key (RFC 9449 section 4.3 step 7).
func PublicKeyFromJWK(raw []byte, alg string) (crypto.PublicKey, []byte, error) {
	var m jwkMembers
	if !StrictJSON(raw) || json.Unmarshal(raw, &m) != nil {
		return nil, nil, ErrJWKMalformed
	}
	if m.hasPrivate() || m.Kty == "oct" {
		return nil, nil, ErrJWKPrivate
	}
	if m.Alg != "" && m.Alg != alg {
		return nil, nil, ErrJWKMismatch
	}
	switch alg {
	case AlgES256:
		if m.Kty != "EC" || m.Crv != "P-256" {
			return nil, nil, ErrJWKMismatch
		}
		var point [65]byte
		point[0] = 4
		if !decodeExact(point[1:33], m.X) || !decodeExact(point[33:], m.Y) {
			return nil, nil, ErrJWKMalformed
		}
		// ParseUncompressedPublicKey rejects points off the curve and the
		// point at infinity (RFC 8725 section 3.4).
		k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point[:])
		if err != nil {
			return nil, nil, ErrJWKMalformed
		}
		return k, CanonicalEC(m.Crv, m.X, m.Y), nil
	case AlgEdDSA, AlgEd25519:
		if m.Kty != "OKP" || m.Crv != "Ed25519" {
			return nil, nil, ErrJWKMismatch
		}
		var x [ed25519.PublicKeySize]byte
		if !decodeExact(x[:], m.X) {
			return nil, nil, ErrJWKMalformed
		}
		k, ok := Ed25519PublicKey(x[:])
		if !ok {
			return nil, nil, ErrJWKMalformed
		}
		return k, CanonicalOKP(m.Crv, m.X), nil
	case AlgRS256, AlgPS256:
		if m.Kty != "RSA" {
			return nil, nil, ErrJWKMismatch
		}
		k, err := rsaPublicKey(m.N, m.E)
		if err != nil {
			return nil, nil, err
		}
		return k, canonicalRSA(m.E, m.N), nil
	}
	return nil, nil, ErrJWKMismatch
}

var (
	// ErrJWKPrivate rejects a JWK carrying private or symmetric material.
	ErrJWKPrivate = errors.New("tokens: JWK carries private or symmetric key material")
	// ErrJWKMismatch rejects a JWK whose type or curve is not the one the
	// algorithm needs.
	ErrJWKMismatch = errors.New("tokens: JWK does not match the algorithm")
)

// decodeExact decodes s into dst and requires it to fill dst exactly.
func decodeExact(dst []byte, s string) bool {
	if len(s) != b64.EncodedLen(len(dst)) {
		return false
	}
	n, err := b64.Decode(dst, []byte(s))
	return err == nil && n == len(dst)
}

// rsaPublicKey validates the RFC 7518 section 6.3.1 members: minimal
// big-endian encodings (no leading zero octet), a modulus size within
// bounds and an odd exponent that fits an int.
func rsaPublicKey(nB64, eB64 string) (*rsa.PublicKey, error) {
	if len(nB64) > b64.EncodedLen(maxRSABits/8) || len(eB64) > b64.EncodedLen(4) {
		return nil, ErrJWKMalformed
	}
	n, err := b64.DecodeString(nB64)
	if err != nil || len(n) == 0 || n[0] == 0 {
		return nil, ErrJWKMalformed
	}
	e, err := b64.DecodeString(eB64)
	if err != nil || len(e) == 0 || e[0] == 0 {
		return nil, ErrJWKMalformed
	}
	var exp int64
	for _, c := range e {
		exp = exp<<8 | int64(c)
	}
	if exp < 3 || exp&1 == 0 || exp > 1<<31-1 {
		return nil, ErrJWKMalformed
	}
	mod := new(big.Int).SetBytes(n)
	if bits := mod.BitLen(); bits < minRSABits || bits > maxRSABits || mod.Bit(0) == 0 {
		return nil, ErrJWKMalformed
	}
	return &rsa.PublicKey{N: mod, E: int(exp)}, nil
}
