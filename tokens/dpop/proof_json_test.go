package dpop

import (
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/latchid/latch/tokens/internal/tokentest"
	"github.com/latchid/latch/tokens/jose"
)

func TestDPoPRejectsLenientJSON(t *testing.T) {
	f := newProofFixture(t)
	d := NewDPoP(DPoPConfig{Now: f.clock.Now})
	x, y := f.jwk["x"].(string), f.jwk["y"].(string)
	iat := f.clock.Now().Unix()
	header := `{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":"` + x + `","y":"` + y + `"}}`
	claims := func(jti string) string {
		return `{"jti":"` + jti + `","htm":"POST","htu":"` + rfcTokenURL + `","iat":` + big.NewInt(iat).String() + `}`
	}
	tests := []struct {
		name           string
		header, claims string
	}{
		{"duplicate htu", header, `{"jti":"a1","htm":"POST","htu":"https://evil.example/token","htu":"` + rfcTokenURL + `","iat":` + big.NewInt(iat).String() + `}`},
		{"case-folded claim names", header, `{"JTI":"a2","HTM":"POST","HTU":"` + rfcTokenURL + `","IAT":` + big.NewInt(iat).String() + `}`},
		{"duplicate spelled with an escape", header, `{"jti":"a3","htm":"GET","\u0068tm":"POST","htu":"` + rfcTokenURL + `","iat":` + big.NewInt(iat).String() + `}`},
		{"invalid UTF-8 in jti", header, claims("a4\xff")},
		{"lone surrogate in jti", header, claims(`a5\ud800`)},
		{"case-folded typ", strings.Replace(header, `"typ"`, `"TYP"`, 1), claims("a6")},
		{"duplicate alg", strings.Replace(header, `"alg":"ES256"`, `"alg":"none","alg":"ES256"`, 1), claims("a7")},
		{"duplicate jwk member", strings.Replace(header, `"x":"`, `"x":"AAAA","x":"`, 1), claims("a8")},
		{"case-folded jwk member", strings.Replace(header, `"crv"`, `"CRV"`, 1), claims("a9")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proof := signTestJWS(t, []byte(tt.header), []byte(tt.claims), jose.AlgES256, f.key)
			if _, err := d.Verify(ProofCheck{Headers: []string{proof}, Method: "POST", URL: rfcTokenURL}); err != errProofMalformed {
				t.Fatalf("error %v, want %v", err, errProofMalformed)
			}
		})
	}
	t.Run("the same proof written strictly is accepted", func(t *testing.T) {
		proof := signTestJWS(t, []byte(header), []byte(`{"\u006ati":"ok","htm":"POST","htu":"`+rfcTokenURL+`","iat":`+big.NewInt(iat).String()+`}`), jose.AlgES256, f.key)
		if _, err := d.Verify(ProofCheck{Headers: []string{proof}, Method: "POST", URL: rfcTokenURL}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestHighSIsAcceptedAndIsTheSameProof(t *testing.T) {
	f := newProofFixture(t)
	d := NewDPoP(DPoPConfig{Now: f.clock.Now})
	check := func(p string) ProofCheck { return ProofCheck{Headers: []string{p}, Method: "POST", URL: rfcTokenURL} }
	low := f.proof(t, nil)
	if sigS(t, low).Cmp(p256HalfOrder) > 0 {
		low = withHighS(t, low)
	}
	high := withHighS(t, low)
	if _, err := d.CheckOnly(check(high)); err != nil {
		t.Fatalf("a high-s proof, as WebCrypto makes half the time, was refused: %v", err)
	}
	if _, err := d.Verify(check(low)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Verify(check(high)); !errors.Is(err, errProofReplay) {
		t.Fatalf("the other form of a used proof: error %v, want replay", err)
	}
}

// ES256 signature forms, shared with the other token packages (tokentest).
var (
	sigS      = tokentest.SigS
	withHighS = tokentest.WithHighS
)
