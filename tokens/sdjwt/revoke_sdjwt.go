package sdjwt

import (
	"strings"
	"time"

	"github.com/latchid/latch/tokens/jose"
)

// SDIssued is what revocation needs to know of a credential this service
// issued: until when it lives and who may revoke it.
type SDIssued struct {
	// IssuerJWT is the issuer-signed part, which names it on a blacklist.
	IssuerJWT string
	// ExpiresAt is its exp.
	ExpiresAt time.Time
	// HolderJKT is the RFC 7638 thumbprint of its cnf.jwk: a DPoP proof by
	// that key shows the holder is asking.
	HolderJKT string
	// Subject is its sub claim when the input disclosed it, else "".
	Subject string
	// Status is its status.status_list claim, nil without one.
	Status *StatusRef
}

// SDInspectIssued verifies the issuer-signed JWT of a credential (the whole
// credential as issued, a presentation, or the JWT alone: signature with a
// published key, issuer, expiry) and returns its holder key's thumbprint and, when the disclosures
// given reveal it, its subject. Disclosures that do not check out are
// ignored: the subject is then unknown, never guessed.
func SDInspectIssued(credentialOrJWT, issuer string, keys SDKeyLookup, now time.Time) (*SDIssued, error) {
	jwt, ok := SDIssuerJWT(credentialOrJWT)
	if !ok {
		return nil, sdFail("not an sd-jwt")
	}
	req := SDVerifyRequest{Issuer: issuer, Keys: keys, Now: now}
	jws, err := sdVerifyIssuerJWT(jwt, req, sdVCProfile, now)
	if err != nil {
		return nil, err
	}
	holder, err := sdHolderOf(jws.payload)
	if err != nil {
		return nil, err
	}
	jkt, err := jose.Thumbprint(holder.canonical)
	if err != nil {
		return nil, err
	}
	status, err := sdStatusOf(jws.payload)
	if err != nil {
		return nil, err
	}
	out := &SDIssued{IssuerJWT: jwt, HolderJKT: jkt, Status: status}
	out.ExpiresAt, _ = sdNumericDate(jws.payload["exp"])
	if strings.Contains(credentialOrJWT, "~") {
		if parts, err := sdSplit(credentialOrJWT); err == nil {
			if ds, err := sdParseDisclosures(parts.disclosures); err == nil {
				if claims, err := sdProcess(jws.payload, ds, sdProtectedClaims); err == nil {
					out.Subject, _ = claims["sub"].(string)
				}
			}
		}
	}
	return out, nil
}
