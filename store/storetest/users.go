package storetest

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/latchid/latch/store"
)

// maxKeyLen is the longest identifier every store accepts as a key.
const maxKeyLen = 1024

func testUsers(t *testing.T, open opener) {
	cases(t, open, map[string]func(t *testing.T, s store.Store){
		"RoundTrip":                             userRoundTrip,
		"UnknownKeysAreNotFound":                userUnknownKeys,
		"RenameMovesIndexes":                    userRename,
		"UsersAreOrderedByUsername":             usersOrdered,
		"OwnIDHandles":                          userOwnIDHandles,
		"DeleteUserRemovesTheAccount":           deleteUserCascade,
		"DeleteUserTakesEverythingOfTheAccount": deleteUserEverything,
		"UpdateWithoutChangeKeepsUser":          userPutAgain,
	})
	t.Run("Uniqueness", func(t *testing.T) { userUniqueness(t, open) })
	t.Run("RejectsInvalidRecords", func(t *testing.T) { userInvalid(t, open) })
}

func userRoundTrip(t *testing.T, s store.Store) {
	want := store.User{ID: "u1", Handle: []byte{1, 2, 3}, Username: "alice", DisplayName: "Alice A.", CreatedAt: T0, Disabled: true, Groups: []string{"admins", "staff"}}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.PutUser(&want) })
	mustView(t, s, func(tx store.Tx) error {
		lookups := []struct {
			name string
			get  func() (*store.User, error)
		}{
			{"by id", func() (*store.User, error) { return tx.User("u1") }},
			{"by username", func() (*store.User, error) { return tx.UserByUsername("alice") }},
			{"by handle", func() (*store.User, error) { return tx.UserByHandle([]byte{1, 2, 3}) }},
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
		users, err := tx.Users()
		if err != nil || len(users) != 1 || !reflect.DeepEqual(users[0], want) {
			t.Errorf("Users = %+v, %v; want [%+v]", users, err, want)
		}
		return nil
	})
}

func userUnknownKeys(t *testing.T, s store.Store) {
	mustView(t, s, func(tx store.Tx) error {
		tests := []struct {
			name string
			err  error
		}{
			{"unknown id", second(tx.User("nobody"))},
			{"empty id", second(tx.User(""))},
			{"oversized id", second(tx.User(strings.Repeat("x", 70000)))},
			{"unknown username", second(tx.UserByUsername("nobody"))},
			{"empty username", second(tx.UserByUsername(""))},
			{"unknown handle", second(tx.UserByHandle([]byte("nobody")))},
			{"empty handle", second(tx.UserByHandle(nil))},
		}
		for _, tt := range tests {
			if !errors.Is(tt.err, store.ErrNotFound) {
				t.Errorf("%s: err = %v, want ErrNotFound", tt.name, tt.err)
			}
		}
		if users, err := tx.Users(); err != nil || len(users) != 0 {
			t.Errorf("Users of an empty store = %v, %v", users, err)
		}
		return nil
	})
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.DeleteUser("nobody"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("DeleteUser of an unknown id: %v, want ErrNotFound", err)
		}
		return nil
	})
}

func userUniqueness(t *testing.T, open opener) {
	tests := []struct {
		name string
		put  store.User
		want error
	}{
		{"another user's username is taken", store.User{ID: "u2", Handle: []byte("h2"), Username: "alice"}, store.ErrUsernameTaken},
		{"another user's handle is taken", store.User{ID: "u2", Handle: []byte("h1"), Username: "bob"}, store.ErrHandleTaken},
		{"the same user may keep its username", store.User{ID: "u1", Handle: []byte("h1"), Username: "alice", DisplayName: "new"}, nil},
		{"a fresh username and handle are accepted", store.User{ID: "u2", Handle: []byte("h2"), Username: "bob"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			mustUpdate(t, s, func(tx store.Tx) error {
				return tx.PutUser(&store.User{ID: "u1", Handle: []byte("h1"), Username: "alice"})
			})
			err := s.Update(t.Context(), func(tx store.Tx) error { return tx.PutUser(&tt.put) })
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("PutUser err = %v, want %v", err, tt.want)
			}
			// A refused PutUser leaves the first account as it was.
			mustView(t, s, func(tx store.Tx) error {
				u, err := tx.UserByUsername("alice")
				if err != nil || u.ID != "u1" {
					t.Errorf("alice after the put: %+v, %v", u, err)
				}
				if tt.want != nil {
					if _, err := tx.User("u2"); !errors.Is(err, store.ErrNotFound) {
						t.Errorf("a refused user was stored: %v", err)
					}
				}
				return nil
			})
		})
	}
}

