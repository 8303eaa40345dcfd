package dpop

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/latchid/latch/tokens/jose"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// jwxCheckProof is a DPoP check built on jwx: the key comes from the
// proof's own jwk header, the signature and iat are checked by jwt.Parse,
// htm and htu compared by hand. It is what jwx can do; the rest of RFC 9449
// section 4.3 (typ, private keys, iat age, jti replay, ath) has no jwx
// counterpart.
func jwxCheckProof(proof, method, url string, now time.Time) error {
	msg, err := jws.Parse([]byte(proof))
	if err != nil {
		return err
	}
	if len(msg.Signatures()) != 1 {
		return errors.New("not one signature")
	}
	hdr := msg.Signatures()[0].ProtectedHeaders()
	key, ok := hdr.JWK()
	if !ok {
		return errors.New("no jwk")
	}
	alg, ok := hdr.Algorithm()
	if !ok {
		return errors.New("no alg")
	}
	tok, err := jwt.Parse([]byte(proof), jwt.WithKey(alg, key),
		jwt.WithClock(jwt.ClockFunc(func() time.Time { return now })), jwt.WithAcceptableSkew(5*time.Second))
	if err != nil {
		return err
	}
	var htm, htu string
	if tok.Get("htm", &htm) != nil || tok.Get("htu", &htu) != nil || htm != method || htu != url {
		return errors.New("htm or htu")
	}
	return nil
}

func TestJWXAndLatchRefuseHostileProofs(t *testing.T) {
	f := newProofFixture(t)
	now := f.clock.Now()
	d := NewDPoP(DPoPConfig{Now: f.clock.Now})
	_, edPriv, _ := ed25519.GenerateKey(nil)
	edJWK := map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64.EncodeToString(edPriv.Public().(ed25519.PublicKey))}
	proof := func(mut func(h, c map[string]any)) string { return f.proof(t, mut) }
	valid := proof(nil)
	parts := strings.Split(valid, ".")
	sig, _ := b64.DecodeString(parts[2])
	sig[7] ^= 1
	header := `{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":"` + f.jwk["x"].(string) + `","y":"` + f.jwk["y"].(string) + `"}}`
	iat := func(d time.Duration) int64 { return now.Add(d).Unix() }

	tests := []struct {
		name      string
		proof     string
		latchOnly bool
	}{
		{"tampered signature", parts[0] + "." + parts[1] + "." + b64.EncodeToString(sig), false},
		{"claims swapped under a valid signature", parts[0] + "." + b64.EncodeToString([]byte(`{"jti":"x","htm":"POST","htu":"`+rfcTokenURL+`","iat":1}`)) + "." + parts[2], false},
		{"signed by another key than the jwk", signTestJWS(t, map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": f.jwk},
			map[string]any{"jti": "o", "htm": "POST", "htu": rfcTokenURL, "iat": now.Unix()}, jose.AlgES256, mustECKey(t)), false},
		{"alg none", signTestJWS(t, map[string]any{"typ": "dpop+jwt", "alg": "none", "jwk": f.jwk},
			map[string]any{"jti": "n", "htm": "POST", "htu": rfcTokenURL, "iat": now.Unix()}, "none", nil), false},
		{"iat in the future", proof(func(h, c map[string]any) { c["iat"] = iat(time.Minute) }), false},
		{"wrong htm", proof(func(h, c map[string]any) { c["htm"] = "GET" }), false},
		{"wrong htu", proof(func(h, c map[string]any) { c["htu"] = "https://evil.example/token" }), false},
		// RFC 9449 rules a JWT library does not know.
		{"typ JWT", proof(func(h, c map[string]any) { h["typ"] = "JWT" }), true},
		{"iat too old", proof(func(h, c map[string]any) { c["iat"] = iat(-10 * time.Minute) }), true},
		{"no jti", proof(func(h, c map[string]any) { delete(c, "jti") }), true},
		{"private key in the jwk", func() string {
			dd, _ := f.key.Bytes()
			return proof(func(h, c map[string]any) { h["jwk"] = copyJWK(f.jwk, "d", b64.EncodeToString(dd)) })
		}(), true},
		{"Ed25519 identity key with the universal signature", forgedProof(t, "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
			map[string]any{"jti": "forged", "htm": "POST", "htu": rfcTokenURL, "iat": now.Unix()}), true},
		{"ES256 header over an Ed25519 jwk and signature", signTestJWS(t, map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": edJWK},
			map[string]any{"jti": "m", "htm": "POST", "htu": rfcTokenURL, "iat": now.Unix()}, jose.AlgEdDSA, edPriv), false},
		{"duplicate htu", signTestJWS(t, []byte(header), []byte(`{"jti":"d","htm":"POST","htu":"https://evil.example/token","htu":"`+rfcTokenURL+`","iat":`+jsonInt(now.Unix())+`}`), jose.AlgES256, f.key), true},
		{"case-folded HTU", signTestJWS(t, []byte(header), []byte(`{"jti":"c","htm":"POST","HTU":"`+rfcTokenURL+`","htu":"`+rfcTokenURL+`","iat":`+jsonInt(now.Unix())+`}`), jose.AlgES256, f.key), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := d.CheckOnly(ProofCheck{Headers: []string{tt.proof}, Method: "POST", URL: rfcTokenURL}); err == nil {
				t.Fatal("Latch accepted it")
			}
			jerr := jwxCheckProof(tt.proof, "POST", rfcTokenURL, now)
			switch {
			case !tt.latchOnly && jerr == nil:
				t.Fatal("jwx accepted it")
			case tt.latchOnly && jerr != nil:
				t.Fatalf("jwx now refuses it too (%v): move the case out of the Latch-only rows", jerr)
			}
		})
	}
	t.Run("a replayed proof", func(t *testing.T) {
		p := proof(nil)
		if _, err := d.Verify(ProofCheck{Headers: []string{p}, Method: "POST", URL: rfcTokenURL}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Verify(ProofCheck{Headers: []string{p}, Method: "POST", URL: rfcTokenURL}); !errors.Is(err, errProofReplay) {
			t.Fatalf("Latch: %v", err)
		}
		// Replay is state jwx does not keep: it verifies the proof again.
		if err := jwxCheckProof(p, "POST", rfcTokenURL, now); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("the valid proof passes both", func(t *testing.T) {
		if _, err := d.CheckOnly(ProofCheck{Headers: []string{valid}, Method: "POST", URL: rfcTokenURL}); err != nil {
			t.Fatal(err)
		}
		if err := jwxCheckProof(valid, "POST", rfcTokenURL, now); err != nil {
			t.Fatal(err)
		}
	})
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }
