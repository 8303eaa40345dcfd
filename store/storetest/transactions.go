package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchid/latch/store"
)

func testTransactions(t *testing.T, open opener) {
	cases(t, open, map[string]func(t *testing.T, s store.Store){
		"AFailedUpdateWritesNothing":        txFailedWritesNothing,
		"APanicInUpdateIsAnError":           txPanicInUpdate,
		"APanicInViewIsAnError":             txPanicInView,
		"WritesInAViewFail":                 txWriteInView,
		"ACancelledContextRunsNothing":      txCancelled,
		"AnUpdateSeesItsOwnWrites":          txOwnWrites,
		"ErrorsAreKept":                     txErrorsKept,
		"UpdatesAreVisibleOnceReturned":     txVisible,
		"AFreshStoreIsHealthy":              txHealthy,
		"AViewIsASnapshotAndBlocksNoWriter": txSnapshot,
	})
}

// fill writes one record of every kind, so that a rolled-back fn has
// something to leave behind.
func fill(tx store.Tx) error {
	if err := tx.PutUser(&store.User{ID: "rb", Handle: []byte("rb"), Username: "rolled-back"}); err != nil {
		return err
	}
	_, _, err := tx.AllocateStatus(T0, 8)
	return errors.Join(err,
		tx.PutCredential(&store.Credential{ID: []byte("rb-cred"), UserID: "rb"}),
		tx.PutTOTP(&store.TOTP{UserID: "rb", Secret: []byte("s")}),
		tx.PutRecoveryCodes(&store.RecoveryCodes{UserID: "rb", Hashes: [][]byte{[]byte("h")}}),
		tx.PutSignInFailures(&store.SignInFailures{UserID: "rb", Failures: 1}),
		tx.PutConsent(&store.Consent{UserID: "rb", ClientID: "c", Scopes: []string{"openid"}}),
		tx.PutSession(&store.Session{ID: "rb-ses", UserID: "rb", ExpiresAt: T0}),
		tx.PutRefreshToken(&store.RefreshToken{Hash: "rb-rt", SessionID: "rb-ses", ExpiresAt: T0}),
		tx.PutRevoked("rb-rev", T0),
		tx.PutCeremony(&store.Ceremony{ID: "rb-cer", ExpiresAt: T0}),
		tx.AppendAudit(&store.AuditEvent{Time: T0, Type: "rb"}),
		tx.PutSigningKey(&store.SigningKey{ID: "rb-key", Private: []byte("p")}),
		tx.PutClient(&store.Client{ID: "rb-client"}),
	)
}

// assertEmpty fails the test if anything fill writes is in s.
func assertEmpty(t *testing.T, s store.Store) {
	t.Helper()
	mustView(t, s, func(tx store.Tx) error {
		var left []string
		found := func(what string, err error) {
			if !errors.Is(err, store.ErrNotFound) {
				left = append(left, fmt.Sprintf("%s (%v)", what, err))
			}
		}
		found("user", second(tx.User("rb")))
		found("username", second(tx.UserByUsername("rolled-back")))
		found("credential", second(tx.Credential([]byte("rb-cred"))))
		found("TOTP", second(tx.TOTPStatus("rb")))
		found("recovery codes", second(tx.RecoveryCodes("rb")))
		found("consent", second(tx.Consent("rb", "c")))
		found("session", second(tx.Session("rb-ses")))
		found("refresh token", second(tx.RefreshToken("rb-rt")))
		found("ceremony", second(tx.Ceremony("rb-cer", T0.Add(-time.Hour))))
		found("client", second(tx.Client("rb-client")))
		if f, err := tx.SignInFailures("rb"); err != nil || f.Failures != 0 {
			left = append(left, fmt.Sprintf("sign-in failures %+v (%v)", f, err))
		}
		if all, err := tx.Revoked(time.Time{}); err != nil || len(all) != 0 {
			left = append(left, fmt.Sprintf("blacklist %v (%v)", all, err))
		}
		if events, err := tx.AuditEvents(0); err != nil || len(events) != 0 {
			left = append(left, fmt.Sprintf("audit %v (%v)", events, err))
		}
		if keys, err := tx.SigningKeys(); err != nil || len(keys) != 0 {
			left = append(left, fmt.Sprintf("signing keys %d (%v)", len(keys), err))
		}
		if users, err := tx.Users(); err != nil || len(users) != 0 {
			left = append(left, fmt.Sprintf("users %v (%v)", users, err))
		}
		if c, err := tx.VerifyAudit(); err != nil || c.Events != 0 || c.Head != 0 || c.Break != nil {
			left = append(left, fmt.Sprintf("audit chain %+v (%v)", c, err))
		}
		if len(left) > 0 {
			t.Errorf("left behind: %s", strings.Join(left, "; "))
		}
		return nil
	})
}

