package store

import (
	"bytes"
	"fmt"
	"time"
)

// User is an account. Username is stored exactly as given: the caller
// normalises it (case folding, width) before every put and lookup.
type User struct {
	ID          string    `json:"id"`
	Handle      []byte    `json:"handle"` // WebAuthn user handle, unique
	Username    string    `json:"username"`
	DisplayName string    `json:"display_name,omitempty"`
	CreatedAt   time.Time `json:"created_at,omitzero"`
	Disabled    bool      `json:"disabled,omitempty"`
	// Groups are the account's groups (RBAC), as the operator set them.
	Groups []string `json:"groups,omitempty"`
}

type userRecord struct {
	header
	User
}

// User returns the user with the given id, or ErrNotFound.
func (tx *boltTx) User(id string) (*User, error) {
	var rec userRecord
	if err := tx.get(bucketAccounts, accountKey(id), &rec); err != nil {
		return nil, err
	}
	return &rec.User, nil
}

// UserByUsername returns the user whose normalised username is exactly
// username, or ErrNotFound.
func (tx *boltTx) UserByUsername(username string) (*User, error) {
	id, err := tx.lookupIndex(bucketUsernames, []byte(username))
	if err != nil {
		return nil, err
	}
	return tx.indexedUser(id)
}

// UserByHandle returns the user with the given WebAuthn user handle, or
// ErrNotFound.
func (tx *boltTx) UserByHandle(handle []byte) (*User, error) {
	// Accounts made since ids became handles have no index entry, so the
	// account itself is looked for first. PutUser keeps a handle from
	// meaning two users, so the order cannot change the answer.
	if u, err := tx.User(string(handle)); err == nil && bytes.Equal(u.Handle, handle) {
		return u, nil
	}
	id, err := tx.lookupIndex(bucketHandles, handle)
	if err != nil {
		return nil, err
	}
	return tx.indexedUser(id)
}

// ownHandle reports whether u's WebAuthn user handle is its own id. Such a
// handle needs no index entry (UserByHandle reads the user directly), which
// saves a sign-up a write to a random page of the store.
func ownHandle(u *User) bool { return string(u.Handle) == u.ID }

// indexedUser loads a user an index points to; a dangling index entry is
// corruption, not absence.
func (tx *boltTx) indexedUser(id string) (*User, error) {
	u, err := tx.User(id)
	if notFound(err) {
		return nil, fmt.Errorf("store: index points to missing user %q", id)
	}
	return u, err
}

// PutUser inserts or updates u and keeps the username and handle indexes in
// step. It returns ErrUsernameTaken or ErrHandleTaken if either already
// belongs to another user.
func (tx *boltTx) PutUser(u *User) error {
	if err := checkKey("user id", len(u.ID)); err != nil {
		return err
	}
	if err := checkKey("username", len(u.Username)); err != nil {
		return err
	}
	if err := checkKey("user handle", len(u.Handle)); err != nil {
		return err
	}
	if owner, err := tx.lookupIndex(bucketUsernames, []byte(u.Username)); err == nil && owner != u.ID {
		return ErrUsernameTaken
	}
	if owner, err := tx.lookupIndex(bucketHandles, u.Handle); err == nil && owner != u.ID {
		return ErrHandleTaken
	}
	if !ownHandle(u) {
		if _, err := tx.User(string(u.Handle)); err == nil {
			return ErrHandleTaken // another user's own-id handle
		}
	}
	old, err := tx.User(u.ID)
	switch {
	case err == nil:
		if old.Username != u.Username {
			if err := tx.del(bucketUsernames, []byte(old.Username)); err != nil {
				return err
			}
		}
		if !bytes.Equal(old.Handle, u.Handle) && !ownHandle(old) {
			if err := tx.del(bucketHandles, old.Handle); err != nil {
				return err
			}
		}
	case !notFound(err):
		return err
	}
	rec := userRecord{header: current(), User: *u}
	rec.CreatedAt = utc(rec.CreatedAt)
	if err := tx.put(bucketAccounts, accountKey(u.ID), &rec); err != nil {
		return err
	}
	if err := tx.btx.Bucket(bucketUsernames).Put([]byte(u.Username), []byte(u.ID)); err != nil {
		return fmt.Errorf("store: put usernames: %w", err)
	}
	if ownHandle(u) {
		return nil
	}
	if err := tx.btx.Bucket(bucketHandles).Put(bytes.Clone(u.Handle), []byte(u.ID)); err != nil {
		return fmt.Errorf("store: put handles: %w", err)
	}
	return nil
}

