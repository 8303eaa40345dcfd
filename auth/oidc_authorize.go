package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/latchid/latch/store"
	"github.com/latchid/latch/tokens"
)

// The authorization endpoint of the authorization code flow (OpenID
// Connect Core section 3.1.2, RFC 6749 section 4.1, RFC 9126 for pushed
// requests). A request is checked, then kept as a short-lived record
// while the person signs in at Latch's own page (the passkey ceremony of
// /webauthn/login, which sets the provider session cookie through
// /authorize/session) and, for a third-party client, consents; the code
// is issued when both are done. The records are ceremonies in the store:
// short-lived, single use, swept when they expire.

// Kinds of the flow's records in the ceremonies bucket.
const (
	kindAuthzRequest = "oidc_request"
	kindPAR          = "oidc_par"
	// kindSessionCode is a code that names the session its exchange starts
	// (tokens.NewSessionCode): that session is its spent marker. Codes of
	// kindCode, issued before, get a marker record of kindCodeUsed when
	// exchanged. A node that knows only the older kinds refuses a code of
	// the new one rather than exchange it twice.
	kindSessionCode = "oidc_code_session"
	kindCode        = "oidc_code"
	kindCodeUsed    = "oidc_code_used"
	kindClientJTI   = "oidc_client_jti"
)

// Lifetimes of the flow's records.
const (
	authzRequestTTL = 10 * time.Minute // the person signs in meanwhile
	parTTL          = 60 * time.Second // RFC 9126 section 2.2's example, the issue's bound
	codeTTL         = 60 * time.Second // RFC 6749 section 4.1.2 recommends at most 10 minutes
	// usedCodeTTL is how long the spent marker of a code of kindCode is
	// kept, so that a second use revokes what the first one got. A code of
	// kindSessionCode needs none: its session is the marker for as long as
	// it exists.
	usedCodeTTL = 24 * time.Hour
)

// parURNPrefix begins every request_uri Latch hands out (RFC 9126 section 2.2).
const parURNPrefix = "urn:ietf:params:oauth:request_uri:"

// authzRequest is a checked authorization request.
type authzRequest struct {
	ClientID      string   `json:"client_id"`
	RedirectURI   string   `json:"redirect_uri"`
	Scope         []string `json:"scope"`
	State         string   `json:"state,omitempty"`
	Nonce         string   `json:"nonce,omitempty"`
	CodeChallenge string   `json:"code_challenge"`
	ResponseMode  string   `json:"response_mode,omitempty"`
	Prompt        []string `json:"prompt,omitempty"`
	MaxAge        int64    `json:"max_age"` // -1: none asked
	LoginHint     string   `json:"login_hint,omitempty"`
	// UILocales is the ui_locales parameter: the languages the person
	// prefers for the pages, in order.
	UILocales string    `json:"ui_locales,omitempty"`
	DPoPJKT   string    `json:"dpop_jkt,omitempty"`
	Created   time.Time `json:"created"`
}

func (r *authzRequest) prompts(p string) bool { return slices.Contains(r.Prompt, p) }

// codeGrant is what an authorization code stands for.
type codeGrant struct {
	ClientID      string    `json:"client_id"`
	RedirectURI   string    `json:"redirect_uri"`
	Scope         []string  `json:"scope"`
	Nonce         string    `json:"nonce,omitempty"`
	CodeChallenge string    `json:"code_challenge"`
	DPoPJKT       string    `json:"dpop_jkt,omitempty"`
	UserID        string    `json:"user_id"`
	LoginSID      string    `json:"login_sid"`
	AuthTime      time.Time `json:"auth_time"`
	AMR           []string  `json:"amr,omitempty"`
	// GrantSID is the session the code's tokens are issued under: for a
	// code of kindSessionCode chosen with the code, which names it; for a
	// code of kindCode set once exchanged, in its spent marker.
	GrantSID string `json:"grant_sid,omitempty"`
	// Issued is when a code of kindSessionCode was issued, to the
	// nanosecond: its session starts then (GrantSID's time prefix is its
	// millisecond).
	Issued time.Time `json:"issued,omitzero"`
}

