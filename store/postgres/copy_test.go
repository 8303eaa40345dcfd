package postgres_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/latchid/latch/store"
	"github.com/latchid/latch/store/postgres/pgtest"
)

// TestCopyFromBbolt: a bbolt store copied into PostgreSQL (latch migrate)
// reads back the same, secrets unsealed with the same key, and its audit
// chain verifies and ends in the source's MAC.
func TestCopyFromBbolt(t *testing.T) {
	src, err := store.Open(store.Options{Path: filepath.Join(t.TempDir(), "latch.db"), KEK: testKEK})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 6000, time.UTC)
	update(t, src, func(tx store.Tx) error {
		for i := range 3 {
			id := fmt.Sprintf("user-%d", i)
			if err := tx.PutUser(&store.User{ID: id, Handle: []byte(id), Username: "name\xff" + id, CreatedAt: t0}); err != nil {
				return err
			}
			if err := tx.PutCredential(&store.Credential{ID: []byte("cred-" + id), UserID: id, CreatedAt: t0, SignCount: 7}); err != nil {
				return err
			}
			if err := tx.PutSession(&store.Session{ID: "session-" + id, UserID: id, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
				return err
			}
		}
		if err := tx.PutTOTP(&store.TOTP{UserID: "user-0", Secret: []byte("seed"), LastStep: 42}); err != nil {
			return err
		}
		if err := tx.PutSigningKey(&store.SigningKey{ID: "k1", Alg: "ES256", Private: []byte("private"), CreatedAt: t0}); err != nil {
			return err
		}
		for i := range 5 {
			if err := tx.AppendAudit(&store.AuditEvent{Time: t0.Add(time.Duration(i) * time.Second), Type: "signin", UserID: "user-0",
				Detail: map[string]string{"n": fmt.Sprint(i)}}); err != nil {
				return err
			}
		}
		return nil
	})
	dst := open(t, pgtest.URL(t))
	rep, err := store.Copy(ctx, src, dst, t0)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Users != 3 || rep.Credentials != 3 || rep.Sessions != 3 || rep.TOTP != 1 || rep.SigningKeys != 1 || rep.AuditEvents != 5 {
		t.Fatalf("copied %+v", rep.CopyCounts)
	}
	var want store.AuditCheck
	err = src.View(ctx, func(tx store.Tx) (err error) { want, err = tx.VerifyAudit(); return err })
	if err != nil {
		t.Fatal(err)
	}
	if rep.Audit.Break != nil || rep.Audit.Head != want.Head || !bytes.Equal(rep.Audit.HeadMAC, want.HeadMAC) {
		t.Fatalf("copy's chain %+v, source's %+v", rep.Audit, want)
	}
	read := func(s store.Store) (users []store.User, totp *store.TOTP, keys []store.SigningKey) {
		err := s.View(ctx, func(tx store.Tx) (err error) {
			if users, err = tx.Users(); err != nil {
				return err
			}
			if totp, err = tx.TOTP("user-0"); err != nil {
				return err
			}
			keys, err = tx.SigningKeys()
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	u1, t1, k1 := read(src)
	u2, t2, k2 := read(dst)
	if !reflect.DeepEqual(u1, u2) || !reflect.DeepEqual(t1, t2) || !reflect.DeepEqual(k1, k2) {
		t.Fatalf("copy reads back\n%+v %+v %+v\nsource\n%+v %+v %+v", u2, t2, k2, u1, t1, k1)
	}
}
