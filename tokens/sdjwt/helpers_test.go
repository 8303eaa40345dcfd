package sdjwt

import (
	"time"

	"github.com/latchid/latch/tokens/internal/tokentest"
)

// accessT0 is the fixed instant the oracle and status list tests sign at.
var accessT0 = time.Unix(1_790_000_000, 0)

// The helpers the token packages' tests share (tokentest).
var (
	signTestJWS   = tokentest.SignJWS
	mustECKey     = tokentest.MustECKey
	p256HalfOrder = tokentest.P256HalfOrder
)