// authzError is an error of the authorization endpoint. With redirect it
// goes back to the client (RFC 6749 section 4.1.2.1); without, the client
// or its redirect URI could not be trusted and an error page says it.
type authzError struct {
	code, desc string
	redirect   *authzRequest
}

func (e *authzError) Error() string { return e.code + ": " + e.desc }

// errorPage is an error shown to the person, never sent to a redirect URI.
func errorPage(desc string) *authzError { return &authzError{code: CodeInvalidRequest, desc: desc} }

// paramsOf parses a query string or form body strictly: each parameter at
// most once (RFC 6749 section 3.1), valid UTF-8, empty ones as absent.
func paramsOf(raw string) (map[string]string, error) {
	if !utf8.ValidString(raw) {
		return nil, errors.New("the request is not valid UTF-8")
	}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return nil, errors.New("the request's parameters are malformed")
	}
	out := make(map[string]string, len(vals))
	for k, vs := range vals {
		if len(vs) > 1 {
			return nil, errors.New("parameter " + strconv.Quote(k) + " is repeated")
		}
		if !utf8.ValidString(vs[0]) {
			return nil, errors.New("parameter " + strconv.Quote(k) + " is not valid UTF-8")
		}
		if vs[0] != "" {
			out[k] = vs[0]
		}
	}
	return out, nil
}

// clientFor reads a client that may use the authorization code flow.
func (s *Server) clientFor(ctx context.Context, id string) (*store.Client, error) {
	if id == "" || len(id) > 128 {
		return nil, nil
	}
	var client *store.Client
	err := s.db.View(ctx, func(tx store.Tx) error {
		c, err := tx.Client(id)
		if err == nil && len(c.RedirectURIs) > 0 {
			client = c
		}
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	})
	return client, err
}

// redirectMatches compares a redirect URI with the client's registered
// ones exactly (RFC 9700 section 4.1.3), except that the port of a
// loopback IP literal may differ (RFC 8252 section 7.3): a native app
// listens on whatever port it was given.
func redirectMatches(client *store.Client, uri string) bool {
	if slices.Contains(client.RedirectURIs, uri) {
		return true
	}
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "http" || !isLoopbackIP(u.Hostname()) {
		return false
	}
	for _, reg := range client.RedirectURIs {
		r, err := url.Parse(reg)
		if err != nil || r.Scheme != "http" || !isLoopbackIP(r.Hostname()) {
			continue
		}
		if r.Hostname() == u.Hostname() && r.EscapedPath() == u.EscapedPath() && r.RawQuery == u.RawQuery &&
			u.Fragment == "" && u.User == nil && validPort(u.Port()) {
			return true
		}
	}
	return false
}

func isLoopbackIP(h string) bool { return h == "127.0.0.1" || h == "::1" }

func validPort(p string) bool {
	if p == "" {
		return true
	}
	n, err := strconv.Atoi(p)
	return err == nil && n > 0 && n < 65536 && strconv.Itoa(n) == p
}

