package postgres

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"

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
	if _, err := t.exec("INSERT INTO audit_queue (rec) VALUES ($1)", b); err != nil {
		return err
	}
	t.audited = true
	return nil
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

func (db *DB) chainSome(ctx context.Context) (int, error) {
	cctx, cancel := context.WithTimeout(ctx, db.timeout)
	defer cancel()
	tx, err := db.pool.BeginTx(cctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	if _, err := tx.Exec(cctx, "SELECT pg_advisory_xact_lock($1)", auditLock); err != nil {
		return 0, err
	}
	type queued struct {
		id  int64
		rec []byte
	}
	var events []queued
	rows, err := tx.Query(cctx, `DELETE FROM audit_queue WHERE id IN (SELECT id FROM audit_queue ORDER BY id LIMIT $1)
		RETURNING id, rec`, chainBatch)
	if err != nil {
		return 0, err
	}
	for rows.Next() {
		var q queued
		if err := rows.Scan(&q.id, &q.rec); err != nil {
			rows.Close()
			return 0, err
		}
		events = append(events, q)
	}
	if rows.Close(); rows.Err() != nil {
		return 0, rows.Err()
	}
	if len(events) == 0 {
		return 0, nil
	}
	slices.SortFunc(events, func(a, b queued) int { return int(a.id - b.id) })
	var genesis, last int64
	var prev []byte
	err = tx.QueryRow(cctx, "SELECT genesis, last, mac FROM audit_head").Scan(&genesis, &last, &prev)
	if errors.Is(err, pgx.ErrNoRows) {
		var maxSeq int64
		if err := tx.QueryRow(cctx, "SELECT coalesce(max(seq), 0) FROM audit").Scan(&maxSeq); err != nil {
			return 0, err
		}
		genesis, last, prev = maxSeq+1, maxSeq, make([]byte, sha256.Size)
	} else if err != nil {
		return 0, err
	}
	seqs := make([]int64, len(events))
	macs := make([][]byte, len(events))
	recs := make([][]byte, len(events))
	for i, q := range events {
		var rec auditRec
		if err := decode(q.rec, &rec); err != nil {
			return 0, fmt.Errorf("queued audit event: %w", err)
		}
		last++
		prev = store.AuditMAC(db.auditMACKey, uint64(last), prev, &rec.AuditEvent)
		seqs[i], macs[i], recs[i] = last, prev, q.rec
	}
	if _, err := tx.Exec(cctx, "INSERT INTO audit (seq, mac, rec) SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[])", seqs, macs, recs); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(cctx, `INSERT INTO audit_head (genesis, last, mac) VALUES ($1, $2, $3)
		ON CONFLICT (one) DO UPDATE SET last = excluded.last, mac = excluded.mac`, genesis, last, prev); err != nil {
		return 0, err
	}
	if err := tx.Commit(cctx); err != nil {
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
