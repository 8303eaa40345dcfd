package dpop

import (
	"testing"
)

// BenchmarkOracleDPoPVerify: one DPoP proof, parsed and verified with its
// embedded key, iat, htm and htu checked. "latch" is CheckOnly (the replay
// cache is looked up, not written, so the same proof can be repeated) with
// the proof-header cache a returning client hits; "latch-new-key" keeps no
// header, as for a key seen for the first time (JWK parse, point check,
// thumbprint); "jwx" is jwxCheckProof, which does less (no typ, jti, replay
// or key checks).
func BenchmarkOracleDPoPVerify(b *testing.B) {
	f := newProofFixture(b)
	proof := f.proof(b, nil)
	pc := ProofCheck{Headers: []string{proof}, Method: "POST", URL: rfcTokenURL}
	now := f.clock.Now()
	run := func(name string, d *DPoP) {
		b.Run(name, func(b *testing.B) {
			pairedRatio(b, func() {
				if _, err := d.CheckOnly(pc); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
	run("latch", NewDPoP(DPoPConfig{Now: f.clock.Now}))
	cold := NewDPoP(DPoPConfig{Now: f.clock.Now})
	cold.keys = newBoundedCache[*proofKey](1, 0) // keeps nothing
	run("latch-new-key", cold)
	b.Run("jwx", func(b *testing.B) {
		pairedRatio(b, func() {
			if err := jwxCheckProof(proof, "POST", rfcTokenURL, now); err != nil {
				b.Fatal(err)
			}
		})
	})
}
