package auth

import (
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/latchid/latch/store"
	"github.com/latchid/latch/tokens"

	"github.com/latchid/latch/tokens/jose"

	"github.com/latchid/latch/tokens/dpop"
)

const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// recoverPanics turns a panic anywhere below into a logged 500, so no stack
// trace or half-written response reaches a client.
func (s *Server) recoverPanics(c *fiber.Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic serving request", "method", strings.Clone(c.Method()), "path", strings.Clone(c.Path()),
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = Errorf(http.StatusInternalServerError, CodeServerError, "internal error")
		}
	}()
	return c.Next()
}

// rejectEncodedBodies refuses compressed request bodies: the body limit
// counts bytes on the wire, so an inflated body could be any size, and no
// client of this API needs to compress a few hundred bytes of JSON.
func rejectEncodedBodies(c *fiber.Ctx) error {
	if ce := c.Request().Header.Peek(fiber.HeaderContentEncoding); len(ce) > 0 && !strings.EqualFold(string(ce), "identity") {
		return Errorf(http.StatusUnsupportedMediaType, CodeInvalidRequest, "compressed request bodies are not accepted")
	}
	return c.Next()
}

func (s *Server) securityHeaders(c *fiber.Ctx) error {
	h := &c.Response().Header
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if strings.HasPrefix(s.cfg.Issuer, "https://") {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	if s.cfg.DPoPNonce {
		h.Set("DPoP-Nonce", s.dpop.Nonce())
	}
	return c.Next()
}

// principal is the authenticated caller of a protected request.
type principal struct {
	claims *tokens.AccessClaims
	proof  *dpop.Proof // the request's DPoP proof when the token is bound
	user   *profile    // the account, enabled when the request was authenticated
}

const principalKey = "latch.principal"

func principalOf(c *fiber.Ctx) *principal {
	p, _ := c.Locals(principalKey).(*principal)
	return p
}

// requireAuth admits a request only with a valid, unrevoked access token and,
// for a DPoP-bound token, a valid proof of the bound key (RFC 9449 section 7).
//
// Only the service's own tokens (client "latch") are accepted: an
// application's token, issued through OpenID Connect, reaches /userinfo
// alone (requireAppAuth), never the account's passkeys, sessions or
// credentials.
func (s *Server) requireAuth(c *fiber.Ctx) error {
	p, err := s.authenticate(c)
	if err == nil && p != nil && p.claims.ClientID != defaultClientID {
		err = errAppToken()
	}
	if err != nil {
		return s.challenge(c, err)
	}
	if p == nil {
		return s.challenge(c, nil)
	}
	c.Locals(principalKey, p)
	return c.Next()
}

// requireAppAuth is requireAuth for the endpoints applications may call
// with their tokens too (/userinfo).
func (s *Server) requireAppAuth(c *fiber.Ctx) error {
	p, err := s.authenticate(c)
	if err != nil {
		return s.challenge(c, err)
	}
	if p == nil {
		return s.challenge(c, nil)
	}
	c.Locals(principalKey, p)
	return c.Next()
}

func errAppToken() *Error {
	return Errorf(http.StatusUnauthorized, CodeInvalidToken, "this access token was issued to an application; it is accepted at /userinfo only")
}

// optionalAuth authenticates when an Authorization header is present and
// passes anonymous requests through (sign-up versus adding a passkey).
func (s *Server) optionalAuth(c *fiber.Ctx) error {
	p, err := s.authenticate(c)
	if err == nil && p != nil && p.claims.ClientID != defaultClientID {
		err = errAppToken()
	}
	if err != nil {
		return s.challenge(c, err)
	}
	if p != nil {
		c.Locals(principalKey, p)
	}
	return c.Next()
}

// authenticate returns (nil, nil) when the request carries no credentials.
func (s *Server) authenticate(c *fiber.Ctx) (*principal, error) {
	authz := c.Request().Header.PeekAll(fiber.HeaderAuthorization)
	if len(authz) == 0 {
		return nil, nil
	}
	if len(authz) > 1 {
		return nil, Errorf(http.StatusBadRequest, CodeInvalidRequest, "more than one Authorization header")
	}
	dpopScheme, token, err := parseAuthorization(authz[0])
	if err != nil {
		return nil, err
	}
	claims, err := s.access.Verify(token)
	if err != nil {
		s.metrics.verifications.WithLabelValues("access_token", "invalid").Inc()
		return nil, Errorf(http.StatusUnauthorized, CodeInvalidToken, "%s", tokenErrorText(err, "invalid access token"))
	}
	if s.revoked.tokenRevoked(claims) {
		s.metrics.verifications.WithLabelValues("access_token", "revoked").Inc()
		return nil, Errorf(http.StatusUnauthorized, CodeInvalidToken, "the access token has been revoked")
	}
	p := &principal{claims: claims}
	switch {
	case claims.JKT != "" && !dpopScheme:
		return nil, Errorf(http.StatusUnauthorized, CodeInvalidToken, "a DPoP-bound token must be sent with the DPoP scheme")
	case claims.JKT == "" && dpopScheme:
		return nil, Errorf(http.StatusUnauthorized, CodeInvalidToken, "the access token is not DPoP-bound")
	case claims.JKT != "":
		// Checked now, spent below once the request is admitted, so a proof
		// that fails here or for the account costs the replay cache nothing.
		proof, err := s.dpop.CheckOnly(s.proofCheck(c, token))
		if err != nil {
			return nil, s.dpopError(err, http.StatusUnauthorized)
		}
		if proof.JKT != claims.JKT {
			return nil, Errorf(http.StatusUnauthorized, CodeInvalidDPoPProof, "the proof key does not match the token's key")
		}
		p.proof = proof
	}
	// Only a caller who proved the token's key learns the account's state.
	u, err := s.users.get(c.UserContext(), s.db, claims.Subject)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, Errorf(http.StatusUnauthorized, CodeInvalidToken, "the account no longer exists")
	case err != nil:
		return nil, err
	case u.Disabled:
		return nil, errDisabled()
	}
	if p.proof != nil {
		if err := s.dpop.Record(p.proof); err != nil {
			return nil, s.dpopError(err, http.StatusUnauthorized)
		}
	}
	p.user = u
	s.metrics.verifications.WithLabelValues("access_token", "success").Inc()
	return p, nil
}

