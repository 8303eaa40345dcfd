// Package tokentest holds what the token packages' tests share: a settable
// clock, a signer of arbitrary (hostile) JWS, keys and the Ed25519 test
// vectors. Only tests import it; it imports no Latch package, so the JOSE
// package's own tests can use it too.
package tokentest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"
)

var b64 = base64.RawURLEncoding

// Clock is a settable clock for injecting time into a package under test.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock that reads t until it is moved.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// SignJWS builds a compact JWS over arbitrary header and claims values
// (marshalled, or taken as they are when []byte) so tests can produce
// tokens no Latch package would issue. key may be *ecdsa.PrivateKey (a raw
// r||s signature), ed25519.PrivateKey, *rsa.PrivateKey (PS256 when alg
// says so, else RS256), []byte for HS256, or nil for no signature.
func SignJWS(tb testing.TB, header, claims any, alg string, key any) string {
	tb.Helper()
	input := b64.EncodeToString(MustJSON(tb, header)) + "." + b64.EncodeToString(MustJSON(tb, claims))
	var sig []byte
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		digest := sha256.Sum256([]byte(input))
		r, s, err := ecdsa.Sign(rand.Reader, k, digest[:])
		if err != nil {
			tb.Fatal(err)
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	case ed25519.PrivateKey:
		sig = ed25519.Sign(k, []byte(input))
	case *rsa.PrivateKey:
		digest := sha256.Sum256([]byte(input))
		var err error
		if alg == "PS256" {
			sig, err = rsa.SignPSS(rand.Reader, k, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			sig, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, digest[:])
		}
		if err != nil {
			tb.Fatal(err)
		}
	case []byte:
		m := hmac.New(sha256.New, k)
		m.Write([]byte(input))
		sig = m.Sum(nil)
	case nil:
	default:
		tb.Fatalf("unsupported test key %T", key)
	}
	return input + "." + b64.EncodeToString(sig)
}

// MustJSON marshals v, or returns it as it is when it is []byte.
func MustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	if b, ok := v.([]byte); ok {
		return b
	}
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// MustECKey generates a P-256 key.
func MustECKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// ECPublicJWK returns the public JWK members of k as a map, ready to embed
// in a proof header or to extend with hostile members.
func ECPublicJWK(tb testing.TB, k *ecdsa.PublicKey) map[string]any {
	tb.Helper()
	point, err := k.Bytes()
	if err != nil {
		tb.Fatal(err)
	}
	return map[string]any{"kty": "EC", "crv": "P-256", "x": b64.EncodeToString(point[1:33]), "y": b64.EncodeToString(point[33:])}
}

// MustHex decodes a hex test vector.
func MustHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// RFC9449JKT is the thumbprint of the RFC 9449 example proof key.
const RFC9449JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"

// P256Order is the order n of P-256; P256HalfOrder is (n-1)/2, the largest
// s Latch emits.
var (
	P256Order     = elliptic.P256().Params().N
	P256HalfOrder = new(big.Int).Rsh(P256Order, 1)
)

// SmallOrderEd25519 are the canonical encodings of the eight points of the
// Ed25519 torsion subgroup: the identity, the point of order 2, the two of
// order 4 and the four of order 8. The JOSE package's
// TestSmallOrderPointsAreTheTorsion checks the list rather than trusting
// it.
var SmallOrderEd25519 = []string{
	"0100000000000000000000000000000000000000000000000000000000000000", // identity
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // order 2 (y = -1)
	"0000000000000000000000000000000000000000000000000000000000000000", // order 4
	"0000000000000000000000000000000000000000000000000000000000000080", // order 4
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", // order 8
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85", // order 8
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", // order 8
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", // order 8
}

// NonCanonicalEd25519 decode to valid points under lenient rules but are
// not the one encoding RFC 8032 allows.
var NonCanonicalEd25519 = []string{
	"0100000000000000000000000000000000000000000000000000000000000080", // identity with x "negative zero"
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = p + 1, the identity again
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = p, that is y = 0
}

// ForgedEd25519Sig is the signature (R = identity, S = 0) that verifies
// under the identity key for any message.
var ForgedEd25519Sig = func() []byte { s := make([]byte, ed25519.SignatureSize); s[0] = 1; return s }()

// HostileEd25519Keys are every "x" a JWK may carry that must not become a
// key: the eight small-order points and the non-canonical encodings.
func HostileEd25519Keys(tb testing.TB) map[string]string {
	out := map[string]string{}
	for _, h := range SmallOrderEd25519 {
		out["small order "+h[:8]] = b64.EncodeToString(MustHex(tb, h))
	}
	for _, h := range NonCanonicalEd25519 {
		out["non-canonical "+h[:8]+"…"+h[60:]] = b64.EncodeToString(MustHex(tb, h))
	}
	return out
}

// SigS returns s of a compact ES256 JWS's raw r||s signature.
func SigS(tb testing.TB, token string) *big.Int {
	tb.Helper()
	sig := es256Signature(tb, token)
	return new(big.Int).SetBytes(sig[32:])
}

// WithHighS returns token with its ES256 signature (r, s) replaced by the
// other valid form, (r, n-s).
func WithHighS(tb testing.TB, token string) string {
	tb.Helper()
	sig := es256Signature(tb, token)
	new(big.Int).Sub(P256Order, new(big.Int).SetBytes(sig[32:])).FillBytes(sig[32:])
	return token[:strings.LastIndexByte(token, '.')] + "." + b64.EncodeToString(sig)
}

func es256Signature(tb testing.TB, token string) []byte {
	tb.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		tb.Fatalf("not a compact JWS: %q", token)
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		tb.Fatalf("signature of %q", token)
	}
	return sig
}
