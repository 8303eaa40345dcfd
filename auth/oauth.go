package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/latchid/latch/store"
	"github.com/latchid/latch/tokens"

	"github.com/latchid/latch/tokens/dpop"
)

// handleResourceMetadata serves RFC 9728 protected-resource metadata for the
// service's own protected endpoints.
func (s *Server) handleResourceMetadata(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "public, max-age=3600")
	return c.JSON(fiber.Map{
		"resource":                          s.cfg.Audience,
		"authorization_servers":             []string{s.cfg.Issuer},
		"jwks_uri":                          s.cfg.Issuer + "/.well-known/jwks.json",
		"bearer_methods_supported":          []string{"header"},
		"dpop_signing_alg_values_supported": s.dpop.Algs(),
		"dpop_bound_access_tokens_required": s.cfg.RequireDPoP,
	})
}

func (s *Server) handleJWKS(c *fiber.Ctx) error {
	// Short enough that a rotated-in key is picked up well within a token
	// lifetime; verifiers refetch on an unknown kid anyway.
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	c.Set(fiber.HeaderContentType, "application/jwk-set+json")
	return c.Send(s.keys.JWKS(s.now()))
}

// handleRevoke implements RFC 7009. An introspection client (HTTP Basic, as
// at /introspect) may revoke anything. Anyone else needs nothing more than
// the token for an unbound one, but must prove the key a DPoP-bound token
// or an SD-JWT credential is bound to (RFC 9449 section 5's rule for
// refresh tokens): otherwise every verifier that saw a presentation, or
// whoever found a bound token, could end it. The answer is 200 whether or
// not the token was known, so it reveals nothing.
func (s *Server) handleRevoke(c *fiber.Ctx) error {
	form, err := decodeForm(c)
	if err != nil {
		return err
	}
	token := form["token"]
	if token == "" {
		return badRequest("token is required")
	}
	if len(token) > 64<<10 {
		return badRequest("token is too long")
	}
	rv := &revoker{s: s, c: c}
	if isBasic(c) {
		if err := s.authenticateClient(c); err != nil {
			return err
		}
		rv.client = true
	}
	if err := s.revokeToken(c.UserContext(), token, rv); err != nil {
		return err
	}
	noStore(c)
	return c.SendStatus(http.StatusOK)
}

// isBasic reports whether the request carries HTTP Basic credentials.
func isBasic(c *fiber.Ctx) bool {
	scheme, _, _ := strings.Cut(string(c.Request().Header.Peek(fiber.HeaderAuthorization)), " ")
	return strings.EqualFold(scheme, "Basic")
}

// revoker is the caller of /revoke and what it has proved. The request's
// DPoP proof (or DPoP-bound access token) is checked only when a bound
// token needs it, and at most once.
type revoker struct {
	s      *Server
	c      *fiber.Ctx
	client bool // an authenticated introspection client

	checked bool
	proof   *dpop.Proof // the proof of the key the caller holds
	holder  *principal  // set when the caller sent its DPoP-bound access token
	err     error
}

// prove checks the key the caller proves: a DPoP-bound access token with
// its proof (Authorization: DPoP), or a DPoP proof alone, for POST /revoke.
func (r *revoker) prove() error {
	if r.checked {
		return r.err
	}
	r.checked = true
	switch {
	case len(r.c.Request().Header.Peek(fiber.HeaderAuthorization)) > 0:
		p, err := r.s.authenticate(r.c)
		if err != nil {
			r.err = r.s.challenge(r.c, err)
		} else if p.proof == nil {
			r.err = Errorf(http.StatusBadRequest, CodeInvalidDPoPProof,
				"revoking a bound token needs a DPoP proof of its key; a Bearer access token proves none")
		} else {
			r.holder, r.proof = p, p.proof
		}
	case hasDPoP(r.c):
		// Checked only: spend records it once the proof has earned the
		// revocation, so refused requests cost the replay cache nothing.
		p, err := r.s.dpop.CheckOnly(r.s.proofCheck(r.c, ""))
		if err != nil {
			r.err = r.s.dpopError(err, http.StatusBadRequest)
		}
		r.proof = p
	default:
		r.err = Errorf(http.StatusBadRequest, CodeInvalidDPoPProof,
			"this token is bound to a key: revoking it needs a DPoP proof of that key (htm POST, htu the issuer's /revoke)")
	}
	return r.err
}

