package store

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestSessionRoundTrip(t *testing.T) {
	db := openTestDB(t)
	want := Session{
		ID: "s1", UserID: "u1", CreatedAt: t0, AuthTime: t0, ExpiresAt: t0.Add(time.Hour),
		AMR: []string{"hwk", "otp"}, JKT: "thumbprint", RevokedAt: t0.Add(time.Minute),
	}
	mustUpdate(t, db, func(tx *boltTx) error { return tx.PutSession(&want) })
	mustView(t, db, func(tx *boltTx) error {
		got, err := tx.Session("s1")
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("got %+v\nwant %+v", *got, want)
		}
		if _, err := tx.Session("nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing session: err = %v", err)
		}
		return nil
	})
}

func TestSessionTimesAreStoredInUTC(t *testing.T) {
	db := openTestDB(t)
	paris := time.FixedZone("CET", 3600)
	local := t0.In(paris)
	mustUpdate(t, db, func(tx *boltTx) error {
		return tx.PutSession(&Session{ID: "s", UserID: "u", CreatedAt: local})
	})
	mustView(t, db, func(tx *boltTx) error {
		s, err := tx.Session("s")
		if err != nil {
			return err
		}
		if s.CreatedAt.Location() != time.UTC || !s.CreatedAt.Equal(local) {
			t.Errorf("CreatedAt = %v, want %v in UTC", s.CreatedAt, local)
		}
		return nil
	})
}

func TestSessionsByUserOrderedAndIsolated(t *testing.T) {
	db := openTestDB(t)
	mustUpdate(t, db, func(tx *boltTx) error {
		for _, s := range []Session{
			{ID: "late", UserID: "u1", CreatedAt: t0.Add(time.Hour)},
			{ID: "early", UserID: "u1", CreatedAt: t0},
			{ID: "other", UserID: "u2", CreatedAt: t0},
		} {
			if err := tx.PutSession(&s); err != nil {
				return err
			}
		}
		return nil
	})
	mustView(t, db, func(tx *boltTx) error {
		sessions, err := tx.SessionsByUser("u1")
		if err != nil {
			return err
		}
		if len(sessions) != 2 || sessions[0].ID != "early" || sessions[1].ID != "late" {
			t.Errorf("sessions of u1 = %+v, want early then late", sessions)
		}
		return nil
	})
}

// sessionIDs lists the ids of userID's sessions, oldest first.
func sessionIDs(t *testing.T, db *DB, userID string) []string {
	t.Helper()
	var ids []string
	mustView(t, db, func(tx *boltTx) error {
		sessions, err := tx.SessionsByUser(userID)
		for _, s := range sessions {
			ids = append(ids, s.ID)
		}
		return err
	})
	return ids
}

