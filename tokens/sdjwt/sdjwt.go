package sdjwt

import (
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"time"
)

// Selective-disclosure credentials follow RFC 9901 (SD-JWT) and the SD-JWT VC
// profile: the issuer signs a JWT whose payload carries only digests of the
// claims, the holder reveals a chosen subset of the matching disclosures, and
// a key-binding JWT (KB-JWT) signed by the holder's cnf key proves possession
// and binds the presentation to one verifier and one transaction.

const (
	// sdTypVC is the SD-JWT VC media type the issuer header must carry.
	sdTypVC = "dc+sd-jwt"
	// sdTypKB is the key-binding JWT type (RFC 9901 §4.3).
	sdTypKB = "kb+jwt"
	// sdHashAlg is the only digest algorithm issued and accepted.
	sdHashAlg = "sha-256"

	// Bounds applied before any parsing, so hostile presentations cost at
	// most a few hundred kilobytes of work.
	sdMaxPresentation = 64 << 10 // whole presentation, bytes
	sdMaxJWT          = 16 << 10 // issuer-signed JWT or KB-JWT, bytes
	sdMaxDisclosures  = 64       // disclosures per presentation
	sdMaxDisclosure   = 4 << 10  // one encoded disclosure, bytes
	sdMaxRecursion    = 8        // disclosures nested inside disclosures
	sdMaxJSONDepth    = 16       // nesting of any single JSON document

	// sdClockSkew is the tolerance for clocks running ahead of ours.
	sdClockSkew = 30 * time.Second
	// sdDefaultKBAge is used when SDVerifyRequest.MaxKBAge is zero.
	sdDefaultKBAge = 5 * time.Minute
)

// SDKeyLookup resolves an issuer signing key by kid: the public key and its
// JWS alg ("ES256" or "EdDSA"); ok=false if unknown or no longer published.
type SDKeyLookup func(kid string) (pub crypto.PublicKey, alg string, ok bool)

// SDError reports why a credential could not be issued or a presentation was
// rejected. Description names the failed check and never contains key
// material or claim values, so it is safe to return to clients.
type SDError struct {
	Description string
}

// Error implements error.
func (e *SDError) Error() string { return "sd-jwt: " + e.Description }

// sdFail builds the error for one failed check.
func sdFail(description string) error { return &SDError{Description: description} }

// SDDigest returns base64url(SHA-256(disclosure)) computed over the ASCII
// bytes of the encoded disclosure exactly as given (RFC 9901 §4.2.3). The
// disclosure must never be re-encoded before hashing: any whitespace or
// escaping difference yields a different digest.
func SDDigest(disclosure string) string {
	sum := sha256.Sum256([]byte(disclosure))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// SDIssuerJWT extracts the issuer-signed JWT from an SD-JWT ("<jwt>~...~"),
// an SD-JWT+KB, or a bare JWT, so a credential can be revoked by its signed
// part whatever the holder presented. It reports false when the input is not
// plausibly a compact JWS: three non-empty base64url segments within bounds.
func SDIssuerJWT(credentialOrJWT string) (string, bool) {
	if len(credentialOrJWT) > sdMaxPresentation {
		return "", false
	}
	jwt, _, _ := strings.Cut(credentialOrJWT, "~")
	if len(jwt) > sdMaxJWT || !sdLooksCompact(jwt) {
		return "", false
	}
	return jwt, true
}

// sdLooksCompact reports whether s has the shape of a compact JWS: three
// non-empty segments of base64url characters.
func sdLooksCompact(s string) bool {
	segments := 1
	run := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if run == 0 {
				return false
			}
			segments++
			run = 0
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			run++
		default:
			return false
		}
	}
	return segments == 3 && run > 0
}

// sdParts is a presentation split on '~'.
type sdParts struct {
	jwt         string
	disclosures []string
	kb          string // empty when the holder sent no KB-JWT
	sdHashInput string // everything up to and including the last '~'
}

// sdSplit splits "<jwt>~<d1>~...~<dn>~[<kb-jwt>]" after bounding its size
// and the number and size of its components, so nothing expensive happens
// to oversized input.
func sdSplit(presentation string) (sdParts, error) {
	if len(presentation) > sdMaxPresentation {
		return sdParts{}, sdFail("presentation too large")
	}
	// n separators give one JWT, the KB-JWT slot and n-1 disclosures.
	n := strings.Count(presentation, "~")
	if n == 0 {
		return sdParts{}, sdFail("not an sd-jwt: missing '~' separator")
	}
	if n-1 > sdMaxDisclosures {
		return sdParts{}, sdFail("too many disclosures")
	}
	last := strings.LastIndexByte(presentation, '~')
	parts := strings.Split(presentation[:last], "~")
	p := sdParts{
		jwt:         parts[0],
		disclosures: parts[1:],
		kb:          presentation[last+1:],
		sdHashInput: presentation[:last+1],
	}
	if p.jwt == "" || len(p.jwt) > sdMaxJWT {
		return sdParts{}, sdFail("malformed issuer jwt")
	}
	if len(p.kb) > sdMaxJWT {
		return sdParts{}, sdFail("kb-jwt too large")
	}
	for _, d := range p.disclosures {
		if d == "" {
			return sdParts{}, sdFail("empty disclosure")
		}
		if len(d) > sdMaxDisclosure {
			return sdParts{}, sdFail("disclosure too large")
		}
	}
	return p, nil
}
