package tokens

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/latchid/latch/tokens/jose"
)

// testClock is a settable clock for injecting time into the package.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock(t time.Time) *testClock { return &testClock{t: t} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *testClock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// signTestJWS builds a compact JWS over arbitrary header and claims values
// so tests can produce tokens this package would never issue. key may be
// *ecdsa.PrivateKey, ed25519.PrivateKey, *rsa.PrivateKey (RS256 or PS256
// chosen by alg) or []byte for HS256.
func signTestJWS(tb testing.TB, header, claims any, alg string, key any) string {
	tb.Helper()
	hb := mustJSON(tb, header)
	pb := mustJSON(tb, claims)
	input := b64.EncodeToString(hb) + "." + b64.EncodeToString(pb)
	var sig []byte
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		digest := sha256.Sum256([]byte(input))
		r, s, err := ecdsa.Sign(rand.Reader, k, digest[:])
		if err != nil {
			tb.Fatal(err)
		}
		sig = make([]byte, rawSigSize)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	case ed25519.PrivateKey:
		sig = ed25519.Sign(k, []byte(input))
	case *rsa.PrivateKey:
		digest := sha256.Sum256([]byte(input))
		var err error
		if alg == jose.AlgPS256 {
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
		sig = nil
	default:
		tb.Fatalf("unsupported test key %T", key)
	}
	return input + "." + b64.EncodeToString(sig)
}

func mustJSON(tb testing.TB, v any) []byte {
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

func mustECKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// wantCode asserts err is a *jose.TokenError with the given code.
func wantCode(tb testing.TB, err error, code string) {
	tb.Helper()
	var te *jose.TokenError
	if !errors.As(err, &te) {
		tb.Fatalf("error = %v, want *jose.TokenError with code %q", err, code)
	}
	if te.Code != code {
		tb.Fatalf("code = %q (%s), want %q", te.Code, te.Description, code)
	}
}

func sha256Sum(s string) [32]byte { return sha256.Sum256([]byte(s)) }

// rfc9449JKT is the thumbprint of the RFC 9449 example proof key.
const rfc9449JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"

// rawSigSize is the size of a raw ES256 signature (r||s).
const rawSigSize = 64

// p256Order is the order n of P-256; p256HalfOrder is (n-1)/2, the largest
// s Latch emits.
var (
	p256Order     = elliptic.P256().Params().N
	p256HalfOrder = new(big.Int).Rsh(p256Order, 1)
)

// canonicalJWK returns the RFC 7638 members of k's public key, which
// alg-confusion tests use as an HMAC secret.
func canonicalJWK(tb testing.TB, k *jose.SigningKey) []byte {
	tb.Helper()
	c, err := jose.CanonicalPublicJWK(k.Public())
	if err != nil {
		tb.Fatal(err)
	}
	return c
}
