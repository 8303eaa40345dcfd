package storetest

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/latchid/latch/store"
)

func testCredentials(t *testing.T, open opener) {
	cases(t, open, map[string]func(t *testing.T, s store.Store){
		"RoundTrip":                 credentialRoundTrip,
		"ByUserAreOwnedAndOrdered":  credentialsByUser,
		"AccountByHandle":           accountByHandle,
		"AnotherUsersIDIsRefused":   credentialOfAnotherUser,
		"Delete":                    credentialDelete,
		"LongestKeysRoundTrip":      credentialLongestKeys,
		"NeedsAnAccountAndValidIDs": credentialInvalid,
		"UnknownKeysAreNotFound":    credentialUnknown,
	})
}

func credentialRoundTrip(t *testing.T, s store.Store) {
	putUsers(t, s, "u1")
	want := store.Credential{
		ID: []byte{0xde, 0xad}, UserID: "u1", Name: "laptop", CreatedAt: T0, LastUsedAt: T0.Add(time.Hour),
		Transports: []string{"internal", "hybrid"}, AAGUID: make([]byte, 16),
		BackupEligible: true, BackupState: true, SignCount: 42, Record: []byte(`{"opaque":true}`),
	}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.PutCredential(&want) })
	mustView(t, s, func(tx store.Tx) error {
		got, err := tx.Credential([]byte{0xde, 0xad})
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("got %+v\nwant %+v", *got, want)
		}
		all, err := tx.CredentialsByUser("u1")
		if err != nil || len(all) != 1 || !reflect.DeepEqual(all[0], want) {
			t.Errorf("CredentialsByUser = %+v, %v", all, err)
		}
		return nil
	})
	// An update (a sign-in) rewrites the counters in place.
	want.SignCount, want.LastUsedAt, want.BackupState = 43, T0.Add(2*time.Hour), false
	mustUpdate(t, s, func(tx store.Tx) error { return tx.PutCredential(&want) })
	mustView(t, s, func(tx store.Tx) error {
		got, err := tx.Credential([]byte{0xde, 0xad})
		if err != nil || !reflect.DeepEqual(*got, want) {
			t.Errorf("after the update: %+v, %v", got, err)
		}
		return nil
	})
}

func credentialsByUser(t *testing.T, s store.Store) {
	putUsers(t, s, "u1", "u10", "u")
	mustUpdate(t, s, func(tx store.Tx) error {
		for _, c := range []store.Credential{
			{ID: []byte("c"), UserID: "u1", CreatedAt: T0.Add(2 * time.Minute)},
			{ID: []byte("a"), UserID: "u1", CreatedAt: T0.Add(3 * time.Minute)},
			{ID: []byte("b"), UserID: "u1", CreatedAt: T0.Add(1 * time.Minute)},
			// Made at the same time: the id decides.
			{ID: []byte("e"), UserID: "u1", CreatedAt: T0.Add(4 * time.Minute)},
			{ID: []byte("d"), UserID: "u1", CreatedAt: T0.Add(4 * time.Minute)},
			{ID: []byte("x"), UserID: "u10", CreatedAt: T0},
			{ID: []byte("y"), UserID: "u", CreatedAt: T0},
		} {
			if err := tx.PutCredential(&c); err != nil {
				return err
			}
		}
		return nil
	})
	mustView(t, s, func(tx store.Tx) error {
		creds, err := tx.CredentialsByUser("u1")
		if err != nil {
			return err
		}
		var ids string
		for _, c := range creds {
			ids += string(c.ID)
		}
		// Users whose ids share a prefix ("u", "u10") must not leak in.
		if ids != "bcade" {
			t.Errorf("credentials of u1 = %q, want bcade (oldest first, then by id)", ids)
		}
		if creds, err := tx.CredentialsByUser("nobody"); err != nil || len(creds) != 0 {
			t.Errorf("credentials of an unknown user = %v, %v", creds, err)
		}
		return nil
	})
}

func credentialOfAnotherUser(t *testing.T, s store.Store) {
	putUsers(t, s, "u1", "u2")
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.PutCredential(&store.Credential{ID: []byte("cred"), UserID: "u1", SignCount: 1})
	})
	tests := []struct {
		name string
		cred store.Credential
		want error
	}{
		{"same id for another user is refused", store.Credential{ID: []byte("cred"), UserID: "u2"}, store.ErrCredentialExists},
		{"same user may update its credential", store.Credential{ID: []byte("cred"), UserID: "u1", SignCount: 7}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Update(t.Context(), func(tx store.Tx) error { return tx.PutCredential(&tt.cred) })
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	mustView(t, s, func(tx store.Tx) error {
		c, err := tx.Credential([]byte("cred"))
		if err != nil {
			return err
		}
		if c.UserID != "u1" || c.SignCount != 7 {
			t.Errorf("credential = %+v, want u1 with sign count 7", c)
		}
		if creds, err := tx.CredentialsByUser("u2"); err != nil || len(creds) != 0 {
			t.Errorf("u2 got the refused credential: %v %v", creds, err)
		}
		return nil
	})
}

func credentialDelete(t *testing.T, s store.Store) {
	putUsers(t, s, "u1")
	mustUpdate(t, s, func(tx store.Tx) error {
		return errors.Join(
			tx.PutCredential(&store.Credential{ID: []byte("cred"), UserID: "u1"}),
			tx.PutCredential(&store.Credential{ID: []byte("kept"), UserID: "u1", CreatedAt: T0}),
		)
	})
	mustUpdate(t, s, func(tx store.Tx) error { return tx.DeleteCredential([]byte("cred")) })
	mustView(t, s, func(tx store.Tx) error {
		if _, err := tx.Credential([]byte("cred")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleted credential still found: %v", err)
		}
		if creds, err := tx.CredentialsByUser("u1"); err != nil || len(creds) != 1 || string(creds[0].ID) != "kept" {
			t.Errorf("the user's credentials after the delete: %v %v", creds, err)
		}
		return nil
	})
	err := s.Update(t.Context(), func(tx store.Tx) error { return tx.DeleteCredential([]byte("cred")) })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleting a missing credential: err = %v, want ErrNotFound", err)
	}
	// The id is free again, for another user too.
	putUsers(t, s, "u2")
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.PutCredential(&store.Credential{ID: []byte("cred"), UserID: "u2"})
	})
}

