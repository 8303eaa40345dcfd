package jose

import (
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/latchid/latch/tokens/internal/tokentest"

	"filippo.io/edwards25519"
)

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

// The Ed25519 vectors the token packages' tests share (tokentest).
var (
	smallOrderEd25519   = tokentest.SmallOrderEd25519
	nonCanonicalEd25519 = tokentest.NonCanonicalEd25519
	forgedEd25519Sig    = tokentest.ForgedEd25519Sig
	mustHex             = tokentest.MustHex
	hostileEd25519Keys  = tokentest.HostileEd25519Keys
)
