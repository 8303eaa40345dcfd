package store

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// MaxPending bounds the WebAuthn ceremonies held in memory at once. A
// ceremony is a few hundred bytes, so the table stays under about 64 MiB
// however many begins arrive.
const MaxPending = 1 << 17

// pendingTable holds WebAuthn ceremonies between begin and finish.
//
// They live in memory rather than in a write transaction: a ceremony is a
// challenge the client answers within seconds, and losing one costs a
// retry, never a wrong answer (a lost ceremony is refused like any unknown
// one). Keeping begins off the disk halves the commits a sign-in waits for.
// Close parks the table in the ceremonies bucket and TakePending finds
// parked ones, so a restart or deploy does not break a sign-in in
// progress; only a crash loses them.
//
// When the table is full the oldest ceremony makes room. Refusing new ones
// instead would let a few dozen addresses, each within its begin rate
// limit, lock everyone out; evicting means a flood must outpace the few
// seconds a real user takes to answer before anyone's ceremony is lost.
type pendingTable struct {
	mu sync.Mutex
	m  map[string]*Ceremony // nil once parked
	// order holds ids in insertion order, which is expiry order since
	// every ceremony lives the same time. Taken ids stay until they reach
	// the front; compact keeps the slice within twice the live count.
	order []string
	// evicted counts live ceremonies dropped to make room.
	evicted atomic.Uint64
}

// PutPending holds c in memory until TakePending or its expiry, evicting
// the oldest ceremony if MaxPending are held. c.ID and c.ExpiresAt are
// required.
func (db *DB) PutPending(c *Ceremony, now time.Time) error {
	if err := checkKey("ceremony id", len(c.ID)); err != nil {
		return err
	}
	if c.ExpiresAt.IsZero() {
		return errors.New("store: ceremony has no expiry")
	}
	held := *c
	p := &db.pending
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		return ErrClosed
	}
	p.dropExpiredLocked(now)
	for len(p.m) >= MaxPending && len(p.order) > 0 {
		if id := p.popLocked(); p.m[id] != nil {
			delete(p.m, id)
			p.evicted.Add(1)
		}
	}
	if _, ok := p.m[held.ID]; !ok {
		p.order = append(p.order, held.ID)
	}
	p.m[held.ID] = &held
	if len(p.order) > 2*MaxPending {
		p.compactLocked()
	}
	return nil
}

// len is the number of ceremonies held.
func (p *pendingTable) len() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return uint64(len(p.m))
}

// popLocked removes and returns the oldest id in order.
func (p *pendingTable) popLocked() string {
	id := p.order[0]
	p.order[0] = ""
	p.order = p.order[1:]
	return id
}

// dropExpiredLocked removes ceremonies from the front of order while they
// are taken or expired at now, and returns how many live ones it dropped.
func (p *pendingTable) dropExpiredLocked(now time.Time) int {
	n := 0
	for len(p.order) > 0 {
		c, live := p.m[p.order[0]]
		if live && now.Before(c.ExpiresAt) {
			break
		}
		if live {
			delete(p.m, c.ID)
			n++
		}
		p.popLocked()
	}
	return n
}

// compactLocked rebuilds order from the live ceremonies, keeping their
// order, and copies it to a fresh array so popped slots are released.
func (p *pendingTable) compactLocked() {
	live := make([]string, 0, len(p.m))
	for _, id := range p.order {
		if _, ok := p.m[id]; ok {
			live = append(live, id)
		}
	}
	p.order = live
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
	if err := db.View(ctx, func(tx Tx) error {
		_, err := tx.Ceremony(id, now)
		return err
	}); err != nil {
		return nil, err
	}
	err := db.update(ctx, func(tx *boltTx) error {
		var err error
		c, err = tx.takeCeremony(id, now)
		return err
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
	return p.dropExpiredLocked(now)
}

// park writes the held ceremonies to the ceremonies bucket at Close, after
// the writer has stopped.
func (db *DB) park() error {
	p := &db.pending
	p.mu.Lock()
	held := p.m
	p.m, p.order = nil, nil // PutPending now answers ErrClosed
	p.mu.Unlock()
	if len(held) == 0 {
		return nil
	}
	// In key order and in chunks: bbolt inserts into one node until the
	// commit splits it, so one transaction in random order would make
	// parking a full table quadratic.
	ids := slices.Sorted(maps.Keys(held))
	for chunk := range slices.Chunk(ids, sweepChunk) {
		err := db.bolt.Update(func(btx *bolt.Tx) error {
			tx := &boltTx{btx: btx, db: db}
			for _, id := range chunk {
				if err := tx.PutCeremony(held[id]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
