package store

import (
	"fmt"
	"time"
)

// RefreshToken is a refresh token record, keyed by the hash of the token
// (the token itself is never stored). A rotated token is kept, with
// RotatedAt set, for as long as reuse detection needs it: until the token
// that replaced it is rotated in turn (see RotateRefreshToken).
type RefreshToken struct {
	Hash      string    `json:"hash"`
	SessionID string    `json:"session_id"`
	UserID    string    `json:"user_id"`
	ClientID  string    `json:"client_id,omitempty"`
	Scope     string    `json:"scope,omitempty"`
	JKT       string    `json:"jkt,omitempty"`
	IssuedAt  time.Time `json:"issued_at,omitzero"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	RotatedAt time.Time `json:"rotated_at,omitzero"`
	// Previous is the hash of the token this one replaced, set by
	// RotateRefreshToken: the one rotated token of the family still kept.
	Previous string `json:"previous,omitempty"`
}

type refreshTokenRecord struct {
	header
	RefreshToken
}

// clone copies the record; it has no slices to share.
func (r refreshTokenRecord) clone() refreshTokenRecord { return r }

// PutRefreshToken inserts or updates rt under its hash, keeping the expiry
// index in step. There is no index from a session to its tokens: a revoked
// session is refused through its own record, and its tokens are swept when
// they expire (with the session), so every refresh writes one record fewer.
func (tx *boltTx) PutRefreshToken(rt *RefreshToken) error {
	old, err := memoGet(tx, &tx.db.refresh, bucketRefreshTokens, []byte(rt.Hash))
	if err != nil && !notFound(err) {
		return err
	}
	return tx.writeRefreshToken(rt, old.ExpiresAt)
}

// writeRefreshToken stores rt and moves its expiry index entry from
// oldExpires (zero for a new token).
func (tx *boltTx) writeRefreshToken(rt *RefreshToken, oldExpires time.Time) error {
	if err := checkKey("refresh token hash", len(rt.Hash)); err != nil {
		return err
	}
	if err := checkKey("session id", len(rt.SessionID)); err != nil {
		return err
	}
	key := []byte(rt.Hash)
	rec := refreshTokenRecord{header: current(), RefreshToken: *rt}
	rec.IssuedAt, rec.ExpiresAt, rec.RotatedAt = utc(rec.IssuedAt), utc(rec.ExpiresAt), utc(rec.RotatedAt)
	if err := memoPut(tx, &tx.db.refresh, bucketRefreshTokens, key, rec); err != nil {
		return err
	}
	return tx.reindexExpiry(bucketRefreshExpiry, key, refreshSweepAt(oldExpires), refreshSweepAt(rec.ExpiresAt))
}

// RotateRefreshToken records a rotation: old (as read in this transaction)
// is marked rotated at at, next, a newly minted token, is stored with old
// as its Previous, and the token old had replaced is deleted. With next
// nil the family moves out of records (its next token is kept in its
// session, see Session.Refresh): old stays, rotated, until it expires. A family thus
// keeps two records, its current token and the one just rotated, whatever
// the number of rotations: a second use of the token a client has just
// rotated, the race that reuse detection is for (RFC 9700 section
// 4.14.2), is recognised by its record; an older token has none, and the
// service recognises it by the session it names under its MAC (see
// tokens.NewSessionRefresh). Before, every rotated token was kept
// until its session expired, 30 days of history that made the store grow
// with each refresh.
func (tx *boltTx) RotateRefreshToken(old *RefreshToken, at time.Time, next *RefreshToken) error {
	if old.Previous != "" {
		prev, err := memoGet(tx, &tx.db.refresh, bucketRefreshTokens, []byte(old.Previous))
		switch {
		case err == nil && prev.SessionID == old.SessionID && !prev.RotatedAt.IsZero():
			if _, err := tx.deleteRefreshToken([]byte(old.Previous)); err != nil {
				return err
			}
		case err != nil && !notFound(err):
			return err
		}
	}
	rotated := *old
	rotated.RotatedAt = at
	rotated.Previous = ""
	// Same key and expiry as before, so the expiry index stays as it is.
	if err := tx.writeRefreshToken(&rotated, rotated.ExpiresAt); err != nil {
		return err
	}
	if next == nil {
		return nil
	}
	n := *next
	n.Previous = old.Hash
	return tx.writeRefreshToken(&n, time.Time{})
}

// RefreshToken returns the refresh token with the given hash, or
// ErrNotFound.
func (tx *boltTx) RefreshToken(hash string) (*RefreshToken, error) {
	rec, err := memoGet(tx, &tx.db.refresh, bucketRefreshTokens, []byte(hash))
	if err != nil {
		return nil, err
	}
	return &rec.RefreshToken, nil
}

// deleteRefreshToken removes one token and its index entries, returning 1
// if it existed.
func (tx *boltTx) deleteRefreshToken(hash []byte) (int, error) {
	var rec refreshTokenRecord
	if err := tx.get(bucketRefreshTokens, hash, &rec); err != nil {
		if notFound(err) {
			return 0, nil
		}
		return 0, err
	}
	if err := tx.reindexExpiry(bucketRefreshExpiry, hash, refreshSweepAt(rec.ExpiresAt), time.Time{}); err != nil {
		return 0, err
	}
	return 1, tx.del(bucketRefreshTokens, hash)
}

// refreshSweepGrain is how coarsely refresh tokens are indexed for sweeping.
const refreshSweepGrain = time.Hour

// refreshSweepAt is when a refresh token expiring at expires is swept: the
// end of its hour. Every token of a session shares the session's expiry, so
// indexing the exact instant would file each session's tokens in their own
// spot and make every refresh of a busy commit dirty a page of its own;
// rounded up to the hour, tokens of all sessions ending that hour sort by
// their keys (issue time) and a commit appends them together. An expired
// token is refused by its ExpiresAt whether or not it was swept yet.
func refreshSweepAt(expires time.Time) time.Time {
	if expires.IsZero() {
		return expires
	}
	at := expires.Truncate(refreshSweepGrain)
	if at.Before(expires) {
		at = at.Add(refreshSweepGrain)
	}
	return at
}

func (r *refreshTokenRecord) appendBinary(b []byte) []byte {
	t := &r.RefreshToken
	b = appendString(b, t.SessionID)
	b = appendString(b, t.UserID)
	b = appendString(b, t.ClientID)
	b = appendString(b, t.Scope)
	b = appendString(b, t.JKT)
	b = appendTime(b, t.IssuedAt)
	b = appendTime(b, t.ExpiresAt)
	b = appendTime(b, t.RotatedAt)
	return appendString(b, t.Previous)
}

func (r *refreshTokenRecord) decodeBinary(key []byte, d *reader) error {
	r.header = current()
	r.RefreshToken = RefreshToken{
		Hash: string(key), SessionID: d.string(), UserID: d.string(), ClientID: d.string(), Scope: d.string(),
		JKT: d.string(), IssuedAt: d.time(), ExpiresAt: d.time(), RotatedAt: d.time(), Previous: d.string(),
	}
	return nil
}

// ScanRefreshTokens calls fn with every refresh token, in key order, until
// fn returns an error, which it returns. A copy of the store (latch
// migrate) reads them so; the service never lists them.
func (tx *boltTx) ScanRefreshTokens(fn func(rt *RefreshToken) error) error {
	c := tx.btx.Bucket(bucketRefreshTokens).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var rec refreshTokenRecord
		if err := decodeAt(k, v, &rec); err != nil {
			return fmt.Errorf("store: refresh token: %w", err)
		}
		if err := fn(&rec.RefreshToken); err != nil {
			return err
		}
	}
	return nil
}
