package tokens

import (
	"crypto"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/latchid/latch/tokens/jose"
)

// Client authentication with a signed JWT (private_key_jwt: RFC 7523
// section 3 and OpenID Connect Core section 9).

// maxAssertionLifetime bounds how far in the future a client assertion's
// exp may lie, so its jti need only be remembered that long.
const maxAssertionLifetime = 5 * time.Minute

// clientAlgs are the JWS algorithms accepted for client assertions.
var clientAlgs = []string{jose.AlgES256, jose.AlgEdDSA, jose.AlgRS256, jose.AlgPS256}

// ClientAssertionAlgs lists the algorithms client assertions may use.
func ClientAssertionAlgs() []string { return slices.Clone(clientAlgs) }

type setKey struct {
	Kid string `json:"kid"`
	Kty string `json:"kty"`
	Use string `json:"use"`
}

// CheckClientJWKS validates a client's JWK Set: a {"keys":[...]} document
// of at most 64 KiB whose every key is a public EC P-256, Ed25519 or RSA
// key usable with one of the accepted algorithms.
func CheckClientJWKS(data []byte) error {
	keys, err := jose.ParseJWKS(data)
	if err != nil {
		return err
	}
	for _, k := range keys {
		ok := false
		for _, alg := range clientAlgs {
			if _, _, err := jose.PublicKeyFromJWK(k, alg); err == nil {
				ok = true
				break
			} else if errors.Is(err, jose.ErrJWKPrivate) {
				return errors.New("tokens: the JWK Set holds a private or symmetric key; register only public keys")
			}
		}
		if !ok {
			return errors.New("tokens: the JWK Set holds a key that is not a public P-256, Ed25519 or RSA (2048 to 8192 bits) key")
		}
	}
	return nil
}

// ClientAssertion is a verified client assertion.
type ClientAssertion struct {
	JTI       string
	ExpiresAt time.Time
}

// ErrClientAssertion is returned for every client assertion that fails.
var ErrClientAssertion = errors.New("tokens: invalid client assertion")

type assertionPayload struct {
	Iss string   `json:"iss"`
	Sub string   `json:"sub"`
	Aud audience `json:"aud"`
	Exp int64    `json:"exp"`
	Iat int64    `json:"iat"`
	Nbf int64    `json:"nbf"`
	Jti string   `json:"jti"`
}

// VerifyClientAssertion checks a client assertion (RFC 7523 section 3):
// signed with a key of the client's JWK Set and an accepted algorithm
// matching that key, iss and sub the client_id, aud naming one of
// audiences (the token endpoint or the issuer), an exp in the future but
// no more than five minutes away, and a jti of at most 256 bytes. The
// caller refuses a jti it has seen before the returned expiry.
func VerifyClientAssertion(assertion string, jwks []byte, clientID string, audiences []string, now time.Time) (*ClientAssertion, error) {
	j, err := jose.SplitCompact(assertion)
	if err != nil {
		return nil, ErrClientAssertion
	}
	hb, err := decodeSegment(j.Header)
	if err != nil {
		return nil, ErrClientAssertion
	}
	var h accessHeader
	if !jose.StrictJSON(hb) || json.Unmarshal(hb, &h) != nil || h.Crit != nil || !slices.Contains(clientAlgs, h.Alg) {
		return nil, ErrClientAssertion
	}
	keys, err := jose.ParseJWKS(jwks)
	if err != nil {
		return nil, ErrClientAssertion
	}
	sig, err := decodeSegment(j.Signature)
	if err != nil {
		return nil, ErrClientAssertion
	}
	verified := false
	for _, raw := range keys {
		var sk setKey
		if json.Unmarshal(raw, &sk) != nil || h.KID != "" && sk.Kid != h.KID || sk.Use != "" && sk.Use != "sig" {
			continue
		}
		var pub crypto.PublicKey
		if pub, _, err = jose.PublicKeyFromJWK(raw, h.Alg); err != nil {
			continue
		}
		if jose.VerifySignature(h.Alg, pub, j.SigningInput, sig) {
			verified = true
			break
		}
	}
	if !verified {
		return nil, ErrClientAssertion
	}
	pb, err := decodeSegment(j.Payload)
	if err != nil {
		return nil, ErrClientAssertion
	}
	var p assertionPayload
	if !jose.StrictJSON(pb) || json.Unmarshal(pb, &p) != nil {
		return nil, ErrClientAssertion
	}
	if p.Iss != clientID || p.Sub != clientID || p.Jti == "" || len(p.Jti) > 256 || p.Exp == 0 {
		return nil, ErrClientAssertion
	}
	aud := false
	for _, a := range audiences {
		aud = aud || slices.Contains(p.Aud, a)
	}
	if !aud {
		return nil, ErrClientAssertion
	}
	exp := time.Unix(p.Exp, 0)
	if !now.Before(exp.Add(accessSkew)) || exp.After(now.Add(maxAssertionLifetime+accessSkew)) {
		return nil, ErrClientAssertion
	}
	if p.Nbf != 0 && time.Unix(p.Nbf, 0).After(now.Add(accessSkew)) || p.Iat != 0 && time.Unix(p.Iat, 0).After(now.Add(accessSkew)) {
		return nil, ErrClientAssertion
	}
	return &ClientAssertion{JTI: p.Jti, ExpiresAt: exp.Add(accessSkew)}, nil
}

// AssertionIssuer returns the iss of a client assertion without verifying
// it, so the caller can look up the client whose keys verify it; it
// proves nothing on its own.
func AssertionIssuer(assertion string) (string, bool) {
	j, err := jose.SplitCompact(assertion)
	if err != nil {
		return "", false
	}
	pb, err := decodeSegment(j.Payload)
	if err != nil {
		return "", false
	}
	var p struct {
		Iss string `json:"iss"`
	}
	if !jose.StrictJSON(pb) || json.Unmarshal(pb, &p) != nil || p.Iss == "" || len(p.Iss) > 128 {
		return "", false
	}
	return p.Iss, true
}
