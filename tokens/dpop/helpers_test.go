package dpop

import (
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

// The helpers the token packages' tests share (tokentest).
type testClock = tokentest.Clock

var (
	newTestClock  = tokentest.NewClock
	signTestJWS   = tokentest.SignJWS
	mustJSON      = tokentest.MustJSON
	mustECKey     = tokentest.MustECKey
	p256HalfOrder = tokentest.P256HalfOrder
	ecPublicJWK   = tokentest.ECPublicJWK
)

const rfc9449JKT = tokentest.RFC9449JKT
