package sdjwt

import (
	"encoding/json"
	"math"
	"time"

	"github.com/latchid/latch/tokens/jose"
)

// StatusListTyp is the JWT "typ" of a Status List Token; the HTTP media type
// is "application/" + StatusListTyp.
const StatusListTyp = "statuslist+jwt"

// StatusListMaxToken bounds a Status List Token in JWT form: a list of
// StatusListMaxBytes that does not compress at all, in base64url, plus the
// rest of the token.
const StatusListMaxToken = 2 << 20

// statusListMaxTTL caps the ttl claim read from a token: beyond ten years
// it is no longer a caching hint but an overflow.
const statusListMaxTTL = 10 * 365 * 24 * time.Hour

// StatusListClaims describes one Status List Token to sign.
type StatusListClaims struct {
	// Subject is the list's URI, "sub", which every credential on the list
	// names as status.status_list.uri. Required.
	Subject string
	// Issuer becomes "iss" when set.
	Issuer string
	// IssuedAt is "iat" (required); ExpiresAt, when set, is "exp" and must
	// be after it.
	IssuedAt, ExpiresAt time.Time
	// TTL, when positive, is "ttl" in whole seconds: how long a consumer
	// may cache the token before fetching it again.
	TTL time.Duration
	// List is the status list. Required.
	List *StatusList
}

// statusListPayload fixes the claims' order and omits the optional ones.
type statusListPayload struct {
	Sub        string         `json:"sub"`
	Iss        string         `json:"iss,omitempty"`
	Iat        int64          `json:"iat"`
	Exp        int64          `json:"exp,omitempty"`
	TTL        int64          `json:"ttl,omitempty"`
	StatusList statusListJSON `json:"status_list"`
}

type statusListJSON struct {
	Bits int    `json:"bits"`
	Lst  string `json:"lst"`
}

// SignStatusList returns the Status List Token (JWT, typ statuslist+jwt) of
// c signed by key, with key's kid in the header.
func SignStatusList(c StatusListClaims, key *jose.SigningKey) (string, error) {
	if key == nil || key.Signer() == nil {
		return "", statusFail("no signing key")
	}
	if c.Subject == "" || c.List == nil || c.IssuedAt.IsZero() {
		return "", statusFail("subject, list and issue time are required")
	}
	if !c.ExpiresAt.IsZero() && !c.ExpiresAt.After(c.IssuedAt) {
		return "", statusFail("expiry must be after issuance")
	}
	lst, err := c.List.Encode()
	if err != nil {
		return "", err
	}
	p := statusListPayload{
		Sub: c.Subject, Iss: c.Issuer, Iat: c.IssuedAt.Unix(),
		StatusList: statusListJSON{Bits: c.List.Bits(), Lst: lst},
	}
	if !c.ExpiresAt.IsZero() {
		p.Exp = c.ExpiresAt.Unix()
	}
	if c.TTL > 0 {
		p.TTL = int64(max(c.TTL/time.Second, 1))
	}
	pb, err := sdMarshal(p)
	if err != nil {
		return "", err
	}
	hb, err := sdMarshal(sdHeader{Alg: key.Alg, Kid: key.ID, Typ: StatusListTyp})
	if err != nil {
		return "", err
	}
	token, err := sdSign(hb, pb, key.Signer(), key.Alg)
	if err != nil {
		return "", err
	}
	if len(token) > StatusListMaxToken {
		return "", statusFail("token too large")
	}
	return token, nil
}

// StatusListVerifyRequest says what a consumer expects of a Status List
// Token.
type StatusListVerifyRequest struct {
	// Token is the compact JWT as fetched.
	Token string
	// Subject is the URI the credential named (status.status_list.uri);
	// the token's "sub" must equal it exactly.
	Subject string
	// Issuer, when set, must equal the token's "iss" (which must then be
	// present).
	Issuer string
	// Keys resolves the status issuer's keys by kid.
	Keys SDKeyLookup
	// Now is the verification time; the zero value means time.Now().
	Now time.Time
}

