package tokens

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/latchid/latch/tokens/jose"
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

// BenchmarkIDTokenSign is what a code exchange signs beyond a refresh: an
// ES256 ID token with every claim of OpenID Connect Core section 3.1.3.6.
func BenchmarkIDTokenSign(b *testing.B) {
	key, err := jose.GenerateSigningKey(jose.AlgES256, time.Unix(1_790_000_000, 0))
	if err != nil {
		b.Fatal(err)
	}
	now := time.Unix(1_790_000_000, 0)
	c := IDClaims{Issuer: "https://id.example", Subject: "uo_x_3LkqaMNL1UKr6KILA", Audience: "web", IssuedAt: now, Expires: now.Add(10 * time.Minute),
		AuthTime: now, Nonce: "hh_Fv6zj2Z8", AMR: []string{"pop"}, ACR: "phr", SessionID: NewOrderedID(now),
		AccessToken: "eyJhbGciOiJFUzI1NiJ9.e30.sig", PreferredUsername: "alice", Name: "Alice"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := SignIDToken(key, c); err != nil {
			b.Fatal(err)
		}
	}
}
