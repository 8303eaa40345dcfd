package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/latchid/latch/store"
	"github.com/latchid/latch/tokens"

	"github.com/latchid/latch/tokens/dpop"
)

// idTokenTTL is how long an ID token is valid: it is read once, at the
// sign-in, and only identifies.
const idTokenTTL = 10 * time.Minute

// acrPhishingResistant is the acr of every Latch sign-in: a passkey is
// phishing-resistant ("phr", OpenID Extended Authentication Profile ACR
// values).
const acrPhishingResistant = "phr"

// jwtBearerAssertion is RFC 7523's client_assertion_type.
const jwtBearerAssertion = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// invalidClient is the answer to every failed client authentication: 401
// with a Basic challenge when the client tried Basic (RFC 6749 section
// 5.2), the same words for every cause.
func invalidClient(c *fiber.Ctx, basic bool) error {
	if basic {
		c.Set(fiber.HeaderWWWAuthenticate, `Basic realm="latch"`)
	}
	return Errorf(http.StatusUnauthorized, CodeInvalidClient, "client authentication failed")
}

// authenticateTokenClient authenticates the client of a token or pushed
// authorization request by the one method it registered for:
// client_secret_basic or client_secret_post for a client with a secret,
// private_key_jwt (RFC 7523, each jti once) for a client with keys, none
// (just client_id) for a public client. Sending two methods is an error
// (RFC 6749 section 2.3).
func (s *Server) authenticateTokenClient(c *fiber.Ctx, form map[string]string) (*store.Client, error) {
	basic := isBasic(c)
	assertion, hasAssertion := form["client_assertion"]
	secretPost, hasSecret := form["client_secret"]
	n := 0
	for _, used := range []bool{basic, hasAssertion, hasSecret} {
		if used {
			n++
		}
	}
	if n > 1 {
		return nil, badRequest("use one client authentication method")
	}
	id, secret := form["client_id"], secretPost
	if basic {
		var ok bool
		if id, secret, ok = basicCredentials(c); !ok {
			return nil, invalidClient(c, true)
		}
		if form["client_id"] != "" && form["client_id"] != id {
			return nil, invalidClient(c, true)
		}
	}
	if hasAssertion {
		if form["client_assertion_type"] != jwtBearerAssertion {
			return nil, badRequest("client_assertion_type must be %s", jwtBearerAssertion)
		}
		iss, ok := tokens.AssertionIssuer(assertion)
		if !ok || id != "" && id != iss {
			return nil, invalidClient(c, false)
		}
		id = iss
	}
	if id == "" || len(id) > 128 {
		return nil, invalidClient(c, basic)
	}
	var client *store.Client
	err := s.db.View(c.UserContext(), func(tx store.Tx) error {
		var err error
		client, err = tx.Client(id)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	switch {
	case basic || hasSecret:
		sum := sha256.Sum256([]byte(secret))
		if client == nil || client.Public || len(client.SecretHash) == 0 {
			subtle.ConstantTimeCompare(sum[:], make([]byte, len(sum)))
			return nil, invalidClient(c, basic)
		}
		if subtle.ConstantTimeCompare(sum[:], client.SecretHash) != 1 {
			return nil, invalidClient(c, basic)
		}
	case hasAssertion:
		if client == nil || !usesKeyJWT(client) {
			return nil, invalidClient(c, false)
		}
		if err := s.checkClientAssertion(c.UserContext(), client, assertion); err != nil {
			return nil, err
		}
	default:
		if client == nil || !client.Public {
			return nil, invalidClient(c, false)
		}
	}
	return client, nil
}

// basicCredentials reads HTTP Basic client credentials, form-urlencoded
// inside (RFC 6749 section 2.3.1).
func basicCredentials(c *fiber.Ctx) (id, secret string, ok bool) {
	scheme, cred, ok := strings.Cut(c.Get(fiber.HeaderAuthorization), " ")
	if !ok || !strings.EqualFold(scheme, "Basic") || len(cred) > 1024 {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(cred)
	if err != nil {
		return "", "", false
	}
	id, secret, ok = strings.Cut(string(raw), ":")
	if !ok || id == "" || secret == "" {
		return "", "", false
	}
	return formUnescape(id), formUnescape(secret), true
}

// checkClientAssertion verifies a private_key_jwt assertion and spends its
// jti: a second use, before the assertion expires, is refused (RFC 7523
// section 3, point 7). Spent jtis are kept in the store so that a restart
// does not forget them.
func (s *Server) checkClientAssertion(ctx context.Context, client *store.Client, assertion string) error {
	now := s.now()
	jwks := client.JWKS
	if len(jwks) == 0 {
		var err error
		if jwks, err = s.clientKeys.get(ctx, client.JWKSURI, now); err != nil {
			s.log.Warn("client keys could not be fetched", "client", client.ID, "err", err)
			return Errorf(http.StatusUnauthorized, CodeInvalidClient, "client authentication failed: the client's keys could not be fetched")
		}
	}
	a, err := tokens.VerifyClientAssertion(assertion, jwks, client.ID, []string{s.cfg.Issuer + "/token", s.cfg.Issuer + pathPAR, s.cfg.Issuer}, now)
	if err != nil {
		return Errorf(http.StatusUnauthorized, CodeInvalidClient, "client authentication failed")
	}
	sum := sha256.Sum256([]byte(client.ID + "\x00" + a.JTI))
	key := "jti." + hex.EncodeToString(sum[:])
	return s.db.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Ceremony(key, now); err == nil {
			return Errorf(http.StatusUnauthorized, CodeInvalidClient, "client authentication failed: the client assertion was used before")
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return tx.PutCeremony(&store.Ceremony{ID: key, Kind: kindClientJTI, ExpiresAt: a.ExpiresAt})
	})
}

// clientKeyCache keeps the JWK Sets fetched from clients' jwks_uri for a
// few minutes, so a token request costs no fetch.
type clientKeyCache struct {
	mu sync.Mutex
	m  map[string]cachedKeys
}

type cachedKeys struct {
	body  []byte
	until time.Time
}

const clientKeysTTL = 5 * time.Minute

var clientKeysHTTP = &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
	return errors.New("redirects are not followed")
}}

