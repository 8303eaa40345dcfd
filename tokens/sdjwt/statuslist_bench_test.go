package sdjwt

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/latchid/latch/tokens/jose"
)

// benchStatusList is a full-size list (2^17 entries, Latch's default) with
// 1% of its entries revoked at random.
func benchStatusList(b *testing.B) *StatusList {
	l, err := NewStatusList(1, 1<<17)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range l.Len() / 100 {
		l.Set(r.IntN(l.Len()), StatusInvalid)
	}
	return l
}

func BenchmarkStatusListSign(b *testing.B) {
	key, _ := jose.GenerateSigningKey(jose.AlgES256, sdTestNow)
	l := benchStatusList(b)
	c := StatusListClaims{Subject: statusTestURI, IssuedAt: sdTestNow, ExpiresAt: sdTestNow.Add(time.Hour), TTL: time.Minute, List: l}
	token, _ := SignStatusList(c, key)
	b.ReportMetric(float64(len(token)), "token-bytes")
	b.ResetTimer()
	for b.Loop() {
		if _, err := SignStatusList(c, key); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStatusListVerify(b *testing.B) {
	key, _ := jose.GenerateSigningKey(jose.AlgES256, sdTestNow)
	token, err := SignStatusList(StatusListClaims{Subject: statusTestURI, IssuedAt: sdTestNow, ExpiresAt: sdTestNow.Add(time.Hour), TTL: time.Minute, List: benchStatusList(b)}, key)
	if err != nil {
		b.Fatal(err)
	}
	req := StatusListVerifyRequest{Token: token, Subject: statusTestURI, Keys: keyLookupOf(key), Now: sdTestNow.Add(time.Second)}
	b.ResetTimer()
	for b.Loop() {
		if _, err := VerifyStatusListToken(req); err != nil {
			b.Fatal(err)
		}
	}
}
