package auth

import (
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/latchid/latch/store"
)

// maxDeviceLen bounds the device description kept with a session.
const maxDeviceLen = 160

// signInClient is what a session keeps of the client that signed in.
type signInClient struct {
	device, place string
}

func (s *Server) signInClientOf(c *fiber.Ctx) signInClient {
	return signInClient{device: deviceOf(c), place: s.placeOf(c)}
}

// maxPlaceLen bounds the place kept with a session.
const maxPlaceLen = 64

// placeOf is the client's approximate place as a trusted proxy tells it in
// the PlaceHeaders, joined with ", " ("Zurich, CH"), or "" when the request
// did not come through a trusted proxy or it tells nothing: a client could
// write these headers itself, and a forged place in a person's sessions
// list would mislead them about a sign-in that was not theirs. Only
// printable characters are kept.
func (s *Server) placeOf(c *fiber.Ctx) string {
	if len(s.cfg.PlaceHeaders) == 0 {
		return ""
	}
	peer, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	if !slices.ContainsFunc(s.proxies, func(p netip.Prefix) bool { return p.Contains(peer.Unmap()) }) {
		return ""
	}
	var parts []string
	for _, h := range s.cfg.PlaceHeaders {
		v := strings.TrimSpace(strings.Map(func(r rune) rune {
			if r == utf8.RuneError || !unicode.IsPrint(r) {
				return -1
			}
			return r
		}, string(c.Request().Header.Peek(h))))
		if v != "" {
			parts = append(parts, v)
		}
	}
	place := strings.Join(parts, ", ")
	for len(place) > maxPlaceLen {
		_, size := utf8.DecodeLastRuneInString(place)
		place = place[:len(place)-size]
	}
	return place
}

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
	// DeviceBrowser and DeviceSystem are DeviceName's parts ("Chrome",
	// "macOS"; "App" for an iOS web view), for a page that says it in its
	// own language; "" when DeviceName is.
	DeviceBrowser string `json:"device_browser"`
	DeviceSystem  string `json:"device_system"`
	DPoPBound     bool   `json:"dpop_bound"`
	Current       bool   `json:"current"`
	// LastActiveAt is when the session was last seen in use: its last
	// refresh, or its sign-in.
	LastActiveAt time.Time `json:"last_active_at"`
	// Place is where the sign-in came from, approximately, when a trusted
	// proxy told (--place-headers); "" when unknown.
	Place string `json:"place"`
}

// handleListSessions lists the caller's active login sessions ("where am I
// signed in"), newest first.
func (s *Server) handleListSessions(c *fiber.Ctx) error {
	p := principalOf(c)
	now := s.now()
	var sessions []store.Session
	if err := s.db.View(c.UserContext(), func(tx store.Tx) error {
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
			LastActiveAt: lastActive(sess).UTC(), Place: sess.Place,
		})
		out[len(out)-1].DeviceBrowser, out[len(out)-1].DeviceSystem = deviceParts(sess.Device)
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
	err := s.db.Update(c.UserContext(), func(tx store.Tx) error {
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
	err := s.db.Update(c.UserContext(), func(tx store.Tx) error {
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
func endOtherSessions(tx store.Tx, userID, keep string, now, until time.Time, lt *logoutTargets) (ended []string, live int, err error) {
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

// lastActive is when sess was last seen in use: its last refresh, or its
// sign-in.
func lastActive(sess *store.Session) time.Time {
	if sess.LastActiveAt.After(sess.AuthTime) {
		return sess.LastActiveAt
	}
	return sess.AuthTime
}
