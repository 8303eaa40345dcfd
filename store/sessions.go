package store

import (
	"cmp"
	"errors"
	"fmt"
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
	// LoginSID is, for an application's session, the login session
	// (provider session) it was started from: the sid of its ID tokens
	// and logout tokens. Empty for a login session itself.
	LoginSID string `json:"login_sid,omitempty"`
}

// A user's sessions form a list, newest first: the account's head entry
// names the newest session and each session the one started before it
// (sessionRecord.Prev). Starting a session writes its record and moves the
// head, a rewrite in place on the page the sign-in's passkey update dirties
// anyway, where an index entry per session (as the 's' entries were) grew
// the accounts tree by a key of some 60 bytes on a page that random
// inserts keep half full: 150 bytes a sign-in, measured. Sessions leave
// the list only when deleted (sweep, account deletion): the oldest, as the
// sweep mostly removes them, is just dropped, since a link to a session
// that is gone ends the list; one in the middle is unlinked.
//
// Sessions started before the list keep their 's' entry and expiry index
// entry, and are listed, swept and deleted through them as before.

type sessionRecord struct {
	header
	Session
	// Listed marks a session in its user's list, Prev is the id of the
	// session started before it in that list ("" for the first).
	Listed bool   `json:"-"`
	Prev   string `json:"-"`
}

// sessionHead returns the id of the newest listed session of userID, or "".
func (tx *Tx) sessionHead(userID string) string {
	return string(tx.raw(bucketAccounts, entryKey(userID, entrySessionHead, nil)))
}

func (tx *Tx) setSessionHead(userID, id string) error {
	key := entryKey(userID, entrySessionHead, nil)
	if id == "" {
		return tx.del(bucketAccounts, key)
	}
	if err := tx.btx.Bucket(bucketAccounts).Put(key, []byte(id)); err != nil {
		return fmt.Errorf("store: put %s: %w", bucketAccounts, err)
	}
	return nil
}

