package postgres

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/latchid/latch/store"
)

// The audit log is the bbolt store's one hash chain (store/audit.go): each
// event at position seq carries store.AuditMAC(key, seq, MAC of the event
// before, event), and audit_head holds the chain's first and last
// positions and the last MAC. What differs is when an event is chained.
//
// A chain is a total order, and appending to it in the transaction that
// records the sign-in would make every sign-in of every node update the
// one head row: each would wait for the one before it to commit, and under
// SERIALIZABLE most would fail and run again. Instead AppendAudit inserts
// the event into audit_queue, a table with a sequence for its key, which
// concurrent transactions insert into without touching a common row. Once
// the transaction has committed, Update chains what is queued (chainAudit):
// under a transaction-scoped advisory lock, so one node at a time, in READ
// COMMITTED, so that the head it reads after taking the lock is the last
// one committed, it moves the queued events, in queue order, into audit
// with the next positions and their MACs, and moves the head, in one
// transaction. The callers waiting for the lock meanwhile find their events
// already chained, so under load one chaining commit serves many
// sign-ins, as the bbolt store's group commit does.
//
// An event is durable once its Update returns and chained by then, unless
// chaining failed (the database went away between the two commits); it is
// then chained, in the order it was queued, by the next Update that
// appends, by Sweep or by the next Open. Events of one transaction chain in
// the order they were appended.

// auditLock is the advisory lock key of chaining ("audit" in ASCII).
const auditLock int64 = 0x6175646974

type auditRec struct {
	header
	store.AuditEvent
}

// AppendAudit queues e for the chain.
func (t *pgTx) AppendAudit(e *store.AuditEvent) error {
	if err := t.writable(); err != nil {
		return err
	}
	if e.Type == "" {
		return fmt.Errorf("store: audit event has no type")
	}
	rec := auditRec{header: current(), AuditEvent: *e}
	rec.Time = store.UTC(rec.Time)
	rec.Seq = 0
	b, err := encode(&rec)
	if err != nil {
		return err
	}
	if err := t.later("INSERT INTO audit_queue (rec) VALUES ($1)", b); err != nil {
		return err
	}
	t.audited = true
	return nil
}

// chainGroup lets the Updates of one node share chaining runs, as
// callers of a group commit share a flush: a caller needs a run that began
// after its commit, and whoever finds none running starts one, which
// chains what every caller waiting by then committed.
type chainGroup struct {
	mu   sync.Mutex
	cond *sync.Cond
	// started and done number the runs begun and finished; err is the
	// last run's outcome.
	started, done uint64
	running       bool
	err           error
}

// chainCommitted chains what this caller has committed, in a run of its
// own or one it joins.
func (db *DB) chainCommitted(ctx context.Context) error {
	g := &db.chain
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cond == nil {
		g.cond = sync.NewCond(&g.mu)
	}
	// A run that began after now: the one after the one running, if any.
	need := g.started + 1
	for g.done < need {
		if g.running {
			g.cond.Wait()
			continue
		}
		g.running = true
		g.started++
		run := g.started
		g.mu.Unlock()
		// Run for every waiter: one caller's ending context must not end it.
		err := db.chainAudit(context.WithoutCancel(ctx))
		g.mu.Lock()
		g.running, g.done, g.err = false, run, err
		g.cond.Broadcast()
	}
	return g.err
}

// chainBatch bounds the events one chaining transaction moves.
const chainBatch = 1000

// chainAudit chains every queued event (see above).
func (db *DB) chainAudit(ctx context.Context) error {
	for {
		n, err := db.chainSome(ctx)
		if err != nil || n < chainBatch {
			return err
		}
	}
}

