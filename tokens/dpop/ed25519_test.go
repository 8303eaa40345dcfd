package dpop

import (
	"testing"
	"time"

	"github.com/latchid/latch/tokens/internal/tokentest"
)

// forgedProof is a DPoP proof under the identity key with the universal
// signature: made with no private key at all.
func forgedProof(tb testing.TB, x string, claims map[string]any) string {
	tb.Helper()
	h := map[string]any{"typ": "dpop+jwt", "alg": "EdDSA", "jwk": map[string]any{"kty": "OKP", "crv": "Ed25519", "x": x}}
	input := b64.EncodeToString(mustJSON(tb, h)) + "." + b64.EncodeToString(mustJSON(tb, claims))
	return input + "." + b64.EncodeToString(forgedEd25519Sig)
}

func TestDPoPRefusesSmallOrderEd25519Keys(t *testing.T) {
	now := time.Unix(1_790_000_000, 0)
	d := NewDPoP(DPoPConfig{Now: func() time.Time { return now }})
	for name, x := range hostileEd25519Keys(t) {
		t.Run(name, func(t *testing.T) {
			proof := forgedProof(t, x, map[string]any{"jti": "forged-" + name, "htm": "POST", "htu": rfcTokenURL, "iat": now.Unix()})
			_, err := d.Verify(ProofCheck{Headers: []string{proof}, Method: "POST", URL: rfcTokenURL})
			if err != errProofJWK {
				t.Fatalf("error %v, want %v", err, errProofJWK)
			}
		})
	}
}

// The Ed25519 vectors the token packages' tests share (tokentest).
var (
	forgedEd25519Sig   = tokentest.ForgedEd25519Sig
	hostileEd25519Keys = tokentest.HostileEd25519Keys
)
