package webauthntest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"testing"

	"github.com/descope/virtualwebauthn"
	"github.com/fxamacker/cbor/v2"
)

// TestDrawCredentialSkipsShortCoordinates hands the generator a key with a
// short x coordinate first and checks it is skipped for the next one.
func TestDrawCredentialSkipsShortCoordinates(t *testing.T) {
	var short *ecdsa.PrivateKey
	for short == nil {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if pub, _ := k.PublicKey.Bytes(); pub[1] == 0 {
			short = k
		}
	}
	der, err := x509.MarshalPKCS8PrivateKey(short)
	if err != nil {
		t.Fatal(err)
	}
	bad := virtualwebauthn.NewCredentialWithImportedKey(virtualwebauthn.KeyTypeEC2, der)
	// The good key must itself have full coordinates (about 1 in 128 does
	// not), or the generator would rightly skip it too.
	good, _, err := newCredential()
	if err != nil {
		t.Fatal(err)
	}
	queue := []virtualwebauthn.Credential{bad, good, good}
	calls := 0
	vc, _, err := drawCredential(func() virtualwebauthn.Credential {
		calls++
		c := queue[0]
		queue = queue[1:]
		return c
	})
	if err != nil {
		t.Fatal(err)
	}
	goodPub, _ := x509.ParsePKCS8PrivateKey(good.Key.Data)
	if calls != 2 || !bytes.Equal(vc.ID, good.ID) || !fullCoordinates(mustPoint(t, goodPub)) {
		t.Fatalf("drew %d keys and kept %x, want the second", calls, vc.ID)
	}
	var key struct {
		X []byte `cbor:"-2,keyasint"`
		Y []byte `cbor:"-3,keyasint"`
	}
	if err := cbor.Unmarshal(vc.Key.AttestationData(), &key); err != nil {
		t.Fatal(err)
	}
	if len(key.X) != 32 || len(key.Y) != 32 {
		t.Fatalf("kept key has coordinates of %d and %d bytes", len(key.X), len(key.Y))
	}
}

// mustPoint returns the uncompressed point of a parsed ECDSA private key.
func mustPoint(t *testing.T, k any) []byte {
	t.Helper()
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		t.Fatalf("not an ECDSA key: %T", k)
	}
	pub, err := key.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// TestFullCoordinates checks the padding test on crafted points.
func TestFullCoordinates(t *testing.T) {
	point := func(x0, y0 byte) []byte {
		p := bytes.Repeat([]byte{0x11}, 65)
		p[0], p[1], p[33] = 4, x0, y0
		return p
	}
	cases := []struct {
		name string
		pub  []byte
		want bool
	}{
		{"both coordinates full", point(0x80, 0x01), true},
		{"x starting with a zero byte", point(0x00, 0x01), false},
		{"y starting with a zero byte", point(0x01, 0x00), false},
		{"wrong length", point(0x01, 0x01)[:64], false},
	}
	for _, c := range cases {
		if got := fullCoordinates(c.pub); got != c.want {
			t.Errorf("%s: got %v", c.name, got)
		}
	}
}
