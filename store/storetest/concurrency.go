package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/latchid/latch/store"
)

// racers is how many goroutines race for one thing.
const racers = 16

func testConcurrency(t *testing.T, open opener) {
	cases(t, open, map[string]func(t *testing.T, s store.Store){
		"RotateRefreshTokenHasOneWinner":     raceRotate,
		"TakePendingHasOneWinner":            raceTakePending,
		"TakeStoredCeremonyHasOneWinner":     raceTakeCeremony,
		"PutUserWithOneUsernameHasOneWinner": raceUsername,
		"PutUserWithOneHandleHasOneWinner":   raceHandle,
		"PutCredentialWithOneIDHasOneWinner": raceCredential,
		"CountersLoseNoUpdate":               raceCounters,
	})
}

// race runs fn(i) for i in [0, racers) at once and returns their errors.
func race(fn func(i int) error) []error {
	errs := make([]error, racers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range racers {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// oneWinner checks that exactly one error is nil and every other is lost,
// returning the winner.
func oneWinner(t *testing.T, errs []error, lost func(error) bool) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("racers %d and %d both won", winner, i)
		case err == nil:
			winner = i
		case !lost(err):
			t.Errorf("racer %d: %v", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("no racer won: %v", errs)
	}
	return winner
}

func raceRotate(t *testing.T, s store.Store) {
	exp := T0.Add(time.Hour)
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.PutRefreshToken(&store.RefreshToken{Hash: "t0", SessionID: "s", UserID: "u", ExpiresAt: exp})
	})
	errs := race(func(i int) error {
		return rotate(s, "t0", T0.Add(time.Duration(i)*time.Second),
			&store.RefreshToken{Hash: fmt.Sprint("next-", i), SessionID: "s", UserID: "u", ExpiresAt: exp})
	})
	w := oneWinner(t, errs, func(err error) bool { return errors.Is(err, errRotated) })
	mustView(t, s, func(tx store.Tx) error {
		old, err := tx.RefreshToken("t0")
		if err != nil || !old.RotatedAt.Equal(T0.Add(time.Duration(w)*time.Second)) {
			t.Errorf("the rotated token: %+v, %v; want rotated by racer %d", old, err, w)
		}
		for i := range racers {
			next, err := tx.RefreshToken(fmt.Sprint("next-", i))
			switch {
			case i == w && (err != nil || next.Previous != "t0" || !next.RotatedAt.IsZero()):
				t.Errorf("the winner's token: %+v, %v", next, err)
			case i != w && !errors.Is(err, store.ErrNotFound):
				t.Errorf("a loser's token %d was kept: %+v, %v", i, next, err)
			}
		}
		n := 0
		if err := tx.ScanRefreshTokens(func(*store.RefreshToken) error { n++; return nil }); err != nil || n != 2 {
			t.Errorf("%d tokens stored (%v), want 2", n, err)
		}
		return nil
	})
}

func raceTakePending(t *testing.T, s store.Store) {
	want := store.Ceremony{ID: "cer", Kind: "login", Session: []byte("state"), ExpiresAt: T0}
	if err := s.PutPending(&want, T0.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	got := make([]*store.Ceremony, racers)
	errs := race(func(i int) error {
		var err error
		got[i], err = s.TakePending(context.Background(), "cer", T0.Add(-time.Second))
		return err
	})
	w := oneWinner(t, errs, func(err error) bool { return errors.Is(err, store.ErrNotFound) })
	if c := got[w]; c == nil || c.ID != "cer" || string(c.Session) != "state" {
		t.Errorf("the winner took %+v", c)
	}
}

// raceTakeCeremony consumes a stored ceremony (an authorization code) in
// Update, as the service does: read it, delete it, act.
func raceTakeCeremony(t *testing.T, s store.Store) {
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.PutCeremony(&store.Ceremony{ID: "code", Kind: "code", ExpiresAt: T0})
	})
	errs := race(func(int) error {
		return s.Update(context.Background(), func(tx store.Tx) error {
			if _, err := tx.Ceremony("code", T0.Add(-time.Second)); err != nil {
				return err
			}
			return tx.DeleteCeremony("code")
		})
	})
	oneWinner(t, errs, func(err error) bool { return errors.Is(err, store.ErrNotFound) })
}

