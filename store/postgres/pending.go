package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/latchid/latch/store"
)

// PutPending holds c in the pending table until TakePending or its expiry,
// so that a ceremony begun on one node finishes on any other. The table
// holds at most about store.MaxPending ceremonies: every trimEvery puts of
// a node, and at every sweep, the oldest beyond that make room, as the
// bbolt store evicts them (a flood must outpace a real user's answer
// before anyone's ceremony is lost, instead of filling the database).
func (db *DB) PutPending(c *store.Ceremony, now time.Time) error {
	if err := store.CheckKey("ceremony id", len(c.ID)); err != nil {
		return err
	}
	if c.ExpiresAt.IsZero() {
		return errors.New("store: ceremony has no expiry")
	}
	rec := ceremonyRec{header: current(), Ceremony: *c}
	rec.AuthTime, rec.ExpiresAt = store.UTC(rec.AuthTime), store.UTC(rec.ExpiresAt)
	b, err := encode(&rec)
	if err != nil {
		return err
	}
	_, err = db.exec(context.Background(), `INSERT INTO pending (id, expires_ns, rec) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET expires_ns = excluded.expires_ns, rec = excluded.rec`,
		[]byte(c.ID), nanos(rec.ExpiresAt), b)
	if err == nil && db.puts.Add(1)%trimEvery == 0 {
		_, err = db.trimPending(context.Background())
	}
	return err
}

// trimEvery is how many of a node's puts go between trims of the table.
const trimEvery = 1024

// trimPending drops the ceremonies beyond store.MaxPending that expire
// first (all live the same time, so the oldest), and counts them in
// Stats.Evicted.
func (db *DB) trimPending(ctx context.Context) (int, error) {
	tag, err := db.exec(ctx, `DELETE FROM pending WHERE id IN
		(SELECT id FROM pending ORDER BY expires_ns DESC OFFSET $1)`, store.MaxPending)
	n := int(tag.RowsAffected())
	db.evicted.Add(uint64(n))
	return n, err
}

// TakePending takes the ceremony out in one DELETE ... RETURNING: of any
// number of takes on any nodes, one gets it. An unknown, expired or taken
// ceremony is ErrNotFound.
func (db *DB) TakePending(ctx context.Context, id string, now time.Time) (*store.Ceremony, error) {
	if err := store.CheckKey("ceremony id", len(id)); err != nil {
		return nil, store.ErrNotFound
	}
	if err := db.enter(); err != nil {
		return nil, err
	}
	defer db.inflight.Done()
	qctx, cancel := context.WithTimeout(ctx, db.timeout)
	defer cancel()
	var b []byte
	err := db.pool.QueryRow(qctx, "DELETE FROM pending WHERE id = $1 RETURNING rec", []byte(id)).Scan(&b)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, store.ErrNotFound
	case err != nil:
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		err = fmt.Errorf("%w: %v", errDown, redact(err))
		db.health.record(err)
		return nil, err
	}
	var rec ceremonyRec
	if err := decode(b, &rec); err != nil {
		return nil, err
	}
	if !now.Before(rec.ExpiresAt) {
		return nil, store.ErrNotFound
	}
	return &rec.Ceremony, nil
}

// sweepChunk bounds the rows one sweeping statement deletes, so that a
// backlog is cleared in short statements.
const sweepChunk = 1000

// sweeps are the expired rows of each kind, by the key and expiry
// columns.
var sweeps = []struct{ table, key, expiry string }{
	{"pending", "id", "expires_ns"},
	{"ceremonies", "id", "expires_ns"},
	{"revoked", "key", "until_ns"},
	{"sessions", "id", "expires_ns"},
	{"refresh_tokens", "hash", "sweep_ns"},
	{"spent", "key", "until_ns"},
}

// Sweep deletes what has expired by now: held and stored ceremonies,
// blacklist entries, sessions, refresh tokens and spent keys. It also
// chains audit events left queued.
func (db *DB) Sweep(ctx context.Context, now time.Time) (removed int, err error) {
	if err := db.enter(); err != nil {
		return 0, err
	}
	defer db.inflight.Done()
	if err := db.chainAudit(ctx); err != nil {
		return 0, fmt.Errorf("%w: chain audit events: %v", errDown, redact(err))
	}
	if _, err := db.trimPending(ctx); err != nil {
		return 0, err
	}
	at := nanos(now)
	for _, s := range sweeps {
		sql := fmt.Sprintf("DELETE FROM %[1]s WHERE %[2]s IN (SELECT %[2]s FROM %[1]s WHERE %[3]s <= $1 LIMIT %[4]d)", s.table, s.key, s.expiry, sweepChunk)
		for {
			tag, err := db.exec(ctx, sql, at)
			if err != nil {
				return removed, err
			}
			removed += int(tag.RowsAffected())
			if tag.RowsAffected() < sweepChunk {
				break
			}
		}
	}
	return removed, nil
}

// RunSweeper calls Sweep every interval with the time from now (time.Now
// if nil) until ctx is done or the store is closed. Every node may run
// one: each row goes once, whoever deletes it.
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
		case errors.Is(err, store.ErrClosed):
			return
		case err != nil && ctx.Err() == nil:
			db.logger.Warn("store sweep failed", "err", err, "removed", removed)
		case removed > 0:
			db.logger.Debug("store sweep", "removed", removed)
		}
	}
}
