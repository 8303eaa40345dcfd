package sdjwt

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/latchid/latch/tokens/internal/tokentest"
)

func TestSDIssueRefusesSmallOrderHolderKeys(t *testing.T) {
	f := sdNewFixture(t)
	for name, x := range hostileEd25519Keys(t) {
		t.Run(name, func(t *testing.T) {
			_, err := SDIssue(SDIssueRequest{
				Issuer: sdTestIssuer, VCT: sdTestVCT, IssuedAt: sdTestNow, ExpiresAt: sdTestNow.Add(time.Hour),
				HolderJWK: []byte(`{"kty":"OKP","crv":"Ed25519","x":"` + x + `"}`),
				Claims:    map[string]any{"given_name": "Ada"},
			}, f.issuer, "ES256", sdTestKID)
			sdAssertSDError(t, err, "holder jwk")
		})
	}
}

func TestSDVerifyRefusesSmallOrderHolderKeys(t *testing.T) {
	f := sdNewFixture(t)
	for name, x := range hostileEd25519Keys(t) {
		t.Run(name, func(t *testing.T) {
			// An issuer JWT bound to the hostile key, as a careless issuer
			// would sign it, and a KB-JWT made without any private key.
			payload := f.basePayload(t)
			payload["cnf"] = map[string]any{"jwk": map[string]any{"kty": "OKP", "crv": "Ed25519", "x": x}}
			prefix := sdSDJWT(f.signIssuer(t, payload), nil)
			sum := sha256.Sum256([]byte(prefix))
			kb := map[string]any{"iat": sdTestNow.Add(-10 * time.Second).Unix(), "aud": sdTestAudience,
				"nonce": sdTestNonce, "sd_hash": base64.RawURLEncoding.EncodeToString(sum[:])}
			hb, _ := json.Marshal(map[string]any{"alg": "EdDSA", "typ": "kb+jwt"})
			pb, _ := json.Marshal(kb)
			kbJWT := b64.EncodeToString(hb) + "." + b64.EncodeToString(pb) + "." + b64.EncodeToString(forgedEd25519Sig)
			_, err := SDVerify(f.request(prefix + kbJWT))
			sdAssertSDError(t, err, "holder jwk")
		})
	}
}

// The Ed25519 vectors the token packages' tests share (tokentest).
var (
	smallOrderEd25519   = tokentest.SmallOrderEd25519
	nonCanonicalEd25519 = tokentest.NonCanonicalEd25519
	forgedEd25519Sig    = tokentest.ForgedEd25519Sig
	mustHex             = tokentest.MustHex
	hostileEd25519Keys  = tokentest.HostileEd25519Keys
)