func txFailedWritesNothing(t *testing.T, s store.Store) {
	errOwn := errors.New("own failure")
	var list string
	err := s.Update(t.Context(), func(tx store.Tx) error {
		if err := fill(tx); err != nil {
			t.Errorf("fill: %v", err)
		}
		var err error
		list, _, err = tx.AllocateStatus(T0, 16)
		if err != nil {
			t.Errorf("AllocateStatus: %v", err)
		}
		return errOwn
	})
	if !errors.Is(err, errOwn) {
		t.Fatalf("Update = %v, want fn's own error", err)
	}
	assertEmpty(t, s)
	mustView(t, s, func(tx store.Tx) error {
		if l, err := tx.StatusList(list); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the status list of the rolled-back transaction: %+v, %v", l, err)
		}
		return nil
	})
	// The store still writes, and a list opened now is another one.
	mustUpdate(t, s, fill)
	if id, _ := allocate(t, s, 16); id == list {
		t.Errorf("the rolled-back list %s is current", list)
	}
	mustView(t, s, func(tx store.Tx) error {
		if _, err := tx.User("rb"); err != nil {
			t.Errorf("the write after: %v", err)
		}
		return nil
	})
}

func txPanicInUpdate(t *testing.T, s store.Store) {
	err := s.Update(t.Context(), func(tx store.Tx) error {
		if err := fill(tx); err != nil {
			t.Errorf("fill: %v", err)
		}
		panic("boom")
	})
	if err == nil {
		t.Fatal("Update returned nil after a panic")
	}
	assertEmpty(t, s)
	// The store goes on working: a write commits and a read sees it.
	mustUpdate(t, s, func(tx store.Tx) error { return tx.PutClient(&store.Client{ID: "c"}) })
	mustView(t, s, func(tx store.Tx) error { _, err := tx.Client("c"); return err })
	err = s.Update(t.Context(), func(tx store.Tx) error { panic(errors.New("an error value")) })
	if err == nil {
		t.Fatal("Update returned nil after a panic with an error")
	}
}

func txPanicInView(t *testing.T, s store.Store) {
	err := s.View(t.Context(), func(store.Tx) error { panic("boom") })
	if err == nil {
		t.Fatal("View returned nil after a panic")
	}
	// The read transaction must have been released: a write still commits
	// and a further read works.
	mustUpdate(t, s, func(tx store.Tx) error { return tx.PutClient(&store.Client{ID: "c"}) })
	mustView(t, s, func(tx store.Tx) error { _, err := tx.Client("c"); return err })
}

