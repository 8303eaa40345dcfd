package jose

import (
	"encoding/json"
	"errors"
)

// jwksKeyMeta holds the members of a published key that say what it is
// for; the key material itself is read by PublicKeyFromJWK.
type jwksKeyMeta struct {
	KID string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// ParsePublicJWKS reads a JWK Set as an issuer publishes it (at most
// 64 KiB and 32 keys) into keyring entries that verify but cannot sign:
// pass them to a Keyring's Replace with a nil active key, and an
// AccessTokens on that keyring verifies the issuer's access tokens with
// every check and the verified-token cache it has for Latch's own.
//
// Only signature keys ("use" absent or "sig") with a kid and an "alg" of
// ES256 or EdDSA are kept, the only algorithms access tokens and status
// lists are signed with; the algorithm comes from the published key, never
// from a token header. Other keys (an RS256 key published for ID tokens,
// an encryption key) are skipped, not an error, as RFC 7517 section 5
// allows. A key carrying private members, or one whose material does not
// match its alg, fails the whole set.
func ParsePublicJWKS(data []byte) ([]KeyringEntry, error) {
	raw, err := ParseJWKS(data)
	if err != nil {
		return nil, err
	}
	var out []KeyringEntry
	for _, k := range raw {
		var m jwksKeyMeta
		if !StrictJSON(k) || json.Unmarshal(k, &m) != nil {
			return nil, ErrJWKMalformed
		}
		if m.KID == "" || (m.Use != "" && m.Use != "sig") || (m.Alg != AlgES256 && m.Alg != AlgEdDSA) {
			continue
		}
		pub, canonical, err := PublicKeyFromJWK(k, m.Alg)
		if err != nil {
			return nil, err
		}
		out = append(out, KeyringEntry{Key: &SigningKey{ID: m.KID, Alg: m.Alg, pub: pub, jwkCanonical: canonical}})
	}
	if len(out) == 0 {
		return nil, errors.New("tokens: the JWK Set holds no ES256 or EdDSA signature key")
	}
	return out, nil
}

// maxJWKS bounds a JWK Set document.
const maxJWKS = 64 << 10

type jwkSet struct {
	Keys []json.RawMessage `json:"keys"`
}

// ParseJWKS returns the keys of a {"keys":[...]} document of at most
// 64 KiB holding 1 to 32 keys, each still to be checked.
func ParseJWKS(data []byte) ([]json.RawMessage, error) {
	var set jwkSet
	if len(data) == 0 || len(data) > maxJWKS || json.Unmarshal(data, &set) != nil || len(set.Keys) == 0 || len(set.Keys) > 32 {
		return nil, errors.New("tokens: not a JWK Set ({\"keys\":[...]}, 1 to 32 keys, at most 64 KiB)")
	}
	return set.Keys, nil
}
