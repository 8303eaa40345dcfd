package tokens

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"
)

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

// BenchmarkPairedAccessVerifyMiss is a full access-token verify (cache off)
// paired with a raw verify.
func BenchmarkPairedAccessVerifyMiss(b *testing.B) {
	f := newAccessFixture(b, -1)
	token, _, err := f.at.Issue(sampleClaims())
	if err != nil {
		b.Fatal(err)
	}
	pairedRatio(b, func() {
		if _, err := f.at.Verify(token); err != nil {
			b.Fatal(err)
		}
	})
}
