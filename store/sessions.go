package store

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// Session is a login session. A zero ExpiresAt means it never expires and
// is never swept; a non-zero RevokedAt marks it revoked.
type Session struct {
	ID        string    `json:"id"`
	UserID    string    `json:"user_id"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	AuthTime  time.Time `json:"auth_time,omitzero"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	AMR       []string  `json:"amr,omitempty"`
	JKT       string    `json:"jkt,omitempty"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	// Device is a short description of the client that signed in (its
	// User-Agent), shown to the user among their sessions.
	Device string `json:"device,omitempty"`
	// Refresh identifies the session's current refresh token (a hash of
	// it, never the token), ClientID and Scope are what that token was
	// issued to and for. A session keeps its refresh token's state itself,
	// so a sign-in writes one record and a rotation rewrites it: no token
	// record, no expiry index entry, nothing kept per rotation. Empty for a
	// session whose tokens are RefreshToken records, as sessions started
	// before had.
	Refresh  []byte `json:"refresh,omitempty"`
	ClientID string `json:"client_id,omitempty"`
	Scope    string `json:"scope,omitempty"`
}

type sessionRecord struct {
	header
	Session
}

// PutSession inserts or updates s, keeping the per-user and expiry indexes
// in step.
func (tx *Tx) PutSession(s *Session) error {
	if err := checkKey("session id", len(s.ID)); err != nil {
		return err
	}
	if err := checkKey("user id", len(s.UserID)); err != nil {
		return err
	}
	key := []byte(s.ID)
	indexed := false
	old, err := memoGet(tx, &tx.db.sessions, bucketSessions, key)
	switch {
	case err == nil:
		indexed = old.UserID == s.UserID
		if !indexed {
			if err := tx.del(bucketAccounts, entryKey(old.UserID, entrySession, key)); err != nil {
				return err
			}
		}
	case !notFound(err):
		return err
	}
	rec := sessionRecord{header: current(), Session: *s}
	rec.CreatedAt = utc(rec.CreatedAt)
	rec.AuthTime = utc(rec.AuthTime)
	rec.ExpiresAt = utc(rec.ExpiresAt)
	rec.RevokedAt = utc(rec.RevokedAt)
	if err := memoPut(tx, &tx.db.sessions, bucketSessions, key, rec); err != nil {
		return err
	}
	if !indexed {
		if err := tx.putIndex(bucketAccounts, entryKey(s.UserID, entrySession, key)); err != nil {
			return err
		}
	}
	return tx.reindexExpiry(bucketSessionExpiry, key, old.ExpiresAt, rec.ExpiresAt)
}

// Session returns the session with the given id, or ErrNotFound. Expiry
// and revocation are the caller's to judge.
func (tx *Tx) Session(id string) (*Session, error) {
	rec, err := memoGet(tx, &tx.db.sessions, bucketSessions, []byte(id))
	if err != nil {
		return nil, err
	}
	return &rec.Session, nil
}

func (r sessionRecord) clone() sessionRecord {
	r.AMR, r.Refresh = slices.Clone(r.AMR), slices.Clone(r.Refresh)
	return r
}

// SessionsByUser returns the user's sessions, oldest first.
func (tx *Tx) SessionsByUser(userID string) ([]Session, error) {
	var sessions []Session
	err := tx.eachEntry(userID, entrySession, func(_, id, _ []byte) error {
		s, err := tx.Session(string(id))
		if err != nil {
			return err
		}
		sessions = append(sessions, *s)
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(sessions, func(a, b Session) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	return sessions, nil
}

// deleteSession removes a session and its indexes, returning how many
// records went. Its refresh tokens expire with it and are swept on their
// own expiry index.
func (tx *Tx) deleteSession(id []byte) (int, error) {
	var rec sessionRecord
	if err := tx.get(bucketSessions, id, &rec); err != nil {
		if notFound(err) {
			return 0, nil
		}
		return 0, err
	}
	if err := tx.del(bucketAccounts, entryKey(rec.UserID, entrySession, id)); err != nil {
		return 0, err
	}
	if err := tx.reindexExpiry(bucketSessionExpiry, id, rec.ExpiresAt, time.Time{}); err != nil {
		return 0, err
	}
	return 1, tx.del(bucketSessions, id)
}

func (r *sessionRecord) appendBinary(b []byte) []byte {
	s := &r.Session
	b = appendString(b, s.UserID)
	b = appendTime(b, s.CreatedAt)
	b = appendTime(b, s.AuthTime)
	b = appendTime(b, s.ExpiresAt)
	b = appendStrings(b, s.AMR)
	b = appendString(b, s.JKT)
	b = appendTime(b, s.RevokedAt)
	b = appendString(b, s.Device)
	b = appendBytes(b, s.Refresh)
	b = appendString(b, s.ClientID)
	return appendString(b, s.Scope)
}

func (r *sessionRecord) decodeBinary(key []byte, d *reader) error {
	r.header = current()
	r.Session = Session{
		ID: string(key), UserID: d.string(), CreatedAt: d.time(), AuthTime: d.time(), ExpiresAt: d.time(),
		AMR: d.strings(), JKT: d.string(), RevokedAt: d.time(), Device: d.string(),
		Refresh: d.bytes(), ClientID: d.string(), Scope: d.string(),
	}
	return nil
}
