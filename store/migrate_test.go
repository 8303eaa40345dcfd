package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// updateFile runs fn in one transaction on the bbolt file at path, with no
// store open on it, as an earlier version or an interrupted run would.
func updateFile(t *testing.T, path string, fn func(btx *bolt.Tx) error) {
	t.Helper()
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bdb.Update(fn); err != nil {
		t.Fatal(err)
	}
	if err := bdb.Close(); err != nil {
		t.Fatal(err)
	}
}

// writeLegacyDB writes a database in the layout before accounts, the way
// earlier versions did: users and credentials under their own ids, and
// user -> credential and user -> session index buckets.
func writeLegacyDB(t *testing.T, path string) {
	t.Helper()
	put := func(btx *bolt.Tx, bucket []byte, key string, value []byte) {
		b, err := btx.CreateBucketIfNotExists(bucket)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Put([]byte(key), value); err != nil {
			t.Fatal(err)
		}
	}
	record := func(rec any) []byte {
		raw, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	// The index key of earlier versions, spelled out rather than built by
	// the code under test: owner length (2 bytes), owner, member.
	pair := func(owner, member string) string { return "\x00" + string(rune(len(owner))) + owner + member }
	updateFile(t, path, func(btx *bolt.Tx) error {
		if _, err := btx.CreateBucketIfNotExists(bucketMeta); err != nil {
			return err
		}
		for _, u := range []struct{ id, name string }{{"u1", "alice"}, {"u2", "bob"}, {"u3", "carol"}} {
			put(btx, legacyUsers, u.id, record(userRecord{header: current(), User: User{ID: u.id, Handle: []byte("h-" + u.id), Username: u.name, CreatedAt: t0}}))
			put(btx, bucketUsernames, u.name, []byte(u.id))
			put(btx, bucketHandles, "h-"+u.id, []byte(u.id))
		}
		// An account whose handle is its own id has no handles entry.
		put(btx, legacyUsers, "u4", record(userRecord{header: current(), User: User{ID: "u4", Handle: []byte("u4"), Username: "dave", CreatedAt: t0}}))
		put(btx, bucketUsernames, "dave", []byte("u4"))
		for _, c := range []struct{ id, user string }{{"c1", "u1"}, {"c2", "u1"}, {"c3", "u2"}} {
			put(btx, legacyCredentials, c.id, record(credentialRecord{header: current(), Credential: Credential{ID: []byte(c.id), UserID: c.user, Name: "key " + c.id, CreatedAt: t0, Record: []byte("rec")}}))
			put(btx, legacyUserCredentials, pair(c.user, c.id), nil)
		}
		for _, s := range []struct{ id, user string }{{"s1", "u1"}, {"s2", "u3"}} {
			put(btx, bucketSessions, s.id, record(sessionRecord{header: current(), Session: Session{ID: s.id, UserID: s.user, CreatedAt: t0}}))
			put(btx, legacyUserSessions, pair(s.user, s.id), nil)
		}
		return nil
	})
}

// checkMigrated opens the database and checks that every record of
// writeLegacyDB is found through the accounts layout and the old buckets
// are gone.
func checkMigrated(t *testing.T, path string) {
	t.Helper()
	db, err := Open(Options{Path: path, KEK: testKEK})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	mustView(t, db, func(tx *boltTx) error {
		for _, b := range [][]byte{legacyUsers, legacyCredentials, legacyUserCredentials, legacyUserSessions} {
			if tx.btx.Bucket(b) != nil {
				t.Errorf("bucket %s is still there", b)
			}
		}
		for id, name := range map[string]string{"u1": "alice", "u2": "bob", "u3": "carol", "u4": "dave"} {
			u, err := tx.UserByUsername(name)
			if err != nil || u.ID != id {
				t.Errorf("UserByUsername(%s) = %v, %v", name, u, err)
			}
			handle := "h-" + id
			if id == "u4" {
				handle = id
			}
			if u, err := tx.UserByHandle([]byte(handle)); err != nil || u.ID != id {
				t.Errorf("UserByHandle(%s) = %v, %v", handle, u, err)
			}
		}
		if c, err := tx.Credential([]byte("c3")); err != nil || c.UserID != "u2" || c.Name != "key c3" {
			t.Errorf("Credential(c3) = %+v, %v", c, err)
		}
		creds, err := tx.CredentialsByUser("u1")
		if err != nil {
			return err
		}
		var ids []string
		for _, c := range creds {
			ids = append(ids, string(c.ID))
		}
		if !slices.Equal(ids, []string{"c1", "c2"}) {
			t.Errorf("credentials of u1 = %q, want c1 c2", ids)
		}
		for user, want := range map[string]string{"u1": "s1", "u2": "", "u3": "s2"} {
			sessions, err := tx.SessionsByUser(user)
			if err != nil {
				return err
			}
			var got string
			for _, s := range sessions {
				got += s.ID
			}
			if got != want {
				t.Errorf("sessions of %s = %q, want %q", user, got, want)
			}
		}
		return nil
	})
	// The credential index came along: the ID stays taken.
	err = db.Update(t.Context(), func(tx Tx) error {
		return tx.PutCredential(&Credential{ID: []byte("c1"), UserID: "u2"})
	})
	if !errors.Is(err, ErrCredentialExists) {
		t.Errorf("registering u1's credential to u2: %v, want ErrCredentialExists", err)
	}
}

func TestOpenMigratesTheLegacyLayout(t *testing.T) {
	defer func(n int) { migrateChunk = n }(migrateChunk)
	migrateChunk = 2 // several transactions per bucket

	path := filepath.Join(t.TempDir(), "latch.db")
	writeLegacyDB(t, path)
	checkMigrated(t, path)
	checkMigrated(t, path) // a second Open finds nothing to do
}

func TestInterruptedMigrationResumes(t *testing.T) {
	defer func(n int) { migrateChunk = n }(migrateChunk)
	migrateChunk = 2

	path := filepath.Join(t.TempDir(), "latch.db")
	writeLegacyDB(t, path)
	// One committed chunk of users and of credentials, then a crash.
	updateFile(t, path, func(btx *bolt.Tx) error {
		for _, b := range [][]byte{bucketAccounts, bucketCredentialOwners} {
			if _, err := btx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if n, err := migrateSome(btx, legacyUsers, moveUser); err != nil || n != 2 {
			t.Fatalf("migrateSome(users) = %d, %v", n, err)
		}
		_, err := migrateSome(btx, legacyCredentials, moveCredential)
		return err
	})
	checkMigrated(t, path)
}

func TestMigrationRefusesACorruptRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latch.db")
	writeLegacyDB(t, path)
	updateFile(t, path, func(btx *bolt.Tx) error {
		return btx.Bucket(legacyCredentials).Put([]byte("c9"), []byte(`{"v":1,"id":"YzQ"}`)) // no owner
	})
	if db, err := Open(Options{Path: path, KEK: testKEK}); err == nil {
		db.Close()
		t.Fatal("Open migrated a credential with no owner")
	}
	// Nothing half-done: the credentials not yet moved are all still
	// where they were, and a fixed file migrates.
	updateFile(t, path, func(btx *bolt.Tx) error {
		if n := btx.Bucket(legacyCredentials).Stats().KeyN; n != 4 {
			t.Errorf("legacy credentials = %d, want all 4", n)
		}
		return btx.Bucket(legacyCredentials).Delete([]byte("c9"))
	})
	checkMigrated(t, path)
}

// TestOpenWithNothingToMigrateWritesNothingMore checks that an open of a
// store already in the accounts layout spends no commit on the migration
// steps: only the start-up transaction's meta page is written.
func TestOpenWithNothingToMigrateWritesNothingMore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latch.db")
	for i := range 2 {
		db, err := Open(Options{Path: path, KEK: testKEK})
		if err != nil {
			t.Fatal(err)
		}
		pages := db.Stats().PagesWritten
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if i == 1 && pages > 1 {
			t.Fatalf("reopening wrote %d pages, want at most the meta page", pages)
		}
	}
}

// TestReadOnlyOpenLeavesAnOldFileAlone checks the open a backup uses: it
// changes nothing in a file of the earlier layout, refuses writes, and its
// copy is still in that layout, to be moved when a new version opens it.
func TestReadOnlyOpenLeavesAnOldFileAlone(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "latch.db")
	writeLegacyDB(t, path)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	db, err := Open(Options{Path: path, KEK: testKEK, ReadOnly: true})
	if err != nil {
		t.Fatalf("Open read-only: %v", err)
	}
	if err := db.Update(t.Context(), func(Tx) error { return nil }); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Update on a read-only store: %v, want ErrReadOnly", err)
	}
	copyPath := filepath.Join(dir, "copy.db")
	if err := db.BackupFile(copyPath); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if after, err := os.ReadFile(path); err != nil || !bytes.Equal(before, after) {
		t.Fatalf("a read-only open changed the file (%v)", err)
	}
	// The copy is the old layout, and a normal open moves it over.
	updateFile(t, copyPath, func(btx *bolt.Tx) error {
		if btx.Bucket(legacyUsers) == nil || btx.Bucket(bucketAccounts) != nil {
			t.Error("the backup is not in the layout of the file it copied")
		}
		return nil
	})
	checkMigrated(t, copyPath)
}
