package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/latchid/latch/store"

	"github.com/latchid/latch/tokens"
)

// handleEndSessionRequest is RP-initiated logout (OpenID Connect
// RP-Initiated Logout 1.0) at GET or POST /oidc/logout: it ends the
// provider session and its Latch login session, then returns to the
// application's post_logout_redirect_uri (registered for that client,
// exactly) with state, or shows that the person is signed out.
//
// With a valid id_token_hint of the signed-in person, or when no one is
// signed in, it acts at once; otherwise it asks the person to confirm
// (a form with a CSRF token bound to their session), so that a link on
// another site cannot sign them out unawares.
func (s *Server) handleEndSessionRequest(c *fiber.Ctx) error {
	raw := string(c.Request().URI().QueryString())
	if c.Method() == fiber.MethodPost {
		if mediaType(c) != fiber.MIMEApplicationForm {
			return s.messagePage(c, http.StatusBadRequest, "Sign-out failed", "a sign-out request sent by POST must be a form")
		}
		raw = string(c.Request().Body())
	}
	p, err := paramsOf(raw)
	if err != nil {
		return s.messagePage(c, http.StatusBadRequest, "Sign-out failed", err.Error())
	}
	now := s.now()
	clientID := p["client_id"]
	hintSub := ""
	if hint := p["id_token_hint"]; hint != "" {
		h, err := tokens.VerifyIDTokenHint(s.keys, hint, s.cfg.Issuer, now)
		if err != nil {
			return s.messagePage(c, http.StatusBadRequest, "Sign-out failed", "the id_token_hint is not an ID token of this server")
		}
		if clientID != "" && clientID != h.ClientID {
			return s.messagePage(c, http.StatusBadRequest, "Sign-out failed", "client_id is not the audience of the id_token_hint")
		}
		clientID, hintSub = h.ClientID, h.Subject
	}
	back := p["post_logout_redirect_uri"]
	if back != "" {
		client, err := s.clientFor(c.UserContext(), clientID)
		if err != nil {
			return err
		}
		if client == nil || !slices.Contains(client.PostLogoutRedirectURIs, back) {
			return s.messagePage(c, http.StatusBadRequest, "Sign-out failed",
				"the post_logout_redirect_uri is not registered for this application (send id_token_hint or client_id)")
		}
	}
	ps, err := s.providerSession(c, now)
	if err != nil {
		return err
	}
	confirmed := c.Method() == fiber.MethodPost && ps != nil &&
		subtle.ConstantTimeCompare([]byte(p["csrf"]), []byte(s.logoutToken(ps.session.ID))) == 1 && s.sameOrigin(c)
	switch {
	case ps == nil:
		// No one is signed in here; nothing to end.
	case hintSub == ps.user.ID || confirmed:
		if err := s.endProviderSession(c, ps, now); err != nil {
			return err
		}
	default:
		fields := map[string]string{"csrf": s.logoutToken(ps.session.ID)}
		for _, k := range []string{"client_id", "post_logout_redirect_uri", "state"} {
			if p[k] != "" {
				fields[k] = p[k]
			}
		}
		if clientID != "" {
			fields["client_id"] = clientID
		}
		return s.renderPage(c, http.StatusOK, "message", pageData{
			Title: "Sign out of Latch?", Page: "logout", Message: "You are signed in as {user}.", Username: ps.user.Username,
			Action: pathEndSession, Button: "Sign out", Fields: fields,
		}, back)
	}
	s.clearProviderCookie(c)
	if back == "" {
		return s.messagePage(c, http.StatusOK, "Signed out", "You are signed out of Latch.")
	}
	u, err := url.Parse(back)
	if err != nil {
		return s.messagePage(c, http.StatusBadRequest, "Sign-out failed", "the post_logout_redirect_uri is malformed")
	}
	if state := p["state"]; state != "" && len(state) <= 2048 {
		q := u.Query()
		q.Set("state", state)
		u.RawQuery = q.Encode()
	}
	noStore(c)
	c.Set(fiber.HeaderLocation, u.String())
	return c.SendStatus(http.StatusSeeOther)
}

// endProviderSession ends the login session behind the provider cookie.
func (s *Server) endProviderSession(c *fiber.Ctx, ps *providerSession, now time.Time) error {
	var lt *logoutTargets
	err := s.db.Update(c.UserContext(), func(tx store.Tx) error {
		lt = newLogoutTargets()
		sess, err := tx.Session(ps.session.ID)
		if err != nil {
			return err
		}
		if err := endSessionTx(tx, sess, now, s.sessionBlacklistUntil(now), lt); err != nil {
			return err
		}
		return tx.AppendAudit(&store.AuditEvent{Time: now, Type: "session_ended", UserID: ps.user.ID,
			Detail: map[string]string{"sid": ps.session.ID, "by": "rp_initiated_logout"}})
	})
	if err != nil {
		return err
	}
	s.mirrorSessionRevocation(ps.session.ID, now)
	s.afterSessionsEnd(lt)
	return nil
}

// logoutToken is the logout confirmation form's CSRF token.
func (s *Server) logoutToken(sid string) string {
	m := hmac.New(sha256.New, s.providerKey)
	m.Write([]byte("logout\x00"))
	m.Write([]byte(sid))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
