package storetest

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchid/latch/store"
)

// BenchSignIn runs one passkey sign-in's store work per operation on s,
// with parallelism goroutines per CPU: the ceremony put and taken, the
// user read, the passkey's counter updated, the session put and the audit
// event appended, in one Update. Each backend's BenchmarkSignInWrites
// calls it, so the two figures measure the same work.
func BenchSignIn(b *testing.B, s store.Store, parallelism int) {
	ctx := context.Background()
	const accounts = 256
	now := time.Now()
	if err := s.Update(ctx, func(tx store.Tx) error {
		for i := range accounts {
			id := fmt.Sprintf("user-%04d", i)
			if err := tx.PutUser(&store.User{ID: id, Handle: []byte(id), Username: "name-" + id, CreatedAt: now}); err != nil {
				return err
			}
			if err := tx.PutCredential(&store.Credential{ID: []byte("cred-" + id), UserID: id, CreatedAt: now, Record: bytes.Repeat([]byte{1}, 200)}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	b.SetParallelism(parallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			uid := fmt.Sprintf("user-%04d", i%accounts)
			cid := fmt.Sprintf("ceremony-%d", i)
			if err := s.PutPending(&store.Ceremony{ID: cid, Kind: "login", Session: bytes.Repeat([]byte{2}, 300), ExpiresAt: now.Add(5 * time.Minute)}, now); err != nil {
				b.Error(err)
				return
			}
			if _, err := s.TakePending(ctx, cid, now); err != nil {
				b.Error(err)
				return
			}
			err := s.Update(ctx, func(tx store.Tx) error {
				if _, err := tx.User(uid); err != nil {
					return err
				}
				c, err := tx.Credential([]byte("cred-" + uid))
				if err != nil {
					return err
				}
				c.SignCount++
				c.LastUsedAt = now
				if err := tx.PutCredential(c); err != nil {
					return err
				}
				if err := tx.PutSession(&store.Session{ID: fmt.Sprintf("session-%d", i), UserID: uid, CreatedAt: now, AuthTime: now,
					ExpiresAt: now.Add(24 * time.Hour), AMR: []string{"hwk", "user"}, Device: "Firefox on Linux"}); err != nil {
					return err
				}
				return tx.AppendAudit(&store.AuditEvent{Time: now, Type: "sign_in", UserID: uid, Detail: map[string]string{"amr": "passkey"}})
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}
