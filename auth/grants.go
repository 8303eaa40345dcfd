package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/latchid/latch/store"
	"github.com/latchid/latch/tokens"

	"github.com/latchid/latch/tokens/dpop"
)

// Defaults for tokens issued to the service's own clients.
const (
	defaultClientID = "latch"
	defaultScope    = "profile groups"
)

// tokenResponse is the RFC 6749 section 5.1 success body.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
	// IDToken is the OpenID Connect ID token of an authorization code
	// grant with the openid scope.
	IDToken string `json:"id_token,omitempty"`
}

// issuedSession is what a committed sign-in or refresh hands to the signer:
// the access token is signed only after the store has committed.
type issuedSession struct {
	user         *store.User
	session      *store.Session
	refreshToken string
	clientID     string
	scope        string
}

// tokenEndpointProof checks the optional DPoP proof of a token-issuing
// request (RFC 9449 section 5). It returns nil when none was sent and DPoP is
// not required. The proof is checked, not spent: its jti is recorded by
// recordProof in the transaction that issues the tokens, once the grant or
// ceremony has been found good, so a request that fails costs the replay
// cache nothing and a flood of failing requests cannot fill it.
func (s *Server) tokenEndpointProof(c *fiber.Ctx) (*dpop.Proof, error) {
	if !hasDPoP(c) {
		if s.cfg.RequireDPoP {
			return nil, Errorf(http.StatusBadRequest, CodeInvalidDPoPProof, "this server requires a DPoP proof")
		}
		return nil, nil
	}
	p, err := s.dpop.CheckOnly(s.proofCheck(c, ""))
	if err != nil {
		return nil, s.dpopError(err, http.StatusBadRequest)
	}
	return p, nil
}

// recordProof spends a token-endpoint proof (nil for none) from inside the
// transaction that issues the tokens: a replay that raced this request, or a
// key over its replay-cache bound, aborts the commit. Recording is
// idempotent, as a store transaction function that may run twice needs.
func (s *Server) recordProof(proof *dpop.Proof) error {
	if proof == nil {
		return nil
	}
	if err := s.dpop.Record(proof); err != nil {
		return s.dpopError(err, http.StatusBadRequest)
	}
	return nil
}

// enabledUser reads the account userID in the transaction that is about to
// start a session for it, whatever the caller read before, and refuses a
// disabled one: an account disabled through the admin socket in an earlier
// commit, or earlier in this one, must not get a session that its disable,
// having ended the sessions it found, would never end.
func enabledUser(tx store.Tx, userID string) (*store.User, error) {
	user, err := tx.User(userID)
	if err != nil {
		return nil, err
	}
	if user.Disabled {
		return nil, errDisabled()
	}
	return user, nil
}

// startSession creates a login session and its first refresh token inside
// the caller's transaction, for a user read in it (see enabledUser). The
// session record keeps the token's state (see store.Session.Refresh).
func (s *Server) startSession(tx store.Tx, user *store.User, amr []string, authTime time.Time, proof *dpop.Proof, from signInClient) (*issuedSession, error) {
	now := s.now()
	clientID := defaultClientID
	sess := &store.Session{
		ID: tokens.NewOrderedID(now), UserID: user.ID, CreatedAt: now, AuthTime: authTime,
		ExpiresAt: now.Add(s.cfg.RefreshTTL), AMR: amr, Device: from.device, Place: from.place, ClientID: clientID, Scope: defaultScope,
	}
	if proof != nil {
		sess.JKT = proof.JKT
	}
	refresh, _ := tokens.NewSessionRefresh(now, sess.ID, s.refreshKey)
	sess.Refresh = tokens.RefreshDigest(refresh)
	if err := tx.PutSession(sess); err != nil {
		return nil, err
	}
	if err := s.recordProof(proof); err != nil {
		return nil, err
	}
	return &issuedSession{user: user, session: sess, refreshToken: refresh, clientID: clientID, scope: defaultScope}, nil
}

// heldRefresh is a refresh token as the store knows it: its session, if
// there is one, and, for a token of a session started before sessions kept
// their token's state, the token's own record.
type heldRefresh struct {
	sess *store.Session
	rt   *store.RefreshToken
	// current is true for the token that may be used now, false for one
	// that was rotated (whose use again is reuse).
	current bool
}

