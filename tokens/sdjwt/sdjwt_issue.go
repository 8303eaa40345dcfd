package sdjwt

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// sdMaxDecoys caps SDIssueRequest.Decoys; more would only bloat the token.
const sdMaxDecoys = 32

// SDIssueRequest describes one credential.
type SDIssueRequest struct {
	// Issuer becomes iss; VCT becomes vct. Both are required.
	Issuer string
	VCT    string
	// IssuedAt and ExpiresAt become iat and exp (whole seconds);
	// ExpiresAt must be after IssuedAt.
	IssuedAt, ExpiresAt time.Time
	// HolderJWK is the holder's public JWK JSON (EC P-256 or OKP Ed25519).
	// Its required members become cnf.jwk; other members are dropped.
	HolderJWK []byte
	// Claims are the selectively disclosable claims: each top-level claim
	// becomes one object-property disclosure holding its whole value, arrays
	// and objects included. Names the verifier relies on (iss, iat, exp, nbf,
	// vct, cnf, status, aud, ...) and the reserved _sd and "..." are refused.
	Claims map[string]any
	// Status, when set, becomes the always-visible status.status_list
	// claim (draft-ietf-oauth-status-list): the credential's entry in a
	// Token Status List.
	Status *StatusRef
	// Decoys is the number of decoy digests added to _sd: 0 picks a random
	// 2 to 5, a negative value adds none, at most 32. A credential without
	// claims never carries decoys, as SD-JWT VC forbids _sd there.
	Decoys int
}

// SDCredential is an issued SD-JWT.
type SDCredential struct {
	// Compact is "<issuer-jwt>~<d1>~...~<dn>~", the form handed to the holder.
	Compact string
	// Disclosures are the encoded disclosures, in the order of Compact.
	Disclosures []string
	// IssuerJWT is the issuer-signed JWT, the handle for revocation.
	IssuerJWT string
}

// sdIssueReserved are claim names SDIssue refuses to make disclosable.
var sdIssueReserved = func() map[string]bool {
	m := map[string]bool{"aud": true, sdKeyDigests: true, sdKeyElement: true}
	for k := range sdProtectedClaims {
		m[k] = true
	}
	return m
}()

// sdIssuerPayload fixes the order of the issuer-signed claims.
type sdIssuerPayload struct {
	Iss    string         `json:"iss"`
	Iat    int64          `json:"iat"`
	Exp    int64          `json:"exp"`
	Vct    string         `json:"vct"`
	Cnf    sdCNF          `json:"cnf"`
	Status *sdStatusClaim `json:"status,omitempty"`
	SDAlg  string         `json:"_sd_alg,omitempty"`
	SD     []string       `json:"_sd,omitempty"`
}

type sdCNF struct {
	JWK json.RawMessage `json:"jwk"`
}

type sdHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// SDIssue issues an SD-JWT VC (typ dc+sd-jwt) signed by signer with alg
// ("ES256" or "EdDSA") under kid. Every claim gets a fresh 128-bit salt, each
// disclosure is serialised once and its digest taken over that exact string,
// and the digests, decoys included, are sorted so their order reveals
// nothing about the claims. Invalid requests fail with *SDError.
func SDIssue(req SDIssueRequest, signer crypto.Signer, alg, kid string) (*SDCredential, error) {
	if signer == nil || !sdKeyMatchesAlg(signer.Public(), alg) {
		return nil, sdFail("signer does not match alg")
	}
	if kid == "" || req.Issuer == "" || req.VCT == "" {
		return nil, sdFail("kid, issuer and vct are required")
	}
	if req.IssuedAt.IsZero() || !req.ExpiresAt.After(req.IssuedAt) {
		return nil, sdFail("expiry must be after issuance")
	}
	if len(req.Claims) > sdMaxDisclosures {
		return nil, sdFail("too many claims")
	}
	if req.Status != nil && !validStatusRef(*req.Status) {
		return nil, sdFail("status needs a non-negative index and an absolute uri")
	}
	if req.Decoys > sdMaxDecoys {
		return nil, sdFail("too many decoys")
	}
	jwk, err := sdDecodeObject(req.HolderJWK)
	if err != nil {
		return nil, sdFail("holder jwk is not a json object")
	}
	holder, err := sdParseHolderJWK(jwk)
	if err != nil {
		return nil, err
	}

	// Sorted names make the disclosure order independent of map iteration;
	// the digest order is hidden separately below.
	names := make([]string, 0, len(req.Claims))
	for name := range req.Claims {
		if name == "" || sdIssueReserved[name] {
			return nil, sdFail("claim " + name + " cannot be selectively disclosed")
		}
		names = append(names, name)
	}
	sort.Strings(names)

	disclosures := make([]string, 0, len(names))
	digests := make([]string, 0, len(names)+sdMaxDecoys)
	for _, name := range names {
		d, err := sdNewDisclosure(name, req.Claims[name])
		if err != nil {
			return nil, err
		}
		disclosures = append(disclosures, d)
		digests = append(digests, SDDigest(d))
	}
	if len(names) > 0 {
		n, err := sdDecoyCount(req.Decoys)
		if err != nil {
			return nil, err
		}
		for range n {
			d, err := sdDecoyDigest()
			if err != nil {
				return nil, err
			}
			digests = append(digests, d)
		}
	}
	// Digests are uniformly random strings, so sorting them is a random
	// permutation of the claims (RFC 9901 §4.2.4.1 allows either).
	sort.Strings(digests)

	payload := sdIssuerPayload{
		Iss: req.Issuer,
		Iat: req.IssuedAt.Unix(),
		Exp: req.ExpiresAt.Unix(),
		Vct: req.VCT,
		Cnf: sdCNF{JWK: holder.canonical},
	}
	if req.Status != nil {
		payload.Status = &sdStatusClaim{StatusList: sdStatusList{Idx: req.Status.Index, URI: req.Status.URI}}
	}
	if len(digests) > 0 {
		payload.SDAlg = sdHashAlg
		payload.SD = digests
	}
	pb, err := sdMarshal(payload)
	if err != nil {
		return nil, err
	}
	hb, err := sdMarshal(sdHeader{Alg: alg, Kid: kid, Typ: sdTypVC})
	if err != nil {
		return nil, err
	}
	jwt, err := sdSign(hb, pb, signer, alg)
	if err != nil {
		return nil, err
	}
	if len(jwt) > sdMaxJWT {
		return nil, sdFail("credential too large")
	}
	var b strings.Builder
	b.WriteString(jwt)
	b.WriteByte('~')
	for _, d := range disclosures {
		b.WriteString(d)
		b.WriteByte('~')
	}
	// Leave room for a KB-JWT so the holder can always present everything.
	if b.Len()+sdMaxJWT > sdMaxPresentation {
		return nil, sdFail("credential too large")
	}
	return &SDCredential{Compact: b.String(), Disclosures: disclosures, IssuerJWT: jwt}, nil
}

// sdNewDisclosure encodes [salt, name, value] once; the returned string is
// the only form of this disclosure that ever exists.
func sdNewDisclosure(name string, value any) (string, error) {
	salt, err := sdRandom(16)
	if err != nil {
		return "", err
	}
	raw, err := sdMarshal([]any{b64.EncodeToString(salt), name, value})
	if err != nil {
		return "", sdFail("claim " + name + " is not representable as json")
	}
	// Refuse what our own verifier would refuse: values too deep, or
	// containing keys that verifiers read as digest carriers.
	decoded, err := sdDecodeJSON(raw)
	if err != nil || sdHasDigestCarrier(decoded) {
		return "", sdFail("claim " + name + " has an unsupported value")
	}
	d := b64.EncodeToString(raw)
	if len(d) > sdMaxDisclosure {
		return "", sdFail("claim " + name + " is too large")
	}
	return d, nil
}

// sdDecoyCount resolves SDIssueRequest.Decoys.
func sdDecoyCount(requested int) (int, error) {
	switch {
	case requested < 0:
		return 0, nil
	case requested > 0:
		return requested, nil
	}
	b, err := sdRandom(1)
	if err != nil {
		return 0, err
	}
	return 2 + int(b[0]%4), nil // 256 is a multiple of 4: no bias
}

// sdDecoyDigest is the digest of fresh random bytes (RFC 9901 §4.2.5), which
// is indistinguishable from a real disclosure's digest.
func sdDecoyDigest() (string, error) {
	b, err := sdRandom(16)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return b64.EncodeToString(sum[:]), nil
}

func sdRandom(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("sd-jwt: random: %w", err)
	}
	return b, nil
}

// sdMarshal encodes v without HTML escaping, which only makes tokens longer.
func sdMarshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
