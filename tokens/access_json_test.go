package tokens

import (
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/latchid/latch/tokens/internal/tokentest"
	"github.com/latchid/latch/tokens/jose"
)

func TestAccessVerifyRejectsLenientJSON(t *testing.T) {
	f := newAccessFixture(t, 0)
	priv := f.key.Signer()
	header := `{"alg":"ES256","typ":"at+jwt","kid":"` + f.key.ID + `"}`
	exp, iat := big.NewInt(accessT0.Add(10*time.Minute).Unix()).String(), big.NewInt(accessT0.Unix()).String()
	payload := func(sub string) string {
		return `{"iss":"` + testIssuer + `",` + sub + `,"aud":"` + testAudience + `","client_id":"web","exp":` + exp + `,"iat":` + iat + `,"jti":"j"}`
	}
	tests := []struct {
		name            string
		header, payload string
	}{
		{"duplicate sub", header, payload(`"sub":"admin","sub":"user-1"`)},
		{"case-folded sub", header, payload(`"SUB":"user-1"`)},
		{"sub with a long s", header, payload("\"\u017fub\":\"user-1\"")},
		{"invalid UTF-8", header, payload("\"sub\":\"user-1\xff\"")},
		{"case-folded kid", strings.Replace(header, `"kid"`, `"KID"`, 1), payload(`"sub":"user-1"`)},
		{"duplicate typ", strings.Replace(header, `"typ":"at+jwt"`, `"typ":"JWT","typ":"at+jwt"`, 1), payload(`"sub":"user-1"`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := signTestJWS(t, []byte(tt.header), []byte(tt.payload), jose.AlgES256, priv)
			if _, err := f.at.Verify(token); !errors.Is(err, errTokenMalformed) {
				t.Fatalf("error %v, want %v", err, errTokenMalformed)
			}
		})
	}
	t.Run("the same token written strictly is accepted", func(t *testing.T) {
		token := signTestJWS(t, []byte(header), []byte(payload(`"sub":"user-1"`)), jose.AlgES256, priv)
		if _, err := f.at.Verify(token); err != nil {
			t.Fatal(err)
		}
	})
}

func TestEmittedES256SignaturesAreLowS(t *testing.T) {
	f := newAccessFixture(t, 0)
	// Unnormalised, each signature is high with probability 1/2.
	for i := range 64 {
		tok, _, err := f.at.Issue(sampleClaims())
		if err != nil {
			t.Fatal(err)
		}
		if sigS(t, tok).Cmp(p256HalfOrder) > 0 {
			t.Fatalf("access token %d has a high s", i)
		}
	}
}

// TestHighSAccessTokenVerifies checks that the other form of a token Latch
// issued verifies (it may predate normalisation) and carries the same
// claims. The DPoP proof half of this check is in package dpop.
func TestHighSAccessTokenVerifies(t *testing.T) {
	af := newAccessFixture(t, 0)
	tok, issued, err := af.at.Issue(sampleClaims())
	if err != nil {
		t.Fatal(err)
	}
	got, err := af.at.Verify(withHighS(t, tok))
	if err != nil || got.ID != issued.ID {
		t.Fatalf("high-s form of an issued token: %v %v", got, err)
	}
}

// ES256 signature forms, shared with the other token packages (tokentest).
var (
	sigS      = tokentest.SigS
	withHighS = tokentest.WithHighS
)