// StatusListToken is a verified Status List Token.
type StatusListToken struct {
	Subject, Issuer string
	// IssuedAt is "iat"; ExpiresAt is "exp" or the zero time.
	IssuedAt, ExpiresAt time.Time
	// TTL is "ttl", or 0 when absent.
	TTL  time.Duration
	List *StatusList
}

// VerifyStatusListToken checks a Status List Token as the draft's
// "Validation Rules" ask: typ statuslist+jwt, an allow-listed alg matching
// the key its kid names, the signature, sub equal to the expected URI, iat
// present and not in the future, exp (when present) not passed, nbf (when
// present) reached, ttl (when present) a positive number, and a status_list
// whose lst decodes. Failures are *StatusListError.
func VerifyStatusListToken(req StatusListVerifyRequest) (*StatusListToken, error) {
	if req.Keys == nil || req.Subject == "" {
		return nil, statusFail("verifier configuration incomplete")
	}
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	jws, err := parseTypedJWS(req.Token, "status list token", StatusListTyp, StatusListMaxToken, statusFail)
	if err != nil {
		return nil, err
	}
	kid, _ := jws.header["kid"].(string)
	if kid == "" {
		return nil, statusFail("status list token kid missing")
	}
	pub, alg, ok := req.Keys(kid)
	if !ok {
		return nil, statusFail("status list token key unknown")
	}
	if alg != jws.alg || !jws.sdVerifySig(pub) {
		return nil, statusFail("status list token signature invalid")
	}
	p := jws.payload
	out := &StatusListToken{}
	out.Subject, _ = p["sub"].(string)
	if out.Subject != req.Subject {
		return nil, statusFail("status list token sub does not match the credential's uri")
	}
	if raw, present := p["iss"]; present {
		if out.Issuer, ok = raw.(string); !ok {
			return nil, statusFail("status list token iss malformed")
		}
	}
	if req.Issuer != "" && out.Issuer != req.Issuer {
		return nil, statusFail("status list token issuer mismatch")
	}
	if out.IssuedAt, ok = sdNumericDate(p["iat"]); !ok {
		return nil, statusFail("status list token iat missing or malformed")
	}
	if out.IssuedAt.After(now.Add(sdClockSkew)) {
		return nil, statusFail("status list token issued in the future")
	}
	if raw, present := p["exp"]; present {
		if out.ExpiresAt, ok = sdNumericDate(raw); !ok {
			return nil, statusFail("status list token exp malformed")
		}
		if !now.Before(out.ExpiresAt) {
			return nil, statusFail("status list token expired")
		}
	}
	if raw, present := p["nbf"]; present {
		nbf, ok := sdNumericDate(raw)
		if !ok || nbf.After(now.Add(sdClockSkew)) {
			return nil, statusFail("status list token not yet valid")
		}
	}
	if raw, present := p["ttl"]; present {
		if out.TTL, ok = statusTTL(raw); !ok {
			return nil, statusFail("status list token ttl must be a positive number")
		}
	}
	sl, _ := p["status_list"].(map[string]any)
	if sl == nil {
		return nil, statusFail("status list token status_list missing")
	}
	bits, ok := statusInt(sl["bits"])
	if !ok {
		return nil, statusFail("status_list bits malformed")
	}
	lst, _ := sl["lst"].(string)
	if out.List, err = DecodeStatusList(bits, lst); err != nil {
		return nil, err
	}
	return out, nil
}

// statusTTL reads a ttl claim: a positive JSON number of seconds.
func statusTTL(v any) (time.Duration, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || f <= 0 {
		return 0, false
	}
	d := time.Duration(math.Ceil(f)) * time.Second
	if f >= statusListMaxTTL.Seconds() {
		d = statusListMaxTTL
	}
	return d, true
}

// statusInt reads a non-negative JSON integer that fits an int32.
func statusInt(v any) (int, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	if err != nil || i < 0 || i > math.MaxInt32 {
		return 0, false
	}
	return int(i), true
}
