package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// States of a queued write. The caller and the writer race to move a
// request out of queued: the caller to abandon it when its context ends,
// the writer to start it. Whoever wins decides what the caller sees.
const (
	stateQueued int32 = iota
	stateStarted
	stateAbandoned
)

type writeRequest struct {
	fn    func(*boltTx) error
	state atomic.Int32
	done  chan error // buffered: the writer never blocks on a departed caller
}

// errAbortBatch rolls back a group transaction after one function failed.
var errAbortBatch = errors.New("store: abort batch")

// ErrWriteFailed is wrapped by the error Update returns when the commit
// itself failed (disk full, I/O error): the caller's function succeeded but
// nothing it wrote was kept. The condition is the store's, not the
// request's; the same write may succeed later.
var ErrWriteFailed = errors.New("store: write failed")

// WriteHealth is the state of the write path as the last commits left it.
type WriteHealth struct {
	// Failing is true when the last commit failed, until one succeeds.
	Failing bool
	// ConsecutiveFailures counts the commits that failed since the last
	// one that succeeded; Failures every failed commit since Open.
	ConsecutiveFailures, Failures uint64
	// LastError is the cause of the most recent failure, if any, and
	// LastFailure when it happened (the zero time if never).
	LastError   error
	LastFailure time.Time
}

// writeHealth tracks commit outcomes for WriteHealth. It is written by the
// writer goroutine only and read by anyone.
type writeHealth struct {
	consecutive, total atomic.Uint64
	lastErr            atomic.Pointer[failure]
	// fault, when set, fails commits on demand (InjectCommitFault).
	fault atomic.Pointer[func() error]
}

// failure is one failed commit.
type failure struct {
	err error
	at  time.Time
}

func (h *writeHealth) record(err error) {
	if err == nil {
		h.consecutive.Store(0)
		return
	}
	h.lastErr.Store(&failure{err: err, at: time.Now()})
	h.total.Add(1)
	h.consecutive.Add(1)
}

// WriteHealth reports whether the store can currently write, as far as
// the last commits tell: a readiness check reads it.
func (db *DB) WriteHealth() WriteHealth {
	h := WriteHealth{ConsecutiveFailures: db.health.consecutive.Load(), Failures: db.health.total.Load()}
	h.Failing = h.ConsecutiveFailures > 0
	if f := db.health.lastErr.Load(); f != nil {
		h.LastError, h.LastFailure = f.err, f.at
	}
	return h
}

// ProbeWrite commits a small record of its own (the time, under a key of
// the meta bucket) through the writer, so that a store whose last commits
// failed finds out whether it can write again without waiting for a
// client's write. It returns the commit's error.
func (db *DB) ProbeWrite(ctx context.Context, now time.Time) error {
	return db.update(ctx, func(tx *boltTx) error {
		return tx.btx.Bucket(bucketMeta).Put(writeProbeName, binary.BigEndian.AppendUint64(nil, uint64(now.UnixNano())))
	})
}

// writeProbeName is the meta key ProbeWrite overwrites.
var writeProbeName = []byte("write_probe")

// InjectCommitFault makes every commit fail with fn's error while fn
// returns one, as a full disk would: the functions of the batch run, then
// the transaction is rolled back instead of committed. It exists for tests
// of the callers' failure paths; nil removes the fault.
func (db *DB) InjectCommitFault(fn func() error) {
	if fn == nil {
		db.health.fault.Store(nil)
		return
	}
	db.health.fault.Store(&fn)
}

// Update runs fn in a read-write transaction and returns after the commit
// that contains its writes is on disk (fsync'd), or with fn's error, in
// which case none of fn's writes are kept.
//
// Concurrent calls share commits: a single writer takes every queued
// function (up to Options.MaxBatch) and runs them one after another in one
// bbolt transaction. If one of them fails, that transaction is rolled back,
// the failing caller gets its error, and the others are run again in a new
// transaction. fn may therefore run more than once and must be idempotent:
// reset any results it captures at its start and act on them only after
// Update returns nil. Each run sees the writes of the functions before it
// in the same commit, exactly as if the calls had been made one by one.
//
// fn runs on the writer goroutine while other callers wait: it must not
// block, and must not call Update or View itself (that would wait for the
// writer it is running on).
//
// A panic in fn is recovered and returned to its caller only. If ctx ends
// while fn is still queued, Update returns ctx.Err() and fn never runs;
// once fn has started, Update waits for the commit. After Close, Update
// returns ErrClosed; on a store opened ReadOnly, ErrReadOnly.
func (db *DB) Update(ctx context.Context, fn func(tx Tx) error) error {
	return db.update(ctx, func(tx *boltTx) error { return fn(tx) })
}

// update is Update for the store's own writes, which reach into bbolt.
func (db *DB) update(ctx context.Context, fn func(tx *boltTx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if db.readOnly {
		return ErrReadOnly
	}
	req := &writeRequest{fn: fn, done: make(chan error, 1)}
	if err := db.enqueue(ctx, req); err != nil {
		return err
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		if req.state.CompareAndSwap(stateQueued, stateAbandoned) {
			return ctx.Err()
		}
		return <-req.done
	}
}

func (db *DB) enqueue(ctx context.Context, req *writeRequest) error {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.closed.Load() {
		return ErrClosed
	}
	select {
	case db.queue <- req:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// writeLoop is the single writer. It blocks for the first request, then
// takes whatever else is already queued without waiting: at low load a
// write costs one commit, and under load batches grow by themselves with no
// timer adding latency. It exits when Close has closed the queue and every
// queued request is answered.
func (db *DB) writeLoop() {
	defer close(db.writerDone)
	batch := make([]*writeRequest, 0, db.maxBatch)
	for first := range db.queue {
		batch = append(batch[:0], first)
	fill:
		for len(batch) < db.maxBatch {
			select {
			case req, ok := <-db.queue:
				if !ok {
					break fill
				}
				batch = append(batch, req)
			default:
				break fill
			}
		}
		db.commitBatch(batch)
		clear(batch)
	}
}

// commitBatch runs the live requests of batch in one transaction, dropping
// and answering each failing function until the rest commit together.
func (db *DB) commitBatch(batch []*writeRequest) {
	live := batch[:0]
	for _, req := range batch {
		if req.state.CompareAndSwap(stateQueued, stateStarted) {
			live = append(live, req)
		}
	}
	for len(live) > 0 {
		failed, failure := -1, error(nil)
		err := db.bolt.Update(func(btx *bolt.Tx) error {
			tx := newWriteTx(btx, db)
			for i, req := range live {
				if err := callSafely(req.fn, tx); err != nil {
					failed, failure = i, err
					return errAbortBatch
				}
			}
			if fault := db.health.fault.Load(); fault != nil {
				return (*fault)()
			}
			return nil
		})
		if failed >= 0 {
			live[failed].done <- failure
			live = slices.Delete(live, failed, failed+1)
			continue
		}
		if err != nil {
			err = fmt.Errorf("store: commit: %w: %w", ErrWriteFailed, err)
		} else {
			db.commits.Add(1)
			db.writes.Add(uint64(len(live)))
		}
		db.health.record(err)
		for _, req := range live {
			req.done <- err
		}
		return
	}
}

// callSafely runs fn, turning a panic into an error so that one faulty
// caller cannot take down the writer or the other callers in its batch.
func callSafely[T Tx](fn func(T) error, tx T) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("store: transaction function panicked: %v", r)
		}
	}()
	return fn(tx)
}
