package auth

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/latchid/latch/store"
)

// maxDeviceLen bounds the device description kept with a session.
const maxDeviceLen = 160

// deviceOf describes the client of a request for the sessions list: its
// User-Agent reduced to printable ASCII and bounded, since it is
// client-supplied text shown back to the user.
func deviceOf(c *fiber.Ctx) string {
	ua := c.Request().Header.UserAgent()
	var b strings.Builder
	for _, ch := range ua {
		if b.Len() == maxDeviceLen {
			break
		}
		if ch >= 0x20 && ch < 0x7f {
			b.WriteByte(ch)
		}
	}
	return strings.TrimSpace(b.String())
}

type sessionItem struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	AuthTime  time.Time `json:"auth_time"`
	ExpiresAt time.Time `json:"expires_at"`
	AMR       []string  `json:"amr"`
	Device    string    `json:"device"`
	// DeviceName is the device as a person reads it ("Chrome on macOS"),
	// or "" when the User-Agent names no known browser and system.
	DeviceName string `json:"device_name"`
	DPoPBound  bool   `json:"dpop_bound"`
	Current    bool   `json:"current"`
}

// handleListSessions lists the caller's active login sessions ("where am I
// signed in"), newest first.
func (s *Server) handleListSessions(c *fiber.Ctx) error {
	p := principalOf(c)
	now := s.now()
	var sessions []store.Session
	if err := s.db.View(c.UserContext(), func(tx *store.Tx) error {
		var err error
		sessions, err = tx.SessionsByUser(p.claims.Subject)
		return err
	}); err != nil {
		return err
	}
	out := make([]sessionItem, 0, len(sessions))
	for i := len(sessions) - 1; i >= 0; i-- {
		sess := &sessions[i]
		if !sess.RevokedAt.IsZero() || !sess.ExpiresAt.After(now) {
			continue
		}
		amr := sess.AMR
		if amr == nil {
			amr = []string{}
		}
		out = append(out, sessionItem{
			ID: sess.ID, CreatedAt: sess.CreatedAt.UTC(), AuthTime: sess.AuthTime.UTC(), ExpiresAt: sess.ExpiresAt.UTC(),
			AMR: amr, Device: sess.Device, DeviceName: describeDevice(sess.Device), DPoPBound: sess.JKT != "", Current: sess.ID == p.claims.SessionID,
		})
	}
	noStore(c)
	return c.JSON(out)
}

// handleEndSession signs one of the caller's sessions out (for example a
// lost phone): its refresh tokens stop working and its access tokens are
// blacklisted.
func (s *Server) handleEndSession(c *fiber.Ctx) error {
	id := c.Params("id")
	if id == "" || len(id) > 128 {
		return errNotFound("session")
	}
	sub := principalOf(c).claims.Subject
	now := s.now()
	var lt *logoutTargets
	err := s.db.Update(c.UserContext(), func(tx *store.Tx) error {
		lt = newLogoutTargets()
		sess, err := tx.Session(id)
		if err != nil || sess.UserID != sub || !sess.RevokedAt.IsZero() || !sess.ExpiresAt.After(now) {
			return errNotFound("session")
		}
		if err := endSessionTx(tx, sess, now, s.sessionBlacklistUntil(now), lt); err != nil {
			return err
		}
		return tx.AppendAudit(&store.AuditEvent{Time: now, Type: "session_ended", UserID: sub})
	})
	if err != nil {
		return err
	}
	s.mirrorSessionRevocation(id, now)
	s.afterSessionsEnd(lt)
	return c.SendStatus(http.StatusNoContent)
}

// handleEndOtherSessions signs out every session of the caller but the one
// making the request ("sign out everywhere else"), in one transaction.
func (s *Server) handleEndOtherSessions(c *fiber.Ctx) error {
	p := principalOf(c)
	now := s.now()
	var (
		ended []string
		live  int
		lt    *logoutTargets
	)
	err := s.db.Update(c.UserContext(), func(tx *store.Tx) error {
		var err error
		lt = newLogoutTargets()
		ended, live, err = endOtherSessions(tx, p.claims.Subject, p.claims.SessionID, now, s.sessionBlacklistUntil(now), lt)
		if err != nil || live == 0 {
			return err
		}
		return tx.AppendAudit(&store.AuditEvent{Time: now, Type: "other_sessions_ended", UserID: p.claims.Subject,
			Detail: map[string]string{"count": strconv.Itoa(live)}})
	})
	if err != nil {
		return err
	}
	for _, sid := range ended {
		s.mirrorSessionRevocation(sid, now)
	}
	s.afterSessionsEnd(lt)
	noStore(c)
	return c.JSON(fiber.Map{"ended": live})
}

// endOtherSessions ends every session of userID except keep (which may be
// ""), blacklisted until until, and returns the ids it ended and how many
// of them were live. Sessions past their expiry are ended too: an access
// token issued in a session's last minutes outlives it. The sessions it
// ends join lt's back-channel logouts.
func endOtherSessions(tx *store.Tx, userID, keep string, now, until time.Time, lt *logoutTargets) (ended []string, live int, err error) {
	sessions, err := tx.SessionsByUser(userID)
	if err != nil {
		return nil, 0, err
	}
	for i := range sessions {
		sess := &sessions[i]
		if sess.ID == keep || !sess.RevokedAt.IsZero() {
			continue
		}
		if sess.ExpiresAt.After(now) {
			live++
		}
		if err := endSessionTx(tx, sess, now, until, lt); err != nil {
			return nil, 0, err
		}
		ended = append(ended, sess.ID)
	}
	return ended, live, nil
}
