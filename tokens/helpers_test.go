package tokens

import (
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/latchid/latch/tokens/internal/tokentest"

	"github.com/latchid/latch/tokens/jose"
)

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

// The helpers the token packages' tests share (tokentest).
type testClock = tokentest.Clock

var (
	newTestClock  = tokentest.NewClock
	signTestJWS   = tokentest.SignJWS
	mustECKey     = tokentest.MustECKey
	p256HalfOrder = tokentest.P256HalfOrder
)

const rfc9449JKT = tokentest.RFC9449JKT