// lookupRefresh finds a refresh token in tx: through the session its MAC
// names, or through its record for a token issued before. ErrNotFound for
// a token not issued here, or whose session is gone.
func (s *Server) lookupRefresh(tx store.Tx, token string) (*heldRefresh, error) {
	sid, signed := tokens.RefreshSession(token, s.refreshKey)
	var sess *store.Session
	if signed {
		var err error
		sess, err = tx.Session(sid)
		switch {
		case err == nil && len(sess.Refresh) > 0:
			return &heldRefresh{sess: sess, current: subtle.ConstantTimeCompare(sess.Refresh, tokens.RefreshDigest(token)) == 1}, nil
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
	}
	rt, err := tx.RefreshToken(tokens.OrderedOpaqueKey(token))
	switch {
	case err == nil:
		h := &heldRefresh{rt: rt, current: rt.RotatedAt.IsZero()}
		if h.sess, err = tx.Session(rt.SessionID); errors.Is(err, store.ErrNotFound) {
			h.sess, err = nil, nil
		}
		return h, err
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	case sess != nil:
		// Issued here for sid but no longer kept: a family of records keeps
		// only its current token and the one rotated last, so this one was
		// rotated before that.
		return &heldRefresh{sess: sess}, nil
	}
	return nil, store.ErrNotFound
}

// tokenResponse signs the access token of a committed session.
func (s *Server) tokenResponse(is *issuedSession) (*tokenResponse, error) {
	var groups []string
	if grantsGroups(is.clientID, is.scope) {
		groups = is.user.Groups
	}
	tok, claims, err := s.access.Issue(tokens.AccessClaims{
		Subject: is.user.ID, ClientID: is.clientID, Scope: is.scope, SessionID: is.session.ID,
		AuthTime: is.session.AuthTime, AMR: is.session.AMR, JKT: is.session.JKT, Groups: groups,
	})
	if err != nil {
		return nil, err
	}
	typ := "Bearer"
	if claims.JKT != "" {
		typ = "DPoP"
	}
	return &tokenResponse{
		AccessToken: tok, TokenType: typ, ExpiresIn: int(claims.ExpiresAt.Sub(claims.IssuedAt).Seconds()),
		RefreshToken: is.refreshToken, Scope: is.scope,
	}, nil
}

func (s *Server) handleToken(c *fiber.Ctx) error {
	form, err := decodeForm(c)
	if err != nil {
		return err
	}
	res, err := s.tokenGrant(c, form)
	grant := "refresh_token"
	if form["grant_type"] == "authorization_code" {
		grant = "authorization_code"
	}
	s.metrics.issued.WithLabelValues(grant, outcome(err)).Inc()
	if err != nil {
		return err
	}
	noStore(c)
	return c.JSON(res)
}

func (s *Server) tokenGrant(c *fiber.Ctx, form map[string]string) (*tokenResponse, error) {
	switch form["grant_type"] {
	case "refresh_token":
	case "authorization_code":
		return s.codeExchange(c, form)
	case "":
		return nil, badRequest("grant_type is required")
	default:
		return nil, Errorf(http.StatusBadRequest, CodeUnsupportedGrant, "only the authorization_code and refresh_token grants are supported")
	}
	refresh := form["refresh_token"]
	if refresh == "" {
		return nil, badRequest("refresh_token is required")
	}
	if len(refresh) > 512 {
		return nil, errGrant("invalid refresh token")
	}
	// An application's client authenticates as at the code exchange; the
	// service's own pages send at most client_id, as before.
	var client *store.Client
	if isBasic(c) || form["client_secret"] != "" || form["client_assertion"] != "" {
		var err error
		if client, err = s.authenticateTokenClient(c, form); err != nil {
			return nil, err
		}
	} else if form["client_id"] != "" && form["client_id"] != defaultClientID {
		// A public client names itself; any other client_id without
		// credentials is left to the grant's own check (invalid_grant).
		client, _ = s.authenticateTokenClient(c, form)
	}
	proof, err := s.tokenEndpointProof(c)
	if err != nil {
		return nil, err
	}
	return s.refresh(c.UserContext(), refresh, form["client_id"], client, proof)
}

// refresh rotates a refresh token (RFC 6749 section 6, RFC 9700 section
// 4.14.2). A second use of a rotated token revokes the whole login session.
//
// A token of an application (a client other than the service's own) is
// refreshed only by that client, authenticated (client, nil otherwise).
func (s *Server) refresh(ctx context.Context, refresh, clientID string, client *store.Client, proof *dpop.Proof) (*tokenResponse, error) {
	now := s.now()
	var (
		issued     *issuedSession
		revokedSID string
		lt         *logoutTargets
	)
	err := s.db.Update(ctx, func(tx store.Tx) error {
		issued, revokedSID, lt = nil, "", newLogoutTargets()
		// reused revokes the session of a rotated token presented again.
		reused := func(sid, userID string) error {
			revokedSID = sid
			if err := s.revokeSessionTx(tx, sid, now, lt); err != nil {
				return err
			}
			return tx.AppendAudit(&store.AuditEvent{Time: now, Type: "refresh_token_reuse", UserID: userID,
				Detail: map[string]string{"sid": sid}})
		}
		h, err := s.lookupRefresh(tx, refresh)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return errGrant("invalid or expired refresh token")
		case err != nil:
			return err
		case h.rt != nil:
			return s.rotateRecord(tx, h, clientID, client, proof, now, reused, &issued)
		}
		sess := h.sess
		if !h.current {
			// A rotated token: its session, if still live, is revoked.
			if !sess.RevokedAt.IsZero() || !sess.ExpiresAt.After(now) {
				return errGrant("invalid or expired refresh token")
			}
			if sess.JKT != "" && (proof == nil || proof.JKT != sess.JKT) {
				return errGrant("the refresh token is bound to another DPoP key")
			}
			return reused(sess.ID, sess.UserID)
		}
		if !sess.ExpiresAt.After(now) {
			return errGrant("invalid or expired refresh token")
		}
		if clientID != "" && clientID != sess.ClientID {
			return errGrant("the refresh token was issued to another client")
		}
		if err := appClientAuthenticated(sess.ClientID, client); err != nil {
			return err
		}
		if sess.JKT != "" && (proof == nil || proof.JKT != sess.JKT) {
			return errGrant("the refresh token is bound to another DPoP key")
		}
		if !sess.RevokedAt.IsZero() {
			return errSessionEnded()
		}
		issued, err = s.rotate(tx, sess, nil, proof, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	if revokedSID != "" {
		s.mirrorSessionRevocation(revokedSID, now)
		s.afterSessionsEnd(lt)
		return nil, errGrant("refresh token reuse detected; the login session has been revoked")
	}
	return s.tokenResponse(issued)
}

// rotate issues the next refresh token of sess, a live session whose
// current token was just presented: old, for a token kept as a record of
// its own, or nil. The next token's state is kept in the session.
func (s *Server) rotate(tx store.Tx, sess *store.Session, old *store.RefreshToken, proof *dpop.Proof, now time.Time) (*issuedSession, error) {
	user, err := s.users.peek(tx, sess.UserID)
	if err != nil {
		return nil, errGrant("the account no longer exists")
	}
	if user.Disabled {
		return nil, errDisabled()
	}
	if proof != nil {
		// An unbound session becomes bound the first time a client proves
		// a key; a bound one never changes key (checked by the caller).
		sess.JKT = proof.JKT
	}
	sess.LastActiveAt = now
	next, hash := tokens.NewSessionRefresh(now, sess.ID, s.refreshKey)
	var rec *store.RefreshToken
	if _, named := tokens.RefreshSession(next, s.refreshKey); named {
		sess.Refresh = tokens.RefreshDigest(next)
	} else {
		// A session id from before ids were time-ordered, which a token
		// cannot name: its tokens stay records of their own.
		sess.Refresh = nil
		rec = &store.RefreshToken{
			Hash: hash, SessionID: sess.ID, UserID: user.ID, ClientID: sess.ClientID, Scope: sess.Scope,
			JKT: sess.JKT, IssuedAt: now, ExpiresAt: sess.ExpiresAt,
		}
	}
	switch {
	case old != nil:
		err = tx.RotateRefreshToken(old, now, rec)
	case rec != nil:
		err = tx.PutRefreshToken(rec)
	}
	if err != nil {
		return nil, err
	}
	if err := tx.PutSession(sess); err != nil {
		return nil, err
	}
	if err := s.recordProof(proof); err != nil {
		return nil, err
	}
	return &issuedSession{user: user, session: sess, refreshToken: next, clientID: sess.ClientID, scope: sess.Scope}, nil
}

// rotateRecord is the refresh grant of a token kept as a record of its own,
// issued before sessions kept their token's state. Its rotation marks the
// record rotated, so that its reuse is still recognised, and moves the
// family into its session: the next token is kept there.
func (s *Server) rotateRecord(tx store.Tx, h *heldRefresh, clientID string, client *store.Client, proof *dpop.Proof, now time.Time,
	reused func(sid, userID string) error, issued **issuedSession) error {
	rt, sess := h.rt, h.sess
	if !rt.ExpiresAt.After(now) {
		return errGrant("invalid or expired refresh token")
	}
	if clientID != "" && clientID != rt.ClientID {
		return errGrant("the refresh token was issued to another client")
	}
	if err := appClientAuthenticated(rt.ClientID, client); err != nil {
		return err
	}
	if rt.JKT != "" && (proof == nil || proof.JKT != rt.JKT) {
		return errGrant("the refresh token is bound to another DPoP key")
	}
	if !h.current {
		return reused(rt.SessionID, rt.UserID)
	}
	if sess != nil && !sess.RevokedAt.IsZero() {
		return errSessionEnded()
	}
	if sess == nil || !sess.ExpiresAt.After(now) {
		return errGrant("the login session has ended")
	}
	sess.ClientID, sess.Scope = rt.ClientID, rt.Scope
	var err error
	*issued, err = s.rotate(tx, sess, rt, proof, now)
	return err
}

// appClientAuthenticated requires, for a refresh token of an application
// (a client other than the service's own), that very client's
// authentication at the token endpoint.
func appClientAuthenticated(tokenClient string, client *store.Client) error {
	if tokenClient != defaultClientID && (client == nil || client.ID != tokenClient) {
		return errGrant("the refresh token was issued to another client; that client must authenticate")
	}
	return nil
}

// revokeSessionTx ends the login session sid inside a transaction, as
// endSessionTx does; a sid with no session left is still blacklisted. The
// caller mirrors the blacklist entry in memory after the commit.
func (s *Server) revokeSessionTx(tx store.Tx, sid string, now time.Time, lt *logoutTargets) error {
	sess, err := tx.Session(sid)
	switch {
	case err == nil:
		return endSessionTx(tx, sess, now, s.sessionBlacklistUntil(now), lt)
	case errors.Is(err, store.ErrNotFound):
		return tx.PutRevoked(revokedSession(sid), s.sessionBlacklistUntil(now))
	}
	return err
}

// endSessionTx marks sess revoked, which every refresh checks, and
// blacklists its sid until until, by when none of its access tokens can
// still be live. A session it ends joins lt's back-channel logouts.
func endSessionTx(tx store.Tx, sess *store.Session, now, until time.Time, lt *logoutTargets) error {
	if sess.RevokedAt.IsZero() {
		sess.RevokedAt = now
		if err := tx.PutSession(sess); err != nil {
			return err
		}
		if err := lt.ended(tx, sess); err != nil {
			return err
		}
		if !isAppSession(sess) {
			if err := endAppSessionsOf(tx, sess, now, until, lt); err != nil {
				return err
			}
		}
	}
	return tx.PutRevoked(revokedSession(sess.ID), until)
}

// endAppSessionsOf ends, with the login session login, the sessions that
// applications were signed into from it and that hold no offline access:
// a sign-out of Latch signs the person out of those applications too
// (single logout), while offline access outlives it, as OpenID Connect
// Back-Channel Logout 1.0 section 2.7 has it for refresh tokens. The
// sessions ended go into lt, whose caller mirrors them in memory.
func endAppSessionsOf(tx store.Tx, login *store.Session, now, until time.Time, lt *logoutTargets) error {
	sessions, err := tx.SessionsByUser(login.UserID)
	if err != nil {
		return err
	}
	for i := range sessions {
		app := &sessions[i]
		if !isAppSession(app) || app.LoginSID != login.ID || !app.RevokedAt.IsZero() ||
			slices.Contains(strings.Fields(app.Scope), scopeOfflineAccess) {
			continue
		}
		if err := endSessionTx(tx, app, now, until, lt); err != nil {
			return err
		}
		if lt != nil {
			lt.cascaded = append(lt.cascaded, app.ID)
		}
	}
	return nil
}

// sessionBlacklistUntil is how long a revoked session's sid stays on the
// blacklist: as long as an access token issued just before can live.
func (s *Server) sessionBlacklistUntil(now time.Time) time.Time {
	return now.Add(s.cfg.AccessTTL + time.Minute)
}

// mirrorSessionRevocation adds a committed session revocation to the
// in-memory blacklist.
func (s *Server) mirrorSessionRevocation(sid string, now time.Time) {
	s.revoked.add(revokedSession(sid), s.sessionBlacklistUntil(now))
}

// revokeSession ends one login session, mirrors the blacklist entry and
// sends the back-channel logouts due.
func (s *Server) revokeSession(ctx context.Context, sid string) error {
	now := s.now()
	var lt *logoutTargets
	if err := s.db.Update(ctx, func(tx store.Tx) error {
		lt = newLogoutTargets()
		return s.revokeSessionTx(tx, sid, now, lt)
	}); err != nil {
		return err
	}
	s.mirrorSessionRevocation(sid, now)
	s.afterSessionsEnd(lt)
	return nil
}