// Users returns every user ordered by username.
func (tx *boltTx) Users() ([]User, error) {
	var users []User
	c := tx.btx.Bucket(bucketUsernames).Cursor()
	for _, id := c.First(); id != nil; _, id = c.Next() {
		u, err := tx.indexedUser(string(id))
		if err != nil {
			return nil, err
		}
		users = append(users, *u)
	}
	return users, nil
}

// DeleteUser removes the account with the given id and everything kept
// under it: the user record and its username (and any handle) index entry,
// the passkeys and their credential-id entries, the TOTP factor and the
// login sessions. The caller ends the sessions first if their tokens must
// be refused at once (see PutRevoked): blacklist entries and the audit log
// are kept, and so are the sessions' refresh tokens until they expire,
// though nothing honours them once their session is gone. It returns
// ErrNotFound for an unknown id.
func (tx *boltTx) DeleteUser(id string) error {
	u, err := tx.User(id)
	if err != nil {
		return err
	}
	var sessions [][]byte
	err = tx.eachSession(id, func(rec *sessionRecord) error {
		sessions = append(sessions, tx.sessionKey(rec.ID))
		return nil
	})
	if err != nil {
		return err
	}
	for _, sid := range sessions {
		if _, err := tx.deleteSession(sid); err != nil {
			return err
		}
	}
	// What is left of the account: the user record and the passkeys.
	prefix := accountKey(id)
	var keys [][]byte
	c := tx.btx.Bucket(bucketAccounts).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if _, rest, _ := splitAccountKey(k); len(rest) > 1 && rest[0] == entryCredential {
			if err := tx.dropIndexEntry(bucketCredentialOwners, rest[1:], id); err != nil {
				return err
			}
		}
		if err := tx.del(bucketAccounts, k); err != nil {
			return err
		}
	}
	if err := tx.dropIndexEntry(bucketUsernames, []byte(u.Username), id); err != nil {
		return err
	}
	if err := tx.dropIndexEntry(bucketHandles, u.Handle, id); err != nil {
		return err
	}
	if err := tx.DeleteTOTP(id); err != nil && !notFound(err) {
		return err
	}
	return nil
}

// dropIndexEntry removes key from an index whose values are user ids, if
// it names id: another account's entry under the same key stays.
func (tx *boltTx) dropIndexEntry(index, key []byte, id string) error {
	if owner, err := tx.lookupIndex(index, key); err != nil || owner != id {
		return nil
	}
	return tx.del(index, key)
}

// appendBinary leaves the handle out when it is the user's own id (see
// ownHandle): a handle is never empty, so an empty one means the id.
func (r *userRecord) appendBinary(b []byte) []byte {
	u := &r.User
	if ownHandle(u) {
		b = appendBytes(b, nil)
	} else {
		b = appendBytes(b, u.Handle)
	}
	b = appendString(b, u.Username)
	b = appendString(b, u.DisplayName)
	b = appendTime(b, u.CreatedAt)
	b = appendBool(b, u.Disabled)
	return appendStrings(b, u.Groups)
}

// decodeBinary takes the id from the key, an account key.
func (r *userRecord) decodeBinary(key []byte, d *reader) error {
	id, rest, ok := splitAccountKey(key)
	if !ok || len(rest) != 0 {
		return fmt.Errorf("store: decode record: user under a key that is not an account's")
	}
	r.header = current()
	r.User = User{ID: id, Handle: d.bytes(), Username: d.string(), DisplayName: d.string(), CreatedAt: d.time(), Disabled: d.bool(), Groups: d.strings()}
	if r.Handle == nil {
		r.Handle = []byte(id)
	}
	return nil
}