// mayRevokeBound admits the revocation of a token bound to the key jkt.
func (r *revoker) mayRevokeBound(jkt, what string) error {
	if r.client {
		return nil
	}
	if err := r.prove(); err != nil {
		return err
	}
	if r.proof.JKT != jkt {
		return Errorf(http.StatusBadRequest, CodeInvalidDPoPProof, "the DPoP proof is not made with the key the %s is bound to", what)
	}
	return r.spend()
}

// spend records the jti of a proof that has earned a revocation (a proof
// alone; one that came with the caller's access token was spent by
// authenticate), so it cannot be sent again.
func (r *revoker) spend() error {
	if r.holder != nil {
		return nil
	}
	if err := r.s.dpop.Record(r.proof); err != nil {
		return r.s.dpopError(err, http.StatusBadRequest)
	}
	return nil
}

// revokeToken works out what kind of token it was given, whatever the hint
// says (RFC 7009 section 2.1), and revokes it if rv may. Only tokens this
// server verifiably issued cause a write.
func (s *Server) revokeToken(ctx context.Context, token string, rv *revoker) error {
	switch {
	case strings.Contains(token, "~"):
		return s.revokeSDJWT(ctx, token, rv)
	case strings.Count(token, ".") == 2:
		claims, err := s.access.Verify(token)
		if err != nil {
			return s.revokeSDJWT(ctx, token, rv)
		}
		if claims.JKT != "" {
			if err := rv.mayRevokeBound(claims.JKT, "access token"); err != nil {
				return err
			}
		}
		return s.revoke(ctx, map[string]time.Time{revokedJTI(claims.ID): claims.ExpiresAt.Add(time.Minute)})
	default:
		var sid, jkt string
		err := s.db.View(ctx, func(tx store.Tx) error {
			// Any token issued for a session, current or rotated, ends it.
			h, err := s.lookupRefresh(tx, token)
			switch {
			case err != nil:
			case h.rt != nil:
				sid, jkt = h.rt.SessionID, h.rt.JKT
			default:
				sid, jkt = h.sess.ID, h.sess.JKT
			}
			return nil
		})
		if err != nil || sid == "" {
			return err
		}
		if jkt != "" {
			if err := rv.mayRevokeBound(jkt, "refresh token"); err != nil {
				return err
			}
		}
		return s.revokeSession(ctx, sid)
	}
}

// handleIntrospect implements RFC 7662 for resource servers holding client
// credentials made with `latch clients add`.
func (s *Server) handleIntrospect(c *fiber.Ctx) error {
	if err := s.authenticateClient(c); err != nil {
		return err
	}
	form, err := decodeForm(c)
	if err != nil {
		return err
	}
	token := form["token"]
	if token == "" {
		return badRequest("token is required")
	}
	noStore(c)
	return c.JSON(s.introspect(c.UserContext(), token))
}

