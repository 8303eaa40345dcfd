package store

import (
	"errors"
	"time"
)

type revokedRecord struct {
	header
	Until time.Time `json:"until"`
}

// PutRevoked blacklists key (an access-token jti, a session id, a
// credential; the caller chooses the namespace) until the given time.
// Revoking an entry again never shortens it: the later time wins.
func (tx *boltTx) PutRevoked(key string, until time.Time) error {
	if err := checkKey("revocation key", len(key)); err != nil {
		return err
	}
	if until.IsZero() {
		return errors.New("store: revocation has no end time")
	}
	k := []byte(key)
	var old revokedRecord
	switch err := tx.get(bucketRevoked, k, &old); {
	case err == nil:
		if !until.After(old.Until) {
			return nil
		}
	case !notFound(err):
		return err
	}
	rec := revokedRecord{header: current(), Until: utc(until)}
	if err := tx.put(bucketRevoked, k, &rec); err != nil {
		return err
	}
	return tx.reindexExpiry(bucketRevokedExpiry, k, old.Until, rec.Until)
}

// Revoked returns every blacklist entry still in force at now (until >
// now), for loading into memory at start-up.
func (tx *boltTx) Revoked(now time.Time) (map[string]time.Time, error) {
	out := make(map[string]time.Time)
	c := tx.btx.Bucket(bucketRevoked).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var rec revokedRecord
		if err := decode(v, &rec); err != nil {
			return nil, err
		}
		if rec.Until.After(now) {
			out[string(k)] = rec.Until
		}
	}
	return out, nil
}
