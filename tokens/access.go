package tokens

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/latchid/latch/tokens/jose"
)

// AccessClaims are the claims of an RFC 9068 JWT access token.
type AccessClaims struct {
	Issuer   string
	Subject  string
	Audience string

	IssuedAt  time.Time
	ExpiresAt time.Time
	AuthTime  time.Time

	ID        string
	ClientID  string
	Scope     string
	SessionID string

	AMR []string
	// Groups are the account's groups (claim "groups"), issued when the
	// client was granted them; nil for none.
	Groups []string
	// JKT is the RFC 7638 thumbprint of the DPoP key the token is bound to
	// (claim cnf.jkt), or "" for an unbound token.
	JKT string
}

// AccessConfig configures AccessTokens.
type AccessConfig struct {
	// Issuer is the exact "iss" issued and required.
	Issuer string
	// Audience is the "aud" issued by default and required on
	// verification; empty means Issuer.
	Audience string
	// TTL is the access-token lifetime; zero means 10 minutes.
	TTL time.Duration
	// Keys signs new tokens with its active key and verifies with any
	// published key.
	Keys *jose.Keyring
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// CacheSize bounds the verified-token cache; zero means 100000 and a
	// negative value disables the cache.
	CacheSize int
}

const (
	defaultAccessTTL       = 10 * time.Minute
	defaultAccessCacheSize = 100000
	// accessSkew tolerates small clock differences between the issuing and
	// verifying nodes on exp, iat and nbf.
	accessSkew = 5 * time.Second
)

// AccessTokens issues and verifies RFC 9068 access tokens. It is safe for
// concurrent use.
type AccessTokens struct {
	cfg   AccessConfig
	cache *verifiedCache
}

// NewAccessTokens returns an issuer/verifier with cfg's defaults filled in.
func NewAccessTokens(cfg AccessConfig) *AccessTokens {
	if cfg.Audience == "" {
		cfg.Audience = cfg.Issuer
	}
	if cfg.TTL <= 0 {
		cfg.TTL = defaultAccessTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = defaultAccessCacheSize
	}
	a := &AccessTokens{cfg: cfg}
	if cfg.CacheSize > 0 {
		a.cache = newVerifiedCache(cfg.CacheSize)
	}
	return a
}

// TTL returns the lifetime given to issued tokens.
func (a *AccessTokens) TTL() time.Duration { return a.cfg.TTL }

// accessHeader is the JOSE header of an access token. Crit is captured so a
// token demanding an extension we do not implement is rejected (RFC 7515
// section 4.1.11).
type accessHeader struct {
	Alg  string          `json:"alg"`
	Typ  string          `json:"typ"`
	KID  string          `json:"kid"`
	Crit json.RawMessage `json:"crit"`
}

// accessPayload is the wire form of AccessClaims.
type accessPayload struct {
	Iss      string        `json:"iss"`
	Sub      string        `json:"sub"`
	Aud      audience      `json:"aud"`
	Exp      int64         `json:"exp"`
	Nbf      int64         `json:"nbf,omitempty"`
	Iat      int64         `json:"iat"`
	Jti      string        `json:"jti"`
	ClientID string        `json:"client_id"`
	Scope    string        `json:"scope,omitempty"`
	AuthTime int64         `json:"auth_time,omitempty"`
	AMR      []string      `json:"amr,omitempty"`
	Sid      string        `json:"sid,omitempty"`
	Groups   []string      `json:"groups,omitempty"`
	Cnf      *confirmation `json:"cnf,omitempty"`
}

// confirmation is the RFC 7800 "cnf" claim with the RFC 9449 "jkt" member.
type confirmation struct {
	JKT string `json:"jkt"`
}

// audience is "aud", which RFC 7519 section 4.1.3 allows as one string or
// an array of strings. We issue the single-string form.
type audience []string

// MarshalJSON writes a single audience as a plain string.
func (a audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

// UnmarshalJSON accepts a string or an array of strings, nothing else.
func (a *audience) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = audience{s}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return err
	}
	*a = list
	return nil
}

