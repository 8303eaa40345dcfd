package store

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Buckets of the layout before accounts (see accounts.go): users, and
// credentials, by their own ids with two user -> member index buckets.
// Open moves what they hold into the accounts layout and removes them.
var (
	legacyUsers           = []byte("users")            // user id -> user
	legacyCredentials     = []byte("credentials")      // credential id -> credential
	legacyUserCredentials = []byte("user_credentials") // prefix(user id) credential id -> nil
	legacyUserSessions    = []byte("user_sessions")    // prefix(user id) session id -> nil
)

// migrateChunk is how many entries one migration transaction moves. It
// bounds the memory a transaction holds, whatever the size of the file.
var migrateChunk = 4096

// migrateAccounts moves a database written in the earlier layout into the
// accounts layout. Each transaction moves up to migrateChunk entries and
// deletes them from their old bucket, and an emptied bucket is dropped, so
// a migration that is interrupted (a crash, a kill) resumes where it stopped
// at the next Open and nothing is ever in both places. It runs before the
// writer starts, with nothing else using the file.
func (db *DB) migrateAccounts() (moved int, err error) {
	steps := []struct {
		bucket []byte
		move   func(btx *bolt.Tx, key, value []byte) error
	}{
		{legacyUsers, moveUser},
		{legacyCredentials, moveCredential},
		{legacyUserSessions, moveSessionIndex},
		// The owner of each credential is in its record, so this
		// index has nothing the step above did not already move.
		{legacyUserCredentials, nil},
	}
	// Most opens find nothing to move; they must not pay a commit (and its
	// fsyncs) per step to learn that.
	legacy := false
	err = db.bolt.View(func(btx *bolt.Tx) error {
		for _, step := range steps {
			legacy = legacy || btx.Bucket(step.bucket) != nil
		}
		return nil
	})
	if err != nil || !legacy {
		return 0, err
	}
	for _, step := range steps {
		for done := false; !done; {
			err := db.bolt.Update(func(btx *bolt.Tx) error {
				n, err := migrateSome(btx, step.bucket, step.move)
				done = n == 0
				if step.move != nil {
					moved += n
				}
				return err
			})
			if err != nil {
				return moved, fmt.Errorf("migrate %s: %w", step.bucket, err)
			}
		}
	}
	return moved, nil
}

// migrateSome moves up to migrateChunk entries out of bucket (dropping them
// if move is nil), or drops the bucket if it is empty. It returns how many
// entries it took out.
func migrateSome(btx *bolt.Tx, bucket []byte, move func(btx *bolt.Tx, key, value []byte) error) (int, error) {
	b := btx.Bucket(bucket)
	if b == nil {
		return 0, nil
	}
	var keys [][]byte
	c := b.Cursor()
	for k, v := c.First(); k != nil && len(keys) < migrateChunk; k, v = c.Next() {
		if move != nil {
			if err := move(btx, bytes.Clone(k), bytes.Clone(v)); err != nil {
				return 0, fmt.Errorf("key %q: %w", k, err)
			}
		}
		keys = append(keys, bytes.Clone(k))
	}
	if len(keys) == 0 {
		return 0, btx.DeleteBucket(bucket)
	}
	// Deleting under the cursor could skip entries, hence afterwards.
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}

func moveUser(btx *bolt.Tx, id, value []byte) error {
	if err := checkKey("user id", len(id)); err != nil {
		return err
	}
	return btx.Bucket(bucketAccounts).Put(accountKey(string(id)), value)
}

func moveCredential(btx *bolt.Tx, id, value []byte) error {
	var rec credentialRecord
	if err := decode(value, &rec); err != nil {
		return err
	}
	if err := checkKey("user id", len(rec.UserID)); err != nil {
		return err
	}
	if err := btx.Bucket(bucketAccounts).Put(entryKey(rec.UserID, entryCredential, id), value); err != nil {
		return err
	}
	return btx.Bucket(bucketCredentialOwners).Put(id, []byte(rec.UserID))
}

func moveSessionIndex(btx *bolt.Tx, key, _ []byte) error {
	userID, sessionID, ok := splitAccountKey(key)
	if !ok || userID == "" || len(sessionID) == 0 {
		return fmt.Errorf("malformed index key")
	}
	return btx.Bucket(bucketAccounts).Put(entryKey(userID, entrySession, sessionID), nil)
}
