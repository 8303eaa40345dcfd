package store

import (
	"context"
	"errors"
	"time"
)

// sweepChunk bounds the deletions per transaction, so a large backlog is
// cleared in several short commits instead of one that stalls every writer.
const sweepChunk = 1000

// Sweep deletes everything expired at now: ceremonies (held and parked),
// blacklist entries, sessions and refresh tokens. It returns the number of
// records removed.
func (db *DB) Sweep(ctx context.Context, now time.Time) (removed int, err error) {
	removed = db.sweepPending(now)
	for {
		var n int
		var more bool
		err := db.update(ctx, func(tx *boltTx) error {
			var err error
			n, more, err = tx.sweep(now, sweepChunk)
			return err
		})
		if err != nil {
			return removed, err
		}
		removed += n
		if !more {
			return removed, nil
		}
	}
}

// sweep removes up to budget expired entries of each kind and reports
// whether any kind may have more. Keys are collected before anything is
// deleted: deleting under a bbolt cursor can skip entries.
func (tx *boltTx) sweep(now time.Time, budget int) (removed int, more bool, err error) {
	kinds := []struct {
		index  []byte
		delete func(key []byte) (int, error)
	}{
		{bucketCeremonyExpiry, tx.sweepCeremony},
		{bucketRevokedExpiry, tx.sweepRevoked},
		{bucketSessionExpiry, tx.deleteSession},
		{bucketRefreshExpiry, tx.deleteRefreshToken},
	}
	for _, kind := range kinds {
		entries := tx.expired(kind.index, now, budget)
		more = more || len(entries) == budget
		for _, entry := range entries {
			n, err := kind.delete(entry[8:])
			if err != nil {
				return removed, more, err
			}
			removed += n
			// The entry read goes too, even if the record was filed under
			// another key (as refresh tokens were before they were indexed
			// by the hour), or it would come back at every sweep.
			if err := tx.del(kind.index, entry); err != nil {
				return removed, more, err
			}
		}
	}
	n, laneMore, err := tx.sweepLanes(now, budget)
	return removed + n, more || laneMore, err
}

func (tx *boltTx) sweepCeremony(key []byte) (int, error) {
	if tx.btx.Bucket(bucketCeremonies).Get(key) == nil {
		return 0, nil
	}
	return 1, tx.DeleteCeremony(string(key))
}

func (tx *boltTx) sweepRevoked(key []byte) (int, error) {
	var rec revokedRecord
	if err := tx.get(bucketRevoked, key, &rec); err != nil {
		if notFound(err) {
			return 0, nil
		}
		return 0, err
	}
	if err := tx.reindexExpiry(bucketRevokedExpiry, key, rec.Until, time.Time{}); err != nil {
		return 0, err
	}
	return 1, tx.del(bucketRevoked, key)
}

// RunSweeper calls Sweep every interval with the time from now (time.Now
// if nil) until ctx is done or the store is closed. Failures are logged and
// retried at the next tick.
func (db *DB) RunSweeper(ctx context.Context, every time.Duration, now func() time.Time) {
	if every <= 0 {
		every = time.Minute
	}
	if now == nil {
		now = time.Now
	}
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		removed, err := db.Sweep(ctx, now())
		switch {
		case errors.Is(err, ErrClosed):
			return
		case err != nil && ctx.Err() == nil:
			db.logger.Warn("store sweep failed", "err", err, "removed", removed)
		case removed > 0:
			db.logger.Debug("store sweep", "removed", removed)
		}
	}
}