// isB64URLString reports whether s is base64url characters only.
func isB64URLString(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// isPKCEVerifier checks RFC 7636 section 4.1's code_verifier syntax.
func isPKCEVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// checkAuthzRequest turns the parameters of an authorization request into
// a request, or an error. The client and redirect URI are checked first:
// until both are known good, an error is a page, never a redirect.
func (s *Server) checkAuthzRequest(client *store.Client, p map[string]string, now time.Time) (*authzRequest, error) {
	uri := p["redirect_uri"]
	if uri == "" {
		return nil, errorPage("redirect_uri is required")
	}
	if !redirectMatches(client, uri) {
		return nil, errorPage("the redirect_uri is not one registered for this client")
	}
	r := &authzRequest{ClientID: client.ID, RedirectURI: uri, State: p["state"], MaxAge: -1, Created: now}
	fail := func(code, desc string) (*authzRequest, error) {
		return nil, &authzError{code: code, desc: desc, redirect: r}
	}
	if len(r.State) > 2048 {
		r.State = ""
		return fail(CodeInvalidRequest, "state is too long")
	}
	switch mode := p["response_mode"]; mode {
	case "", "query", "form_post":
		r.ResponseMode = mode
	default:
		return fail(CodeInvalidRequest, "response_mode must be query or form_post")
	}
	if _, ok := p["request"]; ok {
		return fail("request_not_supported", "request objects are not supported; use pushed authorization requests")
	}
	switch p["response_type"] {
	case "code":
	case "":
		return fail(CodeInvalidRequest, "response_type is required")
	default:
		return fail("unsupported_response_type", "only response_type=code is supported")
	}
	for _, sc := range strings.Fields(p["scope"]) {
		if !slices.Contains(supportedScopes, sc) {
			return fail("invalid_scope", "unknown scope "+strconv.Quote(sc))
		}
		if !slices.Contains(r.Scope, sc) {
			r.Scope = append(r.Scope, sc)
		}
	}
	if !slices.Contains(r.Scope, scopeOpenID) {
		return fail("invalid_scope", "the openid scope is required")
	}
	switch p["code_challenge_method"] {
	case "S256":
	case "":
		return fail(CodeInvalidRequest, "PKCE is required: send code_challenge with code_challenge_method=S256")
	default:
		return fail(CodeInvalidRequest, "only code_challenge_method=S256 is supported")
	}
	r.CodeChallenge = p["code_challenge"]
	if len(r.CodeChallenge) != 43 || !isB64URLString(r.CodeChallenge) {
		return fail(CodeInvalidRequest, "code_challenge must be the base64url SHA-256 of the code verifier (43 characters)")
	}
	r.Nonce = p["nonce"]
	if len(r.Nonce) > 512 {
		return fail(CodeInvalidRequest, "nonce is too long")
	}
	for _, pr := range strings.Fields(p["prompt"]) {
		switch pr {
		case "none", "login", "consent", "create", "select_account":
		default:
			return fail(CodeInvalidRequest, "unknown prompt value "+strconv.Quote(pr))
		}
		if !slices.Contains(r.Prompt, pr) {
			r.Prompt = append(r.Prompt, pr)
		}
	}
	if r.prompts("none") && len(r.Prompt) > 1 {
		return fail(CodeInvalidRequest, "prompt=none cannot be combined with other values")
	}
	if v, ok := p["max_age"]; ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || n > 1<<31 {
			return fail(CodeInvalidRequest, "max_age must be a number of seconds")
		}
		r.MaxAge = n
	}
	r.UILocales = p["ui_locales"]
	if len(r.UILocales) > maxLanguageHeader {
		return fail(CodeInvalidRequest, "ui_locales is too long")
	}
	r.LoginHint = p["login_hint"]
	if len(r.LoginHint) > 256 {
		return fail(CodeInvalidRequest, "login_hint is too long")
	}
	r.DPoPJKT = p["dpop_jkt"]
	if r.DPoPJKT != "" && (len(r.DPoPJKT) != 43 || !isB64URLString(r.DPoPJKT)) {
		return fail(CodeInvalidRequest, "dpop_jkt must be a base64url SHA-256 JWK thumbprint")
	}
	return r, nil
}

// handleAuthorize is GET (and POST, OpenID Connect Core section 3.1.2.1)
// /authorize.
func (s *Server) handleAuthorize(c *fiber.Ctx) error {
	raw := string(c.Request().URI().QueryString())
	if c.Method() == fiber.MethodPost {
		if mediaType(c) != fiber.MIMEApplicationForm {
			return s.authzFail(c, errorPage("an authorization request sent by POST must be a form"))
		}
		raw = string(c.Request().Body())
	}
	p, err := paramsOf(raw)
	if err != nil {
		return s.authzFail(c, errorPage(err.Error()))
	}
	ctx := c.UserContext()
	now := s.now()
	client, err := s.clientFor(ctx, p["client_id"])
	if err != nil {
		return err
	}
	if client == nil {
		return s.authzFail(c, errorPage("unknown client_id"))
	}
	var req *authzRequest
	parKey := ""
	if ru, ok := p["request_uri"]; ok {
		if req, parKey, err = s.readPAR(ctx, client, ru, now); err != nil {
			return s.authzFail(c, err)
		}
	} else {
		if req, err = s.checkAuthzRequest(client, p, now); err != nil {
			return s.authzFail(c, err)
		}
		if s.cfg.RequirePAR {
			return s.authzFail(c, &authzError{code: CodeInvalidRequest, desc: "this server takes authorization requests only as pushed authorization requests (" + pathPAR + ")", redirect: req})
		}
	}
	return s.continueAuthorize(c, client, pending{par: parKey}, req)
}

