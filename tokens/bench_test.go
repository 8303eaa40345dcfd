package tokens

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"testing"
)

// BenchmarkECDSAVerifyP256 is the raw cost every other figure is compared
// with: one P-256 verification of a SHA-256 digest.
func BenchmarkECDSAVerifyP256(b *testing.B) {
	key := mustECKey(b)
	digest := sha256.Sum256([]byte("benchmark"))
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig) {
			b.Fatal("verify failed")
		}
	}
}

func BenchmarkECDSASignP256(b *testing.B) {
	key := mustECKey(b)
	digest := sha256.Sum256([]byte("benchmark"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ecdsa.SignASN1(rand.Reader, key, digest[:]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAccessIssue(b *testing.B) {
	f := newAccessFixture(b, 0)
	c := sampleClaims()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := f.at.Issue(c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAccessVerifyMiss(b *testing.B) {
	f := newAccessFixture(b, -1)
	token, _, err := f.at.Issue(sampleClaims())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.at.Verify(token); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAccessVerifyHit(b *testing.B) {
	f, token := cachedAccessToken(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.at.Verify(token); err != nil {
			b.Fatal(err)
		}
	}
}

// cachedAccessToken issues a token and verifies it once, so that further
// verifications are served by the verified-token cache.
func cachedAccessToken(b *testing.B) (*accessFixture, string) {
	f := newAccessFixture(b, 0)
	token, _, err := f.at.Issue(sampleClaims())
	if err != nil {
		b.Fatal(err)
	}
	if _, err := f.at.Verify(token); err != nil {
		b.Fatal(err)
	}
	return f, token
}

// BenchmarkAccessVerifyHitParallel shows cache hits from every core at
// once, which is where shard lock contention would appear.
func BenchmarkAccessVerifyHitParallel(b *testing.B) {
	f, token := cachedAccessToken(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := f.at.Verify(token); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
