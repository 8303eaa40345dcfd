package sdjwt

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"time"
)

// SDVerifyRequest describes what a verifier expects of one presentation.
type SDVerifyRequest struct {
	// Presentation is "<issuer-jwt>~<d1>~...~<dn>~<kb-jwt>".
	Presentation string
	// Audience and Nonce are the KB-JWT aud and nonce this verifier issued
	// for the transaction; both are required.
	Audience, Nonce string
	// Issuer is the expected iss.
	Issuer string
	// Now is the verification time; the zero value means time.Now().
	Now time.Time
	// MaxKBAge bounds how old the KB-JWT iat may be; zero means 5 minutes.
	MaxKBAge time.Duration
	// Keys resolves the issuer's signing keys by kid.
	Keys SDKeyLookup
	// IsRevoked, when set, is asked about the issuer-signed JWT.
	IsRevoked func(issuerJWT string) bool
}

// SDPresentation is a verified presentation.
type SDPresentation struct {
	// Claims holds the disclosed claims plus the always-visible ones (iss,
	// iat, exp, vct, cnf); _sd and _sd_alg are removed. JSON numbers are
	// json.Number so integers keep their exact value.
	Claims map[string]any
	// CNF is the credential's confirmation claim, holding the holder jwk.
	CNF map[string]any
	// IssuerJWT is the issuer-signed JWT, the handle for revocation.
	IssuerJWT string
	// ExpiresAt is the credential's exp.
	ExpiresAt time.Time
	// Status is the credential's status.status_list claim, nil without
	// one. SDVerify does not fetch the list: the caller checks it (the
	// draft's validation comes after the credential's own).
	Status *StatusRef
}

// sdProfile holds what differs between the SD-JWT VC profile and plain
// RFC 9901 SD-JWTs such as the specification's examples.
type sdProfile struct {
	typ        string
	requireKID bool
	requireVCT bool
}

// sdVCProfile is the profile SDVerify enforces.
var sdVCProfile = sdProfile{typ: sdTypVC, requireKID: true, requireVCT: true}

// sdProtectedClaims must stay issuer-visible: the verifier's decisions rest
// on them (RFC 9901 §9.7, SD-JWT VC). iat and _sd_alg are added because
// Latch always shows iat and _sd_alg is read before any disclosure.
var sdProtectedClaims = map[string]bool{
	"iss": true, "iat": true, "nbf": true, "exp": true, "cnf": true,
	"vct": true, "vct#integrity": true, "aka_vcts": true, "status": true,
	sdKeyAlg: true,
}

// SDVerify verifies an SD-JWT VC presentation with key binding, performing
// every check of RFC 9901 §7.1 and §7.3. Key binding is always required: a
// presentation without a KB-JWT is rejected whatever it contains. Failures
// are *SDError.
func SDVerify(req SDVerifyRequest) (*SDPresentation, error) {
	return sdVerify(req, sdVCProfile)
}

func sdVerify(req SDVerifyRequest, prof sdProfile) (*SDPresentation, error) {
	if req.Keys == nil || req.Issuer == "" || req.Audience == "" || req.Nonce == "" {
		return nil, sdFail("verifier configuration incomplete")
	}
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	maxAge := req.MaxKBAge
	if maxAge <= 0 {
		maxAge = sdDefaultKBAge
	}

	parts, err := sdSplit(req.Presentation)
	if err != nil {
		return nil, err
	}
	// Decided before looking at the presentation: a missing KB-JWT is an
	// error, never a downgrade to an unbound credential.
	if parts.kb == "" {
		return nil, sdFail("kb-jwt missing")
	}

	issuer, err := sdVerifyIssuerJWT(parts.jwt, req, prof, now)
	if err != nil {
		return nil, err
	}

	// The holder key comes from the issuer-signed payload itself, never from
	// a disclosure, so the binding is what the issuer signed.
	holder, err := sdHolderOf(issuer.payload)
	if err != nil {
		return nil, err
	}

	disclosures, err := sdParseDisclosures(parts.disclosures)
	if err != nil {
		return nil, err
	}
	claims, err := sdProcess(issuer.payload, disclosures, sdProtectedClaims)
	if err != nil {
		return nil, err
	}

	if err := sdVerifyKB(parts, holder, req, now, maxAge); err != nil {
		return nil, err
	}
	if req.IsRevoked != nil && req.IsRevoked(parts.jwt) {
		return nil, sdFail("credential revoked")
	}
	status, err := sdStatusOf(issuer.payload)
	if err != nil {
		return nil, err
	}
	exp, _ := sdNumericDate(issuer.payload["exp"])
	processedCNF, _ := claims["cnf"].(map[string]any)
	return &SDPresentation{
		Claims:    claims,
		CNF:       processedCNF,
		IssuerJWT: parts.jwt,
		ExpiresAt: exp,
		Status:    status,
	}, nil
}

