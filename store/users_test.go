package store

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestUserRoundTrip(t *testing.T) {
	db := openTestDB(t)
	want := User{ID: "u1", Handle: []byte{1, 2, 3}, Username: "alice", DisplayName: "Alice A.", CreatedAt: t0, Disabled: true, Groups: []string{"admins", "staff"}}
	mustUpdate(t, db, func(tx *boltTx) error { return tx.PutUser(&want) })
	mustView(t, db, func(tx *boltTx) error {
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
	mustView(t, db, func(tx *boltTx) error {
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
			mustUpdate(t, db, func(tx *boltTx) error {
				return tx.PutUser(&User{ID: "u1", Handle: []byte("h1"), Username: "alice"})
			})
			err := db.Update(t.Context(), func(tx Tx) error { return tx.PutUser(&tt.put) })
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("PutUser err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestPutUserRenameMovesIndexes(t *testing.T) {
	db := openTestDB(t)
	mustUpdate(t, db, func(tx *boltTx) error {
		return tx.PutUser(&User{ID: "u1", Handle: []byte("h1"), Username: "alice"})
	})
	mustUpdate(t, db, func(tx *boltTx) error {
		return tx.PutUser(&User{ID: "u1", Handle: []byte("h9"), Username: "alicia"})
	})
	mustView(t, db, func(tx *boltTx) error {
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
	mustUpdate(t, db, func(tx *boltTx) error {
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
			if err := db.Update(t.Context(), func(tx Tx) error { return tx.PutUser(&tt.user) }); err == nil {
				t.Fatal("PutUser accepted an invalid user")
			}
		})
	}
}

func TestUsersAreOrderedByUsername(t *testing.T) {
	db := openTestDB(t)
	mustUpdate(t, db, func(tx *boltTx) error {
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
	mustView(t, db, func(tx *boltTx) error {
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

// A user whose handle is its own id is found by that handle without a
// handle index entry; one with a separate random handle (as earlier
// versions made) is still found through the index.
func TestOwnIDHandles(t *testing.T) {
	db := openTestDB(t)
	mustUpdate(t, db, func(tx *boltTx) error {
		return errors.Join(
			tx.PutUser(&User{ID: "u-own", Handle: []byte("u-own"), Username: "own"}),
			tx.PutUser(&User{ID: "u-idx", Handle: []byte{9, 9, 9}, Username: "indexed"}),
		)
	})
	mustView(t, db, func(tx *boltTx) error {
		if n := tx.btx.Bucket(bucketHandles).Stats().KeyN; n != 1 {
			t.Errorf("handle index has %d entries, want 1 (the separate handle only)", n)
		}
		for handle, want := range map[string]string{"u-own": "u-own", "\x09\x09\x09": "u-idx"} {
			if u, err := tx.UserByHandle([]byte(handle)); err != nil || u.ID != want {
				t.Errorf("UserByHandle(%q) = %v, %v; want %s", handle, u, err, want)
			}
		}
		// The id of a user whose handle is something else is no handle.
		if u, err := tx.UserByHandle([]byte("u-idx")); !errors.Is(err, ErrNotFound) {
			t.Errorf("another user's id resolved as a handle: %v, %v", u, err)
		}
		return nil
	})
	tests := []struct {
		name string
		user User
	}{
		{"a separate handle equal to an own-id handle", User{ID: "u3", Handle: []byte("u-own"), Username: "third"}},
		{"an own-id handle already indexed for another user", User{ID: "\x09\x09\x09", Handle: []byte("\x09\x09\x09"), Username: "fourth"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := db.Update(t.Context(), func(tx Tx) error { return tx.PutUser(&tt.user) })
			if !errors.Is(err, ErrHandleTaken) {
				t.Fatalf("err = %v, want ErrHandleTaken", err)
			}
		})
	}
	// Moving a user from a separate handle to its own id drops the entry.
	mustUpdate(t, db, func(tx *boltTx) error {
		return tx.PutUser(&User{ID: "u-idx", Handle: []byte("u-idx"), Username: "indexed"})
	})
	mustView(t, db, func(tx *boltTx) error {
		if n := tx.btx.Bucket(bucketHandles).Stats().KeyN; n != 0 {
			t.Errorf("handle index has %d entries, want 0", n)
		}
		if u, err := tx.UserByHandle([]byte("u-idx")); err != nil || u.ID != "u-idx" {
			t.Errorf("UserByHandle after the move: %v, %v", u, err)
		}
		return nil
	})
}

// TestDeleteUserRemovesTheWholeAccount deletes one of two accounts whose
// ids share a prefix ("u1", "u10") and checks that everything of the one
// is gone, its username and credential ids are free again, and the other
// is untouched.
func TestDeleteUserRemovesTheWholeAccount(t *testing.T) {
	db := openTestDB(t)
	mustUpdate(t, db, func(tx *boltTx) error {
		for _, u := range []*User{
			{ID: "u1", Handle: []byte("legacy-handle"), Username: "alice"},
			{ID: "u10", Handle: []byte("u10"), Username: "bob"},
		} {
			if err := tx.PutUser(u); err != nil {
				return err
			}
			for _, c := range []string{"a", "b"} {
				if err := tx.PutCredential(&Credential{ID: []byte(u.ID + c), UserID: u.ID}); err != nil {
					return err
				}
			}
			if err := tx.PutSession(&Session{ID: "s-" + u.ID, UserID: u.ID, ExpiresAt: t0.Add(time.Hour)}); err != nil {
				return err
			}
			if err := tx.PutTOTP(&TOTP{UserID: u.ID, Secret: []byte("seed")}); err != nil {
				return err
			}
		}
		return nil
	})
	mustUpdate(t, db, func(tx *boltTx) error { return tx.DeleteUser("u1") })

	mustView(t, db, func(tx *boltTx) error {
		gone := map[string]error{}
		_, gone["user"] = tx.User("u1")
		_, gone["by username"] = tx.UserByUsername("alice")
		_, gone["by handle"] = tx.UserByHandle([]byte("legacy-handle"))
		_, gone["credential"] = tx.Credential([]byte("u1a"))
		_, gone["session"] = tx.Session("s-u1")
		_, gone["totp"] = tx.TOTP("u1")
		for what, err := range gone {
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("%s of the deleted account: %v, want ErrNotFound", what, err)
			}
		}
		if creds, err := tx.CredentialsByUser("u1"); err != nil || len(creds) != 0 {
			t.Errorf("credentials left: %v %v", creds, err)
		}
		if s, err := tx.SessionsByUser("u1"); err != nil || len(s) != 0 {
			t.Errorf("sessions left: %v %v", s, err)
		}
		if users, err := tx.Users(); err != nil || len(users) != 1 || users[0].ID != "u10" {
			t.Errorf("users left: %v %v", users, err)
		}
		// The other account, whose id starts with the deleted one's.
		if creds, err := tx.CredentialsByUser("u10"); err != nil || len(creds) != 2 {
			t.Errorf("bob's credentials: %v %v", creds, err)
		}
		if s, err := tx.SessionsByUser("u10"); err != nil || len(s) != 1 {
			t.Errorf("bob's sessions: %v %v", s, err)
		}
		if _, err := tx.TOTP("u10"); err != nil {
			t.Errorf("bob's TOTP: %v", err)
		}
		return nil
	})

	// The username, handle and credential ids may be taken again.
	mustUpdate(t, db, func(tx *boltTx) error {
		if err := tx.PutUser(&User{ID: "u2", Handle: []byte("legacy-handle"), Username: "alice"}); err != nil {
			return err
		}
		return tx.PutCredential(&Credential{ID: []byte("u1a"), UserID: "u2"})
	})
	mustUpdate(t, db, func(tx *boltTx) error {
		if err := tx.DeleteUser("u1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("deleting again: %v, want ErrNotFound", err)
		}
		// A write that lost a race with the deletion leaves nothing behind.
		if err := tx.PutCredential(&Credential{ID: []byte("late"), UserID: "u1"}); !errors.Is(err, ErrNotFound) {
			t.Errorf("a passkey for the deleted account: %v, want ErrNotFound", err)
		}
		if err := tx.PutTOTP(&TOTP{UserID: "u1", Secret: []byte("seed")}); !errors.Is(err, ErrNotFound) {
			t.Errorf("a TOTP factor for the deleted account: %v, want ErrNotFound", err)
		}
		return nil
	})
}

// TestUserRecordsWithoutGroupsStillRead: a binary user record written
// before groups existed ends after Disabled and reads with no groups.
func TestUserRecordsWithoutGroupsStillRead(t *testing.T) {
	rec := userRecord{header: current(), User: User{ID: "u1", Handle: []byte("u1"), Username: "alice", CreatedAt: t0, Groups: []string{"g"}}}
	full := rec.appendBinary([]byte{binaryVersion})
	old := full[:len(full)-3] // the groups: a count and one 1-byte string
	var got userRecord
	if err := decodeAt(accountKey("u1"), old, &got); err != nil {
		t.Fatal(err)
	}
	if got.Username != "alice" || got.Groups != nil {
		t.Fatalf("old record: %+v", got.User)
	}
	if err := decodeAt(accountKey("u1"), full, &got); err != nil || !reflect.DeepEqual(got.Groups, []string{"g"}) {
		t.Fatalf("new record: %+v %v", got.User, err)
	}
}
