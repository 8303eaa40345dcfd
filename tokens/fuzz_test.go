package tokens

import (
	"strings"
	"testing"
	"time"
)

func FuzzDPoPProof(f *testing.F) {
	f.Add(rfcTokenProof)
	f.Add(rfcResourceProof)
	f.Add(rfcTokenProof + "," + rfcTokenProof)
	f.Add("e30.e30.AA")
	f.Add(rfcProofHeader + ".eyJpYXQiOiIxIn0.AA")
	d := NewDPoP(DPoPConfig{Now: func() time.Time { return time.Unix(rfcTokenIAT, 0) }, Nonces: false,
		Algs: []string{"ES256", "EdDSA", "RS256", "PS256"}})
	f.Fuzz(func(t *testing.T, header string) {
		p, err := d.CheckOnly(ProofCheck{Headers: []string{header}, Method: "POST", URL: rfcTokenURL, AccessToken: rfcAccessToken})
		if (p == nil) == (err == nil) {
			t.Fatalf("proof %v with error %v", p, err)
		}
		if err != nil {
			if _, ok := err.(*TokenError); !ok {
				t.Fatalf("error %T is not a *TokenError", err)
			}
			return
		}
		if p.JKT != thumbprintOf(p.JWK) {
			t.Fatal("accepted proof with inconsistent thumbprint")
		}
		_, _ = NormalizeHTU(header)
		_, _ = Thumbprint([]byte(header))
	})
}

func FuzzAccessToken(f *testing.F) {
	fx := newAccessFixture(f, 64)
	token, issued, err := fx.at.Issue(sampleClaims())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(token)
	f.Add(strings.Replace(token, ".", "..", 1))
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add(`{"payload":"e30"}`)
	f.Fuzz(func(t *testing.T, s string) {
		c, err := fx.at.Verify(s)
		if (c == nil) == (err == nil) {
			t.Fatalf("claims %v with error %v", c, err)
		}
		// Only the issued token (or a re-encoding of its signature, which
		// ECDSA allows) can verify, and it carries the issued claims.
		if err == nil && (c.ID != issued.ID || c.Subject != issued.Subject) {
			t.Fatalf("a token we did not issue verified: %q", s)
		}
		if err != nil {
			if te, ok := err.(*TokenError); !ok || te.Code != CodeInvalidToken {
				t.Fatalf("error %v", err)
			}
		}
	})
}
