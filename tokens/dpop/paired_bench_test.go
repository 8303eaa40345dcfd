package dpop

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"strconv"
	"testing"
	"time"
)

// BenchmarkPairedDPoPVerify is BenchmarkDPoPVerify (fresh proofs with ath,
// each recorded in the replay cache) paired with a raw verify.
func BenchmarkPairedDPoPVerify(b *testing.B) {
	f := newProofFixture(b)
	const n = 4096
	proofs := make([]string, n)
	for i := range proofs {
		proofs[i] = f.proof(b, func(h, c map[string]any) {
			c["jti"] = "bench-" + strconv.Itoa(i)
			c["ath"] = ATH("access-token")
		})
	}
	d := NewDPoP(DPoPConfig{Now: f.clock.Now})
	pc := ProofCheck{Method: "POST", URL: rfcTokenURL, AccessToken: "access-token", Headers: make([]string, 1)}
	i := 0
	pairedRatio(b, func() {
		if i == n {
			d, i = NewDPoP(DPoPConfig{Now: f.clock.Now}), 0
		}
		pc.Headers[0] = proofs[i]
		if _, err := d.Verify(pc); err != nil {
			b.Fatal(err)
		}
		i++
	})
}

// pairedRatio runs op once per iteration right after one raw crypto/ecdsa
// P-256 verify and reports op's time as a multiple of the raw verify's
// ("x-raw-verify"). Interleaving the two makes the ratio hold on a machine
// whose load changes during the run, where ns/op figures from separate
// benchmarks do not compare.
func pairedRatio(b *testing.B, op func()) {
	b.Helper()
	key := mustECKey(b)
	digest := sha256.Sum256([]byte("baseline"))
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		b.Fatal(err)
	}
	var raw, work time.Duration
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig)
		t1 := time.Now()
		op()
		work += time.Since(t1)
		raw += t1.Sub(t0)
	}
	b.ReportMetric(float64(work)/float64(raw), "x-raw-verify")
	b.ReportMetric(float64(work.Nanoseconds())/float64(b.N), "op-ns")
}