func txWriteInView(t *testing.T, s store.Store) {
	putUsers(t, s, "u")
	writes := map[string]func(tx store.Tx) error{
		"PutClient":  func(tx store.Tx) error { return tx.PutClient(&store.Client{ID: "c"}) },
		"PutUser":    func(tx store.Tx) error { return tx.PutUser(&store.User{ID: "v", Handle: []byte("v"), Username: "v"}) },
		"PutRevoked": func(tx store.Tx) error { return tx.PutRevoked("k", T0) },
		"AppendAudit": func(tx store.Tx) error {
			return tx.AppendAudit(&store.AuditEvent{Time: T0, Type: "x"})
		},
		"DeleteUser": func(tx store.Tx) error { return tx.DeleteUser("u") },
	}
	for _, name := range sortedKeys(writes) {
		if err := s.View(t.Context(), writes[name]); err == nil {
			t.Errorf("%s inside View succeeded", name)
		}
	}
	mustView(t, s, func(tx store.Tx) error {
		if _, err := tx.Client("c"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a client written in a View: %v", err)
		}
		if _, err := tx.User("u"); err != nil {
			t.Errorf("a user deleted in a View: %v", err)
		}
		if all, err := tx.Revoked(time.Time{}); err != nil || len(all) != 0 {
			t.Errorf("a blacklist entry written in a View: %v, %v", all, err)
		}
		if events, err := tx.AuditEvents(0); err != nil || len(events) != 0 {
			t.Errorf("an event appended in a View: %v, %v", events, err)
		}
		return nil
	})
}

func txCancelled(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	ran := false
	if err := s.View(ctx, func(store.Tx) error { ran = true; return nil }); !errors.Is(err, context.Canceled) || ran {
		t.Errorf("View with a cancelled ctx: err=%v ran=%v", err, ran)
	}
	ran = false
	err := s.Update(ctx, func(tx store.Tx) error { ran = true; return tx.PutClient(&store.Client{ID: "c"}) })
	if !errors.Is(err, context.Canceled) || ran {
		t.Errorf("Update with a cancelled ctx: err=%v ran=%v", err, ran)
	}
	mustView(t, s, func(tx store.Tx) error {
		if _, err := tx.Client("c"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the cancelled write was kept: %v", err)
		}
		return nil
	})
}

func txOwnWrites(t *testing.T, s store.Store) {
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.PutUser(&store.User{ID: "u", Handle: []byte("u"), Username: "alice"}); err != nil {
			return err
		}
		if u, err := tx.UserByUsername("alice"); err != nil || u.ID != "u" {
			t.Errorf("the user just put: %v, %v", u, err)
		}
		// A second user in the same transaction sees the first's username.
		if err := tx.PutUser(&store.User{ID: "v", Handle: []byte("v"), Username: "alice"}); !errors.Is(err, store.ErrUsernameTaken) {
			t.Errorf("a username taken earlier in the transaction: %v", err)
		}
		if err := tx.PutCredential(&store.Credential{ID: []byte("c"), UserID: "u"}); err != nil {
			return err
		}
		if err := tx.DeleteCredential([]byte("c")); err != nil {
			t.Errorf("deleting the credential just put: %v", err)
		}
		if err := tx.PutRevoked("k", T0); err != nil {
			return err
		}
		if all, err := tx.Revoked(T0.Add(-time.Second)); err != nil || len(all) != 1 {
			t.Errorf("the entry just put: %v, %v", all, err)
		}
		return nil
	})
}

// txErrorsKept: the sentinel errors reach the caller of Update through
// fn's return, wrapped or not.
func txErrorsKept(t *testing.T, s store.Store) {
	putUsers(t, s, "u1", "u2")
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.PutCredential(&store.Credential{ID: []byte("c"), UserID: "u1"})
	})
	tests := []struct {
		name string
		fn   func(tx store.Tx) error
		want error
	}{
		{"ErrNotFound", func(tx store.Tx) error { _, err := tx.User("nobody"); return err }, store.ErrNotFound},
		{"ErrUsernameTaken", func(tx store.Tx) error {
			return tx.PutUser(&store.User{ID: "u3", Handle: []byte("u3"), Username: "u:u1"})
		}, store.ErrUsernameTaken},
		{"ErrHandleTaken", func(tx store.Tx) error {
			return tx.PutUser(&store.User{ID: "u3", Handle: []byte("u1"), Username: "fresh"})
		}, store.ErrHandleTaken},
		{"ErrCredentialExists", func(tx store.Tx) error {
			return tx.PutCredential(&store.Credential{ID: []byte("c"), UserID: "u2"})
		}, store.ErrCredentialExists},
		{"a wrapped ErrNotFound", func(tx store.Tx) error {
			return fmt.Errorf("context: %w", tx.DeleteUser("nobody"))
		}, store.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.Update(t.Context(), tt.fn); !errors.Is(err, tt.want) {
				t.Errorf("Update = %v, want %v", err, tt.want)
			}
		})
	}
	// None of the refused writes was kept.
	mustView(t, s, func(tx store.Tx) error {
		if _, err := tx.User("u3"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a refused user: %v", err)
		}
		if c, err := tx.Credential([]byte("c")); err != nil || c.UserID != "u1" {
			t.Errorf("the credential: %+v, %v", c, err)
		}
		return nil
	})
}