// pending is where an authorization request is kept: a saved request's
// id, or, for one not saved yet, the pushed request it came from (spent
// in the same transaction that saves the request or issues its code, so a
// request_uri works once).
type pending struct {
	id, par string
}

// save keeps a request that has to wait for a page (sign-in, consent).
func (s *Server) save(ctx context.Context, p *pending, req *authzRequest) error {
	if p.id != "" {
		return nil
	}
	id, err := s.saveAuthzRequest(ctx, req, p.par, s.now())
	if err != nil {
		return err
	}
	*p = pending{id: id}
	return nil
}

// saveAuthzRequest keeps a checked request while the person signs in.
func (s *Server) saveAuthzRequest(ctx context.Context, req *authzRequest, parKey string, now time.Time) (string, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return "", err
	}
	id := tokens.NewOrderedID(now)
	err = s.db.Update(ctx, func(tx store.Tx) error {
		if err := spendPAR(tx, parKey, now); err != nil {
			return err
		}
		return tx.PutCeremony(&store.Ceremony{ID: id, Kind: kindAuthzRequest, Session: body, ExpiresAt: now.Add(authzRequestTTL)})
	})
	return id, err
}

// spendPAR deletes the pushed request parKey ("" for none) inside the
// transaction that uses it, or fails if another request used it first.
func spendPAR(tx store.Tx, parKey string, now time.Time) error {
	if parKey == "" {
		return nil
	}
	if cer, err := tx.Ceremony(parKey, now); err != nil || cer.Kind != kindPAR {
		return errorPage("the request_uri is unknown, used or expired (it is good for one use within 60 seconds)")
	}
	return tx.DeleteCeremony(parKey)
}

// loadAuthzRequest reads a pending request by its id.
func (s *Server) loadAuthzRequest(ctx context.Context, id string, now time.Time) (*authzRequest, error) {
	if id == "" || len(id) > 128 {
		return nil, nil
	}
	var req *authzRequest
	err := s.db.View(ctx, func(tx store.Tx) error {
		cer, err := tx.Ceremony(id, now)
		if errors.Is(err, store.ErrNotFound) || err == nil && cer.Kind != kindAuthzRequest {
			return nil
		} else if err != nil {
			return err
		}
		req = &authzRequest{}
		return json.Unmarshal(cer.Session, req)
	})
	return req, err
}

// needsSignIn reports whether the request needs a new sign-in although
// the person has a provider session of sess: prompt=login asks for one
// after the request was made, max_age for one at most that old (OpenID
// Connect Core section 3.1.2.1).
func needsSignIn(req *authzRequest, authTime, now time.Time) bool {
	if req.prompts("login") && authTime.Before(req.Created) {
		return true
	}
	return req.MaxAge >= 0 && now.Sub(authTime) > time.Duration(req.MaxAge)*time.Second+time.Second
}

// continueAuthorize takes a pending request as far as it can go: the
// sign-in page, the consent page, or the code.
func (s *Server) continueAuthorize(c *fiber.Ctx, client *store.Client, p pending, req *authzRequest) error {
	now := s.now()
	ps, err := s.providerSession(c, now)
	if err != nil {
		return err
	}
	if ps == nil || needsSignIn(req, ps.session.AuthTime, now) {
		if req.prompts("none") {
			return s.authzFail(c, &authzError{code: "login_required", desc: "the person is not signed in", redirect: req})
		}
		if err := s.save(c.UserContext(), &p, req); err != nil {
			return s.authzFail(c, err)
		}
		return s.signInPage(c, client, p.id, req)
	}
	if !client.FirstParty {
		consented := false
		if !req.prompts("consent") {
			if consented, err = s.hasConsent(c.UserContext(), ps.user.ID, client.ID, req.Scope); err != nil {
				return err
			}
		}
		if !consented {
			if req.prompts("none") {
				return s.authzFail(c, &authzError{code: "consent_required", desc: "the person has not allowed this application", redirect: req})
			}
			if err := s.save(c.UserContext(), &p, req); err != nil {
				return s.authzFail(c, err)
			}
			return s.consentPage(c, client, p.id, req, ps)
		}
	}
	return s.issueCode(c, p, req, ps)
}

