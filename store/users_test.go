package store

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestUserRoundTrip(t *testing.T) {
	db := openTestDB(t)
	want := User{ID: "u1", Handle: []byte{1, 2, 3}, Username: "alice", DisplayName: "Alice A.", CreatedAt: t0, Disabled: true}
	mustUpdate(t, db, func(tx *Tx) error { return tx.PutUser(&want) })
	mustView(t, db, func(tx *Tx) error {
		lookups := []struct {
			name string
			get  func() (*User, error)
		}{
			{"by id", func() (*User, error) { return tx.User("u1") }},
			{"by username", func() (*User, error) { return tx.UserByUsername("alice") }},
			{"by handle", func() (*User, error) { return tx.UserByHandle([]byte{1, 2, 3}) }},
		}
		for _, l := range lookups {
			got, err := l.get()
			if err != nil {
				t.Errorf("%s: %v", l.name, err)
				continue
			}
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("%s: got %+v, want %+v", l.name, *got, want)
			}
		}
		return nil
	})
}

func TestUserLookupsOfUnknownKeysAreNotFound(t *testing.T) {
	db := openTestDB(t)
	mustView(t, db, func(tx *Tx) error {
		tests := []struct {
			name string
			err  error
		}{
			{"unknown id", second(tx.User("nobody"))},
			{"empty id", second(tx.User(""))},
			{"oversized id", second(tx.User(strings.Repeat("x", 70000)))},
			{"unknown username", second(tx.UserByUsername("nobody"))},
			{"unknown handle", second(tx.UserByHandle([]byte("nobody")))},
			{"empty handle", second(tx.UserByHandle(nil))},
		}
		for _, tt := range tests {
			if !errors.Is(tt.err, ErrNotFound) {
				t.Errorf("%s: err = %v, want ErrNotFound", tt.name, tt.err)
			}
		}
		return nil
	})
}

// second returns the error of a two-value call.
func second[T any](_ T, err error) error { return err }

func TestPutUserUniqueness(t *testing.T) {
	tests := []struct {
		name string
		put  User
		want error
	}{
		{"another user's username is taken", User{ID: "u2", Handle: []byte("h2"), Username: "alice"}, ErrUsernameTaken},
		{"another user's handle is taken", User{ID: "u2", Handle: []byte("h1"), Username: "bob"}, ErrHandleTaken},
		{"the same user may keep its username", User{ID: "u1", Handle: []byte("h1"), Username: "alice", DisplayName: "new"}, nil},
		{"a fresh username and handle are accepted", User{ID: "u2", Handle: []byte("h2"), Username: "bob"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTestDB(t)
			mustUpdate(t, db, func(tx *Tx) error {
				return tx.PutUser(&User{ID: "u1", Handle: []byte("h1"), Username: "alice"})
			})
			err := db.Update(t.Context(), func(tx *Tx) error { return tx.PutUser(&tt.put) })
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("PutUser err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestPutUserRenameMovesIndexes(t *testing.T) {
	db := openTestDB(t)
	mustUpdate(t, db, func(tx *Tx) error {
		return tx.PutUser(&User{ID: "u1", Handle: []byte("h1"), Username: "alice"})
	})
	mustUpdate(t, db, func(tx *Tx) error {
		return tx.PutUser(&User{ID: "u1", Handle: []byte("h9"), Username: "alicia"})
	})
	mustView(t, db, func(tx *Tx) error {
		if _, err := tx.UserByUsername("alice"); !errors.Is(err, ErrNotFound) {
			t.Errorf("old username still resolves: %v", err)
		}
		if _, err := tx.UserByHandle([]byte("h1")); !errors.Is(err, ErrNotFound) {
			t.Errorf("old handle still resolves: %v", err)
		}
		if u, err := tx.UserByUsername("alicia"); err != nil || u.ID != "u1" {
			t.Errorf("new username: %v %v", u, err)
		}
		return nil
	})
	// The freed username is available to someone else.
	mustUpdate(t, db, func(tx *Tx) error {
		return tx.PutUser(&User{ID: "u2", Handle: []byte("h2"), Username: "alice"})
	})
}

func TestPutUserRejectsInvalidRecords(t *testing.T) {
	tests := []struct {
		name string
		user User
	}{
		{"missing id", User{Handle: []byte("h"), Username: "a"}},
		{"missing username", User{ID: "u", Handle: []byte("h")}},
		{"missing handle", User{ID: "u", Username: "a"}},
		{"oversized username", User{ID: "u", Handle: []byte("h"), Username: strings.Repeat("a", maxKeyLen+1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTestDB(t)
			if err := db.Update(t.Context(), func(tx *Tx) error { return tx.PutUser(&tt.user) }); err == nil {
				t.Fatal("PutUser accepted an invalid user")
			}
		})
	}
}

func TestUsersAreOrderedByUsername(t *testing.T) {
	db := openTestDB(t)
	mustUpdate(t, db, func(tx *Tx) error {
		for _, u := range []User{
			{ID: "1", Handle: []byte("1"), Username: "carol"},
			{ID: "2", Handle: []byte("2"), Username: "alice"},
			{ID: "3", Handle: []byte("3"), Username: "bob"},
		} {
			if err := tx.PutUser(&u); err != nil {
				return err
			}
		}
		return nil
	})
	mustView(t, db, func(tx *Tx) error {
		users, err := tx.Users()
		if err != nil {
			return err
		}
		var names []string
		for _, u := range users {
			names = append(names, u.Username)
		}
		if got := strings.Join(names, ","); got != "alice,bob,carol" {
			t.Errorf("Users order = %s", got)
		}
		return nil
	})
}
