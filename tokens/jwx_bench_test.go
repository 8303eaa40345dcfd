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