// sdVerifyIssuerJWT checks the issuer-signed JWT: header, key, signature and
// the claims that must be issuer-visible.
func sdVerifyIssuerJWT(token string, req SDVerifyRequest, prof sdProfile, now time.Time) (*sdJWS, error) {
	if req.Keys == nil {
		return nil, sdFail("verifier configuration incomplete")
	}
	jws, err := sdParseJWS(token, "issuer jwt", prof.typ)
	if err != nil {
		return nil, err
	}
	kid, isString := jws.header["kid"].(string)
	if _, present := jws.header["kid"]; present && !isString {
		return nil, sdFail("issuer jwt kid must be a string")
	}
	if prof.requireKID && kid == "" {
		return nil, sdFail("issuer jwt kid missing")
	}
	pub, alg, ok := req.Keys(kid)
	if !ok {
		return nil, sdFail("issuer key unknown")
	}
	if alg != jws.alg {
		return nil, sdFail("issuer jwt alg does not match the key")
	}
	if !jws.sdVerifySig(pub) {
		return nil, sdFail("issuer signature invalid")
	}

	p := jws.payload
	if iss, _ := p["iss"].(string); iss != req.Issuer {
		return nil, sdFail("issuer mismatch")
	}
	exp, ok := sdNumericDate(p["exp"])
	if !ok {
		return nil, sdFail("exp missing or malformed")
	}
	if !now.Before(exp) {
		return nil, sdFail("credential expired")
	}
	iat, ok := sdNumericDate(p["iat"])
	if !ok {
		return nil, sdFail("iat missing or malformed")
	}
	if iat.After(now.Add(sdClockSkew)) {
		return nil, sdFail("credential issued in the future")
	}
	if raw, present := p["nbf"]; present {
		nbf, ok := sdNumericDate(raw)
		if !ok {
			return nil, sdFail("nbf malformed")
		}
		if nbf.After(now.Add(sdClockSkew)) {
			return nil, sdFail("credential not yet valid")
		}
	}
	if prof.requireVCT {
		if vct, _ := p["vct"].(string); vct == "" {
			return nil, sdFail("vct missing")
		}
	}
	if raw, present := p[sdKeyAlg]; present {
		if alg, _ := raw.(string); alg != sdHashAlg {
			return nil, sdFail("unsupported _sd_alg")
		}
	}
	for name := range sdProtectedClaims {
		if v, present := p[name]; present && sdHasDigestCarrier(v) {
			return nil, sdFail("claim " + name + " must not contain selectively disclosed parts")
		}
	}
	return jws, nil
}

// sdVerifyKB checks the key-binding JWT (RFC 9901 §4.3, §7.3 step 5).
func sdVerifyKB(parts sdParts, holder *sdHolderKey, req SDVerifyRequest, now time.Time, maxAge time.Duration) error {
	kb, err := sdParseJWS(parts.kb, "kb-jwt", sdTypKB)
	if err != nil {
		return err
	}
	if kb.alg != holder.alg || !kb.sdVerifySig(holder.pub) {
		return sdFail("kb-jwt signature invalid")
	}
	p := kb.payload
	iat, ok := sdNumericDate(p["iat"])
	if !ok {
		return sdFail("kb-jwt iat missing or malformed")
	}
	if iat.Before(now.Add(-maxAge)) {
		return sdFail("kb-jwt too old")
	}
	if iat.After(now.Add(sdClockSkew)) {
		return sdFail("kb-jwt iat in the future")
	}
	if raw, present := p["exp"]; present {
		if exp, ok := sdNumericDate(raw); !ok || !now.Before(exp) {
			return sdFail("kb-jwt expired")
		}
	}
	if raw, present := p["nbf"]; present {
		if nbf, ok := sdNumericDate(raw); !ok || nbf.After(now.Add(sdClockSkew)) {
			return sdFail("kb-jwt not yet valid")
		}
	}
	// aud must be a single string (RFC 9901 §4.3), not an array.
	if aud, ok := p["aud"].(string); !ok || aud != req.Audience {
		return sdFail("kb-jwt aud mismatch")
	}
	if nonce, ok := p["nonce"].(string); !ok ||
		subtle.ConstantTimeCompare([]byte(nonce), []byte(req.Nonce)) != 1 {
		return sdFail("kb-jwt nonce mismatch")
	}
	sum := sha256.Sum256([]byte(parts.sdHashInput))
	want := base64.RawURLEncoding.EncodeToString(sum[:])
	if got, ok := p["sd_hash"].(string); !ok ||
		subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return sdFail("kb-jwt sd_hash mismatch")
	}
	return nil
}
