package webauthntest

import (
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/descope/virtualwebauthn"
)

// newCredential generates an ES256 credential. The virtual authenticator
// writes the EC2 x and y coordinates without left padding, so a key with a
// coordinate below 2^248 (about 1 in 128) would be encoded in 31 bytes and
// rightly refused by the relying party; such keys are drawn again.
func newCredential() (virtualwebauthn.Credential, []byte, error) {
	return drawCredential(func() virtualwebauthn.Credential {
		return virtualwebauthn.NewCredential(virtualwebauthn.KeyTypeEC2)
	})
}

// drawCredential calls generate until it yields a key whose coordinates both
// take 32 bytes, and returns it with its SubjectPublicKeyInfo.
func drawCredential(generate func() virtualwebauthn.Credential) (virtualwebauthn.Credential, []byte, error) {
	for range 64 {
		vc := generate()
		parsed, err := x509.ParsePKCS8PrivateKey(vc.Key.Data)
		if err != nil {
			return vc, nil, fmt.Errorf("webauthntest: generated key: %w", err)
		}
		key, ok := parsed.(*ecdsa.PrivateKey)
		if !ok {
			return vc, nil, errors.New("webauthntest: generated key is not ECDSA")
		}
		pub, err := key.PublicKey.Bytes() // uncompressed point 0x04 || X || Y
		if err != nil {
			return vc, nil, fmt.Errorf("webauthntest: generated key: %w", err)
		}
		if !fullCoordinates(pub) {
			continue
		}
		spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
		if err != nil {
			return vc, nil, fmt.Errorf("webauthntest: generated key: %w", err)
		}
		return vc, spki, nil
	}
	return virtualwebauthn.Credential{}, nil, errors.New("webauthntest: could not generate a well-formed key")
}

// fullCoordinates reports whether neither coordinate of an uncompressed P-256
// point starts with a zero byte, which the unpadded encoding would drop.
func fullCoordinates(pub []byte) bool {
	return len(pub) == 65 && pub[1] != 0 && pub[33] != 0
}
