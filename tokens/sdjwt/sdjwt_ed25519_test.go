package sdjwt

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"
)

// smallOrderEd25519 are the canonical encodings of the eight points of the
// Ed25519 torsion subgroup: the identity, the point of order 2, the two of
// order 4 and the four of order 8. TestSmallOrderPointsAreTheTorsion checks
// the list rather than trusting it.
var smallOrderEd25519 = []string{
	"0100000000000000000000000000000000000000000000000000000000000000", // identity
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // order 2 (y = -1)
	"0000000000000000000000000000000000000000000000000000000000000000", // order 4
	"0000000000000000000000000000000000000000000000000000000000000080", // order 4
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", // order 8
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85", // order 8
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", // order 8
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", // order 8
}

// nonCanonicalEd25519 decode to valid points under lenient rules but are
// not the one encoding RFC 8032 allows.
var nonCanonicalEd25519 = []string{
	"0100000000000000000000000000000000000000000000000000000000000080", // identity with x "negative zero"
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = p + 1, the identity again
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = p, that is y = 0
}

// forgedEd25519Sig is the signature (R = identity, S = 0) that verifies
// under the identity key for any message.
var forgedEd25519Sig = func() []byte { s := make([]byte, ed25519.SignatureSize); s[0] = 1; return s }()

func mustHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// hostileEd25519Keys are every "x" a JWK may carry that must not become a
// key: the eight small-order points and the non-canonical encodings.
func hostileEd25519Keys(tb testing.TB) map[string]string {
	out := map[string]string{}
	for _, h := range smallOrderEd25519 {
		out["small order "+h[:8]] = b64.EncodeToString(mustHex(tb, h))
	}
	for _, h := range nonCanonicalEd25519 {
		out["non-canonical "+h[:8]+"…"+h[60:]] = b64.EncodeToString(mustHex(tb, h))
	}
	return out
}

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
