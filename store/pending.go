package store

import (
	"context"
	"errors"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// MaxPending bounds the WebAuthn ceremonies held in memory at once. A
// ceremony is a few hundred bytes, so the table stays under about 64 MiB
// however many begins arrive.
const MaxPending = 1 << 17

// ErrFull is returned by PutPending when MaxPending live ceremonies are
// already held.
var ErrFull = errors.New("store: too many pending ceremonies")

// pendingTable holds WebAuthn ceremonies between begin and finish.
//
// They live in memory rather than in a write transaction: a ceremony is a
// challenge the client answers within seconds, and losing one costs a
// retry, never a wrong answer (a lost ceremony is refused like any unknown
// one). Keeping begins off the disk halves the commits a sign-in waits for.
// Close parks the table in the ceremonies bucket and TakePending finds
// parked ones, so a restart or deploy does not break a sign-in in
// progress; only a crash loses them.
type pendingTable struct {
	mu sync.Mutex
	m  map[string]*Ceremony
}

// PutPending holds c in memory until TakePending or its expiry. c.ID and
// c.ExpiresAt are required. At MaxPending live ceremonies it sweeps the
// expired ones at now and, if none were, returns ErrFull.
func (db *DB) PutPending(c *Ceremony, now time.Time) error {
	if err := checkKey("ceremony id", len(c.ID)); err != nil {
		return err
	}
	if c.ExpiresAt.IsZero() {
		return errors.New("store: ceremony has no expiry")
	}
	if db.closed.Load() {
		return ErrClosed
	}
	held := *c
	p := &db.pending
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.m) >= MaxPending && p.sweepLocked(now) == 0 {
		return ErrFull
	}
	p.m[held.ID] = &held
	return nil
}

// TakePending consumes the ceremony id: it returns it and makes sure no
// other call ever gets it again. It returns ErrNotFound for an unknown,
// expired or already taken ceremony. A ceremony parked by an earlier
// process is taken from the store in a durable write.
func (db *DB) TakePending(ctx context.Context, id string, now time.Time) (*Ceremony, error) {
	if err := checkKey("ceremony id", len(id)); err != nil {
		return nil, ErrNotFound
	}
	p := &db.pending
	p.mu.Lock()
	c, ok := p.m[id]
	delete(p.m, id)
	p.mu.Unlock()
	if ok {
		if !now.Before(c.ExpiresAt) {
			return nil, ErrNotFound
		}
		return c, nil
	}
	// Parked ceremonies are rare: look before queueing a write, so that
	// unknown ids cost a read rather than a commit.
	if err := db.View(ctx, func(tx *Tx) error {
		_, err := tx.Ceremony(id, now)
		return err
	}); err != nil {
		return nil, err
	}
	err := db.Update(ctx, func(tx *Tx) error {
		var err error
		if c, err = tx.Ceremony(id, now); err != nil {
			return err
		}
		return tx.TakeCeremony(id, now)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// sweepPending drops the ceremonies expired at now and returns how many.
func (db *DB) sweepPending(now time.Time) int {
	p := &db.pending
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sweepLocked(now)
}

func (p *pendingTable) sweepLocked(now time.Time) int {
	n := 0
	for id, c := range p.m {
		if !now.Before(c.ExpiresAt) {
			delete(p.m, id)
			n++
		}
	}
	return n
}

// park writes the held ceremonies to the ceremonies bucket at Close, after
// the writer has stopped.
func (db *DB) park() error {
	p := &db.pending
	p.mu.Lock()
	held := p.m
	p.m = map[string]*Ceremony{}
	p.mu.Unlock()
	if len(held) == 0 {
		return nil
	}
	return db.bolt.Update(func(btx *bolt.Tx) error {
		tx := &Tx{btx: btx, db: db}
		for _, c := range held {
			if err := tx.PutCeremony(c); err != nil {
				return err
			}
		}
		return nil
	})
}
