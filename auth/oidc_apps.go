package auth

import (
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/latchid/latch/store"
)

// "Apps with access": the applications a person has allowed (consented
// to), and taking an allowance back.

type appItem struct {
	ClientID  string    `json:"client_id"`
	Scopes    []string  `json:"scopes"`
	GrantedAt time.Time `json:"granted_at"`
}

// appDevice is the device description of an application's sessions
// (startGrantSession), by which withdrawing its access finds them.
func appDevice(clientID string) string { return "app: " + clientID }

// handleListApps is GET /me/apps.
func (s *Server) handleListApps(c *fiber.Ctx) error {
	sub := principalOf(c).claims.Subject
	var consents []store.Consent
	if err := s.db.View(c.UserContext(), func(tx store.Tx) error {
		var err error
		consents, err = tx.Consents(sub)
		return err
	}); err != nil {
		return err
	}
	out := make([]appItem, 0, len(consents))
	for _, cs := range consents {
		out = append(out, appItem{ClientID: cs.ClientID, Scopes: cs.Scopes, GrantedAt: cs.GrantedAt.UTC()})
	}
	noStore(c)
	return c.JSON(out)
}

// handleRevokeApp is DELETE /me/apps/{client_id}: the consent goes (the
// next sign-in into the application asks again) and so do the
// application's live sessions, with their tokens.
func (s *Server) handleRevokeApp(c *fiber.Ctx) error {
	clientID := strings.Clone(c.Params("client"))
	if clientID == "" || len(clientID) > 128 {
		return errNotFound("application")
	}
	sub := principalOf(c).claims.Subject
	now := s.now()
	var (
		ended []string
		lt    *logoutTargets
	)
	err := s.db.Update(c.UserContext(), func(tx store.Tx) error {
		ended, lt = nil, newLogoutTargets()
		_, cerr := tx.Consent(sub, clientID)
		sessions, err := tx.SessionsByUser(sub)
		if err != nil {
			return err
		}
		for i := range sessions {
			sess := &sessions[i]
			if sess.Device != appDevice(clientID) || !sess.RevokedAt.IsZero() {
				continue
			}
			if err := endSessionTx(tx, sess, now, s.sessionBlacklistUntil(now), lt); err != nil {
				return err
			}
			ended = append(ended, sess.ID)
		}
		if cerr != nil && len(ended) == 0 {
			return errNotFound("application")
		}
		if err := tx.DeleteConsent(sub, clientID); err != nil {
			return err
		}
		return tx.AppendAudit(&store.AuditEvent{Time: now, Type: "consent_revoked", UserID: sub, Detail: map[string]string{"client": clientID}})
	})
	if err != nil {
		return err
	}
	for _, sid := range ended {
		s.mirrorSessionRevocation(sid, now)
	}
	s.afterSessionsEnd(lt)
	return c.SendStatus(http.StatusNoContent)
}
