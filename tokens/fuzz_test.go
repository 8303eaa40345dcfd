package tokens

import (
	"strings"
	"testing"

	"github.com/latchid/latch/tokens/jose"
)

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
	f.Add(b64.EncodeToString([]byte(`{"alg":"ES256","typ":"at+jwt","typ":"JWT"}`)) + ".e30.AA")
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
			if te, ok := err.(*jose.TokenError); !ok || te.Code != jose.CodeInvalidToken {
				t.Fatalf("error %v", err)
			}
		}
	})
}
