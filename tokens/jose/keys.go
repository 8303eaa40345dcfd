package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sync/atomic"
	"time"
)

// JWS algorithm names (RFC 7518, RFC 8037, RFC 9864).
const (
	AlgES256   = "ES256"
	AlgEdDSA   = "EdDSA"
	AlgEd25519 = "Ed25519"
	AlgRS256   = "RS256"
	AlgPS256   = "PS256"
)

// SigningKey is a private signing key with its key ID and JWS algorithm:
// "ES256" (P-256, the default), "EdDSA" (Ed25519) or, for ID tokens only,
// "RS256" (RSA 2048).
type SigningKey struct {
	// ID is the JWS "kid"; for generated keys it is the RFC 7638 thumbprint.
	ID string
	// Alg is the JWS "alg" this key signs with, "ES256" or "EdDSA".
	Alg string
	// CreatedAt records when the key was generated, for rotation policy.
	CreatedAt time.Time

	priv crypto.Signer
	pub  crypto.PublicKey
	// jwkCanonical holds the public key's RFC 7638 members, used both for
	// the thumbprint and to cross-check the published JWK.
	jwkCanonical []byte

	// headers cache the last two headers CompactHeader built, so a key
	// that signs access tokens and ID tokens in turn (every code exchange)
	// encodes neither per token.
	headers [2]atomic.Pointer[cachedHeader]
}

// cachedHeader is one encoded JOSE header and the typ it was built for.
type cachedHeader struct {
	typ, b64 string
}

// CompactHeader returns the base64url-encoded JOSE header
// {"alg":…,"kid":…,"typ":typ} of a token signed by k, for SignCompact. The
// last two headers built are cached, so a key that signs one or two kinds
// of token encodes each once.
func (k *SigningKey) CompactHeader(typ string) string {
	first := k.headers[0].Load()
	if first != nil && first.typ == typ {
		return first.b64
	}
	if h := k.headers[1].Load(); h != nil && h.typ == typ {
		return h.b64
	}
	h, _ := json.Marshal(struct {
		Alg string `json:"alg"`
		KID string `json:"kid"`
		Typ string `json:"typ"`
	}{k.Alg, k.ID, typ})
	c := &cachedHeader{typ: typ, b64: b64.EncodeToString(h)}
	// The newest goes first and the one it displaces second; two callers
	// racing here at worst encode a header again later.
	k.headers[1].Store(first)
	k.headers[0].Store(c)
	return c.b64
}

// GenerateSigningKey creates a new key for alg ("" means "ES256"). Its ID is
// the base64url RFC 7638 SHA-256 thumbprint of the public key, so the same
// key always gets the same kid.
func GenerateSigningKey(alg string, now time.Time) (*SigningKey, error) {
	var priv crypto.Signer
	switch alg {
	case "", AlgES256:
		alg = AlgES256
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("tokens: generate ES256 key: %w", err)
		}
		priv = k
	case AlgEdDSA:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("tokens: generate EdDSA key: %w", err)
		}
		priv = k
	case AlgRS256:
		// Only for ID tokens of clients registered for RS256 (OpenID
		// Connect Core section 15.1 requires it of every provider).
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, fmt.Errorf("tokens: generate RS256 key: %w", err)
		}
		priv = k
	default:
		return nil, fmt.Errorf("tokens: unsupported signing algorithm %q", alg)
	}
	return newSigningKey("", alg, now, priv)
}