// Issue signs an access token for c with the active key. It sets iss, iat,
// exp (now + TTL) and a fresh 128-bit jti, and aud when c.Audience is empty;
// the returned claims are exactly what the token carries (times in whole
// seconds). Subject and ClientID are required because RFC 9068 requires sub
// and client_id.
func (a *AccessTokens) Issue(c AccessClaims) (token string, issued AccessClaims, err error) {
	var key *jose.SigningKey
	if a.cfg.Keys != nil {
		key = a.cfg.Keys.Active()
	}
	if key == nil {
		return "", AccessClaims{}, errors.New("tokens: no active signing key")
	}
	if c.Subject == "" || c.ClientID == "" {
		return "", AccessClaims{}, errors.New("tokens: access token needs a subject and a client_id")
	}
	now := time.Unix(a.cfg.Now().Unix(), 0)
	c.Issuer = a.cfg.Issuer
	if c.Audience == "" {
		c.Audience = a.cfg.Audience
	}
	c.IssuedAt = now
	c.ExpiresAt = now.Add(a.cfg.TTL)
	if !c.AuthTime.IsZero() {
		c.AuthTime = time.Unix(c.AuthTime.Unix(), 0)
	}
	var id [16]byte
	_, _ = rand.Read(id[:])
	c.ID = b64.EncodeToString(id[:])
	c.AMR = slices.Clone(c.AMR)
	c.Groups = slices.Clone(c.Groups)

	p := accessPayload{
		Iss: c.Issuer, Sub: c.Subject, Aud: audience{c.Audience},
		Exp: c.ExpiresAt.Unix(), Iat: c.IssuedAt.Unix(), Jti: c.ID,
		ClientID: c.ClientID, Scope: c.Scope, AMR: c.AMR, Sid: c.SessionID, Groups: c.Groups,
	}
	if !c.AuthTime.IsZero() {
		p.AuthTime = c.AuthTime.Unix()
	}
	if c.JKT != "" {
		p.Cnf = &confirmation{JKT: c.JKT}
	}
	payload, err := json.Marshal(p)
	if err != nil {
		return "", AccessClaims{}, fmt.Errorf("tokens: encode claims: %w", err)
	}
	token, err = jose.SignCompact(key, key.CompactHeader(typAccessToken), payload)
	if err != nil {
		return "", AccessClaims{}, err
	}
	return token, c, nil
}

const typAccessToken = "at+jwt"

// Verify checks an access token and returns its claims, or a *jose.TokenError
// with code "invalid_token". It accepts only a compact JWS of at most 8 KiB
// with typ "at+jwt" (RFC 9068 section 4), signed by a published key of ours
// with exactly that key's algorithm, with the configured iss, an aud that
// includes the configured audience, an unexpired exp, no future iat or nbf
// and every RFC 9068 required claim. Tokens that passed are remembered, by
// SHA-256 of the token, until they expire or their key is withdrawn.
// The returned claims are the caller's to keep or modify.
func (a *AccessTokens) Verify(token string) (*AccessClaims, error) {
	if len(token) == 0 || len(token) > jose.MaxCompactJWS {
		return nil, errTokenMalformed
	}
	now := a.cfg.Now()
	keys := a.cfg.Keys
	if keys == nil {
		return nil, errTokenKey
	}
	state := keys.Snapshot()
	var sum [32]byte
	if a.cache != nil {
		sum = jose.SHA256String(token)
		if c, ok := a.cache.get(&sum, state, now); ok {
			return c, nil
		}
	}
	claims, until, err := a.verifyFull(token, state, now)
	if err != nil {
		return nil, err
	}
	if a.cache != nil {
		a.cache.put(&sum, claims, state, until, now)
	}
	out := *claims
	out.AMR = slices.Clone(claims.AMR)
	out.Groups = slices.Clone(claims.Groups)
	return &out, nil
}

var (
	errTokenMalformed = invalidToken("The access token is malformed.")
	errTokenType      = invalidToken("The access token has the wrong type.")
	errTokenAlg       = invalidToken("The access token algorithm is not accepted.")
	errTokenKey       = invalidToken("The access token signing key is unknown.")
	errTokenSignature = invalidToken("The access token signature is invalid.")
	errTokenClaims    = invalidToken("The access token is missing required claims.")
	errTokenIssuer    = invalidToken("The access token issuer is not accepted.")
	errTokenAudience  = invalidToken("The access token audience is not accepted.")
	errTokenExpired   = invalidToken("The access token has expired.")
	errTokenNotYet    = invalidToken("The access token is not yet valid.")
)

// IsUnknownKey reports whether err is the access-token rejection for a kid
// the keyring does not hold: a verifier working from a fetched JWKS then
// knows to fetch it again.
func IsUnknownKey(err error) bool { return err == errTokenKey }

