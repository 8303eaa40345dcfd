package storetest

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/latchid/latch/store"
)

func testSessions(t *testing.T, open opener) {
	cases(t, open, map[string]func(t *testing.T, s store.Store){
		"RoundTrip":                      sessionRoundTrip,
		"TimesAreReadInUTC":              sessionTimesUTC,
		"ByUserOrderedAndIsolated":       sessionsByUser,
		"ListKeepsItsOrderThroughSweeps": sessionListThroughSweeps,
		"InvalidAreRefused":              sessionInvalid,
	})
}

func sessionRoundTrip(t *testing.T, s store.Store) {
	want := store.Session{
		ID: "s1", UserID: "u1", CreatedAt: T0, AuthTime: T0, ExpiresAt: T0.Add(time.Hour),
		AMR: []string{"hwk", "otp"}, JKT: "thumbprint", RevokedAt: T0.Add(time.Minute), Device: "Firefox on Linux",
		Refresh: []byte{0, 1, 2, 0xff}, ClientID: "app", Scope: "openid offline_access", LoginSID: "s0",
		LastActiveAt: T0.Add(2 * time.Minute), Place: "Zürich, CH",
	}
	bare := store.Session{ID: "s2", UserID: "u1", CreatedAt: T0.Add(time.Second), ExpiresAt: T0.Add(time.Hour)}
	mustUpdate(t, s, func(tx store.Tx) error { return errors.Join(tx.PutSession(&want), tx.PutSession(&bare)) })
	mustView(t, s, func(tx store.Tx) error {
		for _, w := range []store.Session{want, bare} {
			got, err := tx.Session(w.ID)
			if err != nil {
				return err
			}
			if !reflect.DeepEqual(*got, w) {
				t.Errorf("got %+v\nwant %+v", *got, w)
			}
		}
		for _, id := range []string{"nope", "", strings.Repeat("s", 70000)} {
			if _, err := tx.Session(id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("missing session %.10q: err = %v", id, err)
			}
		}
		return nil
	})
	// An update rewrites it in place.
	want.RevokedAt, want.Refresh, want.LastActiveAt = T0.Add(3*time.Minute), []byte("next"), T0.Add(3*time.Minute)
	mustUpdate(t, s, func(tx store.Tx) error { return tx.PutSession(&want) })
	mustView(t, s, func(tx store.Tx) error {
		got, err := tx.Session("s1")
		if err != nil || !reflect.DeepEqual(*got, want) {
			t.Errorf("after the update: %+v, %v", got, err)
		}
		if all, err := tx.SessionsByUser("u1"); err != nil || len(all) != 2 {
			t.Errorf("an update added a session: %+v, %v", all, err)
		}
		return nil
	})
}

func sessionTimesUTC(t *testing.T, s store.Store) {
	paris := time.FixedZone("CET", 3600)
	local := T0.In(paris)
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.PutSession(&store.Session{ID: "s", UserID: "u", CreatedAt: local, AuthTime: local, ExpiresAt: local.Add(time.Hour)})
	})
	mustView(t, s, func(tx store.Tx) error {
		got, err := tx.Session("s")
		if err != nil {
			return err
		}
		for name, tm := range map[string]time.Time{"CreatedAt": got.CreatedAt, "AuthTime": got.AuthTime} {
			if tm.Location() != time.UTC || !tm.Equal(local) {
				t.Errorf("%s = %v, want %v in UTC", name, tm, local)
			}
		}
		if got.ExpiresAt.Location() != time.UTC || !got.ExpiresAt.Equal(local.Add(time.Hour)) {
			t.Errorf("ExpiresAt = %v", got.ExpiresAt)
		}
		return nil
	})
}

func sessionsByUser(t *testing.T, s store.Store) {
	mustUpdate(t, s, func(tx store.Tx) error {
		for _, ses := range []store.Session{
			{ID: "late", UserID: "u1", CreatedAt: T0.Add(time.Hour)},
			{ID: "early", UserID: "u1", CreatedAt: T0},
			// Started at the same time: the id decides.
			{ID: "tie-b", UserID: "u1", CreatedAt: T0.Add(2 * time.Hour)},
			{ID: "tie-a", UserID: "u1", CreatedAt: T0.Add(2 * time.Hour)},
			{ID: "other", UserID: "u2", CreatedAt: T0},
			{ID: "prefix", UserID: "u10", CreatedAt: T0},
		} {
			if err := tx.PutSession(&ses); err != nil {
				return err
			}
		}
		return nil
	})
	if got := sessionIDs(t, s, "u1"); !reflect.DeepEqual(got, []string{"early", "late", "tie-a", "tie-b"}) {
		t.Errorf("sessions of u1 = %v, want early, late, tie-a, tie-b", got)
	}
	if got := sessionIDs(t, s, "nobody"); len(got) != 0 {
		t.Errorf("sessions of an unknown user = %v", got)
	}
}