// txVisible: a write is visible to every reader the moment its Update
// returns, under concurrent writers.
func txVisible(t *testing.T, s store.Store) {
	const writers, perWriter = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				id := fmt.Sprintf("c-%d-%d", w, i)
				err := s.Update(context.Background(), func(tx store.Tx) error {
					return tx.PutClient(&store.Client{ID: id, SecretHash: []byte(id)})
				})
				if err != nil {
					errs <- err
					return
				}
				err = s.View(context.Background(), func(tx store.Tx) error {
					_, err := tx.Client(id)
					return err
				})
				if err != nil {
					errs <- fmt.Errorf("client %s not visible after Update: %w", id, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	mustView(t, s, func(tx store.Tx) error {
		clients, err := tx.Clients()
		if err != nil {
			return err
		}
		if len(clients) != writers*perWriter {
			t.Errorf("clients = %d, want %d", len(clients), writers*perWriter)
		}
		return nil
	})
}

func txHealthy(t *testing.T, s store.Store) {
	if err := s.ProbeWrite(t.Context(), T0); err != nil {
		t.Fatalf("ProbeWrite: %v", err)
	}
	if h := s.WriteHealth(); h.Failing || h.ConsecutiveFailures != 0 || h.Failures != 0 || h.LastError != nil || !h.LastFailure.IsZero() {
		t.Errorf("WriteHealth of a fresh store = %+v", h)
	}
	// The probe's record is the store's own: nothing of the service's
	// appears.
	assertEmpty(t, s)
}

// txSnapshot: a View sees the store as it was when it began, while a
// writer commits meanwhile without waiting for it.
func txSnapshot(t *testing.T, s store.Store) {
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.PutClient(&store.Client{ID: "c", SecretHash: []byte("v1")})
	})
	written := make(chan error, 1)
	err := s.View(t.Context(), func(tx store.Tx) error {
		before, err := tx.Client("c")
		if err != nil {
			return err
		}
		go func() {
			written <- s.Update(context.Background(), func(tx store.Tx) error {
				return errors.Join(
					tx.PutClient(&store.Client{ID: "c", SecretHash: []byte("v2")}),
					tx.PutClient(&store.Client{ID: "d"}),
				)
			})
		}()
		select {
		case err := <-written:
			if err != nil {
				return fmt.Errorf("the write during the View: %w", err)
			}
		case <-time.After(10 * time.Second):
			return errors.New("a write waited for a View to end")
		}
		after, err := tx.Client("c")
		if err != nil {
			return err
		}
		if string(before.SecretHash) != "v1" || string(after.SecretHash) != "v1" {
			t.Errorf("the View saw %q then %q, want v1 both times", before.SecretHash, after.SecretHash)
		}
		if _, err := tx.Client("d"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the View saw a client written after it began: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	mustView(t, s, func(tx store.Tx) error {
		if c, err := tx.Client("c"); err != nil || string(c.SecretHash) != "v2" {
			t.Errorf("a View after the write: %+v, %v", c, err)
		}
		return nil
	})
}