func raceUsername(t *testing.T, s store.Store) {
	errs := race(func(i int) error {
		return s.Update(context.Background(), func(tx store.Tx) error {
			id := fmt.Sprint("u", i)
			return tx.PutUser(&store.User{ID: id, Handle: []byte(id), Username: "alice"})
		})
	})
	w := oneWinner(t, errs, func(err error) bool { return errors.Is(err, store.ErrUsernameTaken) })
	mustView(t, s, func(tx store.Tx) error {
		users, err := tx.Users()
		if err != nil || len(users) != 1 || users[0].ID != fmt.Sprint("u", w) {
			t.Errorf("users = %+v, %v; want only u%d", users, err, w)
		}
		return nil
	})
}

func raceHandle(t *testing.T, s store.Store) {
	errs := race(func(i int) error {
		return s.Update(context.Background(), func(tx store.Tx) error {
			return tx.PutUser(&store.User{ID: fmt.Sprint("u", i), Handle: []byte("one handle"), Username: fmt.Sprint("user", i)})
		})
	})
	w := oneWinner(t, errs, func(err error) bool { return errors.Is(err, store.ErrHandleTaken) })
	mustView(t, s, func(tx store.Tx) error {
		u, err := tx.UserByHandle([]byte("one handle"))
		if err != nil || u.ID != fmt.Sprint("u", w) {
			t.Errorf("the handle's user = %+v, %v; want u%d", u, err, w)
		}
		if users, err := tx.Users(); err != nil || len(users) != 1 {
			t.Errorf("users = %+v, %v", users, err)
		}
		return nil
	})
}

func raceCredential(t *testing.T, s store.Store) {
	var ids []string
	for i := range racers {
		ids = append(ids, fmt.Sprint("u", i))
	}
	putUsers(t, s, ids...)
	errs := race(func(i int) error {
		return s.Update(context.Background(), func(tx store.Tx) error {
			return tx.PutCredential(&store.Credential{ID: []byte("one credential"), UserID: ids[i]})
		})
	})
	w := oneWinner(t, errs, func(err error) bool { return errors.Is(err, store.ErrCredentialExists) })
	mustView(t, s, func(tx store.Tx) error {
		c, err := tx.Credential([]byte("one credential"))
		if err != nil || c.UserID != ids[w] {
			t.Errorf("the credential = %+v, %v; want %s's", c, err, ids[w])
		}
		for i, id := range ids {
			want := 0
			if i == w {
				want = 1
			}
			if creds, err := tx.CredentialsByUser(id); err != nil || len(creds) != want {
				t.Errorf("%s has %d credentials (%v), want %d", id, len(creds), err, want)
			}
		}
		return nil
	})
}

// raceCounters increments counters read-modify-write in Update from many
// goroutines at once: no increment may be lost.
func raceCounters(t *testing.T, s store.Store) {
	putUsers(t, s, "u")
	mustUpdate(t, s, func(tx store.Tx) error {
		return errors.Join(
			tx.PutCredential(&store.Credential{ID: []byte("c"), UserID: "u"}),
			tx.PutTOTP(&store.TOTP{UserID: "u", Secret: []byte("s")}),
		)
	})
	const each = 10
	race(func(int) error {
		for range each {
			err := s.Update(context.Background(), func(tx store.Tx) error {
				f, err := tx.SignInFailures("u")
				if err != nil {
					return err
				}
				f.Failures++
				if err := tx.PutSignInFailures(f); err != nil {
					return err
				}
				c, err := tx.Credential([]byte("c"))
				if err != nil {
					return err
				}
				c.SignCount++
				if err := tx.PutCredential(c); err != nil {
					return err
				}
				totp, err := tx.TOTP("u")
				if err != nil {
					return err
				}
				totp.LastStep++
				return tx.PutTOTP(totp)
			})
			if err != nil {
				t.Errorf("increment: %v", err)
				return err
			}
		}
		return nil
	})
	mustView(t, s, func(tx store.Tx) error {
		f, err := tx.SignInFailures("u")
		if err != nil || f.Failures != racers*each {
			t.Errorf("failures = %+v, %v; want %d", f, err, racers*each)
		}
		c, err := tx.Credential([]byte("c"))
		if err != nil || c.SignCount != racers*each {
			t.Errorf("sign count = %+v, %v; want %d", c, err, racers*each)
		}
		totp, err := tx.TOTP("u")
		if err != nil || totp.LastStep != racers*each {
			t.Errorf("last step = %+v, %v; want %d", totp, err, racers*each)
		}
		return nil
	})
}