// sessionIDs lists the ids of userID's sessions, oldest first.
func sessionIDs(t *testing.T, s store.Store, userID string) []string {
	t.Helper()
	var ids []string
	mustView(t, s, func(tx store.Tx) error {
		sessions, err := tx.SessionsByUser(userID)
		for _, s := range sessions {
			ids = append(ids, s.ID)
		}
		return err
	})
	return ids
}

// sessionListThroughSweeps: sweeping the oldest of a user's sessions, the
// newest or one in the middle (as when a later session expires first)
// leaves every other session listed, and another user's list alone; a
// listed session cannot move to another user.
func sessionListThroughSweeps(t *testing.T, s store.Store) {
	putUsers(t, s, "u", "v")
	expires := map[string]time.Duration{"a": 1, "b": 5, "c": 2, "d": 5, "e": 3, "f": 4}
	for i, id := range []string{"a", "b", "c", "d", "e", "f"} {
		mustUpdate(t, s, func(tx store.Tx) error {
			err := tx.PutSession(&store.Session{ID: id, UserID: "u", CreatedAt: T0.Add(time.Duration(i) * time.Second),
				ExpiresAt: T0.Add(expires[id] * time.Hour)})
			if err != nil {
				return err
			}
			return tx.PutSession(&store.Session{ID: "other-" + id, UserID: "v", CreatedAt: T0, ExpiresAt: T0.Add(time.Hour)})
		})
	}
	if got := sessionIDs(t, s, "u"); !reflect.DeepEqual(got, []string{"a", "b", "c", "d", "e", "f"}) {
		t.Fatalf("listed %v", got)
	}
	// An update keeps a session's place.
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.PutSession(&store.Session{ID: "c", UserID: "u", CreatedAt: T0.Add(2 * time.Second), ExpiresAt: T0.Add(2 * time.Hour), RevokedAt: T0})
	})
	steps := []struct {
		at      time.Duration
		removed int
		want    []string
	}{
		{1, 7, []string{"b", "c", "d", "e", "f"}}, // the oldest, and all of v's
		{2, 1, []string{"b", "d", "e", "f"}},      // one in the middle
		{3, 1, []string{"b", "d", "f"}},           // another, next to the newest
		{4, 1, []string{"b", "d"}},                // the newest
	}
	for _, step := range steps {
		n, err := s.Sweep(t.Context(), T0.Add(step.at*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if n != step.removed {
			t.Errorf("the sweep at %dh removed %d, want %d", step.at, n, step.removed)
		}
		if got := sessionIDs(t, s, "u"); !reflect.DeepEqual(got, step.want) {
			t.Fatalf("after the sweep at %dh: listed %v, want %v", step.at, got, step.want)
		}
	}
	if got := sessionIDs(t, s, "v"); len(got) != 0 {
		t.Fatalf("the other user's expired sessions are still listed: %v", got)
	}
	// A new one started after the newest went links to the rest.
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.PutSession(&store.Session{ID: "g", UserID: "u", CreatedAt: T0.Add(time.Minute)})
	})
	if got := sessionIDs(t, s, "u"); !reflect.DeepEqual(got, []string{"b", "d", "g"}) {
		t.Fatalf("listed %v", got)
	}
	err := s.Update(t.Context(), func(tx store.Tx) error { return tx.PutSession(&store.Session{ID: "g", UserID: "v"}) })
	if err == nil {
		t.Fatal("a listed session moved to another user's account")
	}
	if got := sessionIDs(t, s, "v"); len(got) != 0 {
		t.Fatalf("v lists %v after a refused move", got)
	}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.DeleteUser("u") })
	mustView(t, s, func(tx store.Tx) error {
		for _, id := range []string{"b", "d", "g"} {
			if _, err := tx.Session(id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("session %s outlived its account: %v", id, err)
			}
		}
		return nil
	})
}

func sessionInvalid(t *testing.T, s store.Store) {
	for name, ses := range map[string]store.Session{
		"empty id":          {UserID: "u"},
		"oversized id":      {ID: strings.Repeat("s", maxKeyLen+1), UserID: "u"},
		"empty user id":     {ID: "s"},
		"oversized user id": {ID: "s", UserID: strings.Repeat("u", maxKeyLen+1)},
	} {
		if err := s.Update(t.Context(), func(tx store.Tx) error { return tx.PutSession(&ses) }); err == nil {
			t.Errorf("%s: PutSession accepted it", name)
		}
	}
	if got := sessionIDs(t, s, "u"); len(got) != 0 {
		t.Errorf("invalid sessions were stored: %v", got)
	}
}