func (s *Server) introspect(ctx context.Context, token string) fiber.Map {
	inactive := fiber.Map{"active": false}
	now := s.now()
	if len(token) > 16<<10 {
		return inactive
	}
	if strings.Count(token, ".") == 2 && !strings.Contains(token, "~") {
		claims, err := s.access.Verify(token)
		if err != nil || s.revoked.tokenRevoked(claims) {
			return inactive
		}
		out := fiber.Map{
			"active": true, "token_type": "Bearer", "iss": claims.Issuer, "sub": claims.Subject, "aud": claims.Audience,
			"exp": claims.ExpiresAt.Unix(), "iat": claims.IssuedAt.Unix(), "jti": claims.ID, "client_id": claims.ClientID,
			"scope": claims.Scope, "sid": claims.SessionID, "amr": claims.AMR, "auth_time": claims.AuthTime.Unix(),
		}
		// A token outlives neither its account nor the account's being
		// enabled, even when no blacklist entry says so (an account changed
		// behind the server's back, a session that expired just before).
		u, err := s.users.get(ctx, s.db, claims.Subject)
		if errors.Is(err, store.ErrNotFound) || err == nil && u.Disabled {
			return inactive
		}
		if err == nil {
			out["username"] = u.Username
		}
		if claims.JKT != "" {
			out["token_type"] = "DPoP"
			out["cnf"] = fiber.Map{"jkt": claims.JKT}
		}
		return out
	}
	var out fiber.Map
	_ = s.db.View(ctx, func(tx store.Tx) error {
		h, err := s.lookupRefresh(tx, token)
		if err != nil || !h.current || h.sess == nil || !h.sess.RevokedAt.IsZero() {
			return nil
		}
		rt := h.rt
		if rt == nil {
			sess := h.sess
			issued, _ := tokens.RefreshIssuedAt(token)
			rt = &store.RefreshToken{
				SessionID: sess.ID, UserID: sess.UserID, ClientID: sess.ClientID, Scope: sess.Scope,
				JKT: sess.JKT, IssuedAt: issued, ExpiresAt: sess.ExpiresAt,
			}
		}
		if !rt.ExpiresAt.After(now) {
			return nil
		}
		out = fiber.Map{
			"active": true, "token_type": "Bearer", "sub": rt.UserID, "client_id": rt.ClientID, "scope": rt.Scope,
			"exp": rt.ExpiresAt.Unix(), "iat": rt.IssuedAt.Unix(), "iss": s.cfg.Issuer, "sid": rt.SessionID,
		}
		if rt.JKT != "" {
			out["token_type"] = "DPoP"
			out["cnf"] = fiber.Map{"jkt": rt.JKT}
		}
		return nil
	})
	if out == nil {
		return inactive
	}
	return out
}

// authenticateClient checks HTTP Basic client credentials (RFC 6749 section
// 2.3.1) in constant time.
func (s *Server) authenticateClient(c *fiber.Ctx) error {
	fail := func() error {
		c.Set(fiber.HeaderWWWAuthenticate, `Basic realm="latch"`)
		return Errorf(http.StatusUnauthorized, CodeInvalidClient, "client authentication failed")
	}
	scheme, cred, ok := strings.Cut(c.Get(fiber.HeaderAuthorization), " ")
	if !ok || !strings.EqualFold(scheme, "Basic") || len(cred) > 1024 {
		return fail()
	}
	raw, err := base64.StdEncoding.DecodeString(cred)
	if err != nil {
		return fail()
	}
	id, secret, ok := strings.Cut(string(raw), ":")
	if !ok || id == "" || secret == "" {
		return fail()
	}
	// RFC 6749 section 2.3.1: both parts are form-urlencoded.
	id, secret = formUnescape(id), formUnescape(secret)
	var client *store.Client
	err = s.db.View(c.UserContext(), func(tx store.Tx) error {
		var err error
		client, err = tx.Client(id)
		return err
	})
	sum := sha256.Sum256([]byte(secret))
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		// Compare anyway so an unknown id costs the same as a wrong secret.
		subtle.ConstantTimeCompare(sum[:], make([]byte, len(sum)))
		return fail()
	}
	if subtle.ConstantTimeCompare(sum[:], client.SecretHash) != 1 {
		return fail()
	}
	return nil
}

func formUnescape(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	if v, err := url.QueryUnescape(s); err == nil {
		return v
	}
	return s
}

// CreateClient registers an introspection client and returns its secret,
// which is shown once and stored only as a hash.
func CreateClient(ctx context.Context, db store.Store, id string, now time.Time) (string, error) {
	return RegisterClient(ctx, db, ClientOptions{ID: id}, now)
}

// newClientSecret returns a fresh client secret and the hash kept of it.
func newClientSecret() (secret string, hash []byte) {
	secret, _ = tokens.NewOpaque()
	sum := sha256.Sum256([]byte(secret))
	return secret, sum[:]
}