func userRename(t *testing.T, s store.Store) {
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.PutUser(&store.User{ID: "u1", Handle: []byte("h1"), Username: "alice"})
	})
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.PutUser(&store.User{ID: "u1", Handle: []byte("h9"), Username: "alicia"})
	})
	mustView(t, s, func(tx store.Tx) error {
		if _, err := tx.UserByUsername("alice"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("old username still resolves: %v", err)
		}
		if _, err := tx.UserByHandle([]byte("h1")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("old handle still resolves: %v", err)
		}
		if u, err := tx.UserByUsername("alicia"); err != nil || u.ID != "u1" {
			t.Errorf("new username: %v %v", u, err)
		}
		if u, err := tx.UserByHandle([]byte("h9")); err != nil || u.ID != "u1" {
			t.Errorf("new handle: %v %v", u, err)
		}
		return nil
	})
	// The freed username and handle are available to someone else.
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.PutUser(&store.User{ID: "u2", Handle: []byte("h1"), Username: "alice"})
	})
}

func userPutAgain(t *testing.T, s store.Store) {
	u := store.User{ID: "u1", Handle: []byte("h1"), Username: "alice", CreatedAt: T0}
	for range 3 {
		mustUpdate(t, s, func(tx store.Tx) error { return tx.PutUser(&u) })
	}
	mustView(t, s, func(tx store.Tx) error {
		users, err := tx.Users()
		if err != nil || len(users) != 1 || !reflect.DeepEqual(users[0], u) {
			t.Errorf("Users after three puts = %+v, %v", users, err)
		}
		return nil
	})
}

func userInvalid(t *testing.T, open opener) {
	tests := []struct {
		name string
		user store.User
	}{
		{"missing id", store.User{Handle: []byte("h"), Username: "a"}},
		{"missing username", store.User{ID: "u", Handle: []byte("h")}},
		{"missing handle", store.User{ID: "u", Username: "a"}},
		{"oversized id", store.User{ID: strings.Repeat("u", maxKeyLen+1), Handle: []byte("h"), Username: "a"}},
		{"oversized username", store.User{ID: "u", Handle: []byte("h"), Username: strings.Repeat("a", maxKeyLen+1)}},
		{"oversized handle", store.User{ID: "u", Handle: []byte(strings.Repeat("h", maxKeyLen+1)), Username: "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			if err := s.Update(t.Context(), func(tx store.Tx) error { return tx.PutUser(&tt.user) }); err == nil {
				t.Fatal("PutUser accepted an invalid user")
			}
			mustView(t, s, func(tx store.Tx) error {
				if users, err := tx.Users(); err != nil || len(users) != 0 {
					t.Errorf("an invalid user was stored: %v, %v", users, err)
				}
				return nil
			})
		})
	}
}

func usersOrdered(t *testing.T, s store.Store) {
	mustUpdate(t, s, func(tx store.Tx) error {
		for _, u := range []store.User{
			{ID: "1", Handle: []byte("1"), Username: "carol"},
			{ID: "2", Handle: []byte("2"), Username: "alice"},
			{ID: "3", Handle: []byte("3"), Username: "bob"},
			// Byte order, not a locale's collation.
			{ID: "4", Handle: []byte("4"), Username: "Zoe"},
			{ID: "5", Handle: []byte("5"), Username: "émile"},
			{ID: "6", Handle: []byte("6"), Username: "Bob"},
			{ID: "7", Handle: []byte("7"), Username: "alice2"},
		} {
			if err := tx.PutUser(&u); err != nil {
				return err
			}
		}
		return nil
	})
	mustView(t, s, func(tx store.Tx) error {
		users, err := tx.Users()
		if err != nil {
			return err
		}
		var names []string
		for _, u := range users {
			names = append(names, u.Username)
		}
		if got := strings.Join(names, ","); got != "Bob,Zoe,alice,alice2,bob,carol,émile" {
			t.Errorf("Users order = %s", got)
		}
		return nil
	})
}

