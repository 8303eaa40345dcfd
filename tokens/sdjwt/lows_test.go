package sdjwt

import (
	"strings"
	"testing"

	"github.com/latchid/latch/tokens/internal/tokentest"
)

func TestEmittedSDJWTSignaturesAreLowS(t *testing.T) {
	sd := sdNewFixture(t)
	// Unnormalised, each signature is high with probability 1/2.
	for i := range 16 {
		jwt, _, _ := strings.Cut(sd.issue(t, sd.claims()).Compact, "~")
		if sigS(t, jwt).Cmp(p256HalfOrder) > 0 {
			t.Fatalf("SD-JWT issuer JWT %d has a high s", i)
		}
	}
}

// ES256 signature forms, shared with the other token packages (tokentest).
var (
	sigS = tokentest.SigS
)
