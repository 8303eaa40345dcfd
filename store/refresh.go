package store

import (
	"time"
)

// RefreshToken is a refresh token record, keyed by the hash of the token
// (the token itself is never stored). A rotated token is kept, with
// RotatedAt set, until it expires so that its reuse can be detected.
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
func (tx *Tx) PutRefreshToken(rt *RefreshToken) error {
	old, err := memoGet(tx, &tx.db.refresh, bucketRefreshTokens, []byte(rt.Hash))
	if err != nil && !notFound(err) {
		return err
	}
	return tx.writeRefreshToken(rt, old.ExpiresAt)
}

// writeRefreshToken stores rt and moves its expiry index entry from
// oldExpires (zero for a new token).
func (tx *Tx) writeRefreshToken(rt *RefreshToken, oldExpires time.Time) error {
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
// is marked rotated at at, kept for reuse detection until it expires, and
// next, a newly minted token, is stored. Neither is read again.
func (tx *Tx) RotateRefreshToken(old *RefreshToken, at time.Time, next *RefreshToken) error {
	rotated := *old
	rotated.RotatedAt = at
	// Same key and expiry as before, so the expiry index stays as it is.
	if err := tx.writeRefreshToken(&rotated, rotated.ExpiresAt); err != nil {
		return err
	}
	return tx.writeRefreshToken(next, time.Time{})
}

// RefreshToken returns the refresh token with the given hash, or
// ErrNotFound.
func (tx *Tx) RefreshToken(hash string) (*RefreshToken, error) {
	rec, err := memoGet(tx, &tx.db.refresh, bucketRefreshTokens, []byte(hash))
	if err != nil {
		return nil, err
	}
	return &rec.RefreshToken, nil
}

// deleteRefreshToken removes one token and its index entries, returning 1
// if it existed.
func (tx *Tx) deleteRefreshToken(hash []byte) (int, error) {
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