// A user whose handle is its own id is found by that handle, and so is one
// with a separate random handle (as earlier versions made); a handle names
// one user only, whichever way it is kept.
func userOwnIDHandles(t *testing.T, s store.Store) {
	mustUpdate(t, s, func(tx store.Tx) error {
		return errors.Join(
			tx.PutUser(&store.User{ID: "u-own", Handle: []byte("u-own"), Username: "own"}),
			tx.PutUser(&store.User{ID: "u-idx", Handle: []byte{9, 9, 9}, Username: "indexed"}),
		)
	})
	mustView(t, s, func(tx store.Tx) error {
		for handle, want := range map[string]string{"u-own": "u-own", "\x09\x09\x09": "u-idx"} {
			if u, err := tx.UserByHandle([]byte(handle)); err != nil || u.ID != want {
				t.Errorf("UserByHandle(%q) = %v, %v; want %s", handle, u, err, want)
			}
		}
		// The id of a user whose handle is something else is no handle.
		if u, err := tx.UserByHandle([]byte("u-idx")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("another user's id resolved as a handle: %v, %v", u, err)
		}
		return nil
	})
	tests := []struct {
		name string
		user store.User
	}{
		{"a separate handle equal to an own-id handle", store.User{ID: "u3", Handle: []byte("u-own"), Username: "third"}},
		{"an own-id handle already indexed for another user", store.User{ID: "\x09\x09\x09", Handle: []byte("\x09\x09\x09"), Username: "fourth"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Update(t.Context(), func(tx store.Tx) error { return tx.PutUser(&tt.user) })
			if !errors.Is(err, store.ErrHandleTaken) {
				t.Fatalf("err = %v, want ErrHandleTaken", err)
			}
		})
	}
	// Moving a user from a separate handle to its own id frees the old one.
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.PutUser(&store.User{ID: "u-idx", Handle: []byte("u-idx"), Username: "indexed"})
	})
	mustView(t, s, func(tx store.Tx) error {
		if u, err := tx.UserByHandle([]byte("u-idx")); err != nil || u.ID != "u-idx" {
			t.Errorf("UserByHandle after the move: %v, %v", u, err)
		}
		if _, err := tx.UserByHandle([]byte{9, 9, 9}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the old handle after the move: %v, want ErrNotFound", err)
		}
		return nil
	})
}

// deleteUserCascade deletes one of two accounts whose ids share a prefix
// ("u1", "u10") and checks that everything of the one is gone, its
// username, handle and credential ids are free again, and the other is
// untouched.
func deleteUserCascade(t *testing.T, s store.Store) {
	mustUpdate(t, s, func(tx store.Tx) error {
		for _, u := range []*store.User{
			{ID: "u1", Handle: []byte("legacy-handle"), Username: "alice"},
			{ID: "u10", Handle: []byte("u10"), Username: "bob"},
		} {
			if err := tx.PutUser(u); err != nil {
				return err
			}
			for _, c := range []string{"a", "b"} {
				if err := tx.PutCredential(&store.Credential{ID: []byte(u.ID + c), UserID: u.ID}); err != nil {
					return err
				}
			}
			if err := tx.PutSession(&store.Session{ID: "s-" + u.ID, UserID: u.ID, ExpiresAt: T0.Add(time.Hour)}); err != nil {
				return err
			}
			if err := tx.PutTOTP(&store.TOTP{UserID: u.ID, Secret: []byte("seed")}); err != nil {
				return err
			}
		}
		return nil
	})
	mustUpdate(t, s, func(tx store.Tx) error { return tx.DeleteUser("u1") })

	mustView(t, s, func(tx store.Tx) error {
		gone := map[string]error{}
		_, gone["user"] = tx.User("u1")
		_, gone["by username"] = tx.UserByUsername("alice")
		_, gone["by handle"] = tx.UserByHandle([]byte("legacy-handle"))
		_, gone["credential a"] = tx.Credential([]byte("u1a"))
		_, gone["credential b"] = tx.Credential([]byte("u1b"))
		_, gone["session"] = tx.Session("s-u1")
		_, gone["totp"] = tx.TOTP("u1")
		_, gone["totp status"] = tx.TOTPStatus("u1")
		for what, err := range gone {
			if !errors.Is(err, store.ErrNotFound) {
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
		if u, err := tx.UserByUsername("bob"); err != nil || u.ID != "u10" {
			t.Errorf("bob: %v %v", u, err)
		}
		return nil
	})

	// The username, handle and credential ids may be taken again.
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.PutUser(&store.User{ID: "u2", Handle: []byte("legacy-handle"), Username: "alice"}); err != nil {
			return err
		}
		return tx.PutCredential(&store.Credential{ID: []byte("u1a"), UserID: "u2"})
	})
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.DeleteUser("u1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleting again: %v, want ErrNotFound", err)
		}
		// A write that lost a race with the deletion leaves nothing behind.
		if err := tx.PutCredential(&store.Credential{ID: []byte("late"), UserID: "u1"}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a passkey for the deleted account: %v, want ErrNotFound", err)
		}
		if err := tx.PutTOTP(&store.TOTP{UserID: "u1", Secret: []byte("seed")}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a TOTP factor for the deleted account: %v, want ErrNotFound", err)
		}
		return nil
	})
	mustView(t, s, func(tx store.Tx) error {
		if _, err := tx.Credential([]byte("late")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the late passkey: %v, want ErrNotFound", err)
		}
		return nil
	})
}

