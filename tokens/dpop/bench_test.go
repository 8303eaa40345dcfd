package dpop

import (
	"strconv"
	"testing"
)

// BenchmarkDPoPVerify measures a full resource-server proof check (ath
// included) on fresh proofs, so the replay cache records every one.
func BenchmarkDPoPVerify(b *testing.B) {
	f := newProofFixture(b)
	d := NewDPoP(DPoPConfig{Now: f.clock.Now})
	const n = 4096
	proofs := make([]string, n)
	for i := range proofs {
		proofs[i] = f.proof(b, func(h, c map[string]any) {
			c["jti"] = "bench-" + strconv.Itoa(i)
			c["ath"] = ATH("access-token")
		})
	}
	pc := ProofCheck{Method: "POST", URL: rfcTokenURL, AccessToken: "access-token"}
	hdr := make([]string, 1)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == n {
			// Every proof has been spent: move the clock past the replay
			// window (and back inside the proofs' iat window) by starting
			// a new verifier.
			b.StopTimer()
			d = NewDPoP(DPoPConfig{Now: f.clock.Now})
			i = 0
			b.StartTimer()
		}
		hdr[0] = proofs[i]
		pc.Headers = hdr
		if _, err := d.Verify(pc); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkDPoPCheckOnly is the same check without recording the jti.
func BenchmarkDPoPCheckOnly(b *testing.B) {
	f := newProofFixture(b)
	d := NewDPoP(DPoPConfig{Now: f.clock.Now})
	proof := f.proof(b, func(h, c map[string]any) { c["ath"] = ATH("access-token") })
	pc := ProofCheck{Headers: []string{proof}, Method: "POST", URL: rfcTokenURL, AccessToken: "access-token"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.CheckOnly(pc); err != nil {
			b.Fatal(err)
		}
	}
}
