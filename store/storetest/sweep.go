package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/latchid/latch/store"
)

func testSweep(t *testing.T, open opener) {
	cases(t, open, map[string]func(t *testing.T, s store.Store){
		"RemovesExactlyWhatExpired":      sweepExact,
		"ClearsALargeBacklog":            sweepBacklog,
		"OfAnEmptyStoreRemovesNothing":   sweepEmpty,
		"RunSweeperSweepsUntilCancelled": sweepRunSweeper,
	})
}

// sweepExact puts expired and live records of every kind the sweep
// handles, and one of each ending exactly at the sweep's time, and checks
// that the sweep removes exactly the expired ones and counts them.
func sweepExact(t *testing.T, s store.Store) {
	past, future := T0.Add(-time.Minute), T0.Add(time.Minute)
	// Refresh tokens may be swept by the hour: these expiries are on the
	// hour, so every store sweeps them at T0.
	hour := T0.Truncate(time.Hour)
	putUsers(t, s, "u")
	mustUpdate(t, s, func(tx store.Tx) error {
		return errors.Join(
			tx.PutCeremony(&store.Ceremony{ID: "cer-old", ExpiresAt: past}),
			tx.PutCeremony(&store.Ceremony{ID: "cer-edge", ExpiresAt: T0}),
			tx.PutCeremony(&store.Ceremony{ID: "cer-new", ExpiresAt: future}),
			tx.PutRevoked("rev-old", past),
			tx.PutRevoked("rev-edge", T0),
			tx.PutRevoked("rev-new", future),
			tx.PutSession(&store.Session{ID: "ses-old", UserID: "u", CreatedAt: past, ExpiresAt: past}),
			tx.PutSession(&store.Session{ID: "ses-edge", UserID: "u", CreatedAt: past, ExpiresAt: T0}),
			tx.PutSession(&store.Session{ID: "ses-new", UserID: "u", CreatedAt: past, ExpiresAt: future}),
			tx.PutSession(&store.Session{ID: "ses-forever", UserID: "u", CreatedAt: past}),
			// A session's tokens expire with it (the service gives them the
			// session's expiry) and are swept on their own.
			tx.PutRefreshToken(&store.RefreshToken{Hash: "rt-of-old-session", SessionID: "ses-old", ExpiresAt: hour}),
			tx.PutRefreshToken(&store.RefreshToken{Hash: "rt-old", SessionID: "ses-new", ExpiresAt: hour.Add(-time.Hour)}),
			tx.PutRefreshToken(&store.RefreshToken{Hash: "rt-new", SessionID: "ses-new", ExpiresAt: future}),
			// Records the sweep never touches.
			tx.AppendAudit(&store.AuditEvent{Time: past, Type: "old"}),
			tx.PutClient(&store.Client{ID: "client", CreatedAt: past}),
		)
	})
	// Pending ceremonies are put in the order they expire, as the service
	// does (each lives as long as the others): a store may sweep them in
	// the order they were put.
	for i, p := range []struct {
		id  string
		exp time.Time
	}{{"pen-old", past}, {"pen-edge", T0}, {"pen-new", future}} {
		if err := s.PutPending(&store.Ceremony{ID: p.id, ExpiresAt: p.exp}, past.Add(-time.Hour+time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}

	removed, err := s.Sweep(t.Context(), T0)
	if err != nil {
		t.Fatal(err)
	}
	// cer-old, cer-edge, rev-old, rev-edge, ses-old, ses-edge,
	// rt-of-old-session, rt-old, pen-old, pen-edge.
	if removed != 10 {
		t.Errorf("removed = %d, want 10", removed)
	}

	long := T0.Add(-24 * time.Hour) // before anything expired
	type check struct {
		name string
		find func(tx store.Tx) error
		gone bool
	}
	revoked := func(tx store.Tx, key string) error {
		all, err := tx.Revoked(long)
		if err != nil {
			return err
		}
		if _, ok := all[key]; !ok {
			return store.ErrNotFound
		}
		return nil
	}
	checks := []check{
		{"expired ceremony is removed", func(tx store.Tx) error { _, err := tx.Ceremony("cer-old", long); return err }, true},
		{"ceremony ending now is removed", func(tx store.Tx) error { _, err := tx.Ceremony("cer-edge", long); return err }, true},
		{"live ceremony is kept", func(tx store.Tx) error { _, err := tx.Ceremony("cer-new", T0); return err }, false},
		{"expired session is removed", func(tx store.Tx) error { _, err := tx.Session("ses-old"); return err }, true},
		{"session ending now is removed", func(tx store.Tx) error { _, err := tx.Session("ses-edge"); return err }, true},
		{"live session is kept", func(tx store.Tx) error { _, err := tx.Session("ses-new"); return err }, false},
		{"session without expiry is kept", func(tx store.Tx) error { _, err := tx.Session("ses-forever"); return err }, false},
		{"token of expired session is removed", func(tx store.Tx) error { _, err := tx.RefreshToken("rt-of-old-session"); return err }, true},
		{"expired refresh token is removed", func(tx store.Tx) error { _, err := tx.RefreshToken("rt-old"); return err }, true},
		{"live refresh token is kept", func(tx store.Tx) error { _, err := tx.RefreshToken("rt-new"); return err }, false},
		{"expired revocation is removed", func(tx store.Tx) error { return revoked(tx, "rev-old") }, true},
		{"revocation ending now is removed", func(tx store.Tx) error { return revoked(tx, "rev-edge") }, true},
		{"live revocation is kept", func(tx store.Tx) error { return revoked(tx, "rev-new") }, false},
		{"the user is kept", func(tx store.Tx) error { _, err := tx.User("u"); return err }, false},
		{"the client is kept", func(tx store.Tx) error { _, err := tx.Client("client"); return err }, false},
	}
	mustView(t, s, func(tx store.Tx) error {
		for _, c := range checks {
			err := c.find(tx)
			switch {
			case c.gone && !errors.Is(err, store.ErrNotFound):
				t.Errorf("%s: err = %v, want ErrNotFound", c.name, err)
			case !c.gone && err != nil:
				t.Errorf("%s: err = %v", c.name, err)
			}
		}
		sessions, err := tx.SessionsByUser("u")
		if err != nil {
			return err
		}
		if len(sessions) != 2 {
			t.Errorf("the user lists %d sessions, want 2", len(sessions))
		}
		if events, err := tx.AuditEvents(0); err != nil || len(events) != 1 {
			t.Errorf("the audit log after a sweep: %v, %v", events, err)
		}
		return nil
	})
	for id, gone := range map[string]bool{"pen-old": true, "pen-edge": true} {
		if _, err := s.TakePending(t.Context(), id, long); gone && !errors.Is(err, store.ErrNotFound) {
			t.Errorf("swept pending ceremony %s: %v, want ErrNotFound", id, err)
		}
	}

	again, err := s.Sweep(t.Context(), T0)
	if err != nil || again != 0 {
		t.Fatalf("second sweep removed %d (err %v), want 0", again, err)
	}
	if _, err := s.TakePending(t.Context(), "pen-new", T0); err != nil {
		t.Errorf("live pending ceremony: %v", err)
	}
	// Later, the rest goes; the session without expiry stays.
	if n, err := s.Sweep(t.Context(), T0.Add(time.Hour)); err != nil || n != 4 {
		t.Errorf("the sweep an hour later removed %d, %v; want 4", n, err)
	}
	if got := sessionIDs(t, s, "u"); len(got) != 1 || got[0] != "ses-forever" {
		t.Errorf("sessions left: %v", got)
	}
}

// sweepBacklog: a sweep clears a backlog larger than a store would delete
// in one transaction.
func sweepBacklog(t *testing.T, s store.Store) {
	const n = 2500
	mustUpdate(t, s, func(tx store.Tx) error {
		for i := range n {
			if err := errors.Join(
				tx.PutRevoked(fmt.Sprint("jti-", i), T0),
				tx.PutCeremony(&store.Ceremony{ID: fmt.Sprint("cer-", i), ExpiresAt: T0}),
			); err != nil {
				return err
			}
		}
		return tx.PutRevoked("live", T0.Add(time.Second))
	})
	removed, err := s.Sweep(t.Context(), T0)
	if err != nil {
		t.Fatal(err)
	}
	if removed != 2*n {
		t.Fatalf("removed = %d, want %d", removed, 2*n)
	}
	mustView(t, s, func(tx store.Tx) error {
		if all, err := tx.Revoked(time.Time{}); err != nil || len(all) != 1 {
			t.Errorf("%d blacklist entries left, want 1 (%v)", len(all), err)
		}
		return nil
	})
}

func sweepEmpty(t *testing.T, s store.Store) {
	for _, at := range []time.Time{T0, {}, time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)} {
		if n, err := s.Sweep(t.Context(), at); err != nil || n != 0 {
			t.Errorf("sweep at %v of an empty store removed %d, %v", at, n, err)
		}
	}
}

func sweepRunSweeper(t *testing.T, s store.Store) {
	mustUpdate(t, s, func(tx store.Tx) error { return tx.PutRevoked("old", T0) })
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		s.RunSweeper(ctx, time.Millisecond, func() time.Time { return T0.Add(time.Hour) })
		close(done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var left int
		mustView(t, s, func(tx store.Tx) error {
			all, err := tx.Revoked(time.Time{})
			left = len(all)
			return err
		})
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("sweeper did not remove the expired entry")
		}
		time.Sleep(2 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("RunSweeper did not return after cancel")
	}
}
