package store

import (
	"cmp"
	"encoding/hex"
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
	// LastActiveAt is when the session was last seen in use (its last
	// refresh), zero if never since its start. Place is where the sign-in
	// came from, approximately, as a trusted proxy told ("Zurich, CH"), or
	// "" when unknown.
	LastActiveAt time.Time `json:"last_active_at,omitzero"`
	Place        string    `json:"place,omitempty"`
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
	// InLane marks a session swept through its lane (sessionlanes.go),
	// with no expiry index entry.
	InLane bool `json:"-"`
}

// sessionHead returns the id of the newest listed session of userID, or "".
func (tx *boltTx) sessionHead(userID string) string {
	return string(tx.raw(bucketAccounts, entryKey(userID, entrySessionHead, nil)))
}

func (tx *boltTx) setSessionHead(userID, id string) error {
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
func (tx *boltTx) PutSession(s *Session) error {
	if err := checkKey("session id", len(s.ID)); err != nil {
		return err
	}
	if s.ID[0] == 0 {
		return fmt.Errorf("store: session id %q starts with a zero byte", s.ID)
	}
	if err := checkKey("user id", len(s.UserID)); err != nil {
		return err
	}
	key, old, err := tx.sessionAt(s.ID)
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
	rec.LastActiveAt = utc(rec.LastActiveAt)
	var indexedBefore time.Time // the expiry index entry it has, if any
	if found && !old.InLane {
		indexedBefore = old.ExpiresAt
	}
	switch {
	case !found:
		rec.Listed, rec.Prev = true, tx.sessionHead(s.UserID)
		if err := tx.setSessionHead(s.UserID, s.ID); err != nil {
			return err
		}
		if rec.InLane, err = tx.joinLane(key, &rec.Session); err != nil {
			return err
		}
	case old.Listed:
		rec.Listed, rec.Prev = true, old.Prev
		// A lane member stays one while its times do.
		rec.InLane = old.InLane && rec.CreatedAt.Equal(old.CreatedAt) && rec.ExpiresAt.Equal(old.ExpiresAt)
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
	indexedAfter := rec.ExpiresAt
	if rec.InLane {
		indexedAfter = time.Time{}
	}
	if err := tx.reindexExpiry(bucketSessionExpiry, key, indexedBefore, indexedAfter); err != nil {
		return err
	}
	return memoPut(tx, &tx.db.sessions, bucketSessions, key, rec)
}

// Session returns the session with the given id, or ErrNotFound. Expiry
// and revocation are the caller's to judge.
func (tx *boltTx) Session(id string) (*Session, error) {
	_, rec, err := tx.sessionAt(id)
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
func (tx *boltTx) eachSession(userID string, fn func(rec *sessionRecord) error) error {
	seen := map[string]bool{}
	for id := tx.sessionHead(userID); id != "" && !seen[id]; {
		seen[id] = true
		_, rec, err := tx.sessionAt(id)
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
		_, rec, err := tx.sessionAt(id)
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
func (tx *boltTx) SessionsByUser(userID string) ([]Session, error) {
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

// deleteSession removes the session stored under key and its place in its
// user's list (or its index entries), returning how many records went. Its refresh tokens
// kept as records expire with it and are swept on their own expiry index.
func (tx *boltTx) deleteSession(key []byte) (int, error) {
	var rec sessionRecord
	if err := tx.get(bucketSessions, key, &rec); err != nil {
		if notFound(err) {
			return 0, nil
		}
		return 0, err
	}
	if rec.Listed {
		if err := tx.unlistSession(&rec); err != nil {
			return 0, err
		}
	} else if err := tx.del(bucketAccounts, entryKey(rec.UserID, entrySession, key)); err != nil {
		return 0, err
	}
	if !rec.InLane {
		if err := tx.reindexExpiry(bucketSessionExpiry, key, rec.ExpiresAt, time.Time{}); err != nil {
			return 0, err
		}
	}
	return 1, tx.del(bucketSessions, key)
}

// unlistSession takes rec, about to be deleted, out of its user's list.
func (tx *boltTx) unlistSession(rec *sessionRecord) error {
	if tx.sessionHead(rec.UserID) == rec.ID {
		return tx.setSessionHead(rec.UserID, rec.Prev)
	}
	if rec.Prev == "" || tx.raw(bucketSessions, tx.sessionKey(rec.Prev)) == nil {
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
	return memoPut(tx, &tx.db.sessions, bucketSessions, tx.sessionKey(next.ID), *next)
}

var errStopWalk = errors.New("store: stop")

// A session record is of version 4: the version 2 fields (which a record
// written before still has) with ids packed (appendID) and its times but
// the first as distances from its start, then the fields added since; from
// version 4 its texts (device, client, scope, methods) are coded with
// textPhrases (appendText), its start is a distance from the millisecond
// its id names (idTime), and it carries InLane, LoginSID, LastActiveAt and
// Place.
const sessionVersion = 4

func (r *sessionRecord) binaryVersion() byte { return sessionVersion }

func (r *sessionRecord) appendBinary(b []byte) []byte {
	s := &r.Session
	b = appendID(b, s.UserID)
	b = appendTimeFrom(b, idTime(s.ID), s.CreatedAt)
	b = appendTimeFrom(b, s.CreatedAt, s.AuthTime)
	b = appendTimeFrom(b, s.CreatedAt, s.ExpiresAt)
	b = appendTexts(b, s.AMR)
	b = appendID(b, s.JKT)
	b = appendTimeFrom(b, s.CreatedAt, s.RevokedAt)
	b = appendText(b, s.Device)
	b = appendBytes(b, s.Refresh)
	b = appendText(b, s.ClientID)
	b = appendText(b, s.Scope)
	b = appendBool(b, r.Listed)
	b = appendID(b, r.Prev)
	b = appendBool(b, r.InLane)
	// The fields from here on are often empty, and a record ends at its
	// last field that is not: a reader takes the missing ones as empty.
	end := len(b)
	if b = appendID(b, s.LoginSID); s.LoginSID != "" {
		end = len(b)
	}
	if b = appendTimeFrom(b, s.CreatedAt, s.LastActiveAt); !s.LastActiveAt.IsZero() {
		end = len(b)
	}
	if b = appendText(b, s.Place); s.Place != "" {
		end = len(b)
	}
	return b[:end]
}

func (r *sessionRecord) decodeBinary(key []byte, d *reader) error {
	r.header = current()
	s := &r.Session
	*s = Session{ID: sessionIDOf(key)}
	if d.version == binaryVersion {
		s.UserID, s.CreatedAt, s.AuthTime, s.ExpiresAt = d.string(), d.time(), d.time(), d.time()
		s.AMR, s.JKT, s.RevokedAt, s.Device = d.strings(), d.string(), d.time(), d.string()
		return nil
	}
	s.UserID = d.id()
	texts, text := d.strings, d.string // version 3
	if d.version >= 4 {
		texts, text = d.texts, d.id
		s.CreatedAt = d.timeFrom(idTime(s.ID))
	} else {
		s.CreatedAt = d.time()
	}
	s.AuthTime, s.ExpiresAt = d.timeFrom(s.CreatedAt), d.timeFrom(s.CreatedAt)
	s.AMR, s.JKT, s.RevokedAt, s.Device = texts(), d.id(), d.timeFrom(s.CreatedAt), text()
	s.Refresh, s.ClientID, s.Scope = d.bytes(), text(), text()
	r.Listed, r.Prev, r.InLane = d.bool(), d.id(), d.bool()
	s.LoginSID, s.LastActiveAt, s.Place = d.id(), d.timeFrom(s.CreatedAt), d.id()
	return nil
}

// Session keys. A time-ordered session id, as the service makes them (12
// hex digits of Unix milliseconds, 22 base64url characters of 128 random
// bits), is keyed by its packed form: a zero byte, which no id in text
// starts with, its 6 bytes of milliseconds and its 16 random bytes; 23
// bytes instead of 34, in the same time order. Any other id, and a session
// stored before ids were packed, is keyed by the id itself.
const packedSessionKeyLen = 1 + 6 + 16

func packSessionID(id string) ([]byte, bool) {
	if len(id) != 34 {
		return nil, false
	}
	key := make([]byte, 7, packedSessionKeyLen)
	if n, err := hex.Decode(key[1:], []byte(id[:12])); err != nil || n != 6 || hex.EncodeToString(key[1:]) != id[:12] {
		return nil, false
	}
	raw, err := b64.DecodeString(id[12:])
	if err != nil || len(raw) != 16 {
		return nil, false
	}
	return append(key, raw...), true
}

// sessionIDOf is the session id a key stands for.
func sessionIDOf(key []byte) string {
	if len(key) == packedSessionKeyLen && key[0] == 0 {
		return hex.EncodeToString(key[1:7]) + b64.EncodeToString(key[7:])
	}
	return string(key)
}

// sessionKey returns the key of the session id: where it is stored, or
// where a new one goes, without reading the record (sessionAt does both).
func (tx *boltTx) sessionKey(id string) []byte {
	key := tx.newSessionKey(id)
	if len(key) == packedSessionKeyLen && tx.raw(bucketSessions, key) == nil && tx.raw(bucketSessions, []byte(id)) != nil {
		return []byte(id) // stored before ids were packed
	}
	return key
}

// sessionAt reads the session id where it is stored: under its packed key,
// or under the id itself for one stored before ids were packed. key is
// where it is, or where a new one goes (nil for an id no session can
// have), with ErrNotFound.
func (tx *boltTx) sessionAt(id string) (key []byte, rec sessionRecord, err error) {
	key = tx.newSessionKey(id)
	rec, err = memoGet(tx, &tx.db.sessions, bucketSessions, key)
	if notFound(err) && len(key) == packedSessionKeyLen {
		if legacy, lerr := memoGet(tx, &tx.db.sessions, bucketSessions, []byte(id)); lerr == nil {
			return []byte(id), legacy, nil
		}
	}
	return key, rec, err
}

// newSessionKey is the key a new session of id is stored under. An id that
// starts with a zero byte is no session's (it could spell a packed key):
// nil, which finds nothing.
func (tx *boltTx) newSessionKey(id string) []byte {
	if len(id) > 0 && id[0] == 0 {
		return nil
	}
	if packed, ok := packSessionID(id); ok {
		return packed
	}
	return []byte(id)
}

// idTime is the millisecond a time-ordered session id names, which a
// session's start is stored as a distance from (a few bytes, instead of
// nine for a time of its own), or the Unix epoch for any other id.
func idTime(id string) time.Time {
	key, ok := packSessionID(id)
	if !ok {
		return time.UnixMilli(0)
	}
	ms, _ := orderedKeyMillis(key)
	return time.UnixMilli(ms)
}
