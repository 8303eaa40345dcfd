package store

import (
	"errors"
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

// newLaneSession is a session as the service starts one: a time-ordered id
// of its start, and the given lifetime.
func newLaneSession(created time.Time, life time.Duration) *Session {
	return &Session{ID: testOrderedID(created), UserID: "u" + testRandomID(4), CreatedAt: created, AuthTime: created, ExpiresAt: created.Add(life)}
}

func indexEntries(t *testing.T, db *DB) int {
	t.Helper()
	n := 0
	mustView(t, db, func(tx *boltTx) error { n = tx.btx.Bucket(bucketSessionExpiry).Stats().KeyN; return nil })
	return n
}

func inLane(t *testing.T, db *DB) int {
	t.Helper()
	n := 0
	mustView(t, db, func(tx *boltTx) error {
		return tx.btx.Bucket(bucketSessions).ForEach(func(k, v []byte) error {
			var rec sessionRecord
			if err := decodeAt(k, v, &rec); err != nil {
				return err
			}
			if rec.InLane {
				n++
			}
			return nil
		})
	})
	return n
}

func remainingSessions(t *testing.T, db *DB) []string {
	t.Helper()
	var ids []string
	mustView(t, db, func(tx *boltTx) error {
		return tx.btx.Bucket(bucketSessions).ForEach(func(k, _ []byte) error {
			ids = append(ids, sessionIDOf(k))
			return nil
		})
	})
	sort.Strings(ids)
	return ids
}

// TestSweepOfLanesMatchesExpiry drives the store with sessions as the
// service makes them and as it rarely does — several lifetimes (more than
// there are lanes), starts in the same millisecond, a clock that steps
// back, expiries moved after the start, sessions that never expire,
// deletions — and after every sweep compares what is left with what should
// be: exactly the sessions that have not expired. It also checks that the
// common case leaves no expiry index entry.
func TestSweepOfLanesMatchesExpiry(t *testing.T) {
	for seed := range uint64(8) {
		rng := rand.New(rand.NewPCG(seed, 42))
		db := openTestDB(t)
		lifetimes := []time.Duration{time.Minute, 2 * time.Millisecond, 30 * time.Second, time.Second, 3 * time.Minute, 5 * time.Minute}
		live := map[string]time.Time{} // id -> expiry (zero: never)
		laned := 0
		now := t0
		for step := range 400 {
			mustUpdate(t, db, func(tx *boltTx) error {
				for range 1 + rng.IntN(6) {
					created := now.Add(time.Duration(rng.IntN(1000)) * time.Microsecond)
					if rng.IntN(20) == 0 {
						created = created.Add(-time.Duration(rng.IntN(5000)) * time.Millisecond) // the clock stepped back
					}
					life := lifetimes[0]
					if rng.IntN(4) == 0 {
						life = lifetimes[rng.IntN(len(lifetimes))]
					}
					s := newLaneSession(created, life)
					switch rng.IntN(30) {
					case 0:
						s.ExpiresAt = time.Time{}
					case 1:
						s.ID = "legacy-" + testRandomID(8) // not a time-ordered id
					}
					if err := tx.PutSession(s); err != nil {
						return err
					}
					live[s.ID] = s.ExpiresAt
				}
				for id := range live { // a few updates and deletions
					switch rng.IntN(40) {
					case 0:
						s, err := tx.Session(id)
						if err != nil {
							return err
						}
						s.RevokedAt = now // times of the lane unchanged
						if err := tx.PutSession(s); err != nil {
							return err
						}
					case 1:
						s, err := tx.Session(id)
						if err != nil {
							return err
						}
						if !s.ExpiresAt.IsZero() {
							s.ExpiresAt = s.ExpiresAt.Add(time.Duration(rng.IntN(2000)-1000) * time.Millisecond)
							live[id] = s.ExpiresAt
						}
						if err := tx.PutSession(s); err != nil {
							return err
						}
					case 2:
						if _, err := tx.deleteSession(tx.sessionKey(id)); err != nil {
							return err
						}
						delete(live, id)
					}
				}
				return nil
			})
			// Time moves on by nothing, microseconds, milliseconds or seconds,
			// so sweeps land inside the millisecond of an expiry too.
			now = now.Add([]time.Duration{0, time.Microsecond, time.Millisecond, time.Second}[rng.IntN(4)] * time.Duration(rng.IntN(1000)))
			if step%3 == 0 {
				if _, err := db.Sweep(t.Context(), now); err != nil {
					t.Fatal(err)
				}
				var want []string
				for id, exp := range live {
					if exp.IsZero() || exp.After(now) {
						want = append(want, id)
					} else {
						delete(live, id)
					}
				}
				sort.Strings(want)
				laned += inLane(t, db)
				if got := remainingSessions(t, db); !equalStrings(got, want) {
					t.Fatalf("seed %d step %d: %d sessions left, want %d", seed, step, len(got), len(want))
				}
			}
		}
		if laned == 0 {
			t.Errorf("seed %d: no session was ever in a lane", seed)
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestLaneSessionsNeedNoIndexAndLanesClose: sessions of one lifetime have
// no expiry index entry; a sweep in the middle of a millisecond removes
// the session of that millisecond that has expired and keeps the one that
// has not; once all are swept their lane closes.
func TestLaneSessionsNeedNoIndexAndLanesClose(t *testing.T) {
	db := openTestDB(t)
	base := t0.Truncate(time.Millisecond)
	boundary := base.Add(time.Minute)
	mustUpdate(t, db, func(tx *boltTx) error {
		for i := range 50 {
			if err := tx.PutSession(newLaneSession(base.Add(time.Duration(i)*time.Second), time.Hour)); err != nil {
				return err
			}
		}
		// Two started in one millisecond, early and late in it, the late
		// one keyed first.
		early := newLaneSession(boundary.Add(100*time.Microsecond), time.Hour)
		late := newLaneSession(boundary.Add(900*time.Microsecond), time.Hour)
		early.ID = early.ID[:12] + "_____________________w"
		late.ID = early.ID[:12] + "AAAAAAAAAAAAAAAAAAAAAA"
		return errors.Join(tx.PutSession(early), tx.PutSession(late))
	})
	if n := indexEntries(t, db); n != 0 {
		t.Fatalf("%d expiry index entries, want none", n)
	}
	removed, err := db.Sweep(t.Context(), boundary.Add(time.Hour+500*time.Microsecond))
	if err != nil {
		t.Fatal(err)
	}
	if left := remainingSessions(t, db); removed != 51 || len(left) != 1 {
		t.Fatalf("removed %d, left %d: want the 50 and the early one gone, the late one kept", removed, len(left))
	}
	lanes := func() []sessionLane {
		var lanes []sessionLane
		mustView(t, db, func(tx *boltTx) (err error) { lanes, err = tx.sessionLanes(); return err })
		return lanes
	}
	if l := lanes(); len(l) != 1 {
		t.Fatalf("%d lanes, want the one still holding a session", len(l))
	}
	if removed, err := db.Sweep(t.Context(), boundary.Add(time.Hour+time.Millisecond)); err != nil || removed != 1 {
		t.Fatalf("removed %d (%v), want the late one", removed, err)
	}
	if l := lanes(); len(l) != 0 || len(remainingSessions(t, db)) != 0 {
		t.Fatalf("%d lanes and %d sessions left, want none", len(l), len(remainingSessions(t, db)))
	}
}

// TestSessionIDsArePackedInKeys: a time-ordered session id is keyed by its
// 23-byte packed form; a session stored under its id in text, as before,
// still reads, updates in place, lists and deletes; any other id is its
// own key.
func TestSessionIDsArePackedInKeys(t *testing.T) {
	db := openTestDB(t)
	fresh := newLaneSession(t0, time.Hour)
	old := newLaneSession(t0.Add(time.Second), time.Hour)
	mustUpdate(t, db, func(tx *boltTx) error {
		if err := tx.PutSession(fresh); err != nil {
			return err
		}
		// Stored as before: under the id in text, version 3, indexed.
		if err := tx.PutSession(old); err != nil {
			return err
		}
		key, _ := packSessionID(old.ID)
		v := tx.raw(bucketSessions, key)
		return errors.Join(tx.del(bucketSessions, key), tx.btx.Bucket(bucketSessions).Put([]byte(old.ID), v),
			tx.btx.Bucket(bucketSessionExpiry).Put(expiryKey(old.ExpiresAt, []byte(old.ID)), nil))
	})
	mustView(t, db, func(tx *boltTx) error {
		key, ok := packSessionID(fresh.ID)
		if !ok || len(key) != packedSessionKeyLen || tx.raw(bucketSessions, key) == nil || sessionIDOf(key) != fresh.ID {
			t.Errorf("session %q not under its packed key", fresh.ID)
		}
		return nil
	})
	mustUpdate(t, db, func(tx *boltTx) error {
		s, err := tx.Session(old.ID)
		if err != nil {
			return err
		}
		s.RevokedAt = t0.Add(time.Minute)
		if err := tx.PutSession(s); err != nil {
			return err
		}
		if tx.raw(bucketSessions, []byte(old.ID)) == nil {
			t.Error("the session stored under its id in text moved")
		}
		list, err := tx.SessionsByUser(old.UserID)
		if err != nil || len(list) != 1 || !list[0].RevokedAt.Equal(s.RevokedAt) {
			t.Errorf("listed %+v (%v)", list, err)
		}
		return err
	})
	if removed, err := db.Sweep(t.Context(), t0.Add(2*time.Hour)); err != nil || removed != 2 {
		t.Fatalf("swept %d (%v), want both", removed, err)
	}
	if left := remainingSessions(t, db); len(left) != 0 {
		t.Fatalf("left %v", left)
	}
	mustUpdate(t, db, func(tx *boltTx) error { return tx.PutSession(&Session{ID: "ses-1", UserID: "u"}) })
	mustView(t, db, func(tx *boltTx) error {
		if tx.raw(bucketSessions, []byte("ses-1")) == nil {
			t.Error("an id of another form is not its own key")
		}
		return nil
	})
}

// TestASessionIDThatSpellsAPackedKeyFindsNothing: an id from a client that
// starts with a zero byte could spell another session's packed key; it is
// refused when stored and finds nothing when looked up.
func TestASessionIDThatSpellsAPackedKeyFindsNothing(t *testing.T) {
	db := openTestDB(t)
	s := newLaneSession(t0, time.Hour)
	mustUpdate(t, db, func(tx *boltTx) error { return tx.PutSession(s) })
	key, _ := packSessionID(s.ID)
	mustView(t, db, func(tx *boltTx) error {
		if got, err := tx.Session(string(key)); err == nil {
			t.Errorf("the id %q found session %q", key, got.ID)
		}
		return nil
	})
	err := db.Update(t.Context(), func(tx Tx) error {
		return tx.PutSession(&Session{ID: string(key), UserID: "u1", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)})
	})
	if err == nil {
		t.Error("a session id starting with a zero byte was stored")
	}
}

// TestLaneSweepsSessionsBeyondNanosecondTimes: a session whose times are
// past what Unix nanoseconds hold (stored clamped) joins no lane, so it is
// still swept through its expiry index entry.
func TestLaneSweepsSessionsBeyondNanosecondTimes(t *testing.T) {
	db := openTestDB(t)
	at := time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
	mustUpdate(t, db, func(tx *boltTx) error { return tx.PutSession(newLaneSession(at, time.Hour)) })
	db.sessions = memo[sessionRecord]{} // read it as stored
	if n, err := db.Sweep(t.Context(), at.Add(2*time.Hour)); err != nil || n != 1 {
		t.Errorf("swept %d (%v), want 1", n, err)
	}
}

// TestAnUnreadableSessionStopsNoSweep: a session record this code cannot
// read (damaged, or from a later version) in a lane's way is passed over:
// the sweep still removes what has expired, that lane's members and the
// other kinds of records.
func TestAnUnreadableSessionStopsNoSweep(t *testing.T) {
	db := openTestDB(t)
	member := newLaneSession(t0, time.Hour)
	unreadable := &Session{ID: testOrderedID(t0.Add(-time.Second)), UserID: "u2", CreatedAt: t0.Add(-time.Second)}
	later := newLaneSession(t0.Add(time.Second), time.Hour)
	mustUpdate(t, db, func(tx *boltTx) error {
		key, _ := packSessionID(unreadable.ID)
		return errors.Join(tx.PutSession(member), tx.PutSession(unreadable), tx.PutSession(later),
			tx.PutCeremony(&Ceremony{ID: "c1", Kind: "k", ExpiresAt: t0.Add(time.Minute)}),
			tx.btx.Bucket(bucketSessions).Put(key, []byte{sessionVersion + 1, 0}))
	})
	n, err := db.Sweep(t.Context(), t0.Add(2*time.Hour))
	if err != nil || n != 3 {
		t.Fatalf("swept %d (%v), want the two members and the ceremony", n, err)
	}
	if left := remainingSessions(t, db); len(left) != 1 || left[0] != unreadable.ID {
		t.Errorf("left %v, want only the unreadable record", left)
	}
}

// TestLaneSweepPassesManySessionsOfItsBoundaryMillisecond: a live member
// at the lane's cursor and a thousand sessions of other kinds in its
// millisecond do not keep the sweep from a member of that millisecond
// that has expired.
func TestLaneSweepPassesManySessionsOfItsBoundaryMillisecond(t *testing.T) {
	db := openTestDB(t)
	ms := t0.Truncate(time.Millisecond)
	prefix := testOrderedID(ms)[:12]
	live := newLaneSession(ms.Add(900*time.Microsecond), time.Hour)
	live.ID = prefix + "AAAAAAAAAAAAAAAAAAAAAA"
	expired := newLaneSession(ms.Add(100*time.Microsecond), time.Hour)
	expired.ID = prefix + "_____________________w"
	mustUpdate(t, db, func(tx *boltTx) error {
		if err := tx.PutSession(live); err != nil {
			return err
		}
		for range sweepChunk {
			if err := tx.PutSession(&Session{ID: prefix + testRandomID(16), UserID: "u", CreatedAt: ms}); err != nil {
				return err
			}
		}
		return tx.PutSession(expired)
	})
	now := ms.Add(time.Hour + 500*time.Microsecond)
	if _, err := db.Sweep(t.Context(), now); err != nil {
		t.Fatal(err)
	}
	mustView(t, db, func(tx *boltTx) error {
		if _, err := tx.Session(expired.ID); err == nil {
			t.Errorf("a session that expired at %v is left after Sweep(%v)", expired.ExpiresAt, now)
		}
		if _, err := tx.Session(live.ID); err != nil {
			t.Errorf("the live member is gone: %v", err)
		}
		return nil
	})
}
