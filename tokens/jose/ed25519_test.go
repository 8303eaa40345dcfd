package jose

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"testing"

	"filippo.io/edwards25519"
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

func mustHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestSmallOrderPointsAreTheTorsion(t *testing.T) {
	seen := map[string]bool{}
	for _, h := range smallOrderEd25519 {
		p, err := new(edwards25519.Point).SetBytes(mustHex(t, h))
		if err != nil {
			t.Fatalf("%s is not a point: %v", h, err)
		}
		if new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) != 1 {
			t.Fatalf("%s is not of small order", h)
		}
		seen[string(p.Bytes())] = true
	}
	if len(seen) != 8 {
		t.Fatalf("%d distinct small-order points, want 8", len(seen))
	}
	// The premise of the defect: the standard library accepts the forgery.
	if !ed25519.Verify(mustHex(t, smallOrderEd25519[0]), []byte("any message"), forgedEd25519Sig) {
		t.Fatal("forged signature does not verify under the identity key; the test premise is wrong")
	}
}

func TestEd25519PublicKey(t *testing.T) {
	_, good, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	pub := good.Public().(ed25519.PublicKey)
	if k, ok := Ed25519PublicKey(pub); !ok || !k.Equal(pub) {
		t.Fatal("a generated key was refused")
	}
	for _, h := range smallOrderEd25519 {
		if _, ok := Ed25519PublicKey(mustHex(t, h)); ok {
			t.Errorf("small-order key %s accepted", h)
		}
	}
	for _, h := range nonCanonicalEd25519 {
		if _, ok := Ed25519PublicKey(mustHex(t, h)); ok {
			t.Errorf("non-canonical key %s accepted", h)
		}
	}
	if _, ok := Ed25519PublicKey(pub[:31]); ok {
		t.Error("short key accepted")
	}
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

func TestPublicKeyFromJWKRefusesSmallOrderEd25519(t *testing.T) {
	for name, x := range hostileEd25519Keys(t) {
		t.Run(name, func(t *testing.T) {
			raw := []byte(`{"kty":"OKP","crv":"Ed25519","x":"` + x + `"}`)
			if _, _, err := PublicKeyFromJWK(raw, AlgEdDSA); !errors.Is(err, ErrJWKMalformed) {
				t.Fatalf("error %v, want malformed", err)
			}
		})
	}
}

// forgedEd25519Sig is the signature (R = identity, S = 0) that verifies
// under the identity key for any message.
var forgedEd25519Sig = func() []byte { s := make([]byte, ed25519.SignatureSize); s[0] = 1; return s }()
