package store

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"
)

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
