package tokens

import (
	"testing"
	"time"
)

// The figures behind keeping Latch's own JOSE code: the same parse and
// verify done by Latch and by jwx v3, each paired with a raw crypto/ecdsa
// P-256 verify in the same loop (see pairedRatio).

// BenchmarkOracleAccessVerify: one access token, parsed and verified with
// iss, aud and times checked. "latch" has its verified-token cache off, as
// for a token seen for the first time; "latch-cached" is every later
// request with the same token; "jwx" is jwt.Parse against the JWKS.
func BenchmarkOracleAccessVerify(b *testing.B) {
	f := newAccessFixture(b, -1)
	token, _, err := f.at.Issue(sampleClaims())
	if err != nil {
		b.Fatal(err)
	}
	cached := NewAccessTokens(AccessConfig{Issuer: testIssuer, Audience: testAudience, TTL: 10 * time.Minute, Keys: f.ring, Now: f.clock.Now})
	set := oracleSet(b, f.ring)
	b.Run("latch", func(b *testing.B) {
		pairedRatio(b, func() {
			if _, err := f.at.Verify(token); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("latch-cached", func(b *testing.B) {
		pairedRatio(b, func() {
			if _, err := cached.Verify(token); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("jwx", func(b *testing.B) {
		pairedRatio(b, func() {
			if _, err := jwxAccessVerify(token, set, accessT0); err != nil {
				b.Fatal(err)
			}
		})
	})
}

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