// parseAuthorization splits an Authorization header value into its scheme
// (DPoP or Bearer, case-insensitive) and token68 credentials (RFC 9110
// section 11.6.2, RFC 6750 section 2.1, RFC 9449 section 7.1).
func parseAuthorization(value []byte) (dpop bool, token string, err error) {
	malformed := func() error {
		return Errorf(http.StatusUnauthorized, CodeInvalidToken, "malformed Authorization header")
	}
	if len(value) > maxAuthorization {
		return false, "", malformed()
	}
	scheme, token, ok := strings.Cut(string(value), " ")
	if !ok || token == "" || !isToken68(token) {
		return false, "", malformed()
	}
	switch {
	case strings.EqualFold(scheme, "DPoP"):
		return true, token, nil
	case strings.EqualFold(scheme, "Bearer"):
		return false, token, nil
	}
	return false, "", Errorf(http.StatusUnauthorized, CodeInvalidToken, "unsupported authorization scheme")
}

// maxAuthorization bounds the header before any work is done on it.
const maxAuthorization = 8 << 10

// isToken68 reports whether s is token68: 1*( ALPHA / DIGIT / "-" / "." /
// "_" / "~" / "+" / "/" ) *"=".
func isToken68(s string) bool {
	i := 0
	for i < len(s) && token68Chars[s[i]] {
		i++
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// token68Chars marks the token68 characters before any "=" padding; a
// table lookup keeps the scan of every access token cheap.
var token68Chars = func() (t [256]bool) {
	for c := range 256 {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'
	}
	return t
}()

// challenge answers a failed authentication with the WWW-Authenticate
// challenges of RFC 6750 section 3 and RFC 9449 section 7.1, and a sign-in
// too old for the action with RFC 9470's.
func (s *Server) challenge(c *fiber.Ctx, err error) error {
	algs := strings.Join(s.dpop.Algs(), " ")
	if err == nil {
		c.Response().Header.Add(fiber.HeaderWWWAuthenticate, `DPoP algs="`+algs+`"`)
		c.Response().Header.Add(fiber.HeaderWWWAuthenticate, `Bearer realm="latch"`)
		return Errorf(http.StatusUnauthorized, CodeInvalidToken, "an access token is required")
	}
	e, ok := asError(err)
	if !ok {
		return err
	}
	desc := strings.ReplaceAll(e.Description, `"`, "'")
	switch e.Code {
	case CodeInvalidDPoPProof, CodeUseDPoPNonce:
		c.Response().Header.Add(fiber.HeaderWWWAuthenticate,
			fmt.Sprintf(`DPoP error="%s", error_description="%s", algs="%s"`, e.Code, desc, algs))
		if e.Code == CodeUseDPoPNonce {
			c.Set("DPoP-Nonce", s.dpop.Nonce())
		}
	case CodeInsufficientAuth:
		// RFC 9470: the sign-in is older than the action allows.
		// amr_values, when present, is Latch's own parameter: the methods
		// the new sign-in must include (see requireStepUp).
		params := fmt.Sprintf(`error="%s", error_description="%s", max_age=%d`, e.Code, desc, int(recentSignIn.Seconds()))
		if amr, ok := e.Extra[amrValuesParam].(string); ok {
			params += fmt.Sprintf(`, %s="%s"`, amrValuesParam, amr)
		}
		scheme, _, _ := strings.Cut(string(c.Request().Header.Peek(fiber.HeaderAuthorization)), " ")
		if strings.EqualFold(scheme, "DPoP") {
			c.Response().Header.Add(fiber.HeaderWWWAuthenticate, fmt.Sprintf(`DPoP %s, algs="%s"`, params, algs))
		} else {
			c.Response().Header.Add(fiber.HeaderWWWAuthenticate, "Bearer "+params)
		}
	case CodeInvalidToken:
		scheme, _, _ := strings.Cut(string(c.Request().Header.Peek(fiber.HeaderAuthorization)), " ")
		if strings.EqualFold(scheme, "Bearer") {
			c.Response().Header.Add(fiber.HeaderWWWAuthenticate, fmt.Sprintf(`Bearer realm="latch", error="invalid_token", error_description="%s"`, desc))
		}
		c.Response().Header.Add(fiber.HeaderWWWAuthenticate,
			fmt.Sprintf(`DPoP error="invalid_token", error_description="%s", algs="%s"`, desc, algs))
	}
	return e
}

// proofCheck describes the DPoP proof a request must carry; htu is built from
// the configured issuer, never from Host or X-Forwarded-* headers.
func (s *Server) proofCheck(c *fiber.Ctx, accessToken string) dpop.ProofCheck {
	raw := c.Request().Header.PeekAll("DPoP")
	headers := make([]string, len(raw))
	for i, h := range raw {
		headers[i] = string(h)
	}
	return dpop.ProofCheck{
		Headers:     headers,
		Method:      c.Method(),
		URL:         s.cfg.Issuer + c.Path(),
		AccessToken: accessToken,
	}
}

// hasDPoP reports whether the request carries any DPoP header.
func hasDPoP(c *fiber.Ctx) bool {
	return len(c.Request().Header.PeekAll("DPoP")) > 0
}

// dpopError maps a proof failure to the contract: 400 at token endpoints,
// 401 at protected ones.
func (s *Server) dpopError(err error, status int) *Error {
	code, desc := CodeInvalidDPoPProof, "invalid DPoP proof"
	if te, ok := err.(*jose.TokenError); ok {
		desc = te.Description
		if te.Code == CodeUseDPoPNonce {
			code = CodeUseDPoPNonce
		}
	}
	return &Error{Status: status, Code: code, Description: desc}
}

func tokenErrorText(err error, fallback string) string {
	if te, ok := err.(*jose.TokenError); ok && te.Description != "" {
		return te.Description
	}
	return fallback
}