// PutSession inserts or updates s. A new session goes at the head of its
// user's list; an update keeps its place (and cannot move it to another
// user). Sessions started before the list keep their index entries in
// step.
func (tx *Tx) PutSession(s *Session) error {
	if err := checkKey("session id", len(s.ID)); err != nil {
		return err
	}
	if err := checkKey("user id", len(s.UserID)); err != nil {
		return err
	}
	key := []byte(s.ID)
	old, err := memoGet(tx, &tx.db.sessions, bucketSessions, key)
	found := err == nil
	if err != nil && !notFound(err) {
		return err
	}
	if found && old.Listed && old.UserID != s.UserID {
		return fmt.Errorf("store: session %q belongs to another user", s.ID)
	}
	rec := sessionRecord{header: current(), Session: *s}
	rec.CreatedAt = utc(rec.CreatedAt)
	rec.AuthTime = utc(rec.AuthTime)
	rec.ExpiresAt = utc(rec.ExpiresAt)
	rec.RevokedAt = utc(rec.RevokedAt)
	switch {
	case !found:
		rec.Listed, rec.Prev = true, tx.sessionHead(s.UserID)
		if err := tx.setSessionHead(s.UserID, s.ID); err != nil {
			return err
		}
	case old.Listed:
		rec.Listed, rec.Prev = true, old.Prev
	default:
		// Started before the list: its index entries follow it.
		if old.UserID != s.UserID {
			if err := tx.del(bucketAccounts, entryKey(old.UserID, entrySession, key)); err != nil {
				return err
			}
			if err := tx.putIndex(bucketAccounts, entryKey(s.UserID, entrySession, key)); err != nil {
				return err
			}
		}
	}
	if err := tx.reindexExpiry(bucketSessionExpiry, key, old.ExpiresAt, rec.ExpiresAt); err != nil {
		return err
	}
	return memoPut(tx, &tx.db.sessions, bucketSessions, key, rec)
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

// eachSession calls fn with the id of every session of userID: the list,
// newest first, then those indexed by entries.
func (tx *Tx) eachSession(userID string, fn func(rec *sessionRecord) error) error {
	seen := map[string]bool{}
	for id := tx.sessionHead(userID); id != "" && !seen[id]; {
		seen[id] = true
		rec, err := memoGet(tx, &tx.db.sessions, bucketSessions, []byte(id))
		if notFound(err) {
			break // the rest of the list was deleted
		}
		if err != nil {
			return err
		}
		if rec.UserID != userID {
			return fmt.Errorf("store: the session list of user %q names a session of another user", userID)
		}
		if err := fn(&rec); err != nil {
			return err
		}
		id = rec.Prev
	}
	var legacy []string
	err := tx.eachEntry(userID, entrySession, func(_, id, _ []byte) error {
		legacy = append(legacy, string(id))
		return nil
	})
	if err != nil {
		return err
	}
	for _, id := range legacy {
		rec, err := memoGet(tx, &tx.db.sessions, bucketSessions, []byte(id))
		if err != nil {
			return err
		}
		if err := fn(&rec); err != nil {
			return err
		}
	}
	return nil
}

// SessionsByUser returns the user's sessions, oldest first.
func (tx *Tx) SessionsByUser(userID string) ([]Session, error) {
	var sessions []Session
	err := tx.eachSession(userID, func(rec *sessionRecord) error {
		sessions = append(sessions, rec.Session)
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

// deleteSession removes a session and its place in its user's list (or
// its index entries), returning how many records went. Its refresh tokens
// kept as records expire with it and are swept on their own expiry index.
func (tx *Tx) deleteSession(id []byte) (int, error) {
	var rec sessionRecord
	if err := tx.get(bucketSessions, id, &rec); err != nil {
		if notFound(err) {
			return 0, nil
		}
		return 0, err
	}
	if rec.Listed {
		if err := tx.unlistSession(&rec); err != nil {
			return 0, err
		}
	} else if err := tx.del(bucketAccounts, entryKey(rec.UserID, entrySession, id)); err != nil {
		return 0, err
	}
	if err := tx.reindexExpiry(bucketSessionExpiry, id, rec.ExpiresAt, time.Time{}); err != nil {
		return 0, err
	}
	return 1, tx.del(bucketSessions, id)
}

// unlistSession takes rec, about to be deleted, out of its user's list.
func (tx *Tx) unlistSession(rec *sessionRecord) error {
	if tx.sessionHead(rec.UserID) == rec.ID {
		return tx.setSessionHead(rec.UserID, rec.Prev)
	}
	if rec.Prev == "" || tx.raw(bucketSessions, []byte(rec.Prev)) == nil {
		// The end of the list: the link to it from the newer session, now
		// to nothing, ends the list there.
		return nil
	}
	// In the middle: the newer session that links to it links past it.
	var next *sessionRecord
	err := tx.eachSession(rec.UserID, func(r *sessionRecord) error {
		if r.Listed && r.Prev == rec.ID {
			next = r
			return errStopWalk
		}
		return nil
	})
	switch {
	case errors.Is(err, errStopWalk):
	case err != nil:
		return err
	default:
		return nil // not reachable from the head: nothing links to it
	}
	next.Prev = rec.Prev
	return memoPut(tx, &tx.db.sessions, bucketSessions, []byte(next.ID), *next)
}

var errStopWalk = errors.New("store: stop")

// A session record is of version 3: the version 2 fields (which a record
// written before still has) with ids packed (appendID) and its times but
// the first as distances from its start, then the fields added since.
const sessionVersion = 3

func (r *sessionRecord) binaryVersion() byte { return sessionVersion }

func (r *sessionRecord) appendBinary(b []byte) []byte {
	s := &r.Session
	b = appendID(b, s.UserID)
	b = appendTime(b, s.CreatedAt)
	b = appendTimeFrom(b, s.CreatedAt, s.AuthTime)
	b = appendTimeFrom(b, s.CreatedAt, s.ExpiresAt)
	b = appendStrings(b, s.AMR)
	b = appendID(b, s.JKT)
	b = appendTimeFrom(b, s.CreatedAt, s.RevokedAt)
	b = appendString(b, s.Device)
	b = appendBytes(b, s.Refresh)
	b = appendString(b, s.ClientID)
	b = appendString(b, s.Scope)
	b = appendBool(b, r.Listed)
	b = appendID(b, r.Prev)
	if s.LoginSID == "" {
		return b // a login session's record ends here, as before the field
	}
	return appendID(b, s.LoginSID)
}

func (r *sessionRecord) decodeBinary(key []byte, d *reader) error {
	r.header = current()
	s := &r.Session
	*s = Session{ID: string(key)}
	if d.version == binaryVersion {
		s.UserID, s.CreatedAt, s.AuthTime, s.ExpiresAt = d.string(), d.time(), d.time(), d.time()
		s.AMR, s.JKT, s.RevokedAt, s.Device = d.strings(), d.string(), d.time(), d.string()
		return nil
	}
	s.UserID, s.CreatedAt = d.id(), d.time()
	s.AuthTime, s.ExpiresAt = d.timeFrom(s.CreatedAt), d.timeFrom(s.CreatedAt)
	s.AMR, s.JKT, s.RevokedAt, s.Device = d.strings(), d.id(), d.timeFrom(s.CreatedAt), d.string()
	s.Refresh, s.ClientID, s.Scope = d.bytes(), d.string(), d.string()
	r.Listed, r.Prev = d.bool(), d.id()
	s.LoginSID = d.id()
	return nil
}
