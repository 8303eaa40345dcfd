package resource

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/latchid/latch/tokens/jose"
)

// Error codes an API answers with, the same as Latch's own.
const (
	codeInvalidRequest = "invalid_request"
	codeInvalidToken   = jose.CodeInvalidToken
	codeUnavailable    = "temporarily_unavailable"
)

// Error is a refused request: the status, the OAuth error code and a
// client-safe description of the JSON body {"error", "error_description"},
// and the headers that go with them. The adapters write it with WriteTo.
type Error struct {
	Status      int
	Code        string
	Description string

	challenges []string // WWW-Authenticate values, in order
	nonce      string   // DPoP-Nonce, for use_dpop_nonce
	retryAfter int      // seconds, for temporarily_unavailable
}

// Error returns the code and description.
func (e *Error) Error() string { return e.Code + ": " + e.Description }

// Header returns the headers of the answer: the WWW-Authenticate
// challenges, DPoP-Nonce and Retry-After when they apply, and the
// content type and no-store of the body.
func (e *Error) Header() http.Header {
	h := http.Header{
		"Content-Type":  {"application/json"},
		"Cache-Control": {"no-store"},
	}
	if len(e.challenges) > 0 {
		h["Www-Authenticate"] = append([]string(nil), e.challenges...)
	}
	if e.nonce != "" {
		h.Set("DPoP-Nonce", e.nonce)
	}
	if e.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(e.retryAfter))
	}
	return h
}

// Body returns the JSON error body.
func (e *Error) Body() []byte {
	b, _ := json.Marshal(struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}{e.Code, e.Description})
	return b
}

// WriteTo writes the whole answer to w.
func (e *Error) WriteTo(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range e.Header() {
		h[k] = v
	}
	w.WriteHeader(e.Status)
	_, _ = w.Write(e.Body())
}

// AsError returns the *Error in err's chain, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// The challenges below are Latch's own (auth/middleware.go), with RFC 9728's
// resource_metadata added so a client can find out how to get a token.

// noCredentials answers a request without an Authorization header (RFC
// 6750 section 3.1: no error code in the challenge).
func (g *Guard) noCredentials() *Error {
	e := &Error{Status: http.StatusUnauthorized, Code: codeInvalidToken, Description: "an access token is required"}
	e.challenges = append(e.challenges, g.withMetadata(`DPoP algs="`+g.algs+`"`))
	if g.cfg.AllowBearer {
		e.challenges = append(e.challenges, g.withMetadata(`Bearer realm="`+g.cfg.Realm+`"`))
	}
	return e
}

// invalidToken refuses the access token. A request made with the Bearer
// scheme gets a Bearer challenge first when Bearer tokens are accepted;
// every refusal names DPoP, the scheme the API wants.
func (g *Guard) invalidToken(authorization, desc string) *Error {
	e := &Error{Status: http.StatusUnauthorized, Code: codeInvalidToken, Description: desc}
	d := quoted(desc)
	scheme, _, _ := strings.Cut(authorization, " ")
	if g.cfg.AllowBearer && strings.EqualFold(scheme, "Bearer") {
		e.challenges = append(e.challenges, g.withMetadata(`Bearer realm="`+g.cfg.Realm+`", error="invalid_token", error_description="`+d+`"`))
	}
	e.challenges = append(e.challenges, g.withMetadata(`DPoP error="invalid_token", error_description="`+d+`", algs="`+g.algs+`"`))
	return e
}

// proofError refuses the DPoP proof: invalid_dpop_proof, or use_dpop_nonce
// with the nonce to retry with (RFC 9449 sections 7.1 and 9).
func (g *Guard) proofError(err error) *Error {
	code, desc := jose.CodeInvalidDPoPProof, "invalid DPoP proof"
	var te *jose.TokenError
	if errors.As(err, &te) {
		desc = te.Description
		if te.Code == jose.CodeUseDPoPNonce {
			code = jose.CodeUseDPoPNonce
		}
	}
	e := &Error{Status: http.StatusUnauthorized, Code: code, Description: desc}
	e.challenges = []string{g.withMetadata(`DPoP error="` + code + `", error_description="` + quoted(desc) + `", algs="` + g.algs + `"`)}
	if code == jose.CodeUseDPoPNonce {
		e.nonce = g.dpop.Nonce()
	}
	return e
}

// unavailableRetry is the Retry-After of an answer the issuer's absence
// caused: about the JWK Set's refetch interval.
const unavailableRetry = 10

func unavailable(desc string) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: codeUnavailable, Description: desc, retryAfter: unavailableRetry}
}

func (g *Guard) withMetadata(challenge string) string {
	if g.cfg.ResourceMetadataURL == "" {
		return challenge
	}
	return challenge + `, resource_metadata="` + g.cfg.ResourceMetadataURL + `"`
}

// quoted makes a description safe inside a quoted-string, as Latch does.
func quoted(s string) string { return strings.ReplaceAll(s, `"`, "'") }
