package sdjwt

import (
	"time"

	"github.com/latchid/latch/tokens/internal/tokentest"
)

// rawSigSize is the size of a raw ES256 signature (r||s).
const rawSigSize = 64

// accessT0 is the fixed instant the oracle and status list tests sign at.
var accessT0 = time.Unix(1_790_000_000, 0)

// decodeSegment decodes one base64url segment into a new slice.
func decodeSegment(s string) ([]byte, error) {
	return b64.DecodeString(s)
}

// The helpers the token packages' tests share (tokentest).
var (
	signTestJWS   = tokentest.SignJWS
	mustECKey     = tokentest.MustECKey
	p256HalfOrder = tokentest.P256HalfOrder
)