// chainSome chains up to chainBatch queued events in one transaction of
// two round trips: one pipelined batch takes the lock, the events and the
// head, the other writes the chained events and the head and commits.
func (db *DB) chainSome(ctx context.Context) (int, error) {
	cctx, cancel := context.WithTimeout(ctx, db.timeout)
	defer cancel()
	conn, err := db.pool.Acquire(cctx)
	if err != nil {
		return 0, err
	}
	// A connection left in a transaction by a failure is not reused: the
	// pool drops it on release.
	defer conn.Release()
	b := &pgx.Batch{}
	b.Queue("BEGIN ISOLATION LEVEL READ COMMITTED")
	// Not waiting for the commit's flush loses nothing: the events leave
	// the queue in the same transaction as they join the chain, so a crash
	// that loses it puts them back in the queue, to be chained again in
	// the same order after the same head. The next durable commit flushes
	// it in any case.
	b.Queue("SET LOCAL synchronous_commit = off")
	// In READ COMMITTED every statement after the lock sees what the
	// chainer before committed.
	b.Queue("SELECT pg_advisory_xact_lock($1)", auditLock)
	b.Queue(`DELETE FROM audit_queue WHERE id IN (SELECT id FROM audit_queue ORDER BY id LIMIT $1) RETURNING id, rec`, chainBatch)
	b.Queue(`SELECT h.genesis, h.last, h.mac, (SELECT coalesce(max(seq), 0) FROM audit)
		FROM (SELECT 1) AS one LEFT JOIN audit_head AS h ON true`)
	type queued struct {
		id  int64
		rec []byte
	}
	var events []queued
	var genesis, last *int64
	var prev []byte
	var maxSeq int64
	br := conn.SendBatch(cctx, b)
	err = func() error {
		for range 3 {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		for rows.Next() {
			var q queued
			if err := rows.Scan(&q.id, &q.rec); err != nil {
				rows.Close()
				return err
			}
			events = append(events, q)
		}
		if rows.Close(); rows.Err() != nil {
			return rows.Err()
		}
		return br.QueryRow().Scan(&genesis, &last, &prev, &maxSeq)
	}()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	if len(events) == 0 {
		_, err := conn.Exec(cctx, "COMMIT")
		return 0, err
	}
	if genesis == nil {
		g, l := maxSeq+1, maxSeq
		genesis, last, prev = &g, &l, make([]byte, sha256.Size)
	}
	slices.SortFunc(events, func(a, b queued) int { return cmp.Compare(a.id, b.id) })
	seqs := make([]int64, len(events))
	macs := make([][]byte, len(events))
	recs := make([][]byte, len(events))
	seq := *last
	for i, q := range events {
		var rec auditRec
		if err := decode(q.rec, &rec); err != nil {
			return 0, fmt.Errorf("queued audit event: %w", err)
		}
		seq++
		prev = store.AuditMAC(db.auditMACKey, uint64(seq), prev, &rec.AuditEvent)
		seqs[i], macs[i], recs[i] = seq, prev, q.rec
	}
	b = &pgx.Batch{}
	b.Queue("INSERT INTO audit (seq, mac, rec) SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[])", seqs, macs, recs)
	b.Queue(`INSERT INTO audit_head (genesis, last, mac) VALUES ($1, $2, $3)
		ON CONFLICT (one) DO UPDATE SET last = excluded.last, mac = excluded.mac`, *genesis, seq, prev)
	b.Queue("COMMIT")
	if err := conn.SendBatch(cctx, b).Close(); err != nil {
		return 0, err
	}
	return len(events), nil
}

// auditEvent decodes a chained row.
func auditEvent(seq int64, b []byte) (store.AuditEvent, error) {
	var rec auditRec
	if err := decode(b, &rec); err != nil {
		return store.AuditEvent{}, fmt.Errorf("store: audit event %d: %w", seq, err)
	}
	rec.Seq = uint64(seq)
	return rec.AuditEvent, nil
}

// AuditEvents returns up to limit chained events, newest first; limit <= 0
// means all of them.
func (t *pgTx) AuditEvents(limit int) ([]store.AuditEvent, error) {
	var events []store.AuditEvent
	var lim any // NULL: no limit
	if limit > 0 {
		lim = limit
	}
	err := t.rows("SELECT seq, rec FROM audit ORDER BY seq DESC LIMIT $1", []any{lim}, func(r pgx.Rows) error {
		var seq int64
		var b []byte
		if err := r.Scan(&seq, &b); err != nil {
			return err
		}
		e, err := auditEvent(seq, b)
		events = append(events, e)
		return err
	})
	return events, err
}

// auditPages calls fn with every chained row, oldest first, a page at a
// time.
func (t *pgTx) auditPages(fn func(seq int64, mac, rec []byte) error) error {
	after := int64(-1 << 63)
	for {
		type row struct {
			seq      int64
			mac, rec []byte
		}
		var page []row
		err := t.rows("SELECT seq, mac, rec FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2", []any{after, scanPage}, func(r pgx.Rows) error {
			var x row
			if err := r.Scan(&x.seq, &x.mac, &x.rec); err != nil {
				return err
			}
			page = append(page, x)
			return nil
		})
		if err != nil {
			return err
		}
		for _, x := range page {
			if err := fn(x.seq, x.mac, x.rec); err != nil {
				return err
			}
			after = x.seq
		}
		if len(page) < scanPage {
			return nil
		}
	}
}

// ScanAudit calls fn with every chained event, oldest first.
func (t *pgTx) ScanAudit(fn func(e *store.AuditEvent) error) error {
	return t.auditPages(func(seq int64, _, b []byte) error {
		e, err := auditEvent(seq, b)
		if err != nil {
			return err
		}
		return fn(&e)
	})
}

// VerifyAudit walks the chain and checks it against the head. Events still
// queued are not in it yet.
func (t *pgTx) VerifyAudit() (store.AuditCheck, error) {
	var check store.AuditCheck
	var genesis, headLast int64
	var headMAC []byte
	err := t.row("SELECT genesis, last, mac FROM audit_head", nil, &genesis, &headLast, &headMAC)
	chained := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return check, err
	}
	if chained {
		check.Genesis, check.Head, check.HeadMAC = uint64(genesis), uint64(headLast), headMAC
	}
	errBreak := errors.New("break")
	fail := func(seq int64, format string, args ...any) error {
		check.Break = &store.AuditBreak{Seq: uint64(seq), Reason: fmt.Sprintf(format, args...)}
		return errBreak
	}
	last, prev := genesis-1, make([]byte, sha256.Size)
	err = t.auditPages(func(seq int64, mac, b []byte) error {
		check.Events++
		var rec auditRec
		if err := decode(b, &rec); err != nil {
			return fail(seq, "the event cannot be read: %v", err)
		}
		if !chained || seq < genesis {
			return fail(seq, "the event comes before the chain's start (event %d)", genesis)
		}
		want := store.AuditMAC(t.db.auditMACKey, uint64(seq), prev, &rec.AuditEvent)
		switch {
		case seq != last+1:
			return fail(last+1, "events %d to %d are missing", last+1, seq-1)
		case !hmac.Equal(mac, want):
			return fail(seq, "the event was altered, or the one before it replaced (its MAC does not match)")
		}
		last, prev = seq, want
		return nil
	})
	switch {
	case errors.Is(err, errBreak):
		return check, nil
	case err != nil:
		return check, err
	case !chained:
		return check, nil
	case last < headLast:
		fail(last+1, "events %d to %d, the end of the log, are missing", last+1, headLast)
	case last > headLast:
		fail(headLast+1, "events after %d, the head's last event, were added behind the chain's back", headLast)
	case !hmac.Equal(prev, headMAC):
		fail(last, "the event does not match the head")
	}
	return check, nil
}
