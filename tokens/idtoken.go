package tokens

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/latchid/latch/tokens/jose"
)

// IDClaims are the claims of an OpenID Connect ID token (OpenID Connect
// Core 1.0 sections 2 and 3.1.3.6). Times are whole seconds.
type IDClaims struct {
	Issuer   string
	Subject  string
	Audience string // the client_id; also azp
	IssuedAt time.Time
	Expires  time.Time
	AuthTime time.Time
	Nonce    string
	AMR      []string
	ACR      string
	// SessionID is the provider's login session (sid), for logout.
	SessionID string
	// AccessToken, when set, is hashed into at_hash.
	AccessToken string
	// Profile claims, present when the profile scope was granted.
	PreferredUsername, Name string
	// Groups, present when the groups scope was granted.
	Groups []string
}

type idPayload struct {
	Iss               string   `json:"iss"`
	Sub               string   `json:"sub"`
	Aud               string   `json:"aud"`
	Exp               int64    `json:"exp"`
	Iat               int64    `json:"iat"`
	AuthTime          int64    `json:"auth_time,omitempty"`
	Nonce             string   `json:"nonce,omitempty"`
	AMR               []string `json:"amr,omitempty"`
	ACR               string   `json:"acr,omitempty"`
	Azp               string   `json:"azp"`
	Sid               string   `json:"sid,omitempty"`
	AtHash            string   `json:"at_hash,omitempty"`
	PreferredUsername string   `json:"preferred_username,omitempty"`
	Name              string   `json:"name,omitempty"`
	Groups            []string `json:"groups,omitempty"`
}

// typIDToken is the ID token's JOSE typ: plain "JWT", which distinguishes it
// from access tokens ("at+jwt"), DPoP proofs and SD-JWTs (RFC 8725 section
// 3.11); OpenID Connect defines no explicit type of its own.
const typIDToken = "JWT"

// SignIDToken signs an ID token for c with key (ES256, EdDSA or RS256).
func SignIDToken(key *jose.SigningKey, c IDClaims) (string, error) {
	if key == nil {
		return "", errors.New("tokens: no signing key for the ID token")
	}
	if c.Issuer == "" || c.Subject == "" || c.Audience == "" || c.Expires.IsZero() || c.IssuedAt.IsZero() {
		return "", errors.New("tokens: an ID token needs iss, sub, aud, iat and exp")
	}
	p := idPayload{
		Iss: c.Issuer, Sub: c.Subject, Aud: c.Audience, Azp: c.Audience,
		Exp: c.Expires.Unix(), Iat: c.IssuedAt.Unix(), Nonce: c.Nonce, AMR: c.AMR, ACR: c.ACR, Sid: c.SessionID,
		PreferredUsername: c.PreferredUsername, Name: c.Name, Groups: c.Groups,
	}
	if !c.AuthTime.IsZero() {
		p.AuthTime = c.AuthTime.Unix()
	}
	if c.AccessToken != "" {
		p.AtHash = AtHash(c.AccessToken)
	}
	payload, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("tokens: encode ID token: %w", err)
	}
	return jose.SignCompact(key, key.CompactHeader(typIDToken), payload)
}

// AtHash is the at_hash of an access token (OpenID Connect Core section
// 3.1.3.6): the left half of its SHA-256 hash, base64url-encoded. Every
// algorithm Latch signs ID tokens with hashes with SHA-256.
func AtHash(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return b64.EncodeToString(sum[:16])
}

// IDTokenHint is what an id_token_hint of RP-initiated logout names.
type IDTokenHint struct {
	Subject, ClientID, SessionID string
}

var errIDTokenHint = errors.New("tokens: id_token_hint is not an ID token of this issuer")

// VerifyIDTokenHint checks that token is an ID token this issuer signed
// with a key of r that is still published, and returns whom it names. An
// expired token is accepted, as RP-initiated logout allows (OpenID Connect
// RP-Initiated Logout 1.0 section 2): it only identifies, never authorises.
func VerifyIDTokenHint(r *jose.Keyring, token, issuer string, now time.Time) (*IDTokenHint, error) {
	j, err := jose.SplitCompact(token)
	if err != nil {
		return nil, errIDTokenHint
	}
	hb, err := decodeSegment(j.Header)
	if err != nil {
		return nil, errIDTokenHint
	}
	var h accessHeader
	if !jose.StrictJSON(hb) || json.Unmarshal(hb, &h) != nil || h.Typ != typIDToken || h.Crit != nil {
		return nil, errIDTokenHint
	}
	entry, ok := r.Snapshot().Lookup(h.KID, now)
	if !ok || entry.Key.Alg != h.Alg {
		return nil, errIDTokenHint
	}
	sig, err := decodeSegment(j.Signature)
	if err != nil || !jose.VerifySignature(entry.Key.Alg, entry.Key.Public(), j.SigningInput, sig) {
		return nil, errIDTokenHint
	}
	pb, err := decodeSegment(j.Payload)
	if err != nil {
		return nil, errIDTokenHint
	}
	var p idPayload
	if !jose.StrictJSON(pb) || json.Unmarshal(pb, &p) != nil || p.Iss != issuer || p.Sub == "" || p.Aud == "" {
		return nil, errIDTokenHint
	}
	return &IDTokenHint{Subject: p.Sub, ClientID: p.Aud, SessionID: p.Sid}, nil
}