// invalidToken takes only fixed, client-safe descriptions: never pass it
// library error text, which can echo untrusted input.
func invalidToken(desc string) *jose.TokenError {
	return &jose.TokenError{Code: jose.CodeInvalidToken, Description: desc}
}

// verifyFull runs every check on a token not found in the cache. It
// returns the claims and the instant until which the result may be cached:
// the token's exp, or earlier if its key stops being published first.
func (a *AccessTokens) verifyFull(token string, state *jose.KeyringSnapshot, now time.Time) (*AccessClaims, time.Time, error) {
	j, err := jose.SplitCompact(token)
	if err != nil {
		return nil, time.Time{}, errTokenMalformed
	}
	hb, err := decodeSegment(j.Header)
	if err != nil {
		return nil, time.Time{}, errTokenMalformed
	}
	var h accessHeader
	if !jose.StrictJSON(hb) || json.Unmarshal(hb, &h) != nil {
		return nil, time.Time{}, errTokenMalformed
	}
	if !isAccessTokenType(h.Typ) {
		return nil, time.Time{}, errTokenType
	}
	if h.Crit != nil {
		return nil, time.Time{}, errTokenMalformed
	}
	if h.Alg != jose.AlgES256 && h.Alg != jose.AlgEdDSA {
		return nil, time.Time{}, errTokenAlg
	}
	entry, ok := state.Lookup(h.KID, now)
	if !ok {
		return nil, time.Time{}, errTokenKey
	}
	// The key's own algorithm decides; the header only has to agree.
	if entry.Key.Alg != h.Alg {
		return nil, time.Time{}, errTokenAlg
	}
	sig, err := decodeSegment(j.Signature)
	if err != nil {
		return nil, time.Time{}, errTokenSignature
	}
	if !jose.VerifySignature(entry.Key.Alg, entry.Key.Public(), j.SigningInput, sig) {
		return nil, time.Time{}, errTokenSignature
	}
	pb, err := decodeSegment(j.Payload)
	if err != nil {
		return nil, time.Time{}, errTokenMalformed
	}
	var p accessPayload
	if !jose.StrictJSON(pb) || json.Unmarshal(pb, &p) != nil {
		return nil, time.Time{}, errTokenMalformed
	}
	if p.Iss == "" || p.Sub == "" || len(p.Aud) == 0 || p.Exp == 0 || p.Iat == 0 || p.Jti == "" || p.ClientID == "" {
		return nil, time.Time{}, errTokenClaims
	}
	if p.Iss != a.cfg.Issuer {
		return nil, time.Time{}, errTokenIssuer
	}
	if !slices.Contains(p.Aud, a.cfg.Audience) {
		return nil, time.Time{}, errTokenAudience
	}
	exp := time.Unix(p.Exp, 0)
	if !now.Before(exp.Add(accessSkew)) {
		return nil, time.Time{}, errTokenExpired
	}
	if time.Unix(p.Iat, 0).After(now.Add(accessSkew)) {
		return nil, time.Time{}, errTokenNotYet
	}
	if p.Nbf != 0 && time.Unix(p.Nbf, 0).After(now.Add(accessSkew)) {
		return nil, time.Time{}, errTokenNotYet
	}
	c := &AccessClaims{
		Issuer: p.Iss, Subject: p.Sub, Audience: a.cfg.Audience,
		IssuedAt: time.Unix(p.Iat, 0), ExpiresAt: exp,
		ID: p.Jti, ClientID: p.ClientID, Scope: p.Scope, SessionID: p.Sid,
		AMR: p.AMR, Groups: p.Groups,
	}
	if p.AuthTime != 0 {
		c.AuthTime = time.Unix(p.AuthTime, 0)
	}
	if p.Cnf != nil {
		if p.Cnf.JKT == "" {
			return nil, time.Time{}, errTokenClaims
		}
		c.JKT = p.Cnf.JKT
	}
	until := exp
	if !entry.PublishUntil.IsZero() && entry.PublishUntil.Before(until) {
		until = entry.PublishUntil
	}
	return c, until, nil
}

// isAccessTokenType accepts "at+jwt" and its full media type (RFC 9068
// section 4), compared case-insensitively as media types are (RFC 7515
// section 4.1.9).
func isAccessTokenType(typ string) bool {
	typ, _ = strings.CutPrefix(strings.ToLower(typ), "application/")
	return typ == typAccessToken
}
