package dpop

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
	"time"
)

func TestNewProofVerifies(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	d := NewDPoP(DPoPConfig{MaxAge: time.Minute, Now: func() time.Time { return now }})
	jkt, err := ProofKeyThumbprint(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	proof, err := NewProof(key, ProofRequest{Method: "POST", URL: "https://api.example/orders?page=2#x", AccessToken: "tok", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	p, err := d.Verify(ProofCheck{Headers: []string{proof}, Method: "POST", URL: "https://api.example/orders", AccessToken: "tok"})
	if err != nil {
		t.Fatalf("the verifier refused a client proof: %v", err)
	}
	if p.JKT != jkt {
		t.Fatalf("jkt %s, thumbprint %s", p.JKT, jkt)
	}
	for name, pc := range map[string]ProofCheck{
		"another method":       {Method: "GET", URL: "https://api.example/orders", AccessToken: "tok"},
		"another URL":          {Method: "POST", URL: "https://api.example/other", AccessToken: "tok"},
		"another access token": {Method: "POST", URL: "https://api.example/orders", AccessToken: "tok2"},
	} {
		fresh, err := NewProof(key, ProofRequest{Method: "POST", URL: "https://api.example/orders", AccessToken: "tok", Now: now})
		if err != nil {
			t.Fatal(err)
		}
		pc.Headers = []string{fresh}
		if _, err := d.Verify(pc); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewProof(nil, ProofRequest{Method: "GET", URL: "https://api.example/"}); err == nil {
		t.Error("a nil key was accepted")
	}
}
