package dpop

import (
	"testing"
	"time"

	"github.com/latchid/latch/tokens/jose"
)

func FuzzDPoPProof(f *testing.F) {
	f.Add(rfcTokenProof)
	f.Add(rfcResourceProof)
	f.Add(rfcTokenProof + "," + rfcTokenProof)
	f.Add("e30.e30.AA")
	f.Add(rfcProofHeader + ".eyJpYXQiOiIxIn0.AA")
	// Strict JSON and key checks: duplicate and case-folded members, and
	// the identity-key forgery.
	f.Add(rfcProofHeader + "." + b64.EncodeToString([]byte(`{"jti":"a","htm":"POST","htu":"x","htu":"`+rfcTokenURL+`","iat":1562262616}`)) + ".AA")
	f.Add(b64.EncodeToString([]byte(`{"TYP":"dpop+jwt","alg":"ES256","jwk":{}}`)) + ".e30.AA")
	f.Add(forgedProof(f, "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", map[string]any{"jti": "f", "htm": "POST", "htu": rfcTokenURL, "iat": rfcTokenIAT}))
	d := NewDPoP(DPoPConfig{Now: func() time.Time { return time.Unix(rfcTokenIAT, 0) }, Nonces: false,
		Algs: []string{"ES256", "EdDSA", "RS256", "PS256"}})
	f.Fuzz(func(t *testing.T, header string) {
		p, err := d.CheckOnly(ProofCheck{Headers: []string{header}, Method: "POST", URL: rfcTokenURL, AccessToken: rfcAccessToken})
		if (p == nil) == (err == nil) {
			t.Fatalf("proof %v with error %v", p, err)
		}
		if err != nil {
			if _, ok := err.(*jose.TokenError); !ok {
				t.Fatalf("error %T is not a *jose.TokenError", err)
			}
			return
		}
		if p.JKT != jose.ThumbprintOf(p.JWK) {
			t.Fatal("accepted proof with inconsistent thumbprint")
		}
		_, _ = NormalizeHTU(header)
		_, _ = jose.Thumbprint([]byte(header))
	})
}
