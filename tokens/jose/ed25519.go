package jose

import (
	"bytes"
	"crypto/ed25519"

	"filippo.io/edwards25519"
)

// Ed25519PublicKey turns the 32 octets of an RFC 8037 "x" member into a
// public key, refusing the keys for which a signature proves nothing.
// crypto/ed25519 verifies against any point it can decode, so with a key of
// small order (the identity and the seven other points in the torsion
// subgroup) a signature such as R = identity, S = 0 verifies for every
// message without any private key. A key is accepted only when its encoding
// is canonical (y below the field prime, no sign bit on x = 0: one key, one
// spelling, so one thumbprint) and the point times the cofactor 8 is not
// the identity, which excludes exactly the eight small-order points.
func Ed25519PublicKey(x []byte) (ed25519.PublicKey, bool) {
	if len(x) != ed25519.PublicKeySize {
		return nil, false
	}
	p, err := new(edwards25519.Point).SetBytes(x)
	if err != nil {
		return nil, false
	}
	// SetBytes accepts non-canonical encodings; a round trip finds them.
	if !bytes.Equal(p.Bytes(), x) {
		return nil, false
	}
	if new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1 {
		return nil, false
	}
	return ed25519.PublicKey(bytes.Clone(x)), true
}