// deleteUserEverything gives an account one of everything kept under it,
// and checks that DeleteUser takes all of it and leaves what is not the
// account's: the blacklist, the audit log, the clients, another account.
func deleteUserEverything(t *testing.T, s store.Store) {
	putUsers(t, s, "u", "v")
	for _, id := range []string{"u", "v"} {
		mustUpdate(t, s, func(tx store.Tx) error {
			return errors.Join(
				tx.PutCredential(&store.Credential{ID: []byte("cred-" + id), UserID: id}),
				tx.PutTOTP(&store.TOTP{UserID: id, Secret: []byte("seed")}),
				tx.PutRecoveryCodes(&store.RecoveryCodes{UserID: id, Hashes: [][]byte{[]byte("h")}}),
				tx.PutSignInFailures(&store.SignInFailures{UserID: id, Failures: 2}),
				tx.PutConsent(&store.Consent{UserID: id, ClientID: "app", Scopes: []string{"openid"}, GrantedAt: T0}),
				tx.PutSession(&store.Session{ID: "ses-" + id, UserID: id, CreatedAt: T0, ExpiresAt: T0.Add(time.Hour)}),
				tx.PutSession(&store.Session{ID: "app-" + id, UserID: id, CreatedAt: T0, ExpiresAt: T0.Add(time.Hour), LoginSID: "ses-" + id}),
				tx.PutRevoked("sid:ses-"+id, T0.Add(time.Hour)),
				tx.AppendAudit(&store.AuditEvent{Time: T0, Type: "signin", UserID: id}),
			)
		})
	}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.PutClient(&store.Client{ID: "app"}) })
	mustUpdate(t, s, func(tx store.Tx) error { return tx.DeleteUser("u") })
	mustView(t, s, func(tx store.Tx) error {
		for what, err := range map[string]error{
			"user":          second(tx.User("u")),
			"by username":   second(tx.UserByUsername("u:u")),
			"by handle":     second(tx.UserByHandle([]byte("u"))),
			"credential":    second(tx.Credential([]byte("cred-u"))),
			"TOTP":          second(tx.TOTP("u")),
			"recovery":      second(tx.RecoveryCodes("u")),
			"consent":       second(tx.Consent("u", "app")),
			"login session": second(tx.Session("ses-u")),
			"app session":   second(tx.Session("app-u")),
		} {
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s of the deleted account: %v, want ErrNotFound", what, err)
			}
		}
		if f, err := tx.SignInFailures("u"); err != nil || f.Failures != 0 {
			t.Errorf("sign-in failures of the deleted account: %+v, %v", f, err)
		}
		if c, err := tx.Consents("u"); err != nil || len(c) != 0 {
			t.Errorf("consents of the deleted account: %+v, %v", c, err)
		}
		// What is not the account's stays.
		if all, err := tx.Revoked(T0); err != nil || len(all) != 2 {
			t.Errorf("the blacklist after the deletion: %v, %v; want both entries", all, err)
		}
		if events, err := tx.AuditEvents(0); err != nil || len(events) != 2 {
			t.Errorf("the audit log after the deletion: %v, %v; want both events", events, err)
		}
		if c, err := tx.VerifyAudit(); err != nil || c.Break != nil || c.Events != 2 {
			t.Errorf("the audit chain after the deletion: %+v, %v", c, err)
		}
		if _, err := tx.Client("app"); err != nil {
			t.Errorf("the client after the deletion: %v", err)
		}
		// The other account is whole.
		for what, err := range map[string]error{
			"user":       second(tx.User("v")),
			"credential": second(tx.Credential([]byte("cred-v"))),
			"TOTP":       second(tx.TOTP("v")),
			"recovery":   second(tx.RecoveryCodes("v")),
			"consent":    second(tx.Consent("v", "app")),
			"session":    second(tx.Session("ses-v")),
		} {
			if err != nil {
				t.Errorf("%s of the other account: %v", what, err)
			}
		}
		if f, err := tx.SignInFailures("v"); err != nil || f.Failures != 2 {
			t.Errorf("sign-in failures of the other account: %+v, %v", f, err)
		}
		if got := len(mustSessions(t, tx, "v")); got != 2 {
			t.Errorf("the other account has %d sessions, want 2", got)
		}
		return nil
	})
}

func mustSessions(t *testing.T, tx store.Tx, userID string) []store.Session {
	t.Helper()
	sessions, err := tx.SessionsByUser(userID)
	if err != nil {
		t.Errorf("SessionsByUser(%q): %v", userID, err)
	}
	return sessions
}