func (kc *clientKeyCache) get(ctx context.Context, uri string, now time.Time) ([]byte, error) {
	kc.mu.Lock()
	if e, ok := kc.m[uri]; ok && now.Before(e.until) {
		kc.mu.Unlock()
		return e.body, nil
	}
	kc.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	res, err := clientKeysHTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", res.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, 64<<10+1))
	if err != nil {
		return nil, err
	}
	if err := tokens.CheckClientJWKS(body); err != nil {
		return nil, err
	}
	kc.mu.Lock()
	if kc.m == nil || len(kc.m) > 1024 {
		kc.m = map[string]cachedKeys{}
	}
	kc.m[uri] = cachedKeys{body: body, until: now.Add(clientKeysTTL)}
	kc.mu.Unlock()
	return body, nil
}

// pkceS256 is RFC 7636 section 4.2's S256 transform.
func pkceS256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// codeExchange is grant_type=authorization_code (RFC 6749 section 4.1.3,
// OpenID Connect Core section 3.1.3).
func (s *Server) codeExchange(c *fiber.Ctx, form map[string]string) (*tokenResponse, error) {
	client, err := s.authenticateTokenClient(c, form)
	if err != nil {
		return nil, err
	}
	code, redirectURI, verifier := form["code"], form["redirect_uri"], form["code_verifier"]
	switch {
	case code == "":
		return nil, badRequest("code is required")
	case redirectURI == "":
		return nil, badRequest("redirect_uri is required")
	case verifier == "":
		return nil, badRequest("code_verifier is required (PKCE)")
	case len(code) > 128:
		return nil, errGrant("invalid or expired authorization code")
	case !isPKCEVerifier(verifier):
		return nil, badRequest("code_verifier must be 43 to 128 unreserved characters (RFC 7636)")
	}
	proof, err := s.tokenEndpointProof(c)
	if err != nil {
		return nil, err
	}
	now := s.now()
	hash := tokens.OrderedOpaqueKey(code) // time-ordered: new codes append to the ceremonies tree
	named, _ := tokens.CodeSession(code, s.refreshKey)
	named = strings.Clone(named) // it may outlive the request, on the blacklist
	var (
		issued     *issuedSession
		grant      codeGrant
		revokedSID string
		refusal    error
		lt         *logoutTargets
	)
	err = s.db.Update(c.UserContext(), func(tx store.Tx) error {
		issued, revokedSID, refusal, lt = nil, "", nil, newLogoutTargets()
		// reused revokes, for a second use of a code, the session its
		// first use started (RFC 6749 section 4.1.2: one of the two uses
		// was not the client's), and audits it when it knows the account
		// (userID). The refusal comes after the commit.
		reused := func(sid, userID string, why error) error {
			revokedSID, refusal = sid, why
			if err := s.revokeSessionTx(tx, sid, now, lt); err != nil {
				return err
			}
			if userID == "" {
				return nil
			}
			return tx.AppendAudit(&store.AuditEvent{Time: now, Type: "authorization_code_reuse", UserID: userID,
				Detail: map[string]string{"client": client.ID, "sid": sid}})
		}
		cer, err := tx.Ceremony(hash, now)
		if errors.Is(err, store.ErrNotFound) {
			if named != "" {
				return s.spentCodeTx(tx, client, named, now, reused)
			}
			return errGrant("invalid or expired authorization code")
		} else if err != nil {
			return err
		}
		if err := decodeGrant(cer.Session, &grant); err != nil {
			return err
		}
		if grant.ClientID != client.ID {
			// A code of another client (code injection): refused, and the
			// code is left to its own client.
			return errGrant("the authorization code was issued to another client")
		}
		switch cer.Kind {
		case kindSessionCode:
			if grant.GrantSID == "" || grant.GrantSID != named {
				return errGrant("invalid or expired authorization code")
			}
			// Its session exists once it has been exchanged.
			if sess, err := tx.Session(grant.GrantSID); err == nil {
				if !sess.RevokedAt.IsZero() {
					return errCodeUsed
				}
				return reused(sess.ID, sess.UserID, errCodeReused)
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		case kindCodeUsed:
			// The spent marker of a code of the older kind.
			if err := reused(grant.GrantSID, grant.UserID, errCodeReused); err != nil {
				return err
			}
			return tx.DeleteCeremony(hash)
		case kindCode:
		default:
			return errGrant("invalid or expired authorization code")
		}
		if grant.RedirectURI != redirectURI {
			return errGrant("redirect_uri is not the one of the authorization request")
		}
		if subtle.ConstantTimeCompare([]byte(pkceS256(verifier)), []byte(grant.CodeChallenge)) != 1 {
			return errGrant("the code_verifier does not match the code_challenge")
		}
		if grant.DPoPJKT != "" && (proof == nil || proof.JKT != grant.DPoPJKT) {
			return Errorf(http.StatusBadRequest, CodeInvalidDPoPProof, "the code is bound to a DPoP key (dpop_jkt): send a proof made with that key")
		}
		login, err := tx.Session(grant.LoginSID)
		if err != nil || !login.RevokedAt.IsZero() || !login.ExpiresAt.After(now) {
			return errGrant("the sign-in behind the code has ended")
		}
		user, err := enabledUser(tx, grant.UserID)
		if err != nil {
			return errGrant("the account is no longer enabled")
		}
		if cer.Kind == kindSessionCode {
			// The session the code names, started when the code was
			// issued: writing it spends the code.
			issued, err = s.startGrantSession(tx, client, user, &grant, login, proof, grant.GrantSID, grant.Issued, now)
			if err != nil {
				return err
			}
			return s.recordProof(proof)
		}
		if issued, err = s.startGrantSession(tx, client, user, &grant, login, proof, tokens.NewOrderedID(now), now, now); err != nil {
			return err
		}
		grant.GrantSID = issued.session.ID
		body, err := json.Marshal(grant)
		if err != nil {
			return err
		}
		if err := tx.PutCeremony(&store.Ceremony{ID: hash, Kind: kindCodeUsed, UserID: user.ID, Session: body, ExpiresAt: now.Add(usedCodeTTL)}); err != nil {
			return err
		}
		// Not audited, as a refresh is not: the sign-in behind the code
		// was, and a code's reuse is.
		return s.recordProof(proof)
	})
	if err != nil {
		return nil, err
	}
	if revokedSID != "" {
		s.mirrorSessionRevocation(revokedSID, now)
		s.afterSessionsEnd(lt)
		return nil, refusal
	}
	res, err := s.tokenResponse(issued)
	if err != nil {
		return nil, err
	}
	if slices.Contains(grant.Scope, scopeOpenID) {
		if res.IDToken, err = s.idToken(client, issued, &grant, res.AccessToken); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// startGrantSession starts the session an application's tokens live in:
// its own login session (shown among the account's sessions, ended on its
// own), with the sign-in's time and methods, and a refresh token when the
// application may have one (offline_access, or a first-party client).
// Without offline access it ends when login, the sign-in it came from,
// would: an application's session outlives the person's sign-in only
// where they granted that. The session is sid, started at created (for a
// code that names its session, when the code was issued, at most a code's
// lifetime before now); its lifetime counts from then.
func (s *Server) startGrantSession(tx store.Tx, client *store.Client, user *store.User, g *codeGrant, login *store.Session, proof *dpop.Proof,
	sid string, created, now time.Time) (*issuedSession, error) {
	offline := slices.Contains(g.Scope, scopeOfflineAccess)
	withRefresh := client.FirstParty || offline
	expires := created.Add(s.cfg.RefreshTTL)
	if !withRefresh {
		// An access token issued now expires by now+AccessTTL, before
		// this (created is at most codeTTL ago).
		expires = created.Add(s.cfg.AccessTTL + codeTTL)
	}
	if !offline && login.ExpiresAt.Before(expires) {
		expires = login.ExpiresAt
	}
	scope := strings.Join(g.Scope, " ")
	sess := &store.Session{
		ID: sid, UserID: user.ID, CreatedAt: created, AuthTime: g.AuthTime,
		ExpiresAt: expires, AMR: g.AMR, Device: appDevice(client.ID), ClientID: client.ID, Scope: scope,
		LoginSID: g.LoginSID,
	}
	if proof != nil {
		sess.JKT = proof.JKT
	}
	is := &issuedSession{user: user, session: sess, clientID: client.ID, scope: scope}
	if withRefresh {
		// The session keeps its refresh token's state, as a sign-in's does.
		is.refreshToken, _ = tokens.NewSessionRefresh(now, sess.ID, s.refreshKey)
		sess.Refresh = tokens.RefreshDigest(is.refreshToken)
	}
	if err := tx.PutSession(sess); err != nil {
		return nil, err
	}
	return is, nil
}

// Refusals of a code used before.
var (
	errCodeReused = errGrant("the authorization code was used before; the tokens issued from it have been revoked")
	errCodeUsed   = errGrant("the authorization code was used before")
)

// spentCodeTx judges a code that names session sid (its MAC verified)
// whose record is gone: expired, swept, or never exchanged. If the session
// exists the code was exchanged, and this second use revokes it, unless
// the code is another client's or the session has ended already. Without
// the session, the code either expired unexchanged or its session has
// been swept; while an access token issued from it could still be live,
// its sid is put on the blacklist all the same.
func (s *Server) spentCodeTx(tx store.Tx, client *store.Client, sid string, now time.Time, reused func(sid, userID string, why error) error) error {
	sess, err := tx.Session(sid)
	switch {
	case err == nil:
		if sess.ClientID != client.ID {
			return errGrant("the authorization code was issued to another client")
		}
		if !sess.RevokedAt.IsZero() {
			return errCodeUsed
		}
		return reused(sid, sess.UserID, errCodeReused)
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	issued, ok := tokens.RefreshIssuedAt(sid)
	if ok && now.Before(issued.Add(codeTTL+s.cfg.AccessTTL+time.Minute)) && !s.revoked.has(revokedSession(sid)) {
		return reused(sid, "", errGrant("invalid or expired authorization code"))
	}
	return errGrant("invalid or expired authorization code")
}

// idToken signs the ID token of a code exchange (OpenID Connect Core
// section 3.1.3.6) with the client's algorithm.
func (s *Server) idToken(client *store.Client, is *issuedSession, g *codeGrant, accessToken string) (string, error) {
	key, ok := s.keys.IDSigner(client.IDTokenAlg)
	if !ok {
		return "", fmt.Errorf("no %s key for the ID tokens of client %s", client.IDTokenAlg, client.ID)
	}
	now := time.Unix(s.now().Unix(), 0)
	c := tokens.IDClaims{
		Issuer: s.cfg.Issuer, Subject: is.user.ID, Audience: client.ID, IssuedAt: now, Expires: now.Add(idTokenTTL),
		AuthTime: g.AuthTime, Nonce: g.Nonce, AMR: g.AMR, ACR: acrPhishingResistant, SessionID: g.LoginSID,
		AccessToken: accessToken,
	}
	if slices.Contains(g.Scope, scopeProfile) {
		c.PreferredUsername, c.Name = is.user.Username, is.user.DisplayName
	}
	if slices.Contains(g.Scope, scopeGroups) {
		c.Groups = is.user.Groups
	}
	return tokens.SignIDToken(key, c)
}

// oidcUserinfo is the UserInfo response of an application's token
// (OpenID Connect Core section 5.3): sub, and the profile claims when the
// profile scope was granted.
type oidcUserinfo struct {
	Sub               string `json:"sub"`
	PreferredUsername string `json:"preferred_username,omitempty"`
	Name              string `json:"name,omitempty"`
	// Groups is present (possibly empty) with the groups scope.
	Groups []string `json:"groups,omitzero"`
}

func scopeHas(scope, want string) bool { return slices.Contains(strings.Fields(scope), want) }