// hasConsent reports whether the user has allowed the client every scope.
func (s *Server) hasConsent(ctx context.Context, userID, clientID string, scopes []string) (bool, error) {
	ok := false
	err := s.db.View(ctx, func(tx store.Tx) error {
		c, err := tx.Consent(userID, clientID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		ok = true
		for _, sc := range scopes {
			ok = ok && slices.Contains(c.Scopes, sc)
		}
		return nil
	})
	return ok, err
}

// issueCode ends a request with a code for its client.
func (s *Server) issueCode(c *fiber.Ctx, p pending, req *authzRequest, ps *providerSession) error {
	now := s.now()
	sid := tokens.NewOrderedID(now)
	code, hash := tokens.NewSessionCode(now, sid, s.refreshKey)
	grant := codeGrant{
		ClientID: req.ClientID, RedirectURI: req.RedirectURI, Scope: req.Scope, Nonce: req.Nonce,
		CodeChallenge: req.CodeChallenge, DPoPJKT: req.DPoPJKT, UserID: ps.user.ID, LoginSID: ps.session.ID,
		AuthTime: ps.session.AuthTime, AMR: ps.session.AMR, GrantSID: sid, Issued: now,
	}
	body := encodeGrant(&grant)
	err := s.db.Update(c.UserContext(), func(tx store.Tx) error {
		if err := spendPAR(tx, p.par, now); err != nil {
			return err
		}
		if p.id != "" {
			cer, err := tx.Ceremony(p.id, now)
			if err != nil || cer.Kind != kindAuthzRequest {
				return errorPage("this sign-in request has already been answered or has expired; go back to the application and start again")
			}
			if err := tx.DeleteCeremony(p.id); err != nil {
				return err
			}
		}
		return tx.PutCeremony(&store.Ceremony{ID: hash, Kind: kindSessionCode, UserID: ps.user.ID, Session: body, ExpiresAt: now.Add(codeTTL)})
	})
	if err != nil {
		return s.authzFail(c, err)
	}
	return s.authzRespond(c, req, map[string]string{"code": code})
}

// authzRespond sends the authorization response to the client's redirect
// URI with state and iss (RFC 9207), by redirect (query) or by an
// auto-submitted form (form_post).
func (s *Server) authzRespond(c *fiber.Ctx, req *authzRequest, params map[string]string) error {
	if req.State != "" {
		params["state"] = req.State
	}
	params["iss"] = s.cfg.Issuer
	noStore(c)
	if req.ResponseMode == "form_post" {
		return s.formPostPage(c, req.RedirectURI, params)
	}
	u, err := url.Parse(req.RedirectURI)
	if err != nil {
		return errorPage("the redirect URI is malformed")
	}
	q := u.Query()
	for k, v := range params {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	c.Set(fiber.HeaderLocation, u.String())
	return c.SendStatus(http.StatusSeeOther)
}

// authzFail answers an authorization error: at the client's redirect URI
// when it is known good, else as a page.
func (s *Server) authzFail(c *fiber.Ctx, err error) error {
	var ae *authzError
	if !errors.As(err, &ae) {
		return err
	}
	if ae.redirect != nil {
		return s.authzRespond(c, ae.redirect, map[string]string{"error": ae.code, "error_description": ae.desc})
	}
	return s.renderPage(c, http.StatusBadRequest, "message", pageData{
		Title: "This sign-in request cannot be completed", Page: "message", Message: ae.desc,
		// What a person can do about a request that cannot even be sent
		// back to its application.
		Hint: "The app that sent you here made a request Latch cannot accept, so you were not sent back to it. Go back to the app and try again; if it keeps happening, tell the people who run the app. The details below are for them.",
	}, "")
}

// handlePAR takes a pushed authorization request (RFC 9126): client
// authentication as at the token endpoint, the request checked as at
// /authorize (errors as JSON, never redirects), and a request_uri good
// for one use within 60 seconds.
func (s *Server) handlePAR(c *fiber.Ctx) error {
	form, err := decodeForm(c)
	if err != nil {
		return err
	}
	client, err := s.authenticateTokenClient(c, form)
	if err != nil {
		return err
	}
	if len(client.RedirectURIs) == 0 {
		return Errorf(http.StatusBadRequest, "unauthorized_client", "this client is not registered for the authorization code flow")
	}
	if _, ok := form["request_uri"]; ok {
		return badRequest("request_uri must not be sent to the pushed authorization request endpoint")
	}
	now := s.now()
	req, err := s.checkAuthzRequest(client, form, now)
	if err != nil {
		var ae *authzError
		if errors.As(err, &ae) {
			return Errorf(http.StatusBadRequest, ae.code, "%s", ae.desc)
		}
		return err
	}
	// RFC 9449 section 10.1: a DPoP header binds like dpop_jkt, and the
	// two must agree.
	if hasDPoP(c) {
		proof, err := s.dpop.CheckOnly(s.proofCheck(c, ""))
		if err != nil {
			return s.dpopError(err, http.StatusBadRequest)
		}
		if req.DPoPJKT != "" && req.DPoPJKT != proof.JKT {
			return Errorf(http.StatusBadRequest, CodeInvalidDPoPProof, "the DPoP proof's key is not the one dpop_jkt names")
		}
		req.DPoPJKT = proof.JKT
		if err := s.recordProof(proof); err != nil {
			return err
		}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	ref, hash := tokens.NewOpaque()
	err = s.db.Update(c.UserContext(), func(tx store.Tx) error {
		return tx.PutCeremony(&store.Ceremony{ID: hash, Kind: kindPAR, Session: body, ExpiresAt: now.Add(parTTL)})
	})
	if err != nil {
		return err
	}
	noStore(c)
	return c.Status(http.StatusCreated).JSON(fiber.Map{"request_uri": parURNPrefix + ref, "expires_in": int(parTTL.Seconds())})
}

// readPAR reads a pushed request by its request_uri for its own client;
// the request is spent (spendPAR) by whatever uses it.
func (s *Server) readPAR(ctx context.Context, client *store.Client, requestURI string, now time.Time) (*authzRequest, string, error) {
	ref, ok := strings.CutPrefix(requestURI, parURNPrefix)
	if !ok || len(ref) > 128 || ref == "" {
		return nil, "", errorPage("request_uri is not one this server handed out")
	}
	hash := tokens.HashOpaque(ref)
	var req *authzRequest
	err := s.db.View(ctx, func(tx store.Tx) error {
		cer, err := tx.Ceremony(hash, now)
		if errors.Is(err, store.ErrNotFound) || err == nil && cer.Kind != kindPAR {
			return errorPage("the request_uri is unknown, used or expired (it is good for one use within 60 seconds)")
		} else if err != nil {
			return err
		}
		req = &authzRequest{}
		return json.Unmarshal(cer.Session, req)
	})
	if err != nil {
		return nil, "", err
	}
	if req.ClientID != client.ID {
		// Not spent: another client's request_uri, sent by whoever
		// intercepted it, must not cost the real client its request.
		return nil, "", errorPage("the request_uri was pushed by another client")
	}
	req.Created = now
	return req, hash, nil
}

// --- the provider session ----------------------------------------------

// providerSession is the person signed in at the provider: a live Latch
// login session named by the provider session cookie.
type providerSession struct {
	session *store.Session
	user    *store.User
}

// cookieName is the provider session cookie's name: __Host- over HTTPS
// (bound to this host, Secure, path /), a plain name on http://localhost,
// where browsers refuse Secure cookies.
func (s *Server) cookieName() string {
	if s.secureCookies() {
		return "__Host-latch_session"
	}
	return "latch_session"
}

func (s *Server) secureCookies() bool { return strings.HasPrefix(s.cfg.Issuer, "https://") }

// cookieMAC authenticates the login session id a cookie names.
func (s *Server) cookieMAC(sid string) string {
	m := hmac.New(sha256.New, s.providerKey)
	m.Write([]byte("provider session\x00"))
	m.Write([]byte(sid))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// setProviderCookie names the login session sess in the cookie, until it
// expires. The value is the session id and a MAC over it under a key only
// the server has: a sid, which access tokens carry, is not enough.
func (s *Server) setProviderCookie(c *fiber.Ctx, sess *store.Session) {
	c.Cookie(&fiber.Cookie{
		Name: s.cookieName(), Value: sess.ID + "." + s.cookieMAC(sess.ID), Path: "/",
		Expires: sess.ExpiresAt, Secure: s.secureCookies(), HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode,
	})
}

func (s *Server) clearProviderCookie(c *fiber.Ctx) {
	c.Cookie(&fiber.Cookie{
		Name: s.cookieName(), Value: "", Path: "/", Expires: time.Unix(0, 0), MaxAge: -1,
		Secure: s.secureCookies(), HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode,
	})
}

// providerSession returns the person of the request's provider session
// cookie, or nil when there is none or its login session has ended
// (signed out, ended remotely, the account disabled or deleted).
func (s *Server) providerSession(c *fiber.Ctx, now time.Time) (*providerSession, error) {
	raw := c.Cookies(s.cookieName())
	sid, mac, ok := strings.Cut(raw, ".")
	if !ok || len(raw) > 256 || subtle.ConstantTimeCompare([]byte(mac), []byte(s.cookieMAC(sid))) != 1 {
		return nil, nil
	}
	sid = strings.Clone(sid)
	var ps *providerSession
	err := s.db.View(c.UserContext(), func(tx store.Tx) error {
		sess, err := tx.Session(sid)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		if !sess.RevokedAt.IsZero() || !sess.ExpiresAt.After(now) {
			return nil
		}
		u, err := tx.User(sess.UserID)
		if errors.Is(err, store.ErrNotFound) || err == nil && u.Disabled {
			return nil
		} else if err != nil {
			return err
		}
		ps = &providerSession{session: sess, user: u}
		return nil
	})
	if err != nil || ps == nil || s.revoked.has(revokedSession(sid)) {
		return nil, err
	}
	return ps, nil
}

type bindRequest struct {
	Request string `json:"request"`
}

// handleAuthorizeSession is POST /authorize/session: the sign-in page,
// signed in with Latch's own ceremony, hands its access token over (with
// its DPoP proof) and gets the provider session cookie for that login
// session, then continues the request.
func (s *Server) handleAuthorizeSession(c *fiber.Ctx) error {
	var body bindRequest
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	p := principalOf(c)
	now := s.now()
	req, err := s.loadAuthzRequest(c.UserContext(), body.Request, now)
	if err != nil {
		return err
	}
	if req == nil {
		return errNotFound("sign-in request")
	}
	var sess *store.Session
	if err := s.db.View(c.UserContext(), func(tx store.Tx) error {
		var err error
		sess, err = tx.Session(p.claims.SessionID)
		return err
	}); err != nil {
		return Errorf(http.StatusUnauthorized, CodeInvalidToken, "the login session has ended")
	}
	if needsSignIn(req, sess.AuthTime, now) {
		return &Error{Status: http.StatusUnauthorized, Code: CodeInsufficientAuth,
			Description: "the application asks for a new sign-in", Extra: map[string]any{"max_age": max(req.MaxAge, 0)}}
	}
	s.setProviderCookie(c, sess)
	noStore(c)
	return c.JSON(fiber.Map{"location": s.cfg.Issuer + pathAuthorize + "/resume?request=" + url.QueryEscape(body.Request)})
}

// handleAuthorizeResume is GET /authorize/resume: a pending request goes
// on once the person has signed in.
func (s *Server) handleAuthorizeResume(c *fiber.Ctx) error {
	now := s.now()
	id := strings.Clone(c.Query("request"))
	req, err := s.loadAuthzRequest(c.UserContext(), id, now)
	if err != nil {
		return err
	}
	if req == nil {
		return s.authzFail(c, errorPage("this sign-in request has already been answered or has expired; go back to the application and start again"))
	}
	client, err := s.clientFor(c.UserContext(), req.ClientID)
	if err != nil {
		return err
	}
	if client == nil {
		return s.authzFail(c, errorPage("the application is no longer registered"))
	}
	if !redirectMatches(client, req.RedirectURI) {
		return s.authzFail(c, errorPage("the redirect_uri is no longer registered for this client"))
	}
	return s.continueAuthorize(c, client, pending{id: id}, req)
}

// consentToken is the consent form's CSRF token: a MAC over the login
// session and the request, so a form made for one person and one request
// cannot be posted for another.
func (s *Server) consentToken(sid, requestID string) string {
	m := hmac.New(sha256.New, s.providerKey)
	m.Write([]byte("consent\x00"))
	m.Write([]byte(sid))
	m.Write([]byte{0})
	m.Write([]byte(requestID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// sameOrigin refuses a state-changing form post from another site. The
// browser's Sec-Fetch-Site decides when it is sent; else an Origin, unless
// it is "null" (what a browser sends for a form under Referrer-Policy
// no-referrer, as these pages have), must be this service's. The
// SameSite=Lax cookie and the CSRF token hold regardless.
func (s *Server) sameOrigin(c *fiber.Ctx) bool {
	if site := string(c.Request().Header.Peek("Sec-Fetch-Site")); site != "" {
		return site == "same-origin" || site == "none"
	}
	origin := string(c.Request().Header.Peek(fiber.HeaderOrigin))
	if origin == "" || origin == "null" {
		return true
	}
	u, err := url.Parse(s.cfg.Issuer)
	return err == nil && origin == u.Scheme+"://"+u.Host
}

// handleAuthorizeConsent is POST /authorize/consent: "Allow" records the
// consent and issues the code, "Deny" answers access_denied.
func (s *Server) handleAuthorizeConsent(c *fiber.Ctx) error {
	form, err := decodeForm(c)
	if err != nil {
		return s.authzFail(c, errorPage("the consent form is malformed"))
	}
	now := s.now()
	if !s.sameOrigin(c) {
		return s.authzFail(c, errorPage("the consent form was posted from another site"))
	}
	ps, err := s.providerSession(c, now)
	if err != nil {
		return err
	}
	id := form["request"]
	if ps == nil || subtle.ConstantTimeCompare([]byte(form["csrf"]), []byte(s.consentToken(ps.session.ID, id))) != 1 {
		return s.authzFail(c, errorPage("the consent form has expired or was not made for this sign-in; go back to the application and start again"))
	}
	req, err := s.loadAuthzRequest(c.UserContext(), id, now)
	if err != nil {
		return err
	}
	if req == nil {
		return s.authzFail(c, errorPage("this sign-in request has already been answered or has expired; go back to the application and start again"))
	}
	client, err := s.clientFor(c.UserContext(), req.ClientID)
	if err != nil {
		return err
	}
	if client == nil || !redirectMatches(client, req.RedirectURI) {
		return s.authzFail(c, errorPage("the application is no longer registered"))
	}
	switch form["decision"] {
	case "allow":
	case "deny":
		if err := s.db.Update(c.UserContext(), func(tx store.Tx) error { return tx.DeleteCeremony(id) }); err != nil {
			return err
		}
		return s.authzFail(c, &authzError{code: "access_denied", desc: "the person did not allow the application", redirect: req})
	default:
		return s.authzFail(c, errorPage("choose Allow or Deny"))
	}
	err = s.db.Update(c.UserContext(), func(tx store.Tx) error {
		if err := tx.PutConsent(&store.Consent{UserID: ps.user.ID, ClientID: client.ID, Scopes: req.Scope, GrantedAt: now}); err != nil {
			return err
		}
		return tx.AppendAudit(&store.AuditEvent{Time: now, Type: "consent_granted", UserID: ps.user.ID,
			Detail: map[string]string{"client": client.ID, "scope": strings.Join(req.Scope, " ")}})
	})
	if err != nil {
		return err
	}
	return s.issueCode(c, pending{id: id}, req, ps)
}