// ParseSigningKey rebuilds a key stored with MarshalPrivate. The key type
// must match alg ("" means "ES256"). An empty id is replaced by the
// thumbprint, the same kid GenerateSigningKey would have chosen.
func ParseSigningKey(id, alg string, createdAt time.Time, pkcs8 []byte) (*SigningKey, error) {
	raw, err := x509.ParsePKCS8PrivateKey(pkcs8)
	if err != nil {
		return nil, fmt.Errorf("tokens: parse signing key: %w", err)
	}
	if alg == "" {
		alg = AlgES256
	}
	var priv crypto.Signer
	switch k := raw.(type) {
	case *ecdsa.PrivateKey:
		if alg != AlgES256 || k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("tokens: key type does not match algorithm %q", alg)
		}
		priv = k
	case ed25519.PrivateKey:
		if alg != AlgEdDSA {
			return nil, fmt.Errorf("tokens: key type does not match algorithm %q", alg)
		}
		priv = k
	case *rsa.PrivateKey:
		if alg != AlgRS256 || k.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("tokens: key type does not match algorithm %q", alg)
		}
		priv = k
	default:
		return nil, fmt.Errorf("tokens: unsupported signing key type %T", raw)
	}
	return newSigningKey(id, alg, createdAt, priv)
}

func newSigningKey(id, alg string, createdAt time.Time, priv crypto.Signer) (*SigningKey, error) {
	k := &SigningKey{ID: id, Alg: alg, CreatedAt: createdAt, priv: priv, pub: priv.Public()}
	canonical, err := CanonicalPublicJWK(k.pub)
	if err != nil {
		return nil, err
	}
	k.jwkCanonical = canonical
	if k.ID == "" {
		sum := sha256.Sum256(canonical)
		k.ID = b64.EncodeToString(sum[:])
	}
	return k, nil
}

// MarshalPrivate encodes the private key as PKCS #8 DER for storage. The
// result is secret: the store encrypts it at rest.
func (k *SigningKey) MarshalPrivate() ([]byte, error) {
	if k == nil || k.priv == nil {
		return nil, errors.New("tokens: empty signing key")
	}
	return x509.MarshalPKCS8PrivateKey(k.priv)
}

// Signer returns the private key, for signing JWS objects with SignJWS
// (for example SD-JWT issuer signatures).
func (k *SigningKey) Signer() crypto.Signer { return k.priv }

// Public returns the public key: *ecdsa.PublicKey or ed25519.PublicKey.
func (k *SigningKey) Public() crypto.PublicKey { return k.pub }

// sign returns the JWS signature over signingInput in the encoding RFC 7518
// and RFC 8037 require (raw r||s for ES256).
func (k *SigningKey) sign(signingInput []byte) ([]byte, error) {
	switch priv := k.priv.(type) {
	case *ecdsa.PrivateKey:
		digest := sha256.Sum256(signingInput)
		der, err := ecdsa.SignASN1(rand.Reader, priv, digest[:])
		if err != nil {
			return nil, fmt.Errorf("tokens: sign: %w", err)
		}
		sig, err := decodeES256DER(der)
		if err != nil {
			return nil, err
		}
		lowS(sig)
		return sig, nil
	case ed25519.PrivateKey:
		return ed25519.Sign(priv, signingInput), nil
	case *rsa.PrivateKey:
		digest := sha256.Sum256(signingInput)
		return rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA256, digest[:])
	}
	return nil, errors.New("tokens: unsupported signing key")
}

// CanonicalPublicJWK returns the RFC 7638 section 3.2 form of a public key:
// the required members only, in lexicographic order, no whitespace. It is
// both the thumbprint input and a minimal public JWK.
func CanonicalPublicJWK(pub crypto.PublicKey) ([]byte, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, errors.New("tokens: only P-256 EC keys are supported")
		}
		point, err := k.Bytes()
		if err != nil {
			return nil, fmt.Errorf("tokens: encode public key: %w", err)
		}
		return CanonicalEC("P-256", b64.EncodeToString(point[1:33]), b64.EncodeToString(point[33:])), nil
	case ed25519.PublicKey:
		return CanonicalOKP("Ed25519", b64.EncodeToString(k)), nil
	case *rsa.PublicKey:
		return canonicalRSA(b64.EncodeToString(big.NewInt(int64(k.E)).Bytes()), b64.EncodeToString(k.N.Bytes())), nil
	}
	return nil, fmt.Errorf("tokens: unsupported public key type %T", pub)
}
