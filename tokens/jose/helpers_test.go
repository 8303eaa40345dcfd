package jose

import (
	"github.com/latchid/latch/tokens/internal/tokentest"
)

// The helpers the token packages' tests share (tokentest).
var (
	mustJSON    = tokentest.MustJSON
	mustECKey   = tokentest.MustECKey
	ecPublicJWK = tokentest.ECPublicJWK
)
