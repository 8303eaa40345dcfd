package store

import (
	"fmt"
	"io"
	"os"

	bolt "go.etcd.io/bbolt"
)

// Backup writes a consistent copy of the whole database to w without
// blocking writers. Secrets in the copy stay sealed: restoring it needs
// the same master key.
func (db *DB) Backup(w io.Writer) error {
	if db.closed.Load() {
		return ErrClosed
	}
	err := db.bolt.View(func(btx *bolt.Tx) error {
		_, err := btx.WriteTo(w)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	return nil
}

// BackupFile writes a backup to a new file at path, created 0600. It
// refuses to overwrite an existing file and removes a partial one on
// failure.
func (db *DB) BackupFile(path string) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(path)
		}
	}()
	if err := db.Backup(f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	return nil
}
