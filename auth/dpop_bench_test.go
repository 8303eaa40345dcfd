package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"
)

// BenchmarkPairedProtectedUserinfoDPoP is BenchmarkProtectedUserinfoDPoP
// with each request run right after one raw crypto/ecdsa P-256 verify, so
// "x-raw-verify" (request time over raw-verify time) holds on a machine
// whose load changes during the run.
func BenchmarkPairedProtectedUserinfoDPoP(b *testing.B) {
	ub := newUserinfoBench(b)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sum := sha256.Sum256([]byte("baseline"))
	sig, _ := ecdsa.SignASN1(rand.Reader, k, sum[:])
	var raw, work time.Duration
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == len(ub.proofs) {
			ub.refill() // not timed below: only the request is
			i = 0
		}
		t0 := time.Now()
		ecdsa.VerifyASN1(&k.PublicKey, sum[:], sig)
		t1 := time.Now()
		ub.serve(i)
		work += time.Since(t1)
		raw += t1.Sub(t0)
		i++
	}
	b.ReportMetric(float64(work)/float64(raw), "x-raw-verify")
	b.ReportMetric(float64(work.Nanoseconds())/float64(b.N), "op-ns")
}
