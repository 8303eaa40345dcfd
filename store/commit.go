package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"

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
	fn    func(*Tx) error
	state atomic.Int32
	done  chan error // buffered: the writer never blocks on a departed caller
}

// errAbortBatch rolls back a group transaction after one function failed.
var errAbortBatch = errors.New("store: abort batch")

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
func (db *DB) Update(ctx context.Context, fn func(tx *Tx) error) error {
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
			return nil
		})
		if failed >= 0 {
			live[failed].done <- failure
			live = slices.Delete(live, failed, failed+1)
			continue
		}
		if err != nil {
			err = fmt.Errorf("store: commit: %w", err)
		} else {
			db.commits.Add(1)
			db.writes.Add(uint64(len(live)))
		}
		for _, req := range live {
			req.done <- err
		}
		return
	}
}

// callSafely runs fn, turning a panic into an error so that one faulty
// caller cannot take down the writer or the other callers in its batch.
func callSafely(fn func(*Tx) error, tx *Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("store: transaction function panicked: %v", r)
		}
	}()
	return fn(tx)
}
