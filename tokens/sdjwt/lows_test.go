package sdjwt

import (
	"math/big"
	"strings"
	"testing"

	"github.com/latchid/latch/tokens/jose"
)

// sigS returns s of a compact ES256 JWS.
func sigS(tb testing.TB, token string) *big.Int {
	tb.Helper()
	j, err := jose.SplitCompact(token)
	if err != nil {
		tb.Fatal(err)
	}
	sig, err := decodeSegment(j.Signature)
	if err != nil || len(sig) != rawSigSize {
		tb.Fatalf("signature of %q", token)
	}
	return new(big.Int).SetBytes(sig[32:])
}

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