// credentialLongestKeys stores a credential whose user id and credential
// id are both as long as a key may be, and reads it back every way.
func credentialLongestKeys(t *testing.T, s store.Store) {
	user := strings.Repeat("u", maxKeyLen)
	id := bytes.Repeat([]byte{0xc1}, maxKeyLen)
	putUsers(t, s, user)
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.PutCredential(&store.Credential{ID: id, UserID: user, Name: "long"})
	})
	mustView(t, s, func(tx store.Tx) error {
		if c, err := tx.Credential(id); err != nil || c.Name != "long" || c.UserID != user {
			t.Errorf("Credential = %+v, %v", c, err)
		}
		if cs, err := tx.CredentialsByUser(user); err != nil || len(cs) != 1 {
			t.Errorf("CredentialsByUser = %d credentials, %v", len(cs), err)
		}
		return nil
	})
	mustUpdate(t, s, func(tx store.Tx) error { return tx.DeleteCredential(id) })
	mustView(t, s, func(tx store.Tx) error {
		if _, err := tx.Credential(id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("after delete: %v", err)
		}
		return nil
	})
}

func credentialInvalid(t *testing.T, s store.Store) {
	putUsers(t, s, "u1")
	for name, c := range map[string]store.Credential{
		"empty id":      {UserID: "u1"},
		"oversized id":  {ID: bytes.Repeat([]byte{1}, maxKeyLen+1), UserID: "u1"},
		"empty user id": {ID: []byte("c")},
		"unknown user":  {ID: []byte("c"), UserID: "nobody"},
	} {
		err := s.Update(t.Context(), func(tx store.Tx) error { return tx.PutCredential(&c) })
		if err == nil {
			t.Errorf("%s: PutCredential accepted it", name)
		}
		if name == "unknown user" && !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: err = %v, want ErrNotFound", name, err)
		}
	}
	mustView(t, s, func(tx store.Tx) error {
		if creds, err := tx.CredentialsByUser("u1"); err != nil || len(creds) != 0 {
			t.Errorf("an invalid credential was stored: %v %v", creds, err)
		}
		return nil
	})
}

func credentialUnknown(t *testing.T, s store.Store) {
	mustView(t, s, func(tx store.Tx) error {
		for name, id := range map[string][]byte{"unknown": []byte("nope"), "empty": nil, "oversized": bytes.Repeat([]byte{2}, 70000)} {
			if _, err := tx.Credential(id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s id: %v, want ErrNotFound", name, err)
			}
		}
		return nil
	})
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.DeleteCredential([]byte("nope")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("DeleteCredential of an unknown id: %v, want ErrNotFound", err)
		}
		return nil
	})
}

// accountByHandle: AccountByHandle is UserByHandle and CredentialsByUser
// together, for a user with passkeys, one without, and a user whose handle
// is not its id; an unknown handle is ErrNotFound.
func accountByHandle(t *testing.T, s store.Store) {
	mustUpdate(t, s, func(tx store.Tx) error {
		return errors.Join(
			tx.PutUser(&store.User{ID: "u1", Handle: []byte("u1"), Username: "one"}),
			tx.PutUser(&store.User{ID: "u10", Handle: []byte{7, 7}, Username: "ten"}),
			tx.PutUser(&store.User{ID: "u2", Handle: []byte("u2"), Username: "two"}),
			tx.PutCredential(&store.Credential{ID: []byte("b"), UserID: "u1", CreatedAt: T0.Add(time.Minute)}),
			tx.PutCredential(&store.Credential{ID: []byte("a"), UserID: "u1", CreatedAt: T0.Add(2 * time.Minute)}),
			tx.PutCredential(&store.Credential{ID: []byte("x"), UserID: "u10", CreatedAt: T0}))
	})
	mustView(t, s, func(tx store.Tx) error {
		for _, handle := range [][]byte{[]byte("u1"), {7, 7}, []byte("u2")} {
			u, creds, err := tx.AccountByHandle(handle)
			if err != nil {
				t.Fatalf("AccountByHandle(%q): %v", handle, err)
			}
			wantUser, _ := tx.UserByHandle(handle)
			wantCreds, _ := tx.CredentialsByUser(wantUser.ID)
			if !reflect.DeepEqual(u, wantUser) || len(creds) != len(wantCreds) || len(creds) > 0 && !reflect.DeepEqual(creds, wantCreds) {
				t.Errorf("AccountByHandle(%q) = %+v, %+v; want %+v, %+v", handle, u, creds, wantUser, wantCreds)
			}
		}
		if _, creds, _ := tx.AccountByHandle([]byte("u1")); len(creds) != 2 || string(creds[0].ID) != "b" {
			t.Errorf("u1's passkeys: %+v, want b then a", creds)
		}
		for _, handle := range [][]byte{[]byte("nobody"), []byte("u10")} { // u10's id is no handle
			if u, _, err := tx.AccountByHandle(handle); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("AccountByHandle(%q) = %v, %v; want ErrNotFound", handle, u, err)
			}
		}
		return nil
	})
}
