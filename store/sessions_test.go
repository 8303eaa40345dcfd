package store

import (
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
	mustUpdate(t, db, func(tx *Tx) error { return tx.PutSession(&want) })
	mustView(t, db, func(tx *Tx) error {
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
	mustUpdate(t, db, func(tx *Tx) error {
		return tx.PutSession(&Session{ID: "s", UserID: "u", CreatedAt: local})
	})
	mustView(t, db, func(tx *Tx) error {
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
	mustUpdate(t, db, func(tx *Tx) error {
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
	mustView(t, db, func(tx *Tx) error {
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
