package postgres

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchid/latch/store"
	"github.com/latchid/latch/store/postgres/pgtest"
)

// BenchmarkAuditAppend compares the chain as built (queue, then chaining
// after the commit) with the head row updated inside every appending
// transaction, each by 16 concurrent appenders on one node: ns/op and the
// runs of the function retried per append, and the Updates that gave up
// after their last run (tried again, and counted, here).
func BenchmarkAuditAppend(b *testing.B) {
	event := func() *store.AuditEvent {
		return &store.AuditEvent{Time: time.Now(), Type: "sign_in", UserID: "user", Detail: map[string]string{"amr": "passkey"}}
	}
	run := func(b *testing.B, fn func(tx store.Tx) error) {
		db, err := Open(context.Background(), Options{URL: pgtest.URL(b), KEK: bytes.Repeat([]byte{1}, store.KeySize), Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		var gaveUp atomic.Int64
		b.SetParallelism(16)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				// An Update that ran out of runs is tried again here, so
				// that every append is made and the cost is all counted.
				for {
					err := db.Update(context.Background(), fn)
					if err == nil {
						break
					}
					if !retryable(err) {
						b.Error(err)
						return
					}
					gaveUp.Add(1)
				}
			}
		})
		b.ReportMetric(float64(db.Retries())/float64(b.N), "retries/op")
		b.ReportMetric(float64(gaveUp.Load())/float64(b.N), "exhausted/op")
	}
	b.Run("queue", func(b *testing.B) {
		run(b, func(tx store.Tx) error { return tx.AppendAudit(event()) })
	})
	b.Run("headrow", func(b *testing.B) {
		run(b, func(tx store.Tx) error {
			t := tx.(*pgTx)
			var last int64
			var prev []byte
			err := t.row("SELECT last, mac FROM audit_head", nil, &last, &prev)
			if errors.Is(err, store.ErrNotFound) {
				last, prev, err = 0, make([]byte, sha256.Size), nil
			}
			if err != nil {
				return err
			}
			e := event()
			mac := store.AuditMAC(t.db.auditMACKey, uint64(last+1), prev, e)
			rec, err := encode(&auditRec{header: current(), AuditEvent: *e})
			if err != nil {
				return err
			}
			if _, err := t.exec("INSERT INTO audit (seq, mac, rec) VALUES ($1, $2, $3)", last+1, mac, rec); err != nil {
				return err
			}
			_, err = t.exec(`INSERT INTO audit_head (genesis, last, mac) VALUES (1, $1, $2)
				ON CONFLICT (one) DO UPDATE SET last = excluded.last, mac = excluded.mac`, last+1, mac)
			return err
		})
	})
}