// TestSessionListKeepsItsOrderThroughDeletions: a user's sessions are a
// list through their records; deleting the oldest, the newest or one in
// the middle (which the sweep does when a later session expires first)
// leaves every other session listed, and another user's list alone.
func TestSessionListKeepsItsOrderThroughDeletions(t *testing.T) {
	db := openTestDB(t)
	putTestUsers(t, db, "u", "v")
	expires := map[string]time.Duration{"a": 1, "b": 5, "c": 2, "d": 5, "e": 3, "f": 5}
	for i, id := range []string{"a", "b", "c", "d", "e", "f"} {
		mustUpdate(t, db, func(tx *boltTx) error {
			err := tx.PutSession(&Session{ID: id, UserID: "u", CreatedAt: t0.Add(time.Duration(i) * time.Second),
				ExpiresAt: t0.Add(expires[id] * time.Hour)})
			if err != nil {
				return err
			}
			return tx.PutSession(&Session{ID: "other-" + id, UserID: "v", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)})
		})
	}
	if got := sessionIDs(t, db, "u"); !reflect.DeepEqual(got, []string{"a", "b", "c", "d", "e", "f"}) {
		t.Fatalf("listed %v", got)
	}
	// An update keeps a session's place.
	mustUpdate(t, db, func(tx *boltTx) error {
		return tx.PutSession(&Session{ID: "c", UserID: "u", CreatedAt: t0.Add(2 * time.Second), ExpiresAt: t0.Add(2 * time.Hour), RevokedAt: t0})
	})
	steps := []struct {
		at   time.Duration
		want []string
	}{
		{1, []string{"b", "c", "d", "e", "f"}}, // the oldest
		{2, []string{"b", "d", "e", "f"}},      // one in the middle
		{3, []string{"b", "d", "f"}},           // another, next to the newest
	}
	for _, step := range steps {
		if _, err := db.Sweep(context.Background(), t0.Add(step.at*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if got := sessionIDs(t, db, "u"); !reflect.DeepEqual(got, step.want) {
			t.Fatalf("after the sweep at %dh: listed %v, want %v", step.at, got, step.want)
		}
	}
	if got := sessionIDs(t, db, "v"); len(got) != 0 {
		t.Fatalf("the other user's expired sessions are still listed: %v", got)
	}
	// The newest deleted, then a new one started: it links to the rest.
	mustUpdate(t, db, func(tx *boltTx) error {
		if _, err := tx.deleteSession([]byte("f")); err != nil {
			return err
		}
		return tx.PutSession(&Session{ID: "g", UserID: "u", CreatedAt: t0.Add(time.Minute)})
	})
	if got := sessionIDs(t, db, "u"); !reflect.DeepEqual(got, []string{"b", "d", "g"}) {
		t.Fatalf("listed %v", got)
	}
	err := db.Update(context.Background(), func(tx Tx) error { return tx.PutSession(&Session{ID: "g", UserID: "v"}) })
	if err == nil {
		t.Fatal("a listed session moved to another user's account")
	}
	mustUpdate(t, db, func(tx *boltTx) error { return tx.DeleteUser("u") })
	mustView(t, db, func(tx *boltTx) error {
		for _, id := range []string{"b", "d", "g"} {
			if _, err := tx.Session(id); !errors.Is(err, ErrNotFound) {
				t.Errorf("session %s outlived its account: %v", id, err)
			}
		}
		return nil
	})
}

// TestSessionsIndexedBeforeTheListStillWork: sessions written with an
// index entry in the account, as before the list, are listed beside the
// listed ones, keep their entries when updated and lose them when swept or
// deleted with their account.
func TestSessionsIndexedBeforeTheListStillWork(t *testing.T) {
	db := openTestDB(t)
	putTestUsers(t, db, "u")
	old := []Session{
		{ID: "old-1", UserID: "u", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)},
		{ID: "old-2", UserID: "u", CreatedAt: t0.Add(time.Second), ExpiresAt: t0.Add(3 * time.Hour)},
	}
	mustUpdate(t, db, func(tx *boltTx) error {
		for _, s := range old {
			// As the earlier version wrote them.
			if err := tx.put(bucketSessions, []byte(s.ID), &struct {
				header
				Session
			}{current(), s}); err != nil {
				return err
			}
			if err := tx.putIndex(bucketAccounts, entryKey(s.UserID, entrySession, []byte(s.ID))); err != nil {
				return err
			}
			if err := tx.reindexExpiry(bucketSessionExpiry, []byte(s.ID), time.Time{}, s.ExpiresAt); err != nil {
				return err
			}
		}
		return tx.PutSession(&Session{ID: "new", UserID: "u", CreatedAt: t0.Add(time.Minute), ExpiresAt: t0.Add(2 * time.Hour)})
	})
	if got := sessionIDs(t, db, "u"); !reflect.DeepEqual(got, []string{"old-1", "old-2", "new"}) {
		t.Fatalf("listed %v", got)
	}
	mustUpdate(t, db, func(tx *boltTx) error {
		s := old[1]
		s.RevokedAt = t0
		return tx.PutSession(&s)
	})
	if _, err := db.Sweep(context.Background(), t0.Add(90*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := sessionIDs(t, db, "u"); !reflect.DeepEqual(got, []string{"old-2", "new"}) {
		t.Fatalf("after a sweep: listed %v", got)
	}
	mustUpdate(t, db, func(tx *boltTx) error { return tx.DeleteUser("u") })
	mustView(t, db, func(tx *boltTx) error {
		n := 0
		for _, b := range [][]byte{bucketSessions, bucketSessionExpiry, bucketAccounts} {
			n += tx.btx.Bucket(b).Stats().KeyN
		}
		if n != 0 {
			t.Errorf("%d entries outlived the account", n)
		}
		return nil
	})
}

// TestSessionTailFieldsRoundTripAndCostNothingEmpty: the fields added at
// the end of a session record (login session, last activity, place) read
// back as written, and a session that has none of them stores none of
// their bytes.
func TestSessionTailFieldsRoundTripAndCostNothingEmpty(t *testing.T) {
	db := openTestDB(t)
	bare := newLaneSession(t0, time.Hour)
	full := newLaneSession(t0.Add(time.Second), time.Hour)
	full.LoginSID, full.LastActiveAt, full.Place = bare.ID, t0.Add(time.Minute), "Zürich, CH"
	mustUpdate(t, db, func(tx *boltTx) error { return errors.Join(tx.PutSession(bare), tx.PutSession(full)) })
	db.sessions = memo[sessionRecord]{} // read them as stored
	mustView(t, db, func(tx *boltTx) error {
		for _, want := range []*Session{bare, full} {
			got, err := tx.Session(want.ID)
			if err != nil || got.LoginSID != want.LoginSID || !got.LastActiveAt.Equal(want.LastActiveAt) || got.Place != want.Place {
				t.Errorf("read %+v (%v), want %+v", got, err, want)
			}
		}
		key, _ := packSessionID(bare.ID)
		v := tx.raw(bucketSessions, key)
		if v[len(v)-1] != 1 { // ends with InLane
			t.Errorf("a session without tail fields ends with % x", v[len(v)-4:])
		}
		return nil
	})
}
